package config_test

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/config"
)

// restoreRuntime puts back the process's GC target and memory limit, with
// no heap floor.
func restoreRuntime(t *testing.T) {
	gc := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	debug.SetGCPercent(gc)
	t.Cleanup(func() {
		config.ApplyRuntime(config.Runtime{GCMinHeapBytes: -1, MemoryLimitBytes: limit})
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
		// No heap floor (TestApplyRuntimeMinHeap), which would raise the
		// target of this small test process.
		{"default", config.Runtime{GCMinHeapBytes: -1}, "", config.DefaultGCPercent, 0},
		{"GOGC wins over the default", config.Runtime{GCMinHeapBytes: -1}, "150", 150, 0},
		{"config wins over GOGC", config.Runtime{GCPercent: 200, GCMinHeapBytes: -1}, "150", 200, 0},
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
			in := config.ApplyRuntime(tc.r)
			gc, limit := in.GCPercent, in.MemoryLimit
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

// TestApplyRuntimeMinHeap: the heap floor is the default, a quarter of a
// smaller soft limit, the configured size, or none; with one, after a
// collection the collector's heap goal is at least the floor while the
// live heap is small, and back to gc_percent's once the live heap is past
// half of it.
func TestApplyRuntimeMinHeap(t *testing.T) {
	cases := []struct {
		name   string
		r      config.Runtime
		limit  int64 // GOMEMLIMIT, in MiB
		wantMB int64
	}{
		{"default", config.Runtime{}, 1024, config.DefaultGCMinHeapBytes >> 20},
		{"a quarter of a smaller limit", config.Runtime{}, 128, 32},
		{"configured", config.Runtime{GCMinHeapBytes: 96 << 20}, 1024, 96},
		{"configured, half of a smaller GOMEMLIMIT", config.Runtime{GCMinHeapBytes: 1 << 30}, 400, 200},
		{"none", config.Runtime{GCMinHeapBytes: -1}, 1024, 0},
		{"none with the collector off", config.Runtime{GCPercent: -1, MemoryLimitBytes: 512 << 20}, 1024, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			restoreRuntime(t)
			t.Setenv("GOGC", "")
			t.Setenv("GOMEMLIMIT", strconv.FormatInt(tc.limit, 10)+"MiB")
			debug.SetMemoryLimit(tc.limit << 20) // what the runtime read from GOMEMLIMIT at start
			in := config.ApplyRuntime(tc.r)
			if in.MinHeapBytes != tc.wantMB<<20 {
				t.Fatalf("heap floor = %d bytes, want %d MiB", in.MinHeapBytes, tc.wantMB)
			}
			if tc.wantMB == 0 {
				runtime.GC()
				if got := int(readMetric("/gc/gogc:percent")); got != in.GCPercent {
					t.Errorf("GC target = %d, want %d (no floor)", got, in.GCPercent)
				}
				return
			}
			// The target follows each collection (a cleanup, run soon after).
			collectUntil(func() bool { return readMetric("/gc/heap/goal:bytes") >= uint64(in.MinHeapBytes) })
			goal := readMetric("/gc/heap/goal:bytes")
			if goal < uint64(in.MinHeapBytes) {
				t.Errorf("heap goal = %d MiB, want at least the %d MiB floor", goal>>20, tc.wantMB)
			}
			// The goal is the floor, not a multiple of it (the runtime's
			// 4 MiB least goal and the roots count too).
			if goal > uint64(in.MinHeapBytes+in.MinHeapBytes/4) {
				t.Errorf("heap goal = %d MiB, want about the %d MiB floor", goal>>20, tc.wantMB)
			}
			// While the target is raised, the soft limit caps the overshoot:
			// at most the memory in use plus about the floor.
			if got, max := debug.SetMemoryLimit(-1), int64(readMetric("/memory/classes/total:bytes"))+in.MinHeapBytes*5/4; got > max {
				t.Errorf("memory limit with the target raised = %d MiB, want at most the memory in use plus about the floor (%d MiB)", got>>20, max>>20)
			}
			// A second call starts from the base settings, not from the
			// ones the floor put in force.
			again := config.ApplyRuntime(tc.r)
			if again != in {
				t.Errorf("second ApplyRuntime = %+v, want %+v (the first's)", again, in)
			}
			// A live heap past half of the floor collects at gc_percent.
			live := make([][]byte, 0, 64)
			for range int(tc.wantMB) * 6 / 10 {
				live = append(live, make([]byte, 1<<20))
			}
			collectUntil(func() bool { return readMetric("/gc/gogc:percent") == uint64(in.GCPercent) })
			if got := readMetric("/gc/gogc:percent"); got != uint64(in.GCPercent) {
				t.Errorf("GC target with %d MiB live = %d, want gc_percent's %d", len(live), got, in.GCPercent)
			}
			if got := debug.SetMemoryLimit(-1); got != in.MemoryLimit {
				t.Errorf("memory limit with %d MiB live = %d, want the configured %d back", len(live), got, in.MemoryLimit)
			}
			runtime.KeepAlive(live)
		})
	}
}

// collectUntil collects until done reports true (the floor's cleanup runs
// soon after a collection), for at most 5s.
func collectUntil(done func() bool) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		if done() {
			return
		}
	}
}

func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestApplyRuntimeMinHeapLargeStacks: when the goroutine stacks alone make
// Go's own goal exceed the floor, the floor changes nothing (raising the
// target and capping the limit would only make the process collect more
// often).
func TestApplyRuntimeMinHeapLargeStacks(t *testing.T) {
	restoreRuntime(t)
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(1 << 30)
	release := make(chan struct{})
	var ready sync.WaitGroup
	for range 128 { // 128 goroutines with 256 KiB of stack each: 32 MiB
		ready.Add(1)
		go func() { deepStack(256<<10/128, &ready, release) }()
	}
	ready.Wait()
	defer close(release)
	runtime.GC() // so the floor sees the stacks
	in := config.ApplyRuntime(config.Runtime{GCMinHeapBytes: 16 << 20})
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if stacks := readMetric("/gc/scan/stack:bytes"); stacks < 16<<20 {
		t.Fatalf("stacks scanned = %d MiB, want the goroutines' 32 MiB", stacks>>20)
	}
	if got := readMetric("/gc/gogc:percent"); got != uint64(in.GCPercent) {
		t.Errorf("GC target with %d MiB of stacks and a 16 MiB floor = %d, want gc_percent's %d", readMetric("/gc/scan/stack:bytes")>>20, got, in.GCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("memory limit = %d MiB, want the configured 1024 MiB", got>>20)
	}
}

// deepStack recurses n frames of about 128 bytes each, then waits.
func deepStack(n int, ready *sync.WaitGroup, release chan struct{}) byte {
	var pad [96]byte
	if n == 0 {
		ready.Done()
		<-release
		return pad[0]
	}
	return deepStack(n-1, ready, release) + pad[n%len(pad)]
}
