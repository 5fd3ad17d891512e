package config

import (
	"os"
	"runtime/debug"
)

// ApplyRuntime sets the garbage collector's target and the soft memory
// limit of this process from r (validated): r's values when set, else the
// GOGC and GOMEMLIMIT environment variables when set (the runtime read
// them at start), else DefaultGCPercent and, in a container with a memory
// limit (cgroup v1 or v2), a soft limit at 90% of it, so that the larger
// GC target cannot by itself push the process into the container's OOM
// kill. It returns the settings in force, for the start-up log. It
// changes process-wide state: call it once, from a command, never from a
// library.
func ApplyRuntime(r Runtime) (gcPercent int, memoryLimit int64) {
	return applyRuntime(r, containerMemoryLimit)
}

func applyRuntime(r Runtime, container func() (int64, bool)) (gcPercent int, memoryLimit int64) {
	gcPercent = int(r.GCPercent)
	if gcPercent == 0 {
		if os.Getenv("GOGC") != "" {
			gcPercent = debug.SetGCPercent(-1) // read the current value back
		} else {
			gcPercent = DefaultGCPercent
		}
	}
	debug.SetGCPercent(gcPercent)
	switch {
	case r.MemoryLimitBytes > 0:
		debug.SetMemoryLimit(r.MemoryLimitBytes)
	case os.Getenv("GOMEMLIMIT") == "":
		if n, ok := container(); ok {
			debug.SetMemoryLimit(n / 10 * 9)
		}
	}
	return gcPercent, debug.SetMemoryLimit(-1) // -1 reads without changing it
}
