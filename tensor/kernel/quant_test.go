package kernel

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

// quantWeights returns n·k normal weights with a spread of magnitudes, in (n, k) layout, or
// in (k, n) layout when kn, and the same weights in (n, k) layout.
func quantWeights(rng *rand.Rand, n, k int, kn bool) (w, nk []float32) {
	nk = randFloats(rng, n*k)
	for j := range n {
		scale := float32(math.Pow(10, rng.Float64()*4-2))
		for p := range k {
			nk[j*k+p] *= scale
		}
	}
	if !kn {
		return nk, nk
	}
	w = make([]float32, n*k)
	for j := range n {
		for p := range k {
			w[p*n+j] = nk[j*k+p]
		}
	}
	return w, nk
}

// The dequantised weights, in float64, read from the matrices' fields.
func bf16Weights(m *BF16Matrix) []float64 {
	w := make([]float64, len(m.Data))
	for i, h := range m.Data {
		w[i] = float64(math.Float32frombits(uint32(h) << 16))
	}
	return w
}

func q8Weights(m *Q8Matrix) []float64 {
	w := make([]float64, len(m.Q))
	g := q8Groups(m.K)
	for j := range m.N {
		for p := range m.K {
			w[j*m.K+p] = float64(m.Q[j*m.K+p]) * float64(m.Scales[j*g+p/Q8Group])
		}
	}
	return w
}

// q8ActView returns the M rows of x (row stride ldx, k inputs) as an int8 GEMV sees them:
// quantised (xq·sx) over the whole groups when it quantises activations (q8UsesAct), else x.
func q8ActView(x []float32, M, k, ldx int) []float32 {
	if !q8UsesAct() {
		return x
	}
	v := append([]float32(nil), x...)
	for i := range M {
		var a q8Act
		row := v[i*ldx : i*ldx+k]
		if a.quantize(row) {
			for p := range a.k0 {
				row[p] = float32(a.xq(p)) * a.s
			}
		}
	}
	return v
}

// refQuantGemm is Y = alpha·X·Wᵀ + beta·Y in float64 for W (n, k) given as float64 weights,
// with the bound Σ|alpha·x·w| + |beta·y| of each output that rounding errors scale with.
func refQuantGemm(w []float64, n, k, m int, alpha float32, x []float32, ldx int, beta float32, y []float32, ldy int) (want, bound []float64) {
	want, bound = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, sa float64
			for p := range k {
				v := float64(x[i*ldx+p]) * w[j*k+p]
				s += v
				sa += math.Abs(v)
			}
			s *= float64(alpha)
			sa *= math.Abs(float64(alpha))
			if beta != 0 {
				c := float64(beta) * float64(y[i*ldy+j])
				s += c
				sa += math.Abs(c)
			}
			want[i*n+j], bound[i*n+j] = s, sa
		}
	}
	return want, bound
}

// quantFormat is one compact format under test: how to build it and read its weights back,
// and its GEMV and GEMM.
type quantFormat struct {
	name    string
	build   func(w []float32, n, k int, kn bool) any
	weights func(m any) []float64
	gemv    func(m any, alpha float32, x []float32, beta float32, y []float32)
	gemm    func(m any, M int, alpha float32, x []float32, ldx int, beta float32, y []float32, ldy int)
}

var quantFormats = []quantFormat{
	{
		"bf16",
		func(w []float32, n, k int, kn bool) any { return NewBF16Matrix(w, n, k, kn) },
		func(m any) []float64 { return bf16Weights(m.(*BF16Matrix)) },
		func(m any, alpha float32, x []float32, beta float32, y []float32) {
			GemvBF16(m.(*BF16Matrix), alpha, x, beta, y)
		},
		func(m any, M int, alpha float32, x []float32, ldx int, beta float32, y []float32, ldy int) {
			GemmBF16(m.(*BF16Matrix), M, alpha, x, ldx, beta, y, ldy)
		},
	},
	{
		"int8",
		func(w []float32, n, k int, kn bool) any { return NewQ8Matrix(w, n, k, kn) },
		func(m any) []float64 { return q8Weights(m.(*Q8Matrix)) },
		func(m any, alpha float32, x []float32, beta float32, y []float32) {
			GemvQ8(m.(*Q8Matrix), alpha, x, beta, y)
		},
		func(m any, M int, alpha float32, x []float32, ldx int, beta float32, y []float32, ldy int) {
			GemmQ8(m.(*Q8Matrix), M, alpha, x, ldx, beta, y, ldy)
		},
	},
}

