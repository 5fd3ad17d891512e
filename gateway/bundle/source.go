package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Snapshot is one fetched state of a bundle source.
type Snapshot struct {
	// Data is the bundle file's contents.
	Data []byte
	// Sig is the detached signature document (FILE.sig), or nil when the
	// source has none.
	Sig []byte
	// Name is where the bundle came from (a path or URL); it is used in
	// errors and becomes policy.Bundle.Source.
	Name string
	// ETag identifies the content: the HTTP entity tag, or "sha256:<hex>"
	// of Data and Sig for files.
	ETag string
}

// Source is where bundles come from. Implementations are safe for
// concurrent use.
type Source interface {
	// Fetch returns the current (live) bundle.
	Fetch(ctx context.Context) (Snapshot, error)
	// Watch blocks until ctx is done, calling changed whenever the live
	// bundle may have changed, and once when it starts (a change may have
	// happened since the caller's last Fetch). Spurious calls are allowed:
	// the Manager fetches and compares contents before doing anything.
	Watch(ctx context.Context, changed func())
}

// Lister is implemented by sources that hold several versions (Dir). The
// Manager loads the listed versions into its history so that they can be
// activated by version.
type Lister interface {
	// List returns every version, oldest first; the last is the one
	// Fetch returns.
	List(ctx context.Context) ([]Snapshot, error)
}

// SourceOption configures File, Dir and HTTPS.
type SourceOption func(*sourceOptions)

type sourceOptions struct {
	poll     time.Duration
	watch    bool
	maxBytes int64
	timeout  time.Duration
}

func sourceDefaults(poll time.Duration, opts []SourceOption) sourceOptions {
	o := sourceOptions{poll: poll, watch: true, maxBytes: maxFileBytes, timeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithPollInterval sets how often a source is checked for changes besides
// file-system notifications; 0 turns polling off. Default 10s for File and
// Dir, 30s for HTTPS.
func WithPollInterval(d time.Duration) SourceOption { return func(o *sourceOptions) { o.poll = d } }

// WithFileWatch turns file-system notifications (fsnotify) on or off for
// File and Dir; polling still runs. Default on.
func WithFileWatch(on bool) SourceOption { return func(o *sourceOptions) { o.watch = on } }

// WithMaxBytes bounds a fetched bundle. Default and maximum 8 MiB.
func WithMaxBytes(n int64) SourceOption {
	return func(o *sourceOptions) { o.maxBytes = min(n, maxFileBytes) }
}

// WithTimeout bounds one HTTPS fetch (bundle and signature). Default 10s.
func WithTimeout(d time.Duration) SourceOption { return func(o *sourceOptions) { o.timeout = d } }

// File returns a Source for one bundle file and its optional signature
// PATH.sig. Watch follows atomic replacement (write a temporary file,
// rename it over PATH; Kubernetes ConfigMap symlink swaps too) by watching
// the directory, and polls as a fallback. Write PATH.sig before renaming
// the new PATH into place.
func File(path string, opts ...SourceOption) Source {
	return &fileSource{path: path, o: sourceDefaults(10*time.Second, opts)}
}

type fileSource struct {
	path string
	o    sourceOptions
}

func (s *fileSource) String() string { return s.path }

func (s *fileSource) Fetch(context.Context) (Snapshot, error) {
	return readSnapshot(s.path, s.o.maxBytes)
}

func (s *fileSource) Watch(ctx context.Context, changed func()) {
	p := probe{}
	state := func(force bool) string {
		return p.state(s.path, force) + "/" + p.state(s.path+SigSuffix, force)
	}
	last := state(true)
	changed() // covers a change between the caller's Fetch and this point
	watchDir(ctx, filepath.Dir(s.path), s.o, func(force bool) {
		if st := state(force); st != last {
			last = st
			changed()
		}
	})
}

// Dir returns a Source for a directory of versions: every *.yaml file is
// a version (with its optional FILE.sig), listed in lexical order, and the
// last one is live. Name files so that they sort by age, e.g.
// 2026-12-01.1.yaml. Files starting with "." are ignored.
func Dir(path string, opts ...SourceOption) Source {
	return &dirSource{path: path, o: sourceDefaults(10*time.Second, opts)}
}

type dirSource struct {
	path string
	o    sourceOptions
}

func (s *dirSource) String() string { return s.path + string(filepath.Separator) }

func (s *dirSource) names() ([]string, error) {
	ents, err := os.ReadDir(s.path)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, ".yaml") && !strings.HasPrefix(n, ".") && !e.IsDir() {
			out = append(out, filepath.Join(s.path, n))
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("bundle: %s: no *.yaml bundle versions", s.path)
	}
	return out, nil
}

func (s *dirSource) Fetch(context.Context) (Snapshot, error) {
	names, err := s.names()
	if err != nil {
		return Snapshot{}, err
	}
	return readSnapshot(names[len(names)-1], s.o.maxBytes)
}

func (s *dirSource) List(ctx context.Context) ([]Snapshot, error) {
	names, err := s.names()
	if err != nil {
		return nil, err
	}
	out := make([]Snapshot, 0, len(names))
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		snap, err := readSnapshot(n, s.o.maxBytes)
		if err != nil {
			return nil, err
		}
		out = append(out, snap)
	}
	return out, nil
}

func (s *dirSource) Watch(ctx context.Context, changed func()) {
	p := probe{}
	state := func(force bool) string {
		var b strings.Builder
		names, _ := s.names()
		for _, n := range names {
			b.WriteString(n + "\x00" + p.state(n, force) + "/" + p.state(n+SigSuffix, force) + "\n")
		}
		return b.String()
	}
	last := state(true)
	changed() // covers a change between the caller's Fetch and this point
	watchDir(ctx, s.path, s.o, func(force bool) {
		if st := state(force); st != last {
			last = st
			changed()
		}
	})
}

// readSnapshot reads a bundle file and its signature, if any.
func readSnapshot(path string, maxBytes int64) (Snapshot, error) {
	data, err := readBounded(path, maxBytes)
	if err != nil {
		return Snapshot{}, err
	}
	sig, err := readBounded(path+SigSuffix, maxSigBytes)
	if errors.Is(err, fs.ErrNotExist) {
		sig, err = nil, nil
	}
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Data: data, Sig: sig, Name: path, ETag: contentTag(data, sig)}, nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to flush
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("bundle: %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("bundle: %s: larger than %d bytes", path, limit)
	}
	return data, nil
}

// contentTag is the ETag of file snapshots: SHA-256 over the bundle and
// its signature, so that re-signing is a change too.
func contentTag(data, sig []byte) string {
	h := sha256.New()
	h.Write(data)
	h.Write([]byte{0})
	h.Write(sig)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
