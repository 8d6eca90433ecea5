//go:build !linux

package kernel

import "time"

// threadCPUTime is unavailable here: the benchmarks report wall time only, and Tune times
// with the wall clock.
func threadCPUTime() (time.Duration, bool) { return 0, false }
