package config

import (
	"os"
	"runtime/debug"
)

// ApplyRuntime sets the garbage collector's target and the soft memory
// limit of this process from r (validated): r's values when set, else the
// GOGC and GOMEMLIMIT environment variables when set (the runtime read
// them at start), else DefaultGCPercent and no limit. It returns the
// settings in force, for the start-up log. It changes process-wide state:
// call it once, from a command, never from a library.
func ApplyRuntime(r Runtime) (gcPercent int, memoryLimit int64) {
	gcPercent = int(r.GCPercent)
	if gcPercent == 0 {
		if os.Getenv("GOGC") != "" {
			gcPercent = debug.SetGCPercent(-1) // read the current value back
		} else {
			gcPercent = DefaultGCPercent
		}
	}
	debug.SetGCPercent(gcPercent)
	if r.MemoryLimitBytes > 0 {
		debug.SetMemoryLimit(r.MemoryLimitBytes)
	}
	return gcPercent, debug.SetMemoryLimit(-1) // -1 reads without changing it
}
