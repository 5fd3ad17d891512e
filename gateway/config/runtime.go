package config

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// RuntimeSettings are the Go runtime settings ApplyRuntime put in force.
type RuntimeSettings struct {
	// GCPercent is the collector's target (the least one, with a heap floor).
	GCPercent int
	// MemoryLimit is the soft memory limit, math.MaxInt64 for none.
	MemoryLimit int64
	// MinHeapBytes is the heap floor, 0 for none.
	MinHeapBytes int64
}

// ApplyRuntime sets the garbage collector's target and heap floor and the
// soft memory limit of this process from r (validated): r's values when
// set, else the GOGC and GOMEMLIMIT environment variables when set (the
// runtime read them at start), else DefaultGCPercent and, in a container
// with a memory limit (cgroup v1 or v2), a soft limit at 90% of it, so that
// the heap cannot by itself push the process into the container's OOM
// kill; and DefaultGCMinHeapBytes, at most a quarter of the soft limit. It
// returns the settings in force, for the start-up log. It changes
// process-wide state: call it once, from a command, never from a library
// (a later call replaces the earlier settings).
func ApplyRuntime(r Runtime) RuntimeSettings {
	return applyRuntime(r, containerMemoryLimit)
}

func applyRuntime(r Runtime, container func() (int64, bool)) RuntimeSettings {
	gcPercent := int(r.GCPercent)
	if gcPercent == 0 {
		if os.Getenv("GOGC") != "" {
			gcPercent = gcFloor.base() // what the runtime read from GOGC
		} else {
			gcPercent = DefaultGCPercent
		}
	}
	switch {
	case r.MemoryLimitBytes > 0:
		debug.SetMemoryLimit(r.MemoryLimitBytes)
	case os.Getenv("GOMEMLIMIT") == "":
		if n, ok := container(); ok {
			debug.SetMemoryLimit(n / 10 * 9)
		}
	}
	limit := debug.SetMemoryLimit(-1) // -1 reads without changing it
	floor := r.GCMinHeapBytes
	switch {
	case floor == -1 || gcPercent < 0:
		floor = 0
	case floor == 0:
		floor = DefaultGCMinHeapBytes
		if limit != math.MaxInt64 {
			floor = min(floor, limit/4)
		}
	}
	gcFloor.set(gcPercent, uint64(floor), limit)
	return RuntimeSettings{GCPercent: gcPercent, MemoryLimit: limit, MinHeapBytes: floor}
}

// gcFloor keeps the collector's heap goal at or above a floor: after each
// collection (a cleanup of an object allocated for the purpose, which the
// collection frees) it sets the target to what brings the goal, from the
// live heap it marked, up to the floor, and never below the base target.
// Setting the target stops nothing and costs microseconds, once a cycle.
//
// A raised target applies to the next cycle's live heap, which a burst of
// calls can make far larger than the one it was computed from: the goal
// would overshoot by the same factor (a flood of reset streams grew the
// heap past 200 MiB with a 64 MiB floor). So while the target is raised,
// the soft memory limit is at most the memory in use after the last cycle
// plus the floor: the collector starts there whatever the target says,
// and the next cleanup computes the target from the larger live heap.
// Counting from the memory in use, not from zero, keeps memory the
// collector cannot free (goroutine stacks of many open streams) from
// pinning the process at its limit.
var gcFloor heapFloor

type heapFloor struct {
	mu      sync.Mutex
	gen     int               // bumped by set: a cleanup armed before it stands down
	pct     int               // the base target (gc_percent)
	floor   uint64            // 0: none
	limit   int64             // the soft memory limit in force without the floor
	samples [3]metrics.Sample // live heap, memory in use: read once a cycle
}

// base returns the collector's current target.
func (h *heapFloor) base() int {
	pct := debug.SetGCPercent(-1)
	debug.SetGCPercent(pct)
	return pct
}

func (h *heapFloor) set(pct int, floor uint64, limit int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen++
	h.pct, h.floor, h.limit = pct, floor, limit
	debug.SetGCPercent(pct)
	debug.SetMemoryLimit(limit)
	if floor > 0 {
		h.retuneLocked()
		h.armLocked()
	}
}

// sentinel is what each cycle's cleanup hangs on: a pointer-sized heap
// object of its own (not in a tiny-allocator block shared with others,
// which could keep it alive).
type sentinel struct{ _ *int }

func (h *heapFloor) armLocked() {
	gen := h.gen
	runtime.AddCleanup(&sentinel{}, h.cycle, gen)
}

// cycle runs after each collection that freed the sentinel.
func (h *heapFloor) cycle(gen int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if gen != h.gen || h.floor == 0 {
		return // replaced or turned off by a later set
	}
	h.retuneLocked()
	h.armLocked()
}

// retuneLocked sets the target that makes the heap goal, from the live
// heap the last collection marked, at least the floor.
func (h *heapFloor) retuneLocked() {
	h.samples[0].Name = "/gc/heap/live:bytes"
	h.samples[1].Name = "/memory/classes/total:bytes"
	h.samples[2].Name = "/memory/classes/heap/released:bytes"
	metrics.Read(h.samples[:])
	live := h.samples[0].Value.Uint64()
	// What the soft memory limit counts: all the runtime's memory (heap,
	// stacks, its own structures) except heap returned to the system.
	inUse := int64(h.samples[1].Value.Uint64() - h.samples[2].Value.Uint64())
	pct, limit := h.pct, h.limit
	if live > 0 && live < h.floor/2 {
		// goal = live × (1 + pct/100) ≥ floor
		pct = max(pct, int((h.floor-live)*100/live)+1)
		// At most a floor's worth more than now before the next cycle,
		// whatever else (stacks) the process holds.
		limit = min(limit, inUse+int64(h.floor))
	}
	debug.SetMemoryLimit(limit)
	debug.SetGCPercent(min(pct, 1_000_000))
}
