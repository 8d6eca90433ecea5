package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// forEachPath runs f once per kernel path this CPU has: AVX-512 with VNNI, AVX-512, AVX2 with
// AVX-VNNI, AVX2/FMA and pure Go, so every path is checked in one test run. It forces the path the way the
// kernels choose it, through useAsm, useAVX512 and useVNNI. A path the CPU lacks is logged as
// skipped, never run as another.
func forEachPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	type path struct {
		name                       string
		has                        bool
		asm, avx512, vnni, avxvnni bool
	}
	paths := []path{
		{"vnni", hasVNNI, true, true, true, false},
		{"avx512", hasAVX512, true, true, false, false},
		{"avxvnni", hasAVXVNNI, true, false, false, true},
		{"avx2", hasAsm, true, false, false, false},
		{"go", true, false, false, false, false},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			if !p.has {
				t.Skipf("this CPU (or QKV_CPU) has no %s path", p.name)
			}
			defer func(asm, avx512, vnni, avxvnni bool) {
				useAsm, useAVX512, useVNNI, useAVXVNNI = asm, avx512, vnni, avxvnni
			}(useAsm, useAVX512, useVNNI, useAVXVNNI)
			useAsm, useAVX512, useVNNI, useAVXVNNI = p.asm, p.avx512, p.vnni, p.avxvnni
			f(t)
		})
	}
}

// withThreads runs f with the pool set to n threads.
func withThreads(n int, f func()) {
	old := Threads()
	SetThreads(n)
	defer SetThreads(old)
	f()
}

// randFloats returns n standard normals.
func randFloats(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// nanFloats returns n NaNs: the garbage an output may hold before a beta == 0 call.
func nanFloats(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.NaN())
	}
	return x
}

// refGemm is the triple-loop reference of Sgemm, in float64. It also returns, for each
// element of C, the bound Σ|alpha·a·b| + |beta·c| the rounding error scales with.
func refGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, bound []float64) {
	want = make([]float64, m*n)
	bound = make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, sa float64
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				sa += math.Abs(float64(av) * float64(bv))
			}
			if alpha == 0 || k == 0 {
				s, sa = 0, 0 // BLAS: A and B are not read
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

// closeTo reports whether got matches want within the float32 rounding error of a sum of k
// products of size bound. NaN must match NaN and infinities must match exactly.
func closeTo(got float32, want, bound float64, k int) bool {
	g := float64(got)
	switch {
	case math.IsNaN(want):
		return math.IsNaN(g)
	case math.IsInf(want, 0):
		return g == want
	case math.IsNaN(g) || math.IsInf(g, 0):
		return false
	}
	const eps = 1.0 / (1 << 23)
	return math.Abs(g-want) <= 2*float64(k+2)*eps*bound+1e-30
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	padA, padB     int // extra elements per row beyond the row length
	padC           int
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,m=%d,n=%d,k=%d,alpha=%g,beta=%g,pad=%d/%d/%d",
		tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.padA, tc.padB, tc.padC)
}

// checkGemm runs one Sgemm case against the reference, with NaN/Inf planted when poison is
// set, and checks that nothing outside the (m, n) window of C is written.
func checkGemm(t *testing.T, rng *rand.Rand, tc gemmCase, poison bool) {
	t.Helper()
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc := ac+tc.padA, bc+tc.padB, tc.n+tc.padC
	lda, ldb, ldc = max(lda, 1), max(ldb, 1), max(ldc, 1)
	a := randFloats(rng, max(0, ar*lda))
	b := randFloats(rng, max(0, br*ldb))
	const guard = 37 // sentinel elements after C
	c := randFloats(rng, tc.m*ldc+guard)
	if tc.beta == 0 {
		c = nanFloats(len(c))
	}
	if poison && tc.m > 0 && tc.n > 0 && tc.k > 0 {
		a[rng.IntN(ar)*lda+rng.IntN(ac)] = float32(math.NaN())
		b[rng.IntN(br)*ldb+rng.IntN(bc)] = float32(math.Inf(1))
		b[rng.IntN(br)*ldb+rng.IntN(bc)] = float32(math.Inf(-1))
	}
	want, bound := refGemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	orig := append([]float32(nil), c...)
	Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	bad := 0
	for i := range tc.m {
		for j := range ldc {
			got := c[i*ldc+j]
			if j >= tc.n {
				if math.Float32bits(got) != math.Float32bits(orig[i*ldc+j]) {
					t.Fatalf("%v: wrote C[%d][%d] in the row padding", tc, i, j)
				}
				continue
			}
			if !closeTo(got, want[i*tc.n+j], bound[i*tc.n+j], tc.k) {
				if bad++; bad <= 3 {
					t.Errorf("%v: C[%d][%d] = %g, want %g", tc, i, j, got, want[i*tc.n+j])
				}
			}
		}
	}
	for i := tc.m * ldc; i < len(c); i++ {
		if math.Float32bits(c[i]) != math.Float32bits(orig[i]) {
			t.Fatalf("%v: wrote past the end of C", tc)
		}
	}
	if bad > 0 {
		t.Fatalf("%v: %d wrong elements", tc, bad)
	}
}

