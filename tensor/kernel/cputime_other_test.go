//go:build !linux

package kernel

import "time"

// threadCPUTime is unavailable here: the benchmarks report wall time only.
func threadCPUTime() (time.Duration, bool) { return 0, false }