// checkQuantGemm runs one GEMM (a GEMV when gemv is set, with M = 1) against the float64
// reference on the matrix's own weights, and checks that nothing past the outputs changed.
func checkQuantGemm(t *testing.T, rng *rand.Rand, f quantFormat, gemv bool, M, n, k int, kn bool, alpha, beta float32, pad int) {
	t.Helper()
	name := fmt.Sprintf("%s gemv=%v M=%d n=%d k=%d kn=%v alpha=%g beta=%g pad=%d", f.name, gemv, M, n, k, kn, alpha, beta, pad)
	w, _ := quantWeights(rng, n, k, kn)
	m := f.build(w, n, k, kn)
	wd := f.weights(m)
	ldx, ldy := k+pad, n+pad
	if gemv {
		M, ldx, ldy = 1, k, n
	}
	x := randFloats(rng, max(0, (M-1)*ldx+k))
	const guard = 7
	y := randFloats(rng, max(0, (M-1)*ldy+n)+guard)
	if beta == 0 {
		y = nanFloats(len(y))
	}
	xr := x
	if q8, ok := m.(*Q8Matrix); ok && (gemv || M <= quantTiledGemvRows || M <= quantPanelGemvRows && !quantHasTiles(nil, q8) || q8GemmVNNIRuns(k)) {
		// A GEMV per row, or the VNNI GEMM tiles: the VNNI kernels see the rows quantised.
		xr = q8ActView(x, M, k, ldx)
	}
	want, bound := refQuantGemm(wd, n, k, M, alpha, xr, ldx, beta, y, ldy)
	orig := append([]float32(nil), y...)
	if gemv {
		f.gemv(m, alpha, x, beta, y)
	} else {
		f.gemm(m, M, alpha, x, ldx, beta, y, ldy)
	}
	for i := range M {
		for j := range n {
			if got := y[i*ldy+j]; !closeTo(got, want[i*n+j], bound[i*n+j], k) {
				t.Fatalf("%s: y[%d][%d] = %g, want %g (bound %g)", name, i, j, got, want[i*n+j], bound[i*n+j])
			}
		}
	}
	for idx := range y {
		i, j := idx/max(1, ldy), idx%max(1, ldy)
		if i < M && j < n {
			continue
		}
		if math.Float32bits(y[idx]) != math.Float32bits(orig[idx]) {
			t.Fatalf("%s: wrote y[%d] outside the output", name, idx)
		}
	}
}

func TestQuantGemv(t *testing.T) {
	sizes := []int{1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 96, 100, 257, 770}
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(61, 62))
		for _, f := range quantFormats {
			for _, threads := range []int{1, 2, 3} {
				withThreads(threads, func() {
					for range 40 {
						n, k := sizes[rng.IntN(len(sizes))], sizes[rng.IntN(len(sizes))]
						alpha := []float32{1, -0.5, 3}[rng.IntN(3)]
						beta := []float32{0, 1, 0.25}[rng.IntN(3)]
						checkQuantGemm(t, rng, f, true, 1, n, k, rng.IntN(2) == 0, alpha, beta, 0)
					}
					// Large enough to run in parallel, with remnants of rows and inputs.
					checkQuantGemm(t, rng, f, true, 1, 1029, 771, true, 1, 0, 0)
					checkQuantGemm(t, rng, f, true, 1, 3001, 64, false, 0.5, 2, 0)
					checkQuantGemm(t, rng, f, true, 1, 1, 4099, false, -1, 0, 0)
				})
			}
		}
	})
}