func TestSgemmShapes(t *testing.T) {
	// Every remainder of the tiles (6×16, 12×32) and a few whole ones.
	sizes := []int{1, 2, 3, 5, 6, 7, 11, 12, 13, 15, 16, 17, 23, 25, 31, 32, 33, 47, 64, 97}
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, threads := range []int{1, 2} {
			withThreads(threads, func() {
				for range 160 {
					tc := gemmCase{
						transA: rng.IntN(2) == 1, transB: rng.IntN(2) == 1,
						m: sizes[rng.IntN(len(sizes))], n: sizes[rng.IntN(len(sizes))], k: sizes[rng.IntN(len(sizes))],
						alpha: []float32{1, -0.5, 2.5}[rng.IntN(3)], beta: []float32{0, 1, -0.75}[rng.IntN(3)],
						padA: rng.IntN(3) * 3, padB: rng.IntN(3) * 5, padC: rng.IntN(3) * 2,
					}
					checkGemm(t, rng, tc, false)
				}
			})
		}
	})
}

// TestSgemmBlocks covers sizes that cross the cache blocks (KC, MC, NC), with every
// transposition, and threads splitting rows or columns.
func TestSgemmBlocks(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		K := activeGemmKernel()
		shapes := [][3]int{ // m, n, k
			{K.mc + 7, 45, K.kc + 13},
			{2*K.mc + 30, 40, 2*K.kc + 1},
			{20, K.nc + 21, 40},
			{130, 700, 70},
			{37, 300, K.kc},
		}
		rng := rand.New(rand.NewPCG(3, 4))
		for _, threads := range []int{1, 2, 3} {
			withThreads(threads, func() {
				for _, s := range shapes {
					for tr := range 4 {
						tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: s[0], n: s[1], k: s[2],
							alpha: 0.5, beta: []float32{0, 1.5}[tr%2], padA: 3, padB: 1, padC: 5}
						checkGemm(t, rng, tc, false)
					}
				}
			})
		}
	})
}

// TestSgemmOperandPaths forces each operand to be packed, or read in place where the kernel
// can, with every transposition: the drivers read a panel in place, pack it whole, or pack
// only its partial edge, and share packed B panels between threads or not.
func TestSgemmOperandPaths(t *testing.T) {
	shapes := [][3]int{ // m, n, k
		{70, 90, 50},   // one row block: threads split the columns
		{500, 70, 60},  // several row blocks
		{37, 100, 300}, // depth blocks
		{13, 33, 7},
		{24, 64, 16}, // whole tiles only
	}
	forEachPath(t, func(t *testing.T) {
		K := activeGemmKernel()
		defer func(a, b, many int) { K.aUses, K.bUses, K.bMany = a, b, many }(K.aUses, K.bUses, K.bMany)
		rng := rand.New(rand.NewPCG(15, 16))
		for _, uses := range [][2]int{{0, 0}, {1 << 30, 0}, {0, 1 << 30}, {1 << 30, 1 << 30}} {
			K.aUses, K.bUses, K.bMany = uses[0], uses[1], uses[1]
			for _, threads := range []int{1, 2, 3} {
				withThreads(threads, func() {
					for _, s := range shapes {
						for tr := range 4 {
							tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: s[0], n: s[1], k: s[2],
								alpha: 1.5, beta: []float32{0, 1, -0.5}[(tr+threads)%3], padA: tr, padB: 2 * tr, padC: 3}
							checkGemm(t, rng, tc, false)
						}
					}
					// Big enough to be parallel.
					checkGemm(t, rng, gemmCase{m: 200, n: 150, k: 100, alpha: 1, beta: 1, padA: 1}, false)
					checkGemm(t, rng, gemmCase{transA: true, m: 40, n: 300, k: 200, alpha: 1, beta: 0, padB: 3}, false)
				})
			}
		}
	})
}

