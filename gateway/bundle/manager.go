package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// Manager keeps a policy bundle live: it loads the bundle of a Source,
// reloads it when the source changes, and keeps the last good versions for
// rollback. Every load runs off the request path: fetch → verify the
// signature (when trusted keys are set) → Parse (strict) → the caller's
// compile function → the caller's activate function, which swaps the
// compiled result in atomically. A bundle that fails any step never
// replaces the active one: the Manager keeps serving the last good version
// and reports the error (log, Event, Status).
//
// Every method is safe for concurrent use. Loads and activations are
// serialized, so activate is never called concurrently with itself.
type Manager struct {
	src      Source
	cat      Catalog
	compile  func(*policy.Bundle) (any, error)
	activate func(*policy.Bundle, any)
	o        options

	cur     atomic.Pointer[entry]
	trigger chan struct{}
	wg      sync.WaitGroup

	loadMu sync.Mutex // serializes loads and activations; held while compiling

	mu        sync.Mutex // guards the fields below; never held while compiling
	state     state
	listed    map[string]bool // digests of listed versions already tried
	started   bool
	cancel    context.CancelFunc
	closed    bool
	lastSeen  string    // content tag of the last fetched snapshot, good or bad
	seenErr   error     // why lastSeen was rejected, nil if it was not
	seenErrAt time.Time // when
}

// entry is one good version: a parsed bundle and what compile made of it.
type entry struct {
	info     VersionInfo
	bundle   *policy.Bundle
	compiled any
}

// NewManager returns a Manager for src. Bundles are validated against cat
// (the gateway's *policy.Registry); compile turns a valid bundle into what
// the request path uses (the gateway passes authz.NewEngine with a shared
// Compiler) and activate publishes it, typically with an atomic pointer
// store. Both run on the Manager's goroutine (or the caller of Reload,
// Activate, Rollback) while loads are serialized: they must not call
// Reload, Activate or Rollback. NewManager does no I/O; call Start.
func NewManager(src Source, cat Catalog, compile func(*policy.Bundle) (any, error), activate func(*policy.Bundle, any), opts ...Option) (*Manager, error) {
	if src == nil || cat == nil || compile == nil || activate == nil {
		return nil, errors.New("bundle: NewManager needs a source, a catalog, a compile and an activate function")
	}
	o, err := managerDefaults(opts)
	if err != nil {
		return nil, err
	}
	return &Manager{src: src, cat: cat, compile: compile, activate: activate, o: o,
		trigger: make(chan struct{}, 1), listed: map[string]bool{}}, nil
}

// Start loads the source's bundle and makes it active, then watches the
// source until ctx is done or Close is called. It returns the load error,
// with nothing active and nothing started, when the first bundle is bad;
// the gateway should refuse to start then.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.started || m.closed {
		m.mu.Unlock()
		return errors.New("bundle: Manager already started or closed")
	}
	m.started = true
	m.mu.Unlock()
	if err := m.Reload(ctx); err != nil {
		m.mu.Lock()
		m.started = false
		m.mu.Unlock()
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("bundle: Manager closed while starting")
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		m.src.Watch(ctx, m.poke)
	}()
	go func() {
		defer m.wg.Done()
		m.loop(ctx)
	}()
	return nil
}

// Close stops watching and waits for the Manager's goroutines to end. The
// active version stays active. Close is idempotent.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	cancel := m.cancel
	m.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	m.wg.Wait()
	return nil
}

// poke asks the loop for a reload without blocking.
func (m *Manager) poke() {
	select {
	case m.trigger <- struct{}{}:
	default: // one is pending; it will see this change too
	}
}

func (m *Manager) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.trigger:
		}
		if d := m.o.debounce; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			// Changes that arrived while waiting are covered by this load.
			select {
			case <-m.trigger:
			default:
			}
		}
		_ = m.Reload(ctx) // recorded and logged by Reload
	}
}