func TestQuantGemm(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(63, 64))
		for _, f := range quantFormats {
			for _, threads := range []int{1, 2} {
				withThreads(threads, func() {
					for _, s := range [][3]int{{2, 1, 1}, {3, 17, 33}, {5, 40, 65}, {7, 130, 31}, {64, 96, 100}, {13, 300, 770}, {70, 2050, 64}, {9, 21, 10}, {12, 33, 20}, {3, 32, 32}, {13, 45, 96}, {25, 70, 768}, {64, 130, 3072},
						// M = 4 to 8 with K whole groups: the VNNI tiles where they run (on
						// AVX-VNNI too), else a GEMV per row or the AVX-512 tiles.
						{4, 20, 32}, {5, 40, 64}, {6, 35, 96}, {7, 17, 160}, {8, 50, 768}} {
						alpha := []float32{1, -0.5}[rng.IntN(2)]
						beta := []float32{0, 1, 0.25}[rng.IntN(3)]
						checkQuantGemm(t, rng, f, false, s[0], s[1], s[2], rng.IntN(2) == 0, alpha, beta, rng.IntN(3)*3)
					}
					// M == 1 runs the GEMV.
					checkQuantGemm(t, rng, f, false, 1, 100, 70, false, 1, 0.5, 2)
				})
			}
		}
	})
}

// TestQuantDegenerate checks empty sizes and the alpha == 0 and K == 0 cases, which only scale
// y by beta.
func TestQuantDegenerate(t *testing.T) {
	for _, f := range quantFormats {
		m := f.build(nil, 3, 0, false)
		y := []float32{1, 2, 3}
		f.gemv(m, 1, nil, 2, y)
		if y[0] != 2 || y[1] != 4 || y[2] != 6 {
			t.Fatalf("%s: K = 0: y = %v, want 2·y", f.name, y)
		}
		m = f.build(randFloats(rand.New(rand.NewPCG(1, 2)), 6), 3, 2, false)
		y = nanFloats(3)
		f.gemv(m, 0, []float32{1, 1}, 0, y)
		f.gemm(m, 1, 0, []float32{1, 1}, 2, 0, nanFloats(3), 3)
		if y[0] != 0 || y[1] != 0 || y[2] != 0 {
			t.Fatalf("%s: alpha = beta = 0: y = %v, want zeros", f.name, y)
		}
		f.gemm(m, 0, 1, nil, 2, 0, nil, 3)
		f.gemv(f.build(nil, 0, 5, false), 1, make([]float32, 5), 0, nil)
	}
}

// refBF16 rounds f to bfloat16 (ties to even) independently of the kernels: with big.Float
// at 8 significant bits for normal numbers, and on the fixed grid of 2⁻¹³³ below 2⁻¹²⁶.
func refBF16(f float32) float32 {
	v := float64(f)
	switch {
	case math.IsNaN(v), math.IsInf(v, 0):
		return f
	case math.Abs(v) < 0x1p-126:
		return float32(math.RoundToEven(v*0x1p133) * 0x1p-133)
	}
	r, _ := new(big.Float).SetPrec(8).SetMode(big.ToNearestEven).SetFloat64(v).Float64()
	return float32(r) // past the largest float32: infinity
}

func TestBF16Rounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	check := func(f float32) {
		t.Helper()
		got := math.Float32frombits(uint32(bf16Round(f)) << 16)
		want := refBF16(f)
		if math.IsNaN(float64(f)) {
			if !math.IsNaN(float64(got)) || math.Signbit(float64(got)) != math.Signbit(float64(f)) {
				t.Fatalf("bf16(%#08x) = %#08x, want a NaN of the same sign", math.Float32bits(f), math.Float32bits(got))
			}
			return
		}
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("bf16(%g = %#08x) = %#08x, want %#08x", f, math.Float32bits(f), math.Float32bits(got), math.Float32bits(want))
		}
	}
	for _, b := range []uint32{
		0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xff800001, 0x7fbfffff,
		0x3f808000, 0x3f818000, 0x3f807fff, 0x3f808001, // ties to even, and either side
		0x7f7fffff, 0x7f7f8000, 0x7f7f7fff, 0xff7fffff, // rounding to infinity, or not
		0x00000001, 0x00008000, 0x00018000, 0x007fffff, 0x007f8000, 0x80008001, // subnormals
	} {
		check(math.Float32frombits(b))
	}
	for range 200000 {
		b := rng.Uint32()
		switch rng.IntN(4) {
		case 0:
			b = b&^0xffff | 0x8000 // exact ties
		case 1:
			b &^= 0x7f800000 // subnormals
		}
		check(math.Float32frombits(b))
	}
}

