package config

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestCgroupMemoryLimit(t *testing.T) {
	write := func(t *testing.T, root, rel, body string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		files map[string]string
		proc  string
		want  int64
		ok    bool
	}{
		{"v2 path", map[string]string{"kubepods/pod1/memory.max": "536870912\n"}, "0::/kubepods/pod1\n", 512 << 20, true},
		{"v2 namespace root", map[string]string{"memory.max": "1073741824\n"}, "0::/\n", 1 << 30, true},
		{"v2 max", map[string]string{"memory.max": "max\n"}, "0::/\n", 0, false},
		{"v1 path", map[string]string{"memory/docker/abc/memory.limit_in_bytes": "268435456\n"}, "4:memory:/docker/abc\n3:cpu:/\n", 256 << 20, true},
		{"v1 no limit", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, "4:memory:/x\n", 0, false},
		{"nothing", nil, "", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for rel, body := range tc.files {
				write(t, root, rel, body)
			}
			got, ok := cgroupMemoryLimit(root, tc.proc)
			if got != tc.want || ok != tc.ok {
				t.Errorf("cgroupMemoryLimit = %d, %v, want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// Without a configured limit or GOMEMLIMIT, a container's limit sets a
// soft limit at 90% of it; a configured limit or GOMEMLIMIT wins.
func TestApplyRuntimeContainerLimit(t *testing.T) {
	gc := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(gc); debug.SetMemoryLimit(limit) })
	container := func() (int64, bool) { return 1000 << 20, true }

	t.Setenv("GOMEMLIMIT", "")
	if got := applyRuntime(Runtime{}, container).MemoryLimit; got != 900<<20 {
		t.Errorf("soft limit = %d, want 90%% of the container's (%d)", got, 900<<20)
	}
	if got := applyRuntime(Runtime{MemoryLimitBytes: 64 << 20}, container).MemoryLimit; got != 64<<20 {
		t.Errorf("configured limit = %d, want it to win", got)
	}
	gcFloor.stop() // else the next call restores the 64 MiB the floor ran under
	debug.SetMemoryLimit(limit)
	t.Setenv("GOMEMLIMIT", "123MiB")
	if got := applyRuntime(Runtime{}, container).MemoryLimit; got != limit {
		t.Errorf("with GOMEMLIMIT set, limit = %d, want the runtime's own (%d)", got, limit)
	}
	applyRuntime(Runtime{GCMinHeapBytes: -1}, container) // no heap floor left running
}
