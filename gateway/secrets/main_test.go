package secrets_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/gateway/secrets"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newResolver builds a Resolver from cfg and closes it when the test ends.
func newResolver(t testing.TB, cfg secrets.Config) *secrets.Resolver {
	t.Helper()
	r, err := secrets.New(cfg)
	if err != nil {
		t.Fatalf("secrets.New() = %v, want nil", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// writeFile writes content to a new file of mode perm and returns its path.
func writeFile(t testing.TB, name, content string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("os.WriteFile() = %v", err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatalf("os.Chmod() = %v", err)
	}
	return path
}

// eventually polls cond every 10ms for up to 5s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after 5s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
