package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// withCompute runs f with Sgemm computing in c, restoring the previous setting.
func withCompute(t *testing.T, c Compute, f func()) {
	t.Helper()
	old := computeBF16
	defer func() { computeBF16 = old }()
	if err := SetCompute(c); err != nil {
		t.Skipf("skipped: %v", err)
	}
	f()
}

// forEachBF16Kernel runs f in bfloat16 compute once per kernel of it this CPU has, AMX and
// AVX512-BF16, forcing the one Sgemm chooses through useAMX. A kernel the CPU lacks is logged
// as skipped, never run as the other.
func forEachBF16Kernel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, k := range []struct {
		name     string
		has, amx bool
	}{{"amx", hasAMX, true}, {"avx512bf16", hasBF16, false}} {
		t.Run(k.name, func(t *testing.T) {
			if !k.has {
				t.Skipf("skipped: this CPU (or QKV_CPU) has no %s path", k.name)
			}
			defer func(old bool) { useAMX = old }(useAMX)
			useAMX = k.amx
			withCompute(t, BF16Compute, func() { f(t) })
		})
	}
}

// refBF16Gemm is C = alpha·op(A)·op(B) + beta·C in float64 with the inputs rounded to bfloat16,
// as the bfloat16 kernel multiplies them, and the bound Σ|products| + |beta·C| per element.
func refBF16Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, bound []float64) {
	r := func(v float32) float64 { return float64(bf16Widen(bf16Round(v))) }
	want, bound = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, sa float64
			for p := range k {
				ai, bi := i*lda+p, p*ldb+j
				if transA {
					ai = p*lda + i
				}
				if transB {
					bi = j*ldb + p
				}
				av, bv := a[ai], b[bi]
				v := r(av) * r(bv)
				s += v
				sa += math.Abs(v)
			}
			s *= float64(alpha)
			sa *= math.Abs(float64(alpha))
			if beta != 0 {
				s += float64(beta) * float64(c[i*ldc+j])
				sa += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			want[i*n+j], bound[i*n+j] = s, sa
		}
	}
	return want, bound
}

