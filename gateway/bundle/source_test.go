package bundle

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFileFetch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bundle.yaml")
	write(t, path, bankYAML("v1"))
	snap, err := File(path).Fetch(testContext(t))
	if err != nil || string(snap.Data) != string(bankYAML("v1")) || snap.Sig != nil || snap.Name != path || !strings.HasPrefix(snap.ETag, "sha256:") {
		t.Fatalf("Fetch() = %+v, %v, want the unsigned file", snap, err)
	}
	write(t, path+SigSuffix, []byte("sig"))
	signed, err := File(path).Fetch(testContext(t))
	if err != nil || string(signed.Sig) != "sig" || signed.ETag == snap.ETag {
		t.Errorf("Fetch(signed) = %+v, %v, want the signature and a new ETag", signed, err)
	}
	if _, err := File(path, WithMaxBytes(10)).Fetch(testContext(t)); err == nil || !strings.Contains(err.Error(), "larger than 10 bytes") {
		t.Errorf("Fetch(too large) = %v, want a size error", err)
	}
	if _, err := File(filepath.Join(dir, "missing.yaml")).Fetch(testContext(t)); err == nil {
		t.Errorf("Fetch(missing) = nil error, want an error")
	}
}

// watcher runs src.Watch and counts its notifications.
type watcher struct {
	calls  chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startWatch(t *testing.T, src Source) *watcher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	w := &watcher{calls: make(chan struct{}, 100), cancel: cancel}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		src.Watch(ctx, func() { w.calls <- struct{}{} })
	}()
	t.Cleanup(func() { cancel(); w.wg.Wait() })
	w.expect(t, "the initial notification")
	return w
}

func (w *watcher) expect(t *testing.T, what string) {
	t.Helper()
	select {
	case <-w.calls:
	case <-time.After(testTimeout):
		t.Fatalf("Watch: no notification for %s", what)
	}
	for { // drain a burst of events
		select {
		case <-w.calls:
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

func (w *watcher) none(t *testing.T, what string, d time.Duration) {
	t.Helper()
	select {
	case <-w.calls:
		t.Errorf("Watch: notification for %s, want none", what)
	case <-time.After(d):
	}
}

func TestFileWatch(t *testing.T) {
	modes := []struct {
		name string
		opts []SourceOption
	}{
		{"fsnotify", []SourceOption{WithPollInterval(0)}},
		{"polling", []SourceOption{WithFileWatch(false), WithPollInterval(10 * time.Millisecond)}},
	}
	changes := []struct {
		name   string
		change func(t *testing.T, path string)
	}{
		{"in place", func(t *testing.T, path string) { write(t, path, bankYAML("v2")) }},
		{"atomic rename", func(t *testing.T, path string) { writeAtomic(t, path, bankYAML("v3")) }},
		{"signature added", func(t *testing.T, path string) { write(t, path+SigSuffix, []byte("sig")) }},
		{"removed", func(t *testing.T, path string) { _ = os.Remove(path) }},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bundle.yaml")
			write(t, path, bankYAML("v1"))
			w := startWatch(t, File(path, mode.opts...))
			for _, c := range changes {
				c.change(t, path)
				w.expect(t, c.name)
			}
			if mode.name == "polling" {
				write(t, filepath.Join(filepath.Dir(path), "other.txt"), []byte("x"))
				w.none(t, "an unrelated file", 100*time.Millisecond)
			}
		})
	}
}

func TestDirSource(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []struct{ name, version string }{{"2026-01-02.yaml", "b"}, {"2026-01-01.yaml", "a"}, {".hidden.yaml", "h"}, {"notes.txt", "n"}} {
		write(t, filepath.Join(dir, f.name), bankYAML(f.version))
	}
	src := Dir(dir, WithPollInterval(0))
	ctx := testContext(t)
	snap, err := src.Fetch(ctx)
	if err != nil || snap.Name != filepath.Join(dir, "2026-01-02.yaml") {
		t.Fatalf("Fetch() = %v, %v, want the lexically last *.yaml", snap.Name, err)
	}
	list, err := src.(Lister).List(ctx)
	if err != nil || len(list) != 2 || filepath.Base(list[0].Name) != "2026-01-01.yaml" || filepath.Base(list[1].Name) != "2026-01-02.yaml" {
		t.Fatalf("List() = %v, %v, want the two versions oldest first", list, err)
	}
	w := startWatch(t, src)
	writeAtomic(t, filepath.Join(dir, "2026-01-03.yaml"), bankYAML("c"))
	w.expect(t, "a new version")
	if snap, _ := src.Fetch(ctx); filepath.Base(snap.Name) != "2026-01-03.yaml" {
		t.Errorf("Fetch() = %s, want the new version", snap.Name)
	}
	if _, err := Dir(t.TempDir()).Fetch(ctx); err == nil || !strings.Contains(err.Error(), "no *.yaml") {
		t.Errorf("Fetch(empty dir) = %v, want an error", err)
	}
}

func TestManagerFileSource(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []SourceOption
	}{
		{"fsnotify", []SourceOption{WithPollInterval(0)}},
		{"polling", []SourceOption{WithFileWatch(false), WithPollInterval(10 * time.Millisecond)}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bundle.yaml")
			write(t, path, bankYAML("v1"))
			m, l := newTestManager(t, File(path, mode.opts...))
			if err := m.Start(testContext(t)); err != nil {
				t.Fatal(err)
			}
			writeAtomic(t, path, bankYAML("v2"))
			eventually(t, "v2 active", func() bool { return l.version() == "v2" })
			writeAtomic(t, path, []byte("version: v3\nrolez: {}\n"))
			eventually(t, "the bad bundle reported", func() bool { return m.Status().LastError != nil })
			if st := m.Status(); l.version() != "v2" || st.Active.Version != "v2" || !strings.Contains(st.LastError.Error(), path) {
				t.Errorf("Status() = %+v, active %q, want v2 still active and an error naming %s", st, l.version(), path)
			}
		})
	}
}

func TestManagerDirSource(t *testing.T) {
	dir := t.TempDir()
	for i, v := range []string{"v1", "v2", "v3", "v4"} {
		write(t, filepath.Join(dir, "2026-01-0"+string(rune('1'+i))+".yaml"), bankYAML(v))
	}
	write(t, filepath.Join(dir, "2026-01-035.yaml"), []byte("version: broken\nrolez: {}\n")) // an old bad version
	m, l := newTestManager(t, Dir(dir, WithPollInterval(0)), WithHistory(3))
	if err := m.Start(testContext(t)); err != nil {
		t.Fatal(err)
	}
	versions := func() string {
		var out []string
		for _, v := range m.Versions() {
			out = append(out, v.Version)
		}
		return strings.Join(out, " ")
	}
	if l.version() != "v4" || versions() != "v3 v4" {
		t.Errorf("after Start: active %q, Versions() = %s, want v4 and [v3 v4] (the broken one skipped)", l.version(), versions())
	}
	if err := m.Activate("v3"); err != nil || l.version() != "v3" {
		t.Errorf("Activate(v3) = %v, active %q, want v3", err, l.version())
	}
	writeAtomic(t, filepath.Join(dir, "2026-01-05.yaml"), bankYAML("v5"))
	eventually(t, "v5 active", func() bool { return l.version() == "v5" })
	if got := versions(); got != "v3 v4 v5" {
		t.Errorf("Versions() = %s, want v3 v4 v5", got)
	}
}
