package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmPanels checks that a GEMM on pre-packed panels gives the bits of Sgemm in bfloat16
// compute on the same float32 weights, in both weight layouts, over shapes with partial
// micro-panels, odd and several depth blocks, one row (a matrix–vector product) and many,
// at 1 and 2 threads; and that Row returns the rounded weights.
func TestGemmPanels(t *testing.T) {
	forEachBF16Kernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, s := range [][3]int{{1, 32, 64}, {1, 50, 768}, {1, 33, 17}, {1, 70, 130}, {1, 200, 300}, {1, 300, 1100}, {3, 33, 17}, {12, 64, 100}, {13, 70, 1}, {64, 96, 1100}, {200, 45, 513}, {1, 40, 3000}} {
			m, n, k := s[0], s[1], s[2]
			for _, kn := range []bool{false, true} {
				w := randFloats(rng, n*k)
				p, err := NewPanelMatrix(w, n, k, kn)
				if err != nil {
					t.Fatal(err)
				}
				ldx, ldy := k+3, n+1
				x := randFloats(rng, m*ldx)
				for _, threads := range []int{1, 2} {
					name := fmt.Sprintf("m=%d n=%d k=%d kn=%v threads=%d", m, n, k, kn, threads)
					beta := []float32{0, 1, -0.5}[rng.IntN(3)]
					y0 := randFloats(rng, m*ldy)
					got, want := append([]float32(nil), y0...), append([]float32(nil), y0...)
					withThreads(threads, func() {
						GemmPanels(p, m, 0.5, x, ldx, beta, got, ldy)
						if kn {
							Sgemm(false, false, m, n, k, 0.5, x, ldx, w, n, beta, want, ldy)
						} else {
							Sgemm(false, true, m, n, k, 0.5, x, ldx, w, k, beta, want, ldy)
						}
					})
					if m == 1 {
						// Sgemm runs one row as a float32 GEMV: compare with the rounded reference.
						ref, bound := refBF16Gemm(false, !kn, m, n, k, 0.5, x, ldx, w, map[bool]int{true: n, false: k}[kn], beta, y0, ldy)
						for j := range n {
							if !closeTo(got[j], ref[j], bound[j], k) {
								t.Fatalf("%s: Y[0][%d] = %g, want %g (bound %g)", name, j, got[j], ref[j], bound[j])
							}
						}
						continue
					}
					for i, v := range got {
						if math.Float32bits(v) != math.Float32bits(want[i]) {
							t.Fatalf("%s: Y element %d = %g, Sgemm in bf16 compute gives %g", name, i, v, want[i])
						}
					}
				}
				checkPanelRows(t, p, w, kn, func(v float32) float32 { return bf16Widen(bf16Round(v)) })
			}
		}
	})
}

// TestGemmFloatPanels checks GEMMs on float32 panels (skipped where the CPU lacks them): on
// a weight W (N, K), which Sgemm always packs, two rows or more give Sgemm's bits; on a (K, N)
// weight, which Sgemm may read in place in other depth blocks, and for one row (the
// matrix–vector kernel, with its own order of the sums), they are within float32 rounding of
// the exact product. MatVec ranges give GemmPanels' one-row bits, and Row gives the weights.
func TestGemmFloatPanels(t *testing.T) {
	forEachPath(t, testGemmFloatPanels)
}

func testGemmFloatPanels(t *testing.T) {
	if !FloatPanelsAvailable() {
		t.Skip("skipped: no float32 panels on this path (the pure-Go kernel)")
	}
	rng := rand.New(rand.NewPCG(15, 16))
	for _, s := range [][3]int{{1, 32, 64}, {1, 50, 768}, {1, 33, 17}, {1, 300, 1100}, {2, 70, 130}, {3, 33, 17}, {12, 64, 100}, {13, 70, 1}, {64, 96, 1100}, {200, 45, 513}, {64, 200, 3000}} {
		m, n, k := s[0], s[1], s[2]
		for _, kn := range []bool{false, true} {
			w := randFloats(rng, n*k)
			p, err := NewFloatPanelMatrix(w, n, k, kn)
			if err != nil {
				t.Fatal(err)
			}
			if nr := floatGemmKernel().nr; !p.Float() || p.Bytes() != 4*int64(k*((n+nr-1)/nr*nr)) {
				t.Fatalf("n=%d k=%d: float panels take %d bytes", n, k, p.Bytes())
			}
			ldw := map[bool]int{true: n, false: k}[kn]
			ldx, ldy := k+3, n+1
			x := randFloats(rng, m*ldx)
			for _, threads := range []int{1, 2} {
				name := fmt.Sprintf("m=%d n=%d k=%d kn=%v threads=%d", m, n, k, kn, threads)
				beta := []float32{0, 1, -0.5}[rng.IntN(3)]
				y0 := randFloats(rng, m*ldy)
				got, want := append([]float32(nil), y0...), append([]float32(nil), y0...)
				withThreads(threads, func() {
					GemmPanels(p, m, 0.5, x, ldx, beta, got, ldy)
					Sgemm(false, !kn, m, n, k, 0.5, x, ldx, w, ldw, beta, want, ldy)
				})
				if m == 1 || kn {
					ref, bound := refGemm(false, !kn, m, n, k, 0.5, x, ldx, w, ldw, beta, y0, ldy)
					for i := range m {
						for j := range n {
							if g := got[i*ldy+j]; !closeTo(g, ref[i*n+j], bound[i*n+j], k) {
								t.Fatalf("%s: Y[%d][%d] = %g, want %g (bound %g)", name, i, j, g, ref[i*n+j], bound[i*n+j])
							}
						}
					}
				} else {
					for i, v := range got {
						if math.Float32bits(v) != math.Float32bits(want[i]) {
							t.Fatalf("%s: Y element %d = %g, Sgemm gives %g", name, i, v, want[i])
						}
					}
				}
				if m == 1 {
					checkMatVecBits(t, name, p, x[:k])
				}
			}
			checkPanelRows(t, p, w, kn, func(v float32) float32 { return v })
		}
	}
}

