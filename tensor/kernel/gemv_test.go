package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// checkGemv runs one Sgemv case against the Sgemm reference (m == 1) and checks that y past n
// is left alone.
func checkGemv(t *testing.T, rng *rand.Rand, transW bool, k, n int, alpha, beta float32, pad int, poison bool) {
	t.Helper()
	name := fmt.Sprintf("transW=%v,k=%d,n=%d,alpha=%g,beta=%g,pad=%d", transW, k, n, alpha, beta, pad)
	wr, wc := k, n
	if transW {
		wr, wc = n, k
	}
	ldw := max(1, wc+pad)
	w := randFloats(rng, wr*ldw)
	x := randFloats(rng, k)
	const guard = 9
	y := randFloats(rng, n+guard)
	if beta == 0 {
		y = nanFloats(len(y))
	}
	if poison && k > 0 && n > 0 {
		x[rng.IntN(k)] = float32(math.Inf(1))
		w[rng.IntN(wr)*ldw+rng.IntN(wc)] = float32(math.NaN())
	}
	want, bound := refGemm(false, transW, 1, n, k, alpha, x, max(1, k), w, ldw, beta, y, max(1, n))
	orig := append([]float32(nil), y...)
	Sgemv(transW, k, n, alpha, x, w, ldw, beta, y)
	for j := range n {
		if !closeTo(y[j], want[j], bound[j], k) {
			t.Fatalf("%s: y[%d] = %g, want %g", name, j, y[j], want[j])
		}
	}
	for j := n; j < len(y); j++ {
		if math.Float32bits(y[j]) != math.Float32bits(orig[j]) {
			t.Fatalf("%s: wrote y[%d] past n", name, j)
		}
	}
}

func TestSgemv(t *testing.T) {
	sizes := []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 1029, 2500}
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(21, 22))
		for _, threads := range []int{1, 2, 3} {
			withThreads(threads, func() {
				for _, transW := range []bool{false, true} {
					for range 60 {
						k, n := sizes[rng.IntN(len(sizes))], sizes[rng.IntN(len(sizes))]
						alpha := []float32{1, -0.5, 3}[rng.IntN(3)]
						beta := []float32{0, 1, 0.25}[rng.IntN(3)]
						checkGemv(t, rng, transW, k, n, alpha, beta, rng.IntN(3)*3, rng.IntN(4) == 0)
					}
					// Large enough to run in parallel, with remnants everywhere: W (k, n) split
					// by rows (n ≤ gemvSplitCols), including fewer rows than threads, and by
					// columns.
					checkGemv(t, rng, transW, 771, 3083, 1, 0, 5, false)
					checkGemv(t, rng, transW, 100, 9011, 0.5, 2, 0, false)
					checkGemv(t, rng, transW, 17, gemvSplitCols, -1, 0.5, 1, false)
					checkGemv(t, rng, transW, 6, gemvSplitCols+1, 1, 1, 0, false)
					checkGemv(t, rng, transW, 9, 2*gemvSplitCols, 2, 0, 3, true)
				}
			})
		}
	})
}

// TestGemvKernelParity checks the assembly GEMV kernels (AVX-512 and AVX2) against the
// pure-Go ones directly, on every remainder of their vector widths and unrolling.
func TestGemvKernelParity(t *testing.T) {
	if !hasAsm {
		t.Skip("no assembly kernels in this build")
	}
	forEachPath(t, func(t *testing.T) {
		if !useAsm {
			t.Skip("the reference itself")
		}
		rng := rand.New(rand.NewPCG(23, 24))
		for _, k := range []int{1, 3, 4, 5, 8, 9, 16, 17, 24, 33, 40, 64, 77, 130} {
			for _, n := range []int{1, 3, 4, 5, 8, 15, 16, 17, 24, 40, 63, 64, 72, 130, 257} {
				ldw := max(k, n) + 3
				w := randFloats(rng, max(k, n)*ldw)
				x := randFloats(rng, k)
				for _, transW := range []bool{false, true} {
					y0, y1 := randFloats(rng, n+4), make([]float32, n+4)
					copy(y1, y0)
					if transW {
						gemvTGo(x, w, ldw, y0[:n])
						gemvT(x, w, ldw, y1[:n])
					} else {
						gemvNGo(x, w, ldw, y0[:n])
						gemvN(x, w, ldw, y1[:n])
					}
					for j := range y0 {
						if math.Abs(float64(y0[j]-y1[j])) > 1e-5*float64(k)*(1+math.Abs(float64(y0[j]))) {
							t.Fatalf("transW=%v k=%d n=%d: y[%d] = %g (asm), %g (go)", transW, k, n, j, y1[j], y0[j])
						}
					}
				}
			}
		}
	})
}

// TestSgemvDeterministic checks that a matrix–vector product split over threads by the rows of
// W gives the same bits every time, whichever thread takes which rows: the same decoding step
// on the same weights must give the same logits.
func TestSgemvDeterministic(t *testing.T) {
	old := Threads()
	SetThreads(2)
	defer SetThreads(old)
	rng := rand.New(rand.NewPCG(3, 4))
	const k, n = 3072, 768 // rows split over the threads (n ≤ gemvSplitCols)
	w, x := randFloats(rng, k*n), randFloats(rng, k)
	for _, c := range []struct{ alpha, beta float32 }{{1, 0}, {0.5, 1}} {
		y0 := randFloats(rng, n)
		want := append([]float32(nil), y0...)
		Sgemv(false, k, n, c.alpha, x, w, n, c.beta, want)
		for rep := range 200 {
			got := append([]float32(nil), y0...)
			Sgemv(false, k, n, c.alpha, x, w, n, c.beta, got)
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("alpha=%g beta=%g, call %d: y[%d] = %g, the first call gave %g", c.alpha, c.beta, rep, j, got[j], want[j])
				}
			}
		}
	}
}