func TestQ8Quantize(t *testing.T) {
	rng := rand.New(rand.NewPCG(67, 68))
	for _, k := range []int{1, 5, 31, 32, 33, 64, 100} {
		const n = 9
		w, _ := quantWeights(rng, n, k, false)
		// Row 1: all zero; row 2: one group zero; row 3: tiny and subnormal magnitudes; row 4:
		// huge magnitudes; row 5: a single nonzero per group.
		clear(w[1*k : 2*k])
		clear(w[2*k : 2*k+min(k, Q8Group)])
		for p := range k {
			w[3*k+p] *= 1e-39
			w[4*k+p] = float32(float64(w[4*k+p]) * 1e36)
			if p%Q8Group != 3 {
				w[5*k+p] = 0
			}
		}
		w[3*k] = math.Float32frombits(1) // the smallest subnormal
		m := NewQ8Matrix(w, n, k, false)
		g := q8Groups(k)
		if len(m.Scales) != n*g || len(m.Q) != n*k || m.Bytes() != int64(n*k+4*n*g) {
			t.Fatalf("k=%d: %d scales, %d weights, %d bytes", k, len(m.Scales), len(m.Q), m.Bytes())
		}
		for j := range n {
			for gi := range g {
				s := m.Scales[j*g+gi]
				var mx, mq float64
				for p := gi * Q8Group; p < min(k, (gi+1)*Q8Group); p++ {
					v, q := float64(w[j*k+p]), m.Q[j*k+p]
					mx = max(mx, math.Abs(v))
					mq = max(mq, math.Abs(float64(q)))
					if q == -128 {
						t.Fatalf("k=%d row %d: q = -128", k, j)
					}
					if e := math.Abs(float64(q)*float64(s) - v); e > float64(s)/2*(1+1e-12) {
						t.Fatalf("k=%d row %d col %d: w=%g q=%d s=%g: error %g > s/2", k, j, p, v, q, s, e)
					}
				}
				// The scale is max/127 in float32, or the least float32 above it that keeps
				// max/scale ≤ 127.
				s0 := float32(mx) / 127
				switch {
				case mx == 0 && s != 0:
					t.Fatalf("k=%d row %d group %d: zero group has scale %g", k, j, gi, s)
				case mx == 0:
				case mx > 127*float64(s) || s != s0 && 127*float64(math.Nextafter32(s, 0)) >= mx:
					t.Fatalf("k=%d row %d group %d: scale %g for max %g", k, j, gi, s, mx)
				case mx >= 0x1p-100 && mq != 127:
					t.Fatalf("k=%d row %d group %d: largest |q| is %g, want 127", k, j, gi, mq)
				}
			}
		}
		// Row i back as float32 is q·s rounded once; (k, n) input gives the same matrix.
		dst := nanFloats(k + 1)
		for j := range n {
			m.Row(j, dst)
			for p := range k {
				if want := float32(m.Q[j*k+p]) * m.Scales[j*g+p/Q8Group]; dst[p] != want {
					t.Fatalf("k=%d: Row(%d)[%d] = %g, want %g", k, j, p, dst[p], want)
				}
			}
			if !math.IsNaN(float64(dst[k])) {
				t.Fatalf("k=%d: Row wrote past K", k)
			}
		}
		wkn := make([]float32, n*k)
		for j := range n {
			for p := range k {
				wkn[p*n+j] = w[j*k+p]
			}
		}
		m2 := NewQ8Matrix(wkn, n, k, true)
		for i := range m.Q {
			if m.Q[i] != m2.Q[i] {
				t.Fatalf("k=%d: (k, n) source differs at %d", k, i)
			}
		}
		for i := range m.Scales {
			if m.Scales[i] != m2.Scales[i] {
				t.Fatalf("k=%d: (k, n) source scale differs at %d", k, i)
			}
		}
	}
}

