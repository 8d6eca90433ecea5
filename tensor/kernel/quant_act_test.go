package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// q8ActGo quantises x as the pure-Go kernels do, whatever path the test runs.
func q8ActGo(x []float32) (q8Act, bool) {
	defer func(v bool) { useAsm = v }(useAsm)
	useAsm = false
	var a q8Act
	ok := a.quantize(x)
	return a, ok
}

// checkQ8ActSame fails t unless got and want hold the same quantised row: the scale, the
// whole groups, every xq and every correction nc the kernels read.
func checkQ8ActSame(t *testing.T, name string, got, want *q8Act) {
	t.Helper()
	if math.Float32bits(got.s) != math.Float32bits(want.s) || got.k0 != want.k0 || len(got.xn) != len(want.xn) {
		t.Fatalf("%s: scale %g, k0 %d, %d words; want %g, %d, %d", name, got.s, got.k0, len(got.xn), want.s, want.k0, len(want.xn))
	}
	for p := range want.k0 {
		if got.xq(p) != want.xq(p) {
			t.Fatalf("%s: xq[%d] = %d, want %d", name, p, got.xq(p), want.xq(p))
		}
	}
	for l := range want.k0 / 4 {
		if i := l/16*q8ActStep + 16 + l%16; got.xn[i] != want.xn[i] {
			t.Fatalf("%s: nc[%d] = %d, want %d", name, l, got.xn[i], want.xn[i])
		}
	}
}

// TestQuantActQuantize checks the quantisation of activation rows on each path (the AVX-512
// VNNI kernel, the AVX2 one, Go) against the pure-Go one, bit for bit: random rows at several
// scales, rows of exact ties (x/sx = n + ½, which round to even), near ties, the extremes ±127
// and values that round to zero, subnormal maxima (which Go scales first), over one group,
// odd and even group counts and rows with a last partial group. Rows with a NaN or an
// infinity, and all-zero rows, must be refused on every path.
func TestQuantActQuantize(t *testing.T) {
	lengths := []int{32, 33, 63, 64, 95, 96, 100, 160, 224, 768, 800, 3072, 3104}
	type row struct {
		name string
		make func(rng *rand.Rand, k int) []float32
	}
	scaled := func(s float32) func(*rand.Rand, int) []float32 {
		return func(rng *rand.Rand, k int) []float32 {
			x := randFloats(rng, k)
			for i := range x {
				x[i] *= s
			}
			return x
		}
	}
	// ties returns x = (n + ½)·u for random n in [−127, 126], with max|x| = 127·u, so that
	// x/sx = x·(1/u) is exactly n + ½ when u is a power of two and within rounding of it
	// otherwise.
	ties := func(u float32) func(*rand.Rand, int) []float32 {
		return func(rng *rand.Rand, k int) []float32 {
			x := make([]float32, k)
			for i := range x {
				x[i] = (float32(rng.IntN(254)-127) + 0.5) * u
			}
			x[rng.IntN(min(k, 32))] = 127 * u * float32(1-2*rng.IntN(2))
			return x
		}
	}
	rows := []row{
		{"normal", scaled(1)},
		{"large", scaled(1e30)},
		{"small", scaled(1e-30)},
		{"subnormal", scaled(1e-41)},
		{"ties", ties(1)},
		{"ties/4", ties(0.25)},
		{"ties*1024", ties(1024)},
		{"near-ties*3", ties(3)},
		{"near-ties*0.1", ties(0.1)},
		{"extremes", func(rng *rand.Rand, k int) []float32 {
			// ±max, the halves and quarters next to ±127, tiny values that round to ±0,
			// negative zeros.
			vals := []float32{127, -127, 126.5, -126.5, 125.5, -125.5, 126.49999, 0.5, -0.5, 1.5, -1.5, 0.49999997, 1e-20, -1e-20, float32(math.Copysign(0, -1)), 0}
			x := make([]float32, k)
			for i := range x {
				x[i] = vals[rng.IntN(len(vals))] * 3.5
			}
			x[k-1] = -127 * 3.5
			return x
		}},
		{"one-large", func(rng *rand.Rand, k int) []float32 {
			x := scaled(1e-3)(rng, k)
			x[rng.IntN(k/Q8Group*Q8Group)] = -7e4
			return x
		}},
	}
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(87, 88))
		for _, r := range rows {
			for _, k := range lengths {
				for rep := range 3 {
					name := fmt.Sprintf("%s k=%d #%d", r.name, k, rep)
					x := r.make(rng, k)
					want, ok := q8ActGo(x)
					if !ok {
						t.Fatalf("%s: not quantised by Go", name)
					}
					var got q8Act
					// Stale words from a longer row must not show through.
					got.xn = make([]int32, (k+63)/64*q8ActStep+64)
					for i := range got.xn {
						got.xn[i] = -1
					}
					if !got.quantize(x) {
						t.Fatalf("%s: not quantised", name)
					}
					checkQ8ActSame(t, name, &got, &want)
					// Within half a step of x, up to the rounding of x·inv.
					var mx int8
					for p := range want.k0 {
						mx = max(mx, want.xq(p), -want.xq(p))
						if d := float64(x[p]) - float64(want.xq(p))*float64(want.s); math.Abs(d) > float64(want.s)/2+math.Abs(float64(x[p]))*0x1p-22 {
							t.Fatalf("%s: x[%d] = %g off its quantised value by %g (scale %g)", name, p, x[p], d, want.s)
						}
					}
					if mx != 127 {
						t.Fatalf("%s: largest |xq| = %d, want 127", name, mx)
					}
				}
			}
		}
		// Rows the kernels must refuse: a NaN or an infinity anywhere in the whole groups,
		// or nothing but zeros there (what follows the last whole group does not count).
		for _, k := range []int{32, 64, 96, 100, 800} {
			for _, v := range []float32{float32(math.NaN()), math.Float32frombits(0xffc00000), math.Float32frombits(0x7f800001), float32(math.Inf(1)), float32(math.Inf(-1))} {
				for _, p := range []int{0, 5, 31, k/Q8Group*Q8Group - 1} {
					x := randFloats(rng, k)
					x[p] = v
					var a q8Act
					if a.quantize(x) {
						t.Fatalf("k=%d: x[%d] = %g quantised", k, p, v)
					}
				}
			}
			x := make([]float32, k)
			x[k-1] = float32(math.Copysign(0, -1))
			if k%Q8Group != 0 {
				x[k-1] = 1 // past the whole groups
			}
			var a q8Act
			if a.quantize(x) {
				t.Fatalf("k=%d: an all-zero row quantised", k)
			}
		}
	})
}