// checkMatVecBits checks that a MatVec on p, its ranges in multiples of Unit, gives the bits
// of GemmPanels on the one row x.
func checkMatVecBits(t *testing.T, name string, p *PanelMatrix, x []float32) {
	t.Helper()
	var v MatVec
	v.BindPanels(p)
	v.Input(x)
	one := make([]float32, p.N)
	GemmPanels(p, 1, 1, x, p.K, 0, one, p.N)
	rows := make([]float32, p.N)
	for j0 := 0; j0 < p.N; j0 += v.Unit() {
		j1 := min(p.N, j0+v.Unit())
		v.Rows(j0, j1, rows[j0:j1])
	}
	for j := range rows {
		if math.Float32bits(rows[j]) != math.Float32bits(one[j]) {
			t.Fatalf("%s: MatVec output %d = %g, GemmPanels gives %g", name, j, rows[j], one[j])
		}
	}
}

// checkPanelRows checks that p.Row gives, for a few outputs i, stored(W[i][q]) of the float32
// weight w it was packed from ((N, K), or (K, N) when kn).
func checkPanelRows(t *testing.T, p *PanelMatrix, w []float32, kn bool, stored func(float32) float32) {
	t.Helper()
	n, k := p.N, p.K
	row := make([]float32, k)
	for _, i := range []int{0, n / 2, n - 1} {
		p.Row(i, row)
		for q, v := range row {
			wv := w[i*k+q]
			if kn {
				wv = w[q*n+i]
			}
			if want := stored(wv); v != want {
				t.Fatalf("n=%d k=%d kn=%v: Row(%d)[%d] = %g, want %g (of %g)", n, k, kn, i, q, v, want, wv)
			}
		}
	}
}

// TestFloatPanelsRefused checks that float32 panels are refused, with the reason, on the
// pure-Go kernel.
func TestFloatPanelsRefused(t *testing.T) {
	old := useAsm
	defer func() { useAsm = old }()
	useAsm = false
	if FloatPanelsAvailable() {
		t.Fatal("FloatPanelsAvailable on the pure-Go kernel")
	}
	if _, err := NewFloatPanelMatrix(make([]float32, 4), 2, 2, false); err == nil {
		t.Fatal("NewFloatPanelMatrix succeeded on the pure-Go kernel")
	}
}

// TestPanelsRefused checks that panels are refused, with the reason, when bfloat16 compute is
// not set.
func TestPanelsRefused(t *testing.T) {
	old := computeBF16
	defer func() { computeBF16 = old }()
	computeBF16 = false
	if PanelsAvailable() {
		t.Fatal("PanelsAvailable with fp32 compute")
	}
	if _, err := NewPanelMatrix(make([]float32, 4), 2, 2, false); err == nil {
		t.Fatal("NewPanelMatrix succeeded with fp32 compute")
	}
}

// TestGemmPanelsNoAlloc checks that steady-state products on panels, one row and many, do
// not allocate.
func TestGemmPanelsNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	forEachBF16Kernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 9))
		const n, k, M = 520, 300, 64
		p, err := NewPanelMatrix(randFloats(rng, n*k), n, k, false)
		if err != nil {
			t.Fatal(err)
		}
		checkPanelsNoAlloc(t, p, M)
	})
	if FloatPanelsAvailable() {
		p, err := NewFloatPanelMatrix(randFloats(rand.New(rand.NewPCG(9, 10)), 520*300), 520, 300, true)
		if err != nil {
			t.Fatal(err)
		}
		checkPanelsNoAlloc(t, p, 64)
	}
}

