//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPackBTransParity checks the AVX2 transposing packer against the pure-Go one, for the
// panel widths of both assembly kernels.
func TestPackBTransParity(t *testing.T) {
	if !hasAsm {
		t.Skip("this CPU lacks AVX2/FMA")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, nr := range []int{16, 32} {
		for _, kc := range []int{1, 7, 8, 9, 16, 23, 384} {
			ldb := kc + 5
			b := randFloats(rng, nr*ldb)
			d0, d1 := make([]float32, kc*nr), make([]float32, kc*nr)
			packBTransGo(kc, nr, b, ldb, d0)
			packBTransAsm(kc, nr, b, ldb, d1)
			for i := range d0 {
				if d0[i] != d1[i] {
					t.Fatalf("nr=%d kc=%d: element %d = %g, want %g", nr, kc, i, d1[i], d0[i])
				}
			}
		}
	}
}

// gemmKernels lists the micro-kernels this CPU can run.
func gemmKernels() []*gemmKernel {
	ks := []*gemmKernel{gemmKernelGo}
	if hasAsm {
		ks = append(ks, gemmKernelAVX2)
	}
	if hasAVX512 {
		ks = append(ks, gemmKernel512)
	}
	return ks
}

// forEachPackRounding runs f with the pair packers rounding on VCVTNE2PS2BF16 (where the CPU
// has AVX512-BF16; skipped, and said so, elsewhere) and on integers.
func forEachPackRounding(t *testing.T, f func(t *testing.T)) {
	old := bf16Cvt
	defer func() { bf16Cvt = old }()
	for _, cvt := range []bool{true, false} {
		if cvt && !hasBF16 {
			t.Log("cvt=true skipped: this CPU (or QKV_CPU) has no AVX512-BF16 path")
			continue
		}
		bf16Cvt = cvt
		t.Run(fmt.Sprintf("cvt=%v", cvt), f)
	}
}