// Reload fetches the source now and activates its bundle if it is new and
// good. It returns nil when the content is unchanged since the last fetch
// (the error of that fetch's load, if it failed) and the load error
// otherwise. Watching calls it; so can an admin "reload now".
func (m *Manager) Reload(ctx context.Context) error {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	if l, ok := m.src.(Lister); ok {
		m.loadListed(ctx, l)
	}
	snap, err := m.src.Fetch(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return err // shutting down: not a bundle problem
		}
		m.reject(StageFetch, fmt.Sprint(m.src), err, false)
		return err
	}
	tag := contentTag(snap.Data, snap.Sig)
	m.mu.Lock()
	m.state.LastCheck = m.o.now()
	if tag == m.lastSeen {
		// Unchanged: the content's own verdict stands (a fetch error in
		// between is over).
		err := m.seenErr
		m.state.LastError, m.state.LastErrorAt = err, m.seenErrAt
		m.mu.Unlock()
		return err
	}
	m.lastSeen, m.seenErr, m.seenErrAt = tag, nil, time.Time{}
	m.mu.Unlock()
	e, stage, err := m.load(snap)
	if err != nil {
		m.reject(stage, snap.Name, err, true)
		return err
	}
	m.swap(e, true)
	return nil
}

// load verifies, parses and compiles one snapshot, reusing the entry of a
// version already in memory with the same content.
func (m *Manager) load(snap Snapshot) (*entry, string, error) {
	sum := sha256.Sum256(snap.Data)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	keyID := ""
	if len(m.o.trusted) > 0 {
		if err := Verify(snap.Data, snap.Sig, m.o.trusted); err != nil {
			return nil, StageSignature, fmt.Errorf("bundle: %s: %w", snap.Name, err)
		}
		keyID = SignatureKeyID(snap.Sig)
	}
	m.mu.Lock()
	for _, e := range m.state.history {
		if e.info.Digest == digest {
			m.mu.Unlock()
			return e, "", nil
		}
	}
	m.mu.Unlock()
	b, err := Parse(snap.Name, snap.Data, m.cat)
	if err != nil {
		return nil, StageParse, err
	}
	b.LoadedAt = m.o.now()
	m.mu.Lock()
	for _, e := range m.state.history {
		if e.info.Version == b.Version {
			m.mu.Unlock()
			return nil, StageVersion, fmt.Errorf("bundle: %s: version %q is already loaded with other content (%s, from %s): give the changed bundle a new version",
				snap.Name, b.Version, e.info.Digest, e.info.Source)
		}
	}
	m.mu.Unlock()
	compiled, err := m.safeCompile(b)
	if err != nil {
		return nil, StageCompile, fmt.Errorf("bundle: %s: version %s: %w", snap.Name, b.Version, err)
	}
	info := VersionInfo{Version: b.Version, Author: b.Author, Message: b.Message, Source: snap.Name,
		Digest: digest, KeyID: keyID, LoadedAt: b.LoadedAt}
	return &entry{info: info, bundle: b, compiled: compiled}, "", nil
}

// safeCompile runs compile, turning a panic into an error: a bundle that
// trips a bug in compile is a bad bundle, not a dead gateway.
func (m *Manager) safeCompile(b *policy.Bundle) (c any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("compile panicked: %v", r)
		}
	}()
	return m.compile(b)
}

// loadListed adds the versions of a Lister that are not in memory yet
// (at most the history size, newest first) without activating them. A bad
// old version is logged once and skipped.
func (m *Manager) loadListed(ctx context.Context, l Lister) {
	snaps, err := l.List(ctx)
	if err != nil || len(snaps) < 2 {
		return // Fetch reports the error
	}
	older := snaps[:len(snaps)-1]
	older = older[max(0, len(older)-(m.o.history-1)):]
	seen := map[string]bool{}
	for _, s := range older {
		sum := sha256.Sum256(s.Data)
		d := "sha256:" + hex.EncodeToString(sum[:])
		seen[d] = true
		m.mu.Lock()
		tried := m.listed[d]
		m.mu.Unlock()
		if tried {
			continue
		}
		e, stage, err := m.load(s)
		if err != nil {
			m.o.log.Warn("policy bundle version skipped", "source", s.Name, "stage", stage, "err", err)
			continue
		}
		m.keep(e)
	}
	m.mu.Lock()
	m.listed = seen
	m.mu.Unlock()
}
