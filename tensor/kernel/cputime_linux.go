package kernel

import (
	"syscall"
	"time"
)

// threadCPUTime returns the CPU time the calling OS thread has used (Linux RUSAGE_THREAD):
// on a machine shared with other work it measures the work itself, without the time the
// thread waited for a core.
func threadCPUTime() (time.Duration, bool) {
	const rusageThread = 1
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