func TestBF16MatrixLayoutsAndRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(69, 70))
	forEachPath(t, func(t *testing.T) {
		for _, s := range [][2]int{{1, 1}, {3, 7}, {17, 33}, {40, 100}, {5, 1000}} {
			n, k := s[0], s[1]
			wkn, nk := quantWeights(rng, n, k, true)
			a, b := NewBF16Matrix(nk, n, k, false), NewBF16Matrix(wkn, n, k, true)
			if a.Bytes() != int64(2*n*k) {
				t.Fatalf("Bytes = %d", a.Bytes())
			}
			dst := nanFloats(k + 1)
			for j := range n {
				b.Row(j, dst)
				for p := range k {
					if a.Data[j*k+p] != b.Data[j*k+p] {
						t.Fatalf("n=%d k=%d: layouts differ at (%d, %d)", n, k, j, p)
					}
					if want := refBF16(nk[j*k+p]); dst[p] != want {
						t.Fatalf("n=%d k=%d: Row(%d)[%d] = %g, want %g", n, k, j, p, dst[p], want)
					}
				}
				if !math.IsNaN(float64(dst[k])) {
					t.Fatalf("Row wrote past K")
				}
			}
		}
	})
}

// TestQuantNonFinite documents what happens to infinities and NaNs in the weights: bfloat16
// keeps them (and so they reach the outputs, as in float32); int8 refuses them.
func TestQuantNonFinite(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	w := []float32{1, 2, 3, inf, 5, 6, nan, 8, 1e30, 1e30, 1e30, 1e30}
	forEachPath(t, func(t *testing.T) {
		m := NewBF16Matrix(w, 3, 4, false)
		y := make([]float32, 3)
		GemvBF16(m, 1, []float32{1, 1, 1, 1}, 0, y)
		if !math.IsInf(float64(y[0]), 1) || !math.IsNaN(float64(y[1])) || math.IsNaN(float64(y[2])) {
			t.Fatalf("y = %v, want [+Inf NaN finite-or-Inf]", y)
		}
	})
	for _, c := range []struct {
		w      []float32
		kn     bool
		where  string
		n, k   int
		reason string
	}{
		{[]float32{1, 2, 3, 4, 5, inf}, false, "output row 1, input column 2", 2, 3, "+Inf"},
		{[]float32{1, 2, 3, 4, nan, 6}, true, "output row 0, input column 2", 2, 3, "NaN"},
	} {
		func() {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.Contains(msg, c.where) || !strings.Contains(msg, c.reason) {
					t.Fatalf("NewQ8Matrix panicked with %q, want a message naming %q and %s", msg, c.where, c.reason)
				}
			}()
			NewQ8Matrix(c.w, c.n, c.k, c.kn)
		}()
	}
}

func TestQuantPanicsOnBadShapes(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Fatalf("%s did not panic", name)
			}
		}()
		f()
	}
	w := make([]float32, 12)
	bf, q8 := NewBF16Matrix(w, 3, 4, false), NewQ8Matrix(w, 3, 4, false)
	mustPanic("NewBF16Matrix short", func() { NewBF16Matrix(w, 4, 4, false) })
	mustPanic("NewQ8Matrix negative", func() { NewQ8Matrix(w, -3, -4, false) })
	mustPanic("GemvBF16 short x", func() { GemvBF16(bf, 1, make([]float32, 3), 0, make([]float32, 3)) })
	mustPanic("GemvQ8 short y", func() { GemvQ8(q8, 1, make([]float32, 4), 0, make([]float32, 2)) })
	mustPanic("GemmBF16 short y", func() { GemmBF16(bf, 2, 1, make([]float32, 8), 4, 0, make([]float32, 5), 3) })
	mustPanic("GemmQ8 bad ldx", func() { GemmQ8(q8, 2, 1, make([]float32, 8), 3, 0, make([]float32, 6), 3) })
	mustPanic("Row out of range", func() { bf.Row(3, make([]float32, 4)) })
	mustPanic("Row short dst", func() { q8.Row(0, make([]float32, 3)) })
	mustPanic("inconsistent matrix", func() { GemvQ8(&Q8Matrix{N: 3, K: 4, Q: q8.Q}, 1, w, 0, w) })
}

