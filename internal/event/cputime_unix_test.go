//go:build unix

package event

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (every thread: the
// garbage collector's work counts). On a shared, loaded machine a
// benchmark's wall time per operation includes time spent waiting for a
// core; CPU time per operation is the cost of the work itself.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
