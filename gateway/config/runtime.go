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
	// A floor from an earlier call raised the target and lowered the limit:
	// put its base settings back before reading the runtime's.
	gcFloor.stop()
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
	case limit != math.MaxInt64:
		// Validation bounds it by memory_limit_bytes; GOMEMLIMIT and a
		// container's limit are known only here.
		floor = min(floor, limit/2)
	}
	gcFloor.set(gcPercent, uint64(floor), limit)
	return RuntimeSettings{GCPercent: gcPercent, MemoryLimit: limit, MinHeapBytes: floor}
}

// gcFloor keeps the collector's heap goal at the floor while the live heap
// is small: after collections (a cleanup of an object allocated for the
// purpose, which a collection frees: at most once a cycle, sometimes a
// cycle late) it sets the target to the least that brings the runtime's
// goal to the floor, never below the base target. The runtime's goal is
// live + (live + stacks + globals) × target/100, and at least 4 MiB ×
// target/100; both terms count, or the goal overshoots the floor (by
// several times with a live heap under 4 MiB). Setting the target stops
// nothing and costs microseconds.
//
// A raised target applies to the next cycle's live heap, which a burst of
// calls can make far larger than the one it was computed from: the goal
// would overshoot by the same factor (a flood of reset streams grew the
// heap past 200 MiB with a 64 MiB floor). So while the target is raised,
// the soft memory limit is at most the memory in use after the last cycle
// plus about the floor: the collector starts there whatever the target says,
// and the next cleanup computes the target from the larger live heap.
// Counting from the memory in use, not from zero, keeps memory the
// collector cannot free (goroutine stacks of many open streams) from
// pinning the process at its limit.
var gcFloor heapFloor

type heapFloor struct {
	mu      sync.Mutex
	gen     int               // bumped by set and stop: a cleanup armed before stands down
	pct     int               // the base target (gc_percent)
	floor   uint64            // 0: none
	limit   int64             // the soft memory limit in force without the floor
	samples [5]metrics.Sample // live heap, memory in use, roots: read once a cycle
}

// stop ends the floor, if any, and puts the base target and memory limit
// back.
func (h *heapFloor) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gen++
	if h.floor > 0 {
		debug.SetGCPercent(h.pct)
		debug.SetMemoryLimit(h.limit)
		h.floor = 0
	}
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

// cycle runs after the collection that freed the sentinel.
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
	h.samples[3].Name = "/gc/scan/stack:bytes"
	h.samples[4].Name = "/gc/scan/globals:bytes"
	metrics.Read(h.samples[:])
	live := h.samples[0].Value.Uint64()
	// What the soft memory limit counts: all the runtime's memory (heap,
	// stacks, its own structures) except heap returned to the system.
	inUse := int64(h.samples[1].Value.Uint64() - h.samples[2].Value.Uint64())
	roots := h.samples[3].Value.Uint64() + h.samples[4].Value.Uint64()
	pct, limit := h.pct, h.limit
	if live > 0 && live < h.floor/2 {
		// The least target for which either term of the goal reaches the
		// floor; with large roots the base target may already do.
		pLive := int((h.floor-live)*100/(live+roots)) + 1
		pMin := int(h.floor*100/minHeapGoal) + 1
		if p := min(pLive, pMin); p > pct {
			pct = p
			// At most about a floor's worth more than now before the next
			// cycle, whatever else (stacks) the process holds; the runtime
			// keeps a few % of headroom under a limit, hence the eighth.
			limit = min(limit, inUse+int64(h.floor+h.floor/8))
		}
	}
	debug.SetMemoryLimit(limit)
	debug.SetGCPercent(min(pct, 1_000_000))
}

// minHeapGoal is the runtime's least heap goal at a target of 100
// (heapMinimum in runtime/mgcpacer.go), scaled by the target.
const minHeapGoal = 4 << 20