// TestQuantKernelParity runs the assembly GEMV kernels and the pure-Go ones on the same rows
// and checks that they agree to float32 rounding.
func TestQuantKernelParity(t *testing.T) {
	if !hasAsm {
		t.Skip("no assembly kernels in this build")
	}
	rng := rand.New(rand.NewPCG(71, 72))
	for _, k := range []int{32, 33, 64, 95, 96, 128, 800} {
		for _, n := range []int{1, 2, 3, 4, 5, 8, 9, 30} {
			w, _ := quantWeights(rng, n, k, false)
			x := randFloats(rng, k)
			bf, q8 := NewBF16Matrix(w, n, k, false), NewQ8Matrix(w, n, k, false)
			want := [2][]float32{make([]float32, n), make([]float32, n)}
			bf16RowsGo(bf, 0, x, want[0])
			q8RowsGo(q8, 0, x, want[1])
			bound := [2][]float64{}
			_, bound[0] = refQuantGemm(bf16Weights(bf), n, k, 1, 1, x, k, 0, nil, n)
			_, bound[1] = refQuantGemm(q8Weights(q8), n, k, 1, 1, x, k, 0, nil, n)
			forEachPath(t, func(t *testing.T) {
				if !useAsm {
					return
				}
				got := [2][]float32{make([]float32, n), make([]float32, n)}
				bf16Rows(bf, 0, n, x, bf16PermuteX(nil, x), got[0])
				q8Rows(q8, 0, n, x, got[1])
				for f := range got {
					for j := range n {
						if math.Abs(float64(got[f][j]-want[f][j])) > float64(4*k)*0x1p-24*bound[f][j] {
							t.Fatalf("%s k=%d n=%d: y[%d] = %g (asm), %g (go)", quantFormats[f].name, k, n, j, got[f][j], want[f][j])
						}
					}
				}
			})
		}
	}
}

// TestQuantActParity runs each VNNI GEMV (AVX512-VNNI, AVX-VNNI) and its pure-Go twin on the same quantised rows: the
// group sums are exact integers in both, so they agree to float32 rounding of the scaled sums.
func TestQuantActParity(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		if !q8UsesAct() {
			t.Skip("skipped: no VNNI kernel on this path")
		}
		rng := rand.New(rand.NewPCG(81, 82))
		for _, k := range []int{32, 33, 64, 95, 96, 128, 192, 257, 800, 3072} {
			for _, n := range []int{1, 2, 3, 4, 5, 8, 9, 30} {
				w, _ := quantWeights(rng, n, k, false)
				x := randFloats(rng, k)
				m := NewQ8Matrix(w, n, k, false)
				var a q8Act
				if !a.quantize(x) {
					t.Fatalf("k=%d: a normal row was not quantised", k)
				}
				want, got := make([]float32, n), nanFloats(n)
				q8RowsActGo(m, 0, &a, x, want)
				q8RowsAct(m, 0, n, &a, x, got)
				xr := q8ActView(x, 1, k, k)
				_, bound := refQuantGemm(q8Weights(m), n, k, 1, 1, xr, k, 0, nil, n)
				for j := range n {
					if math.Abs(float64(got[j]-want[j])) > float64(4*k)*0x1p-24*bound[j] {
						t.Fatalf("k=%d n=%d: y[%d] = %g (vnni), %g (go)", k, n, j, got[j], want[j])
					}
				}
			}
		}
	})
}

