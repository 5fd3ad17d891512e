package secrets_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/secrets"
)

const fileSecret = "hunter2-s3cr3t"

func TestFile(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, "good", fileSecret+"\n", 0o600)
	crlf := writeFile(t, "crlf", fileSecret+"\r\n", 0o400)
	twoLines := writeFile(t, "two", fileSecret+"\n\n", 0o600)
	world := writeFile(t, "world", fileSecret, 0o644)
	group := writeFile(t, "group", fileSecret, 0o640)
	groupWrite := writeFile(t, "groupw", fileSecret, 0o620)
	linkToGood := filepath.Join(dir, "link-good")
	linkToWorld := filepath.Join(dir, "link-world")
	for link, target := range map[string]string{linkToGood: good, linkToWorld: world} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatalf("os.Symlink() = %v", err)
		}
	}
	big := writeFile(t, "big", strings.Repeat("x", 1<<20+1), 0o600)

	r := newResolver(t, secrets.Config{FileRefreshInterval: -1})
	for _, tt := range []struct {
		name, path, want, err string
	}{
		{"0600, trailing newline dropped", good, fileSecret, ""},
		{"0400, CRLF dropped", crlf, fileSecret, ""},
		{"only one newline dropped", twoLines, fileSecret + "\n", ""},
		{"symlink to a 0600 file", linkToGood, fileSecret, ""},
		{"world-readable", world, "", "mode 0644 lets group or others access it; run: chmod 600 " + world},
		{"group-readable", group, "", "run: chmod 600 " + group},
		{"group-writable", groupWrite, "", "run: chmod 600 " + groupWrite},
		{"symlink to a world-readable file", linkToWorld, "", "run: chmod 600 " + linkToWorld},
		{"missing", filepath.Join(dir, "missing"), "", "no such file or directory"},
		{"directory", dir, "", "not a regular file"},
		{"device", "/dev/null", "", "not a regular file"},
		{"too large", big, "", "larger than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := r.Resolve(testContext(t), "file:"+tt.path)
			if tt.want != "" {
				if err != nil || s.Value() != tt.want {
					t.Fatalf("Resolve(file:%s) = %q, %v, want %q, nil", tt.path, s.Value(), err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Resolve(file:%s) = %q, nil, want an error", tt.path, s.Value())
			}
			if !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "secrets: ") {
				t.Errorf("Resolve(file:%s) = %q, want a \"secrets: \" error containing %q", tt.path, err, tt.err)
			}
			if strings.Contains(err.Error(), fileSecret) {
				t.Errorf("Resolve(file:%s) = %q, shows the secret", tt.path, err)
			}
		})
	}
	if _, err := secrets.ReadFile(world); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("ReadFile(0644 file) = %v, want a chmod 600 error", err)
	}
}

// TestFileRefresh re-reads a rotated file and tells watchers; a refresh
// that fails (the file became world-readable) keeps the last value.
func TestFileRefresh(t *testing.T) {
	path := writeFile(t, "rotating", "v1", 0o600)
	r := newResolver(t, secrets.Config{FileRefreshInterval: 10 * time.Millisecond})
	s, err := r.Resolve(testContext(t), "file:"+path)
	if err != nil {
		t.Fatalf("Resolve() = %v, want nil", err)
	}
	again, _ := r.Resolve(testContext(t), "file:"+path)
	var changes atomic.Int64
	var last atomic.Value
	ctx, cancel := context.WithCancel(testContext(t))
	s.Watch(ctx, func(s secrets.Secret) { changes.Add(1); last.Store(s.Value()) })

	replace := func(content string, perm os.FileMode) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatalf("os.WriteFile() = %v", err)
		}
		_ = os.Chmod(tmp, perm)
		if err := os.Rename(tmp, path); err != nil {
			t.Fatalf("os.Rename() = %v", err)
		}
	}
	replace("v2", 0o600)
	eventually(t, "Value() = v2", func() bool { return s.Value() == "v2" })
	if again.Value() != "v2" {
		t.Errorf("second Resolve of the same ref: Value() = %q, want v2 (shared)", again.Value())
	}
	eventually(t, "watcher saw v2", func() bool { v, _ := last.Load().(string); return v == "v2" })
	replace("v3", 0o644)
	time.Sleep(50 * time.Millisecond)
	if got := s.Value(); got != "v2" {
		t.Errorf("Value() after a refused refresh = %q, want v2 (kept)", got)
	}
	cancel()
	time.Sleep(10 * time.Millisecond)
	n := changes.Load()
	replace("v4", 0o600)
	eventually(t, "Value() = v4", func() bool { return s.Value() == "v4" })
	if got := changes.Load(); got != n {
		t.Errorf("watcher calls after its context ended = %d, want %d", got, n)
	}
}
