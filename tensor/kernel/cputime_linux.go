package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadCPUTime returns the CPU time the calling OS thread has used (Linux
// CLOCK_THREAD_CPUTIME_ID): on a machine shared with other work it measures the work itself,
// without the time the thread waited for a core. It counts to the nanosecond; getrusage's
// RUSAGE_THREAD, which this once read, is sampled at the scheduler's tick (4 ms here), so a
// 2.5 ms run could read 0.26 ms and every candidate of a tuning run the same time.
func threadCPUTime() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