// checkPanelsNoAlloc checks that steady-state GemmPanels calls on p with one row and with M
// do not allocate.
func checkPanelsNoAlloc(t *testing.T, p *PanelMatrix, M int) {
	t.Helper()
	n, k := p.N, p.K
	rng := rand.New(rand.NewPCG(9, 11))
	x, y := randFloats(rng, M*k), make([]float32, M*n)
	withThreads(2, func() {
		for _, m := range []int{1, M} {
			f := func() { GemmPanels(p, m, 1, x, k, 0, y, n) }
			f()
			if a := testing.AllocsPerRun(20, f); a > 0 {
				t.Errorf("GemmPanels with %d rows on float=%v panels allocates %g times per call", m, p.Float(), a)
			}
		}
	})
}

// TestSgemmBF16NoAlloc checks that steady-state Sgemm calls in bfloat16 compute, which pack
// their operands as pairs, do not allocate, in all four layouts.
func TestSgemmBF16NoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	forEachBF16Kernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(10, 10))
		const m, n, k = 64, 200, 300
		a, b, c := randFloats(rng, m*k), randFloats(rng, k*n), make([]float32, m*n)
		withThreads(2, func() {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				lda, ldb := k, n
				if tr[0] {
					lda = m
				}
				if tr[1] {
					ldb = k
				}
				f := func() { Sgemm(tr[0], tr[1], m, n, k, 1, a, lda, b, ldb, 0, c, n) }
				f()
				if allocs := testing.AllocsPerRun(10, f); allocs > 0 {
					t.Errorf("Sgemm transA=%v transB=%v in bf16 compute allocates %g times per call", tr[0], tr[1], allocs)
				}
			}
		})
	})
}

// TestGemmPanelsAfterRetuning checks that panels packed under one set of cache blocks still
// multiply correctly after the blocks change (a later tuning): they carry their own depth
// blocks, deeper than the kernel's now.
func TestGemmPanelsAfterRetuning(t *testing.T) {
	forEachBF16Kernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 11))
		const m, n, k = 200, 70, 700
		w := randFloats(rng, n*k)
		p, err := NewPanelMatrix(w, n, k, false)
		if err != nil {
			t.Fatal(err)
		}
		K := p.kern
		old := K.blocks()
		defer K.setBlocks(old)
		K.setBlocks(Blocks{KC: minKC, MC: K.mr, NC: K.nr})
		x, y := randFloats(rng, m*k), make([]float32, m*n)
		GemmPanels(p, m, 1, x, k, 0, y, n)
		want, bound := refBF16Gemm(false, true, m, n, k, 1, x, k, w, k, 0, make([]float32, m*n), n)
		for i, v := range y {
			if !closeTo(v, want[i], bound[i], k) {
				t.Fatalf("Y element %d = %g, want %g (bound %g)", i, v, want[i], bound[i])
			}
		}
	})
}

// TestGemmPanelsBias checks that GemmPanelsBias gives the bits of GemmPanels with alpha 1 on
// a Y first set to the bias rows, then (with an activation) GELU over each row, for one row
// and many, edge tiles, several depth blocks and one and two threads, and leaves the rest of
// Y's stride alone.
func TestGemmPanelsBias(t *testing.T) {
	forEachBF16Kernel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, s := range [][3]int{{1, 50, 768}, {2, 33, 17}, {13, 70, 130}, {64, 96, 1100}, {200, 45, 513}, {30, 40, 0}} {
			m, n, k := s[0], s[1], s[2]
			w := randFloats(rng, n*k)
			p, err := NewPanelMatrix(w, n, k, false)
			if err != nil {
				t.Fatal(err)
			}
			ldx, ldy := k+3, n+2
			x, bias := randFloats(rng, m*ldx), randFloats(rng, n)
			for _, act := range []struct {
				name string
				fn   Activation
				row  func(dst, src []float32)
			}{{"none", nil, nil}, {"gelu", GELUErfRows, GELUErf}, {"gelu tanh", GELUTanhRows, GELUTanh}} {
				for _, threads := range []int{1, 2} {
					got, want := randFloats(rng, m*ldy), make([]float32, m*ldy)
					copy(want, got)
					for i := range m {
						copy(want[i*ldy:i*ldy+n], bias)
					}
					withThreads(threads, func() {
						GemmPanelsBias(p, m, x, ldx, bias, act.fn, got, ldy)
						GemmPanels(p, m, 1, x, ldx, 1, want, ldy)
					})
					if act.fn != nil {
						for i := range m {
							act.row(want[i*ldy:i*ldy+n], want[i*ldy:i*ldy+n])
						}
					}
					for i, v := range got {
						if math.Float32bits(v) != math.Float32bits(want[i]) {
							t.Fatalf("m=%d n=%d k=%d act=%s threads=%d: Y element %d = %g, want %g", m, n, k, act.name, threads, i, v, want[i])
						}
					}
				}
			}
		}
	})
}
