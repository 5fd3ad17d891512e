package audit

import (
	"syscall"
	"time"
)

// CPUTime is the process's user and system CPU time so far, for
// benchmarks that report throughput per CPU second (robust against a
// loaded machine, where wall-clock rates mostly measure the neighbours).
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
