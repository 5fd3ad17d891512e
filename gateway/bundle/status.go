package bundle

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// VersionInfo describes one good version kept in memory.
type VersionInfo struct {
	// Version, Author and Message come from the bundle file.
	Version string
	Author  string
	Message string
	// Source is where it was loaded from.
	Source string
	// Digest is "sha256:<hex>" of the bundle file.
	Digest string
	// KeyID is the id of the trusted key that signed it; "" when
	// signatures are not checked.
	KeyID string
	// LoadedAt is when it was first loaded.
	LoadedAt time.Time
	// Active reports whether it is the active version.
	Active bool
}

// Status is a snapshot of a Manager's state, for the admin API.
type Status struct {
	// Active is the active version (zero before the first load).
	Active VersionInfo
	// ActiveSince is when it became active.
	ActiveSince time.Time
	// Source names the Manager's source (a path or URL).
	Source string
	// Pinned reports that the active version is not the source's latest
	// good one: it was chosen with Activate or Rollback, and stays until
	// the source changes.
	Pinned bool
	// LastCheck is when the source was last fetched.
	LastCheck time.Time
	// LastError is why the last load failed, nil when it succeeded;
	// LastErrorAt is when it failed.
	LastError   error
	LastErrorAt time.Time
	// Activations and Rejections count versions made active and bundles
	// rejected since the Manager was created.
	Activations uint64
	Rejections  uint64
}

// state is the mutable part of a Manager, guarded by Manager.mu.
type state struct {
	Status
	history []*entry // oldest first; at most options.history entries
	active  *entry
	latest  *entry // the last good version loaded from the source's live position
}

// Current returns the active bundle and what compile made of it, or nils
// before the first load. It is one atomic load, but the gateway's request
// path should read its own pointers, set by activate.
func (m *Manager) Current() (*policy.Bundle, any) {
	e := m.cur.Load()
	if e == nil {
		return nil, nil
	}
	return e.bundle, e.compiled
}

// Status returns the Manager's state.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.state.Status
	s.Source = fmt.Sprint(m.src)
	if a := m.state.active; a != nil {
		s.Active = a.info
		s.Active.Active = true
		s.Pinned = a != m.state.latest
	}
	return s
}

// Versions lists the good versions kept in memory, oldest first.
func (m *Manager) Versions() []VersionInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]VersionInfo, len(m.state.history))
	for i, e := range m.state.history {
		out[i] = e.info
		out[i].Active = e == m.state.active
	}
	return out
}

// Activate makes the version with the given label active. It fails when
// no such version is in memory (see Versions). The choice holds until the
// source changes.
func (m *Manager) Activate(version string) error {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	m.mu.Lock()
	var found *entry
	var have []string
	for _, e := range m.state.history {
		have = append(have, e.info.Version)
		if e.info.Version == version {
			found = e
		}
	}
	m.mu.Unlock()
	if found == nil {
		return fmt.Errorf("bundle: no version %q in memory (have %s)", version, strings.Join(have, ", "))
	}
	m.swap(found, false)
	return nil
}

// Rollback activates the version loaded before the active one. It fails
// when the active version is the oldest in memory.
func (m *Manager) Rollback() error {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	m.mu.Lock()
	var prev *entry
	for i, e := range m.state.history {
		if e == m.state.active && i > 0 {
			prev = m.state.history[i-1]
		}
	}
	active := m.state.active
	m.mu.Unlock()
	if prev == nil {
		if active == nil {
			return errors.New("bundle: rollback: no active version")
		}
		return fmt.Errorf("bundle: rollback: no version before %q in memory", active.info.Version)
	}
	m.swap(prev, false)
	return nil
}

// keep records e in the history without activating it. loadMu must be
// held.
func (m *Manager) keep(e *entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.remember(e)
}

// swap makes e active by calling the caller's activate function and
// records it in the history. live says e is the source's current content
// (not a version chosen with Activate or Rollback). loadMu must be held.
func (m *Manager) swap(e *entry, live bool) {
	now := m.o.now()
	m.activate(e.bundle, e.compiled)
	m.cur.Store(e)
	m.mu.Lock()
	prev := ""
	if m.state.active != nil {
		prev = m.state.active.info.Version
	}
	m.state.active, m.state.ActiveSince = e, now
	m.remember(e) // after the switch: trimming drops the oldest, never e
	m.state.Activations++
	if live {
		m.state.latest = e
		m.state.LastError, m.state.LastErrorAt = nil, time.Time{}
	}
	m.mu.Unlock()
	m.o.log.Info("policy bundle active", "version", e.info.Version, "previous", prev, "source", e.info.Source,
		"digest", e.info.Digest, "key_id", e.info.KeyID, "roles", len(e.bundle.Roles), "api_keys", len(e.bundle.APIKeys))
	m.o.event(Event{Time: now, Stage: StageActivate, Version: e.info.Version, Source: e.info.Source})
}

// remember appends e to the history unless it is there. mu is held.
func (m *Manager) remember(e *entry) {
	for _, h := range m.state.history {
		if h == e {
			return
		}
	}
	m.state.history = append(m.state.history, e)
	m.trim()
}

// trim drops the oldest versions beyond the history size, never the
// active one. mu is held.
func (m *Manager) trim() {
	for len(m.state.history) > m.o.history {
		for i, e := range m.state.history {
			if e != m.state.active {
				m.state.history = append(m.state.history[:i:i], m.state.history[i+1:]...)
				break
			}
		}
	}
}

// reject records and reports a bundle that was not activated. content
// says the error belongs to the fetched content (not to fetching), so
// that refetching the same content reports it again.
func (m *Manager) reject(stage, source string, err error, content bool) {
	now := m.o.now()
	m.mu.Lock()
	m.state.LastError, m.state.LastErrorAt = err, now
	if content {
		m.seenErr, m.seenErrAt = err, now
	}
	m.state.Rejections++
	active := ""
	if m.state.active != nil {
		active = m.state.active.info.Version
	}
	m.mu.Unlock()
	m.o.log.Error("policy bundle rejected; the active version stays", "source", source, "stage", stage, "active", active, "err", err)
	m.o.event(Event{Time: now, Stage: stage, Source: source, Err: err})
}

// Compiled returns a kept version's bundle and what compile made of it
// (for example to evaluate it in shadow beside the active one).
func (m *Manager) Compiled(version string) (*policy.Bundle, any, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.state.history) - 1; i >= 0; i-- {
		if e := m.state.history[i]; e.info.Version == version {
			return e.bundle, e.compiled, true
		}
	}
	return nil, nil, false
}
