package bundle

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/interceptors/authz"
	"github.com/portcullis/portcullis/policy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every wait in these tests.
const testTimeout = 10 * time.Second

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func bankRegistry(t testing.TB) *policy.Registry {
	t.Helper()
	reg, err := policy.NewRegistry(bankv1.File_examples_bank_v1_bank_proto_policy)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// bankYAML is a bundle for the bank registry: role teller holds perms and
// is bound to user alice.
func bankYAML(version string, perms ...string) []byte {
	if len(perms) == 0 {
		perms = []string{"bank.accounts.read"}
	}
	return fmt.Appendf(nil, "version: %q\nroles:\n  teller:\n    permissions: [%s]\nbindings:\n  - roles: [teller]\n    users: [alice]\n",
		version, strings.Join(perms, ", "))
}

// live is what a gateway keeps: one atomic pointer to the bundle and its
// engine, swapped together.
type live struct{ p atomic.Pointer[liveState] }

type liveState struct {
	bundle *policy.Bundle
	engine *authz.Engine
}

func (l *live) activate(b *policy.Bundle, c any) {
	l.p.Store(&liveState{bundle: b, engine: c.(*authz.Engine)})
}

func (l *live) version() string {
	if s := l.p.Load(); s != nil {
		return s.bundle.Version
	}
	return ""
}

// engineCompile compiles bundles into authz engines with a shared compiler.
func engineCompile(reg *policy.Registry) func(*policy.Bundle) (any, error) {
	comp := authz.NewCompiler()
	return func(b *policy.Bundle) (any, error) {
		return authz.NewEngine(reg, b, authz.WithCompiler(comp))
	}
}

// newTestManager builds a Manager over src for the bank registry.
func newTestManager(t testing.TB, src Source, opts ...Option) (*Manager, *live) {
	t.Helper()
	reg := bankRegistry(t)
	l := &live{}
	opts = append([]Option{WithLogger(slog.New(slog.DiscardHandler)), WithDebounce(5 * time.Millisecond)}, opts...)
	m, err := NewManager(src, reg, engineCompile(reg), l.activate, opts...)
	if err != nil {
		t.Fatalf("NewManager() = %v, want nil", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m, l
}

// memSource is an in-memory Source; set changes its content and notifies
// its watcher.
type memSource struct {
	mu      sync.Mutex
	snap    Snapshot
	err     error
	changed chan struct{}
}

func newMemSource(data, sig []byte) *memSource {
	s := &memSource{changed: make(chan struct{}, 1)}
	s.snap = Snapshot{Data: data, Sig: sig, Name: "mem.yaml"}
	return s
}

func (s *memSource) set(data, sig []byte) {
	s.mu.Lock()
	s.snap.Data, s.snap.Sig, s.err = data, sig, nil
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *memSource) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *memSource) String() string { return "mem" }

func (s *memSource) Fetch(context.Context) (Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap, s.err
}

func (s *memSource) Watch(ctx context.Context, changed func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.changed:
			changed()
		}
	}
}

// eventually polls cond until it holds or the test times out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// writeAtomic replaces path by writing a temporary file and renaming it.
func writeAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
