package kernel

import (
	"runtime"
	"testing"
	"time"
)

// TestThreadCPUTimeResolution checks that the thread's CPU clock sees short runs: each of
// twenty busy loops of about 200 µs must read a CPU time above zero and not above its wall
// time. A clock sampled at the scheduler's tick reads most of them as zero.
func TestThreadCPUTimeResolution(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	x := 1.0
	for i := range 20 {
		c0, ok := threadCPUTime()
		if !ok {
			t.Fatal("no thread CPU clock on Linux")
		}
		w0 := time.Now()
		for time.Since(w0) < 200*time.Microsecond {
			x = x*1.0000001 + 1e-9
		}
		wall := time.Since(w0)
		c1, _ := threadCPUTime()
		if d := c1 - c0; d <= 0 || d > wall+50*time.Microsecond {
			t.Fatalf("loop %d: CPU time %v for %v of wall time", i, d, wall)
		}
	}
	if x == 0 {
		t.Fatal("unreachable")
	}
}