// TestQuantActExact checks the VNNI kernel's offset correction at the extremes: with unit
// scales every group sum is an integer that float32 holds exactly, so the kernel must return
// Σ q·xq exactly, whatever the signs (the unsigned operand spans 1..255).
func TestQuantActExact(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		if !q8UsesAct() {
			t.Skip("skipped: no VNNI kernel on this path")
		}
		rng := rand.New(rand.NewPCG(83, 84))
		for _, k := range []int{32, 64, 96, 128, 160, 224} {
			for _, pattern := range []string{"max", "min", "mixed", "random"} {
				const n = 5
				m := &Q8Matrix{N: n, K: k, Q: make([]int8, n*k), Scales: make([]float32, n*q8Groups(k))}
				for i := range m.Scales {
					m.Scales[i] = 1
				}
				xs := make([]float32, k)
				for p := range k {
					switch pattern {
					case "max":
						xs[p] = 127
					case "min":
						xs[p] = -127
					case "mixed":
						xs[p] = float32(127 - 254*(p%2))
					default:
						xs[p] = float32(rng.IntN(255) - 127)
					}
				}
				xs[0] = 127 * float32(1-2*(k/32%2)) // max|x| = 127: sx = 1
				var a q8Act
				if !a.quantize(xs) || a.s != 1 {
					t.Fatalf("k=%d %s: quantised with scale %g, want 1", k, pattern, a.s)
				}
				for p := range k {
					if float32(a.xq(p)) != xs[p] {
						t.Fatalf("k=%d %s: xq[%d] = %d, want %g", k, pattern, p, a.xq(p), xs[p])
					}
				}
				want := make([]float32, n)
				for j := range n {
					var d int64
					for p := range k {
						v := []int8{127, -127, -128, int8(rng.IntN(256) - 128), 0}[j]
						if j == 3 {
							v = int8(rng.IntN(256) - 128)
						}
						m.Q[j*k+p] = v
						d += int64(v) * int64(a.xq(p))
					}
					want[j] = float32(d)
				}
				got := nanFloats(n)
				q8RowsAct(m, 0, n, &a, nil, got)
				for j := range n {
					if got[j] != want[j] {
						t.Fatalf("k=%d %s: row %d = %g, want %g exactly", k, pattern, j, got[j], want[j])
					}
				}
			}
		}
	})
}

// TestQuantActSpecial checks rows the VNNI kernel does not take: a NaN or an infinity in x
// must come out as NaN (or the infinity), not as a quantised number, and an all-zero row as 0.
func TestQuantActSpecial(t *testing.T) {
	rng := rand.New(rand.NewPCG(85, 86))
	const n, k = 9, 96
	w, _ := quantWeights(rng, n, k, false)
	m := NewQ8Matrix(w, n, k, false)
	forEachPath(t, func(t *testing.T) {
		for _, c := range []struct {
			name string
			v    float32
			nan  bool
		}{{"nan", float32(math.NaN()), true}, {"inf", float32(math.Inf(1)), true}, {"zero", 0, false}} {
			x := make([]float32, k)
			if c.nan {
				x = randFloats(rng, k)
			}
			x[40] = c.v
			y := randFloats(rng, n)
			GemvQ8(m, 1, x, 0, y)
			for j, v := range y {
				if c.nan && !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
					t.Fatalf("%s: y[%d] = %g, want NaN or ±Inf", c.name, j, v)
				}
				if !c.nan && v != 0 {
					t.Fatalf("%s: y[%d] = %g, want 0", c.name, j, v)
				}
			}
			// The same row among others in a GEMM (the VNNI tiles where the CPU has them):
			// its outputs as above, the other rows' as their own GEMVs give them, up to the
			// rounding of their inputs to xq (sx/2 each, where one of the two quantises them
			// and the other, sent to the float32 kernels by the NaN, does not).
			const M, row = 8, 3
			xs := randFloats(rng, M*k)
			copy(xs[row*k:], x)
			ys := randFloats(rng, M*n)
			GemmQ8(m, M, 1, xs, k, 0, ys, n)
			wd := q8Weights(m)
			for i := range M {
				want := make([]float32, n)
				GemvQ8(m, 1, xs[i*k:(i+1)*k], 0, want)
				var sx float64
				for _, v := range xs[i*k : (i+1)*k] {
					sx = max(sx, math.Abs(float64(v))/127)
				}
				for j, v := range ys[i*n : (i+1)*n] {
					switch {
					case i == row && c.nan:
						if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
							t.Fatalf("%s: GEMM y[%d][%d] = %g, want NaN or ±Inf", c.name, i, j, v)
						}
					case i == row:
						if v != 0 {
							t.Fatalf("%s: GEMM y[%d][%d] = %g, want 0", c.name, i, j, v)
						}
					default:
						var bound float64
						for p, w := range wd[j*k : (j+1)*k] {
							bound += math.Abs(w) * (sx/2 + 1e-5*math.Abs(float64(xs[i*k+p])))
						}
						if d := math.Abs(float64(v - want[j])); d > bound {
							t.Fatalf("%s: GEMM y[%d][%d] = %g, its GEMV %g", c.name, i, j, v, want[j])
						}
					}
				}
			}
		}
	})
}

