package config_test

import (
	"runtime/debug"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
)

// restoreRuntime puts back the process's GC target and memory limit.
func restoreRuntime(t *testing.T) {
	gc := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	debug.SetGCPercent(gc)
	t.Cleanup(func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	})
}

func TestApplyRuntime(t *testing.T) {
	cases := []struct {
		name      string
		r         config.Runtime
		gogc      string // GOGC in the environment ("": unset)
		wantGC    int
		wantLimit int64 // 0: unchanged
	}{
		{"default", config.Runtime{}, "", config.DefaultGCPercent, 0},
		{"GOGC wins over the default", config.Runtime{}, "150", 150, 0},
		{"config wins over GOGC", config.Runtime{GCPercent: 200}, "150", 200, 0},
		{"memory limit", config.Runtime{GCPercent: -1, MemoryLimitBytes: 64 << 20}, "", -1, 64 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			restoreRuntime(t)
			// Set, so that a container limit on the test machine is not
			// consulted (cgroup_internal_test.go covers that).
			t.Setenv("GOMEMLIMIT", "1GiB")
			if tc.gogc != "" {
				t.Setenv("GOGC", tc.gogc)
				debug.SetGCPercent(150) // what the runtime read from GOGC at start
			} else {
				t.Setenv("GOGC", "")
			}
			before := debug.SetMemoryLimit(-1)
			gc, limit := config.ApplyRuntime(tc.r)
			if gc != tc.wantGC {
				t.Errorf("gc_percent in force = %d, want %d", gc, tc.wantGC)
			}
			if got := debug.SetGCPercent(tc.wantGC); got != tc.wantGC {
				t.Errorf("runtime GC percent = %d, want %d", got, tc.wantGC)
			}
			want := tc.wantLimit
			if want == 0 {
				want = before
			}
			if limit != want || debug.SetMemoryLimit(-1) != want {
				t.Errorf("memory limit = %d, want %d", limit, want)
			}
		})
	}
}
