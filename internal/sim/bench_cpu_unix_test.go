//go:build unix

package sim

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system, every thread) the process has
// used: on a shared machine it says what the simulator costs better than
// the elapsed time does.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