// TestSgemmBias checks that SgemmBias gives the bits of Sgemm with alpha 1 and beta 1 on a C
// first set to the bias rows, on every path and in bfloat16 compute, for the shapes that run
// the tiles (with several depth blocks and both thread splits) and those that do not (one
// row, one column, few rows, no depth), with every transposition, leaving the rest of C's
// stride alone.
func TestSgemmBias(t *testing.T) {
	run := func(t *testing.T) {
		K := activeGemmKernel()
		shapes := [][3]int{ // m, n, k
			{1, 50, 70}, {40, 1, 30}, {3, 700, 64}, {30, 40, 0},
			{70, 90, 50}, {130, 100, K.kc + 13}, {2*K.mc + 30, 40, 20}, {64, 64, 64},
		}
		rng := rand.New(rand.NewPCG(17, 18))
		for _, threads := range []int{1, 2} {
			withThreads(threads, func() {
				for _, s := range shapes {
					m, n, k := s[0], s[1], s[2]
					for tr := range 4 {
						transA, transB := tr&1 != 0, tr&2 != 0
						lda, ldb, ldc := k+1, n+2, n+3
						if transA {
							lda = m + 1
						}
						if transB {
							ldb = k + 2
						}
						a := randFloats(rng, max(m, k)*lda)
						b := randFloats(rng, max(n, k)*ldb)
						bias := randFloats(rng, n)
						got, want := randFloats(rng, m*ldc), make([]float32, m*ldc)
						copy(want, got)
						for i := range m {
							copy(want[i*ldc:i*ldc+n], bias)
						}
						SgemmBias(transA, transB, m, n, k, a, lda, b, ldb, bias, got, ldc)
						Sgemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 1, want, ldc)
						for i, v := range got {
							if math.Float32bits(v) != math.Float32bits(want[i]) {
								t.Fatalf("m=%d n=%d k=%d transA=%v transB=%v threads=%d: C element %d = %g, want %g", m, n, k, transA, transB, threads, i, v, want[i])
							}
						}
					}
				}
			})
		}
	}
	forEachPath(t, run)
	t.Run("bf16", func(t *testing.T) {
		forEachBF16Kernel(t, run)
	})
}

func TestSgemmSpecialValues(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, s := range [][3]int{{1, 40, 30}, {40, 1, 30}, {7, 19, 5}, {30, 50, 300}, {100, 100, 100}} {
			for tr := range 4 {
				for _, beta := range []float32{0, 1} {
					tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, m: s[0], n: s[1], k: s[2], alpha: 1, beta: beta}
					checkGemm(t, rng, tc, true)
				}
			}
		}
	})
}

// TestSgemmDegenerate checks the BLAS conventions: alpha == 0 and k == 0 only scale C, and
// beta == 0 clears NaN garbage.
func TestSgemmDegenerate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []gemmCase{
		{m: 5, n: 7, k: 0, alpha: 1, beta: 0},
		{m: 5, n: 7, k: 0, alpha: 1, beta: 2},
		{m: 5, n: 7, k: 3, alpha: 0, beta: 0},
		{m: 5, n: 7, k: 3, alpha: 0, beta: 0.5, transA: true},
		{m: 1, n: 7, k: 3, alpha: 0, beta: 1},
		{m: 0, n: 7, k: 3, alpha: 1, beta: 1},
		{m: 3, n: 0, k: 3, alpha: 1, beta: 1},
	} {
		checkGemm(t, rng, tc, true)
	}
	// Empty slices are fine when a size is zero.
	Sgemm(false, false, 0, 0, 0, 1, nil, 1, nil, 1, 0, nil, 1)
}

func TestSgemmPanicsOnShortSlices(t *testing.T) {
	for name, f := range map[string]func(){
		"short A": func() {
			Sgemm(false, false, 4, 4, 4, 1, make([]float32, 15), 4, make([]float32, 16), 4, 0, make([]float32, 16), 4)
		},
		"short C": func() {
			Sgemm(false, false, 4, 4, 4, 1, make([]float32, 16), 4, make([]float32, 16), 4, 0, make([]float32, 15), 4)
		},
		"bad ldb": func() {
			Sgemm(false, true, 4, 4, 4, 1, make([]float32, 16), 4, make([]float32, 16), 3, 0, make([]float32, 16), 4)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestSgemmNoAlloc checks that steady-state calls reuse their buffers.
func TestSgemmNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	const m, n, k = 200, 300, 400
	a, b, c := randFloats(rng, m*k), randFloats(rng, k*n), make([]float32, m*n)
	x, y := randFloats(rng, k), make([]float32, n)
	forEachPath(t, func(t *testing.T) {
		for _, threads := range []int{1, 2} {
			withThreads(threads, func() {
				allocs := testing.AllocsPerRun(20, func() {
					Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
					Sgemm(true, false, m, n, k, 1, a, m, b, n, 1, c, n)
					Sgemm(false, false, 37, 45, 29, 1, a, 29, b, 45, 0, c, 45) // edge tiles
					Sgemv(false, k, n, 1, x, b, n, 0, y)
					Sgemv(true, k, n, 1, x, b, k, 0, y)
				})
				if allocs > 0 {
					t.Errorf("threads=%d: %.1f allocations per call", threads, allocs)
				}
			})
		}
	})
}
