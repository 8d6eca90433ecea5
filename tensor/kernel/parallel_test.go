package kernel

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// mustReturn runs f and ends the test binary if f has not returned within d, printing what
// did not return and every goroutine's stack. A region whose threads all sleep holds the
// pool, so a failing test could not even restore the thread count (the deferred SetThreads
// of a t.Fatal or panic would wait for the pool forever): the binary would hang until the test
// timeout instead of failing here.
func mustReturn(d time.Duration, what string, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		stacks := make([]byte, 1<<20)
		stacks = stacks[:runtime.Stack(stacks, true)]
		fmt.Fprintf(os.Stderr, "FAIL: %s did not return within %v: its threads sleep at a finished step\n\n%s", what, d, stacks)
		os.Exit(1)
	}
}

// TestRunStepsSlowSleeperIsWoken: a thread that waits at step 1 for step 0 first claims an
// item of step 1 (its Prefetch), registers as a sleeper and is then held up before it looks at
// step 0 again (beforeSleep), while the other thread finishes step 0, runs the rest of step 1
// and goes to sleep at step 2 waiting for the claimed item. The first thread must still see
// step 0 done, run its item and wake the second. When step 0's wake-up was a token that the
// second thread could take for itself, both slept for good (the W3 int8 decode hung so, one
// run in ten on a busy machine).
func TestRunStepsSlowSleeperIsWoken(t *testing.T) {
	withThreads(2, func() {
		var sleeps, seen atomic.Int32
		beforeSleep = func() {
			if sleeps.Add(1) == 1 {
				time.Sleep(5 * time.Millisecond) // far past the time step 0 takes
			}
		}
		defer func() { beforeSleep = nil }()
		mustReturn(20*time.Second, "RunSteps", func() {
			for range 20 {
				sleeps.Store(0)
				var order atomic.Int32
				var bad atomic.Value
				RunSteps([]Step{
					{N: 2, Grain: 1, Task: Func(func(lo, hi int) {
						if lo == 0 {
							time.Sleep(time.Millisecond)
						}
						order.Add(1)
					})},
					{N: 2, Grain: 1, Prefetch: func(int, int) {}, Task: Func(func(lo, hi int) {
						if order.Load() < 2 {
							bad.Store("step 1 ran before step 0 was done")
						}
						order.Add(1)
					})},
					{N: 1, Task: Func(func(lo, hi int) {
						if order.Load() < 4 {
							bad.Store("step 2 ran before step 1 was done")
						}
					})},
				})
				if b := bad.Load(); b != nil {
					t.Fatal(b)
				}
				if sleeps.Load() >= 2 { // both threads went to sleep: the case under test ran
					seen.Add(1)
				}
			}
		})
		if seen.Load() == 0 {
			t.Error("in no round did both threads sleep (the helper never joined in time?)")
		}
	})
}

// TestRunStepsRandomSleeps runs random regions whose items and sleepers are held up at
// random, so that threads sleep at steps, claim items of later steps and wake in many
// interleavings: every region must return, with every item run once and in step order.
func TestRunStepsRandomSleeps(t *testing.T) {
	for _, threads := range []int{2, 3} {
		t.Run(fmt.Sprint("threads=", threads), func(t *testing.T) {
			withThreads(threads, func() {
				rng := rand.New(rand.NewPCG(uint64(threads), 29))
				delays := make([]time.Duration, 4096) // drawn here: the threads share no generator
				for i := range delays {
					if rng.IntN(3) == 0 {
						delays[i] = time.Duration(rng.IntN(120)) * time.Microsecond
					}
				}
				var draw atomic.Uint32
				delay := func() {
					if d := delays[draw.Add(1)%uint32(len(delays))]; d > 0 {
						time.Sleep(d)
					}
				}
				beforeSleep = delay
				defer func() { beforeSleep = nil }()
				mustReturn(60*time.Second, "RunSteps", func() {
					for range 150 {
						steps := make([]Step, 2+rng.IntN(5))
						done := make([]atomic.Int64, len(steps))
						var bad atomic.Value
						for i := range steps {
							steps[i] = Step{N: 1 + rng.IntN(6), Grain: 1, Task: Func(func(lo, hi int) {
								for s := range i {
									if done[s].Load() != int64(steps[s].N) {
										bad.Store(fmt.Sprintf("step %d ran before step %d was done", i, s))
									}
								}
								delay()
								done[i].Add(int64(hi - lo))
							})}
							if rng.IntN(2) == 0 {
								steps[i].Prefetch = func(int, int) {}
							}
						}
						runStepsChecked(t, steps, done, &bad)
					}
				})
			})
		})
	}
}

// runStepsChecked runs steps as one region and fails t if a task stored a message in bad
// (one ran too early, say) or if step i's tasks did not count all its items in done[i].
func runStepsChecked(t *testing.T, steps []Step, done []atomic.Int64, bad *atomic.Value) {
	t.Helper()
	RunSteps(steps)
	if b := bad.Load(); b != nil {
		t.Fatal(b)
	}
	for i := range steps {
		if got := done[i].Load(); got != int64(steps[i].N) {
			t.Fatalf("step %d: %d of %d items ran", i, got, steps[i].N)
		}
	}
}
