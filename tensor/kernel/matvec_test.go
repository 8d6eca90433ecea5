package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// TestMatVecRows checks that MatVec.Rows over any split of the outputs into multiples of
// Unit, run from a region's steps on several threads, gives the bits of the format's own
// GEMV: GemvQ8, GemvBF16, GemmPanels on one row and Sgemv, on every kernel path.
func TestMatVecRows(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, s := range [][2]int{{1, 32}, {37, 64}, {300, 768}, {70, 100}, {129, 3072}, {5, 1}} {
			n, k := s[0], s[1]
			w, x := randFloats(rng, n*k), randFloats(rng, k)
			type format struct {
				name string
				set  func(v *MatVec)
				gemv func(y []float32)
			}
			q8, bf := NewQ8Matrix(w, n, k, false), NewBF16Matrix(w, n, k, false)
			formats := []format{
				{"int8", func(v *MatVec) { v.BindQ8(q8) }, func(y []float32) { GemvQ8(q8, 1, x, 0, y) }},
				{"bf16", func(v *MatVec) { v.BindBF16(bf) }, func(y []float32) { GemvBF16(bf, 1, x, 0, y) }},
			}
			if PanelsAvailable() || hasBF16 && useAsm && useAVX512 {
				withCompute(t, BF16Compute, func() {
					pm, err := NewPanelMatrix(w, n, k, false)
					if err != nil {
						t.Fatal(err)
					}
					formats = append(formats, format{"panels", func(v *MatVec) { v.BindPanels(pm) },
						func(y []float32) { GemmPanels(pm, 1, 1, x, k, 0, y, n) }})
				})
			}
			for _, f := range formats {
				want := make([]float32, n)
				withThreads(1, func() { f.gemv(want) })
				var v MatVec
				f.set(&v)
				v.Input(x)
				for _, threads := range []int{1, 2, 3} {
					got := make([]float32, n)
					withThreads(threads, func() {
						for _, chunk := range []int{v.Chunk(threads), v.Unit(), (1 + rng.IntN(n) + v.Unit() - 1) / v.Unit() * v.Unit()} {
							clear(got)
							items := (n + chunk - 1) / chunk
							RunSteps([]Step{{N: items, Grain: 1, Task: Func(func(lo, hi int) {
								for c := lo; c < hi; c++ {
									j0, j1 := c*chunk, min((c+1)*chunk, n)
									v.Rows(j0, j1, got[j0:j1])
								}
							}), Prefetch: func(lo, hi int) { v.Prefetch(lo*chunk, min(hi*chunk, n)) }}})
							for j := range want {
								if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
									t.Fatalf("%s n=%d k=%d threads=%d chunk=%d: y[%d] = %g, the GEMV gives %g", f.name, n, k, threads, chunk, j, got[j], want[j])
								}
							}
						}
					})
				}
			}
		}
	})
}

// TestRunSteps checks that every item of every step runs once and only after every item of
// the steps before it, on one thread and several, with serial steps between parallel ones,
// empty steps, prefetch hooks, and a region nested in a step (which runs inline).
func TestRunSteps(t *testing.T) {
	for _, threads := range []int{1, 2, 3} {
		t.Run(fmt.Sprint("threads=", threads), func(t *testing.T) {
			withThreads(threads, func() {
				rng := rand.New(rand.NewPCG(uint64(threads), 11))
				for range 200 {
					steps := make([]Step, 1+rng.IntN(6))
					done := make([]atomic.Int64, len(steps))
					var bad atomic.Value
					for i := range steps {
						n := []int{0, 1, 1 + rng.IntN(40)}[rng.IntN(3)]
						steps[i] = Step{N: n, Grain: rng.IntN(4), Task: Func(func(lo, hi int) {
							for s := range i {
								if got, want := done[s].Load(), int64(steps[s].N); got != want {
									bad.Store(fmt.Sprintf("step %d item %d ran with %d of %d items of step %d done", i, lo, got, want, s))
								}
							}
							if i == 0 && lo == 0 {
								RunSteps([]Step{{N: 3, Task: Func(func(int, int) {})}}) // nested: inline
							}
							done[i].Add(int64(hi - lo))
						})}
						if rng.IntN(2) == 0 {
							steps[i].Prefetch = func(lo, hi int) {
								if lo < 0 || hi > steps[i].N || lo >= hi {
									bad.Store(fmt.Sprintf("step %d: prefetch of [%d, %d) of %d items", i, lo, hi, steps[i].N))
								}
							}
						}
					}
					runStepsChecked(t, steps, done, &bad)
				}
			})
		})
	}
}

// TestRunStepsSleepsAndWakes checks that a thread waiting at a step for an item that takes
// long goes to sleep and is woken when the step finishes, and that the steps still run in
// order.
func TestRunStepsSleepsAndWakes(t *testing.T) {
	withThreads(2, func() {
		before := stepSleeps.Load()
		for range 20 {
			var first atomic.Int64
			var bad atomic.Bool
			RunSteps([]Step{
				{N: 2, Grain: 1, Task: Func(func(lo, hi int) {
					if lo == 0 {
						time.Sleep(2 * time.Millisecond) // far past stepSpin
					}
					first.Add(int64(hi - lo))
				})},
				{N: 2, Grain: 1, Task: Func(func(lo, hi int) {
					if first.Load() != 2 {
						bad.Store(true)
					}
				})},
			})
			if bad.Load() {
				t.Fatal("the second step ran before the first was done")
			}
		}
		if stepSleeps.Load() == before {
			t.Error("no thread slept while another held a 2 ms item")
		}
	})
}