// TestSgemmBF16 checks Sgemm in bfloat16 compute against the float64 product of the rounded
// inputs, on all transpositions, edges of the 12×32 tile, odd depths and both thread counts.
func TestSgemmBF16(t *testing.T) {
	if !hasBF16 {
		t.Skip("skipped: this CPU (or QKV_CPU) has no AVX512-BF16 path")
	}
	forEachBF16Kernel(t, func(t *testing.T) {
		if ActiveCompute() != BF16Compute {
			t.Fatal("SetCompute(BF16Compute) did not take")
		}
		rng := rand.New(rand.NewPCG(91, 92))
		sizes := [][3]int{{2, 2, 1}, {12, 32, 2}, {13, 33, 3}, {25, 70, 31}, {64, 96, 100}, {130, 65, 513}, {200, 300, 1100}, {7, 1000, 64}, {500, 40, 129}}
		for _, s := range sizes {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				for _, threads := range []int{1, 2} {
					m, n, k := s[0], s[1], s[2]
					name := fmt.Sprintf("m=%d n=%d k=%d transA=%v transB=%v threads=%d", m, n, k, tr[0], tr[1], threads)
					lda, ldb, ldc := k+1, n+3, n+2
					if tr[0] {
						lda = m + 1
					}
					if tr[1] {
						ldb = k + 3
					}
					a := randFloats(rng, max(m, k)*lda)
					b := randFloats(rng, max(n, k)*ldb)
					c := randFloats(rng, m*ldc)
					alpha, beta := float32(0.5), []float32{0, 1, -0.5}[rng.IntN(3)]
					want, bound := refBF16Gemm(tr[0], tr[1], m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
					withThreads(threads, func() {
						Sgemm(tr[0], tr[1], m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
					})
					for i := range m {
						for j := range n {
							if got := c[i*ldc+j]; !closeTo(got, want[i*n+j], bound[i*n+j], k) {
								t.Fatalf("%s: C[%d][%d] = %g, want %g (bound %g)", name, i, j, got, want[i*n+j], bound[i*n+j])
							}
						}
					}
				}
			}
		}
	})
}

// TestSgemmBF16Rounds checks that bfloat16 compute does round its inputs: 1+2⁻¹⁰ rounds to
// 1 in bfloat16, so a product that float32 gives as 1+2⁻⁹ comes out as 1 exactly.
func TestSgemmBF16Rounds(t *testing.T) {
	if !hasBF16 {
		t.Skip("skipped: this CPU (or QKV_CPU) has no AVX512-BF16 path")
	}
	const m, n, k = 24, 64, 3
	a, b, c := make([]float32, m*k), make([]float32, k*n), nanFloats(m*n)
	for i := range a {
		a[i] = 1 + 0x1p-10
	}
	for p := range n {
		b[p] = 1 + 0x1p-10 // row 0 of B; rows 1 and 2 are zero
	}
	forEachBF16Kernel(t, func(t *testing.T) {
		Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	})
	for i, v := range c {
		if v != 1 {
			t.Fatalf("C[%d] = %v, want 1 (the product of the bfloat16-rounded inputs)", i, v)
		}
	}
}

// TestSetCompute checks that bf16 compute is refused where the CPU lacks it and that an
// unknown arithmetic is an error.
func TestSetCompute(t *testing.T) {
	old := computeBF16
	defer func() { computeBF16 = old }()
	err := SetCompute(BF16Compute)
	if hasBF16 != (err == nil) {
		t.Fatalf("SetCompute(bf16) = %v on a CPU with AVX512-BF16 %v", err, hasBF16)
	}
	if err != nil && ActiveCompute() != FP32Compute {
		t.Fatalf("refused bf16 compute left Sgemm in %s", ActiveCompute())
	}
	if err := SetCompute("fp16"); err == nil {
		t.Fatal("SetCompute(fp16) succeeded")
	}
	if err := SetCompute(FP32Compute); err != nil || ActiveCompute() != FP32Compute {
		t.Fatalf("SetCompute(fp32) = %v, active %s", err, ActiveCompute())
	}
}

// pairTestValues returns n float32s mixing random values with the cases rounding must get
// right: ties to even both ways, values that round up into the next binade or to infinity,
// infinities, NaNs (signalling and quiet, both signs), zeros and subnormals.
func pairTestValues(rng *rand.Rand, n int) []float32 {
	special := []uint32{
		0x3f808000, 0x3f818000, 0x3f80ffff, 0x3fffffff, 0x7f7fffff, 0xff7fffff,
		0x7f800000, 0xff800000, 0x7f800001, 0xff800001, 0x7fc00000, 0x7fbfffff,
		0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x00008000, 0x00018000,
	}
	v := make([]float32, n)
	for i := range v {
		if rng.IntN(3) == 0 {
			v[i] = math.Float32frombits(special[rng.IntN(len(special))])
		} else {
			v[i] = math.Float32frombits(rng.Uint32())
		}
	}
	return v
}

// TestPackPairsParity checks the packers of pair words this build runs against the Go ones,
// bit for bit: panels of widths below, at and above one and two vectors, and rows of every
// length up to three vectors.
func TestPackPairsParity(t *testing.T) {
	// Where the packers round by VCVTNE2PS2BF16, a step that meets a subnormal takes another
	// path: with every subnormal kept most steps take it, with one in 40 kept the two paths
	// alternate, without them every step takes the instruction's.
	forEachPackRounding(t, func(t *testing.T) {
		for _, keep := range []int{1, 40, 0} {
			t.Run(fmt.Sprintf("subnormals=1/%d", keep), func(t *testing.T) { testPackPairsParity(t, keep) })
		}
	})
}

// testPackPairsParity is TestPackPairsParity on test values with one subnormal in keep
// kept (0: none).
func testPackPairsParity(t *testing.T, keep int) {
	rng := rand.New(rand.NewPCG(7, 7))
	values := func(n int) []float32 {
		v := pairTestValues(rng, n)
		for i, x := range v {
			if b := math.Float32bits(x); b&0x7f800000 == 0 && b&0x007fffff != 0 && (keep == 0 || rng.IntN(keep) != 0) {
				v[i] = float32(i%100) + 0.375
			}
		}
		return v
	}
	for n := range 110 {
		for _, w := range []int{1, 5, 12, 16, 17, 32, 45} {
			// n pairs of a panel of width w: x with row stride w+5, d with stride w+3 (the
			// gaps must stay untouched).
			ldx, ldd := w+5, w+3
			x := values(max(1, 2*n*ldx))
			got, want := nanFloats(max(1, n*ldd)), nanFloats(max(1, n*ldd))
			packPanelPairs(got, ldd, x, ldx, n, w)
			packPanelPairsGo(want, ldd, x, ldx, n, w)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("packPanelPairs pairs=%d width=%d: word %d = %#08x, want %#08x", n, w, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
				}
			}
		}
		src := values(n)
		words := (n + 1) / 2
		got, want := nanFloats(words+1), nanFloats(words+1)
		packRowPairs(got[:words], src, 4*n*(1-n%2))
		packRowPairsGo(want[:words], src, 0)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("packRowPairs n=%d: word %d = %#08x, want %#08x", n, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
			}
		}
		// The same words in runs of 16, 21 words apart (the 5 between stay untouched).
		runs := nanFloats((words+15)/16*21 + 1)
		wantRuns := nanFloats(len(runs))
		for i := range words {
			wantRuns[i/16*21+i%16] = want[i]
		}
		packRowPairsRuns(runs, src, 21, 4*n*(1-n%2))
		for i := range runs {
			if math.Float32bits(runs[i]) != math.Float32bits(wantRuns[i]) {
				t.Fatalf("packRowPairsRuns n=%d: word %d = %#08x, want %#08x", n, i, math.Float32bits(runs[i]), math.Float32bits(wantRuns[i]))
			}
		}
	}
	// A transposed A block packed four 12-column micro-panels at a time, against one at a
	// time in Go: whole groups, a remainder, odd depths, specials.
	if packDepthPanels48 != nil {
		for _, mb := range []int{48, 50, 96, 107} {
			for _, kc := range []int{1, 2, 7, 32, 33} {
				lda, i0, p0 := mb+9, 3, 2
				a := pairTestValues(rng, (p0+kc)*lda)
				size := ((mb+11)/12*12)*kc + 16
				got, want := nanFloats(size), nanFloats(size)
				packPairsA(12, got, true, a, lda, i0, mb-i0, p0, kc)
				fast, panel := packDepthPanels48, packPanelPairs
				packDepthPanels48, packPanelPairs = nil, packPanelPairsGo
				packPairsA(12, want, true, a, lda, i0, mb-i0, p0, kc)
				packDepthPanels48, packPanelPairs = fast, panel
				for ip := 0; ip*12 < mb-i0; ip++ {
					for i := ip * 12 * kc; i < ip*12*kc+(kc+1)/2*12; i++ {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("packPairsA transA mb=%d kc=%d: word %d = %#08x, want %#08x", mb-i0, kc, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
						}
					}
				}
			}
		}
	}
	// The Go packer itself against bf16Round, element by element.
	for _, v := range pairTestValues(rng, 200) {
		w := math.Float32bits(pair(v, -v))
		if uint16(w) != bf16Round(v) || uint16(w>>16) != bf16Round(-v) {
			t.Fatalf("pair(%#08x, -x) = %#08x", math.Float32bits(v), w)
		}
	}
}
