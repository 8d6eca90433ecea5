package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// withAVXVNNI runs f on the AVX-VNNI path (AVX2 kernels and the 256-bit VNNI ones, no
// AVX-512), as a CPU with AVX-VNNI but no AVX-512 runs, or skips t where this CPU (or QKV_CPU)
// has no AVX-VNNI.
func withAVXVNNI(t *testing.T, f func()) {
	t.Helper()
	if !hasAVXVNNI {
		t.Skip("skipped: this CPU (or QKV_CPU) has no AVX-VNNI")
	}
	defer func(asm, avx512, vnni, avxvnni bool) {
		useAsm, useAVX512, useVNNI, useAVXVNNI = asm, avx512, vnni, avxvnni
	}(useAsm, useAVX512, useVNNI, useAVXVNNI)
	useAsm, useAVX512, useVNNI, useAVXVNNI = true, false, false, true
	f()
}

// TestQuantGemmAVXVNNI runs the int8 GEMM on the AVX-VNNI tiles (6×16) and checks each output
// against the float64 reference on the rows as quantised, and against the row's own GEMV on
// the same path; it covers M and N that are not whole tiles, K of one group and of many,
// alpha and beta, row strides, and one and two threads.
func TestQuantGemmAVXVNNI(t *testing.T) {
	withAVXVNNI(t, func() {
		rng := rand.New(rand.NewPCG(91, 92))
		for _, c := range []struct {
			M, n, k     int
			alpha, beta float32
			pad         int
			threads     int
		}{
			{9, 16, 32, 1, 0, 0, 1}, // one group; one panel; a tile and a half of rows
			{12, 17, 32, -0.5, 1, 3, 1},
			{13, 1, 64, 1, 0.25, 0, 1}, // a single column
			{18, 15, 96, 2, 0, 1, 1},
			{10, 33, 160, 1, 0.5, 0, 2},
			{25, 40, 800, -1, 0, 5, 1},
			{64, 100, 768, 1, 1, 0, 2}, // large enough to run in parallel
			{70, 47, 3072, 0.5, 0.25, 2, 2},
		} {
			name := fmt.Sprintf("M=%d n=%d k=%d alpha=%g beta=%g pad=%d threads=%d", c.M, c.n, c.k, c.alpha, c.beta, c.pad, c.threads)
			if !q8GemmVNNIRuns(c.k) {
				t.Fatalf("%s: the AVX-VNNI tiles do not take K = %d", name, c.k)
			}
			w, _ := quantWeights(rng, c.n, c.k, false)
			m := NewQ8Matrix(w, c.n, c.k, false)
			ldx, ldy := c.k+c.pad, c.n+c.pad
			x := randFloats(rng, (c.M-1)*ldx+c.k)
			const guard = 5
			y := randFloats(rng, (c.M-1)*ldy+c.n+guard)
			if c.beta == 0 {
				y = nanFloats(len(y))
			}
			orig := append([]float32(nil), y...)
			want, bound := refQuantGemm(q8Weights(m), c.n, c.k, c.M, c.alpha, q8ActView(x, c.M, c.k, ldx), ldx, c.beta, y, ldy)
			withThreads(c.threads, func() { GemmQ8(m, c.M, c.alpha, x, ldx, c.beta, y, ldy) })
			for i := range c.M {
				gemv := append([]float32(nil), orig[i*ldy:i*ldy+c.n]...)
				GemvQ8(m, c.alpha, x[i*ldx:i*ldx+c.k], c.beta, gemv)
				for j := range c.n {
					got, b := y[i*ldy+j], bound[i*c.n+j]
					if !closeTo(got, want[i*c.n+j], b, c.k) {
						t.Fatalf("%s: y[%d][%d] = %g, want %g (bound %g)", name, i, j, got, want[i*c.n+j], b)
					}
					if math.Abs(float64(got-gemv[j])) > float64(4*c.k)*0x1p-24*b {
						t.Fatalf("%s: y[%d][%d] = %g, its GEMV %g", name, i, j, got, gemv[j])
					}
				}
			}
			for idx := range y {
				if i, j := idx/ldy, idx%ldy; i < c.M && j < c.n {
					continue
				}
				if math.Float32bits(y[idx]) != math.Float32bits(orig[idx]) {
					t.Fatalf("%s: wrote y[%d] outside the output", name, idx)
				}
			}
		}
	})
}

