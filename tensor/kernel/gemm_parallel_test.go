package kernel

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// TestParallelCoversOnce checks that every index of a parallel call runs exactly once, for
// many sizes and grains, with callers on several goroutines at once (all but one of them run
// inline, as nested calls do).
func TestParallelCoversOnce(t *testing.T) {
	old := Threads()
	t.Cleanup(func() { SetThreads(old) }) // after the parallel subtests
	SetThreads(3)
	for g := range 4 {
		t.Run(fmt.Sprint("caller", g), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(g), 41))
			for range 300 {
				n, grain := rng.IntN(200), rng.IntN(9)
				hits := make([]atomic.Int32, n)
				Parallel(n, grain, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						hits[i].Add(1)
					}
				})
				for i := range hits {
					if h := hits[i].Load(); h != 1 {
						t.Fatalf("n=%d grain=%d: index %d ran %d times", n, grain, i, h)
					}
				}
			}
		})
	}
}

// TestSgemmConcurrentCallers runs products from several goroutines at once: they share the
// pool and the workspace free lists.
func TestSgemmConcurrentCallers(t *testing.T) {
	for g := range 4 {
		t.Run(fmt.Sprint("caller", g), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(uint64(g), 43))
			for range 3 {
				checkGemm(t, rng, gemmCase{m: 70 + g, n: 90, k: 300, alpha: 1, beta: 0, transB: g%2 == 1}, false)
				checkGemv(t, rng, g%2 == 0, 500, 700+g, 1, 1, 0, false)
			}
		})
	}
}
