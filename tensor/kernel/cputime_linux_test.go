package kernel

import (
	"runtime"
	"testing"
	"time"
)

// TestThreadCPUTimeResolution checks that the thread's CPU clock sees short runs: each of
// twenty busy loops of about 200 µs must read a CPU time above zero and not above its wall
// time (less a tolerance for the two clocks). A clock sampled at the scheduler's tick reads
// most of them as zero.
func TestThreadCPUTimeResolution(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	x := 1.0
	for i := range 20 {
		w0 := time.Now() // the wall span encloses both clock reads
		c0, ok := threadCPUTime()
		if !ok {
			t.Fatal("no thread CPU clock on Linux")
		}
		for time.Since(w0) < 200*time.Microsecond {
			x = x*1.0000001 + 1e-9
		}
		c1, _ := threadCPUTime()
		wall := time.Since(w0)
		// The two clocks are kept apart by the kernel (a virtual machine's accounting can
		// run a little ahead of its wall clock): allow 10% and 50 µs.
		if d := c1 - c0; d <= 0 || d > wall+wall/10+50*time.Microsecond {
			t.Fatalf("loop %d: CPU time %v for %v of wall time", i, d, wall)
		}
	}
	if x == 0 {
		t.Fatal("unreachable")
	}
}