func TestQuantDequantParity(t *testing.T) {
	rng := rand.New(rand.NewPCG(73, 74))
	for _, k := range []int{1, 7, 8, 16, 31, 32, 33, 64, 100, 300} {
		w, _ := quantWeights(rng, 1, k, false)
		bf, q8 := NewBF16Matrix(w, 1, k, false), NewQ8Matrix(w, 1, k, false)
		want := [2][]float32{make([]float32, k), make([]float32, k)}
		bf16WidenGo(want[0], bf.Data)
		q8DequantGo(want[1], q8.Q, q8.Scales)
		forEachPath(t, func(t *testing.T) {
			got := [2][]float32{nanFloats(k), nanFloats(k)}
			bf16Dequant(got[0], bf.Data)
			q8Dequant(got[1], q8.Q, q8.Scales)
			for f := range got {
				for p := range k {
					if got[f][p] != want[f][p] {
						t.Fatalf("%s k=%d: element %d = %g, want %g", quantFormats[f].name, k, p, got[f][p], want[f][p])
					}
				}
			}
		})
	}
}

// TestQuantAccuracy measures the error of each format against float32 weights on a GEMV of
// GPT-2 size (normal weights and inputs) and checks it against the format's precision.
func TestQuantAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(75, 76))
	const n, k = 256, 768
	w := randFloats(rng, n*k)
	for i := range w {
		w[i] *= 0.02
	}
	x := randFloats(rng, k)
	exact := make([]float64, n)
	var norm float64
	for j := range n {
		for p := range k {
			exact[j] += float64(w[j*k+p]) * float64(x[p])
		}
		norm += exact[j] * exact[j]
	}
	norm = math.Sqrt(norm / n)
	for _, c := range []struct {
		f     quantFormat
		bound float64 // on the RMS error relative to the RMS output
	}{{quantFormats[0], 0x1p-9}, {quantFormats[1], 0.02}} {
		mat := c.f.build(w, n, k, false)
		forEachPath(t, func(t *testing.T) {
			y := make([]float32, n)
			c.f.gemv(mat, 1, x, 0, y)
			var se, worst float64
			for j := range n {
				e := float64(y[j]) - exact[j]
				se += e * e
				worst = max(worst, math.Abs(e))
			}
			rms := math.Sqrt(se/n) / norm
			t.Logf("%s: RMS error %.3g of the RMS output, worst %.3g", c.f.name, rms, worst/norm)
			if rms > c.bound {
				t.Errorf("%s: relative RMS error %g above %g", c.f.name, rms, c.bound)
			}
		})
	}
}

func TestQuantNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rng := rand.New(rand.NewPCG(77, 78))
	const n, k, M = 520, 300, 64
	w := randFloats(rng, n*k)
	x, y := randFloats(rng, M*320), make([]float32, M*n)
	bf, q8 := NewBF16Matrix(w, n, k, false), NewQ8Matrix(w, n, k, false)
	q8w := NewQ8Matrix(randFloats(rng, n*320), n, 320, false) // whole groups: the VNNI tiles where the CPU has them
	withThreads(2, func() {
		for name, f := range map[string]func(){
			"GemvBF16":            func() { GemvBF16(bf, 1, x, 0, y) },
			"GemvQ8":              func() { GemvQ8(q8, 1, x, 0, y) },
			"GemmBF16":            func() { GemmBF16(bf, M, 1, x, k, 0, y, n) },
			"GemmQ8":              func() { GemmQ8(q8, M, 1, x, k, 0, y, n) },
			"GemmQ8 whole groups": func() { GemmQ8(q8w, M, 1, x, 320, 0, y, n) },
		} {
			f()
			if a := testing.AllocsPerRun(20, f); a > 0 {
				t.Errorf("%s allocates %g times per call", name, a)
			}
		}
	})
}
