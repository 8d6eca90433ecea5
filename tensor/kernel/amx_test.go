package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestSgemmAMXSpecialValues checks that NaN and infinities in one row of A or one column of B
// reach only that row or column of C under bfloat16 compute, on shapes whose edges make the
// AMX kernel read rows past m, columns past n and depths past k: a value that leaked through
// the padding of a micro-panel, or from a row of an earlier call left in a buffer, would turn
// a finite element into NaN.
func TestSgemmAMXSpecialValues(t *testing.T) {
	forEachBF16Kernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(17, 18))
		for _, s := range [][3]int{{33, 47, 70}, {64, 64, 64}, {5, 100, 1100}, {70, 33, 130}} {
			m, n, k := s[0], s[1], s[2]
			for _, transB := range []bool{false, true} {
				ldb := n
				if transB {
					ldb = k
				}
				name := fmt.Sprintf("m=%d n=%d k=%d transB=%v", m, n, k, transB)
				a, b := randFloats(rng, m*k), randFloats(rng, k*n)
				badRow, badCol := m/2, n-1
				a[badRow*k+k-1] = float32(math.NaN())
				if transB {
					b[badCol*ldb+k/2] = float32(math.Inf(1))
				} else {
					b[(k/2)*ldb+badCol] = float32(math.Inf(1))
				}
				for _, beta := range []float32{0, 1} {
					c := randFloats(rng, m*n)
					Sgemm(false, transB, m, n, k, 1, a, k, b, ldb, beta, c, n)
					for i := range m {
						for j := range n {
							v := float64(c[i*n+j])
							switch {
							case i == badRow:
								if !math.IsNaN(v) {
									t.Fatalf("%s beta=%v: C[%d][%d] = %v, want NaN (a NaN in its row of A)", name, beta, i, j, v)
								}
							case j == badCol:
								if !math.IsInf(v, 0) && !math.IsNaN(v) {
									t.Fatalf("%s beta=%v: C[%d][%d] = %v, want ±Inf or NaN (an infinity in its column of B)", name, beta, i, j, v)
								}
							case math.IsNaN(v) || math.IsInf(v, 0):
								t.Fatalf("%s beta=%v: C[%d][%d] = %v, want finite", name, beta, i, j, v)
							}
						}
					}
				}
			}
		}
	})
}

// TestSgemmAMXStalePadding fills the packing buffers with NaN (a product whose A is all NaN),
// then runs products of finite operands whose depth is not a whole step of the AMX kernel, A
// in rows and transposed: each A row's words past the depth must be zeroed, not left from the
// call before (where B's padding is zero, a stale NaN there still makes NaN).
func TestSgemmAMXStalePadding(t *testing.T) {
	forEachBF16Kernel(t, func(t *testing.T) {
		withThreads(1, func() {
			rng := rand.New(rand.NewPCG(3, 4))
			for _, k := range []int{70, 97, 130} {
				for _, transA := range []bool{false, true} {
					m, n := 70, 40
					nan := make([]float32, 96*1200) // (96, 1200), or (1200, 96) transposed
					for i := range nan {
						nan[i] = float32(math.NaN())
					}
					lda, ldNaN := k, 1200
					if transA {
						lda, ldNaN = m, 96
					}
					Sgemm(transA, false, 96, n, 1200, 1, nan, ldNaN, randFloats(rng, 1200*n), n, 0, make([]float32, 96*n), n)
					a, b, c := randFloats(rng, m*k), randFloats(rng, k*n), make([]float32, m*n)
					Sgemm(transA, false, m, n, k, 1, a, lda, b, n, 0, c, n)
					for i, v := range c {
						if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
							t.Fatalf("k=%d transA=%v: C[%d][%d] = %v from finite operands", k, transA, i/n, i%n, v)
						}
					}
				}
			}
		})
	})
}

// TestSgemmAMXConcurrent runs bfloat16 products on more goroutines than threads, so that
// goroutines move between threads mid-work and threads pass from one goroutine to another:
// each call of the AMX kernel has to find its tile configuration loaded on whichever thread
// it runs, and no tile data may carry over between calls.
func TestSgemmAMXConcurrent(t *testing.T) {
	forEachBF16Kernel(t, func(t *testing.T) {
		const m, n, k = 40, 70, 300
		rng := rand.New(rand.NewPCG(19, 20))
		a, b := randFloats(rng, m*k), randFloats(rng, k*n)
		want := make([]float32, m*n)
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := range 16 {
			wg.Go(func() {
				c := make([]float32, m*n)
				for it := range 20 {
					Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
					for i, v := range c {
						if math.Float32bits(v) != math.Float32bits(want[i]) {
							errs <- fmt.Errorf("goroutine %d, call %d: C element %d = %v, want %v", g, it, i, v, want[i])
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
}

// TestSgemmAMXScaledAccumulate checks a product with alpha ≠ 1 and beta 1 on whole AMX tiles
// (the attention's scaled, accumulating gradients), which leave the stack through
// amxScaleAdd32: C + alpha·(A·B) with the product rounded, then the sum, exactly as the same
// product with alpha 1 and beta 0 scaled and added afterwards (one depth block, so the sums
// are the same).
func TestSgemmAMXScaledAccumulate(t *testing.T) {
	forEachBF16Kernel(t, func(t *testing.T) {
		if !activeGemmKernel().amx {
			t.Skip("skipped: only the AMX kernel takes this path")
		}
		rng := rand.New(rand.NewPCG(19, 20))
		const m, n, k = 64, 96, 200
		a, b, c0 := randFloats(rng, m*k), randFloats(rng, k*n), randFloats(rng, m*n)
		c0[5] = float32(math.Inf(-1))
		for _, alpha := range []float32{0.37, -2, 0.125} {
			got := append([]float32(nil), c0...)
			Sgemm(false, false, m, n, k, alpha, a, k, b, n, 1, got, n)
			p := make([]float32, m*n)
			Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, p, n)
			for i, v := range got {
				want := c0[i] + float32(alpha*p[i]) // rounded, then added: no fused multiply-add
				if math.Float32bits(v) != math.Float32bits(want) {
					t.Fatalf("alpha=%v: C element %d = %v, want %v + %v·%v = %v", alpha, i, v, c0[i], alpha, p[i], want)
				}
			}
		}
	})
}