// TestQuantGemmAVXVNNIExact checks the offset correction of the AVX-VNNI tiles at the extremes
// of int8: with unit scales and integer rows of largest magnitude 127 (sx = 1), every output is
// the integer Σ q·xq, which float32 holds exactly.
func TestQuantGemmAVXVNNIExact(t *testing.T) {
	withAVXVNNI(t, func() {
		rng := rand.New(rand.NewPCG(93, 94))
		for _, s := range [][3]int{{9, 20, 32}, {14, 16, 96}, {11, 35, 224}} {
			M, n, k := s[0], s[1], s[2]
			m := &Q8Matrix{N: n, K: k, Q: make([]int8, n*k), Scales: make([]float32, n*q8Groups(k))}
			for i := range m.Scales {
				m.Scales[i] = 1
			}
			for j := range n {
				for p := range k {
					// Rows of 127, −127, −128 (0 once offset), then random bytes.
					m.Q[j*k+p] = []int8{127, -127, -128, int8(rng.IntN(256) - 128)}[min(j, 3)]
				}
			}
			x := make([]float32, M*k)
			for i := range M {
				for p := range k {
					switch i {
					case 0:
						x[i*k+p] = 127
					case 1:
						x[i*k+p] = -127
					case 2:
						x[i*k+p] = float32(127 - 254*(p%2))
					default:
						x[i*k+p] = float32(rng.IntN(255) - 127)
					}
				}
				x[i*k] = 127 // max|x| = 127: sx = 1
			}
			y := nanFloats(M * n)
			GemmQ8(m, M, 1, x, k, 0, y, n)
			for i := range M {
				for j := range n {
					var d int64
					for p := range k {
						d += int64(m.Q[j*k+p]) * int64(x[i*k+p])
					}
					if y[i*n+j] != float32(d) {
						t.Fatalf("M=%d n=%d k=%d: y[%d][%d] = %g, want %d exactly", M, n, k, i, j, y[i*n+j], d)
					}
				}
			}
		}
	})
}

// TestQuantGemmAVXVNNISpecial checks the rows the AVX-VNNI tiles do not quantise: a NaN or an
// infinity sends the call back to the float32 kernels (that row comes out NaN or infinite, the
// others as float32 products of the rows unquantised), and an all-zero row gives beta·Y while
// the other rows stay on the tiles.
func TestQuantGemmAVXVNNISpecial(t *testing.T) {
	withAVXVNNI(t, func() {
		rng := rand.New(rand.NewPCG(95, 96))
		const M, n, k, row = 13, 40, 96, 7
		w, _ := quantWeights(rng, n, k, false)
		m := NewQ8Matrix(w, n, k, false)
		for _, c := range []struct {
			name string
			v    float32
			beta float32
		}{
			{"nan", float32(math.NaN()), 0},
			{"inf", float32(math.Inf(-1)), 0.5},
			{"zero", 0, 0},
			{"zero-beta", 0, 0.5},
		} {
			x := randFloats(rng, M*k)
			if c.v == 0 {
				clear(x[row*k : (row+1)*k])
			} else {
				x[row*k+40] = c.v
			}
			y := randFloats(rng, M*n)
			if c.beta == 0 {
				y = nanFloats(M * n)
			}
			xr := x // the float32 kernels see the rows as they are
			if c.v == 0 {
				xr = q8ActView(x, M, k, k) // the tiles see them quantised
			}
			want, bound := refQuantGemm(q8Weights(m), n, k, M, 1, xr, k, c.beta, y, n)
			orig := append([]float32(nil), y...)
			GemmQ8(m, M, 1, x, k, c.beta, y, n)
			for i := range M {
				for j := range n {
					got := y[i*n+j]
					switch {
					case i == row && c.v != 0:
						if !math.IsNaN(float64(got)) && !math.IsInf(float64(got), 0) {
							t.Fatalf("%s: y[%d][%d] = %g, want NaN or ±Inf", c.name, i, j, got)
						}
					case i == row:
						want := float32(0) // beta == 0 overwrites y
						if c.beta != 0 {
							want = c.beta * orig[i*n+j]
						}
						if got != want {
							t.Fatalf("%s: y[%d][%d] = %g, want beta·y = %g", c.name, i, j, got, want)
						}
					default:
						if !closeTo(got, want[i*n+j], bound[i*n+j], k) {
							t.Fatalf("%s: y[%d][%d] = %g, want %g (bound %g)", c.name, i, j, got, want[i*n+j], bound[i*n+j])
						}
					}
				}
			}
		}
	})
}
