//go:build amd64 && !purego

package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemmKernelParity checks the assembly micro-kernel against the pure-Go one directly.
func TestSgemmKernelParity(t *testing.T) {
	if !hasAsm {
		t.Skip("this CPU lacks AVX2/FMA")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, k := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 256} {
		for _, beta := range []float32{0, 1, -0.5} {
			ap := randFloats(rng, max(1, k*gemmMR))
			bp := randFloats(rng, max(1, k*gemmNR))
			const ldc = gemmNR + 3
			c0 := randFloats(rng, gemmMR*ldc)
			if beta == 0 {
				c0 = nanFloats(len(c0))
			}
			c1 := append([]float32(nil), c0...)
			sgemmKernelGo(k, &ap[0], &bp[0], &c0[0], ldc, 1.5, beta)
			sgemmKernelAVX2(k, &ap[0], &bp[0], &c1[0], ldc, 1.5, beta)
			for i := range c0 {
				g, w := float64(c1[i]), float64(c0[i])
				if math.IsNaN(g) != math.IsNaN(w) || math.Abs(g-w) > 1e-5*float64(k+1)*(1+math.Abs(w)) {
					t.Fatalf("k=%d beta=%g: C[%d] = %g (asm), %g (go)", k, beta, i, g, w)
				}
			}
		}
	}
}

// TestPackBTransParity checks the AVX2 transposing packer against the pure-Go one.
func TestPackBTransParity(t *testing.T) {
	if !hasAsm {
		t.Skip("this CPU lacks AVX2/FMA")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, kc := range []int{1, 7, 8, 9, 16, 23, 384} {
		ldb := kc + 5
		b := randFloats(rng, gemmNR*ldb)
		d0, d1 := make([]float32, kc*gemmNR), make([]float32, kc*gemmNR)
		packBTransGo(kc, b, ldb, d0)
		packBTrans(kc, b, ldb, d1)
		for i := range d0 {
			if d0[i] != d1[i] {
				t.Fatalf("kc=%d: element %d = %g, want %g", kc, i, d1[i], d0[i])
			}
		}
	}
}
