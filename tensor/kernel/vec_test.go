package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// Tests of the row kernels of vec.go. Every kernel runs on both paths (assembly when this CPU
// has it, and pure Go) against a float64 reference with a stated tolerance; the parity tests
// compare the two paths element by element. Lengths cover every tail of the 8- and 16-lane loops and
// a few long rows (past the 1024-element reduction block); the slices carry guard elements
// past their ends that must stay untouched.

// forEachVecPath runs f once per kernel path this CPU has: the AVX-512 kernels (where a
// kernel has them; the others run their AVX2 kernels there), the AVX2 kernels, and the
// pure-Go kernels.
func forEachVecPath(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	type path struct {
		name        string
		asm, avx512 bool
	}
	var paths []path
	if hasAVX512 {
		paths = append(paths, path{"avx512", true, true})
	}
	if hasAsm {
		paths = append(paths, path{"asm", true, false})
	}
	paths = append(paths, path{"go", false, false})
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			defer func(asm, avx512 bool) { useAsm, useAVX512 = asm, avx512 }(useAsm, useAVX512)
			useAsm, useAVX512 = p.asm, p.avx512
			f(t)
		})
	}
}

// withPath runs f with useAsm set to asm (asm is ignored where the CPU lacks the kernels).
func withPath(asm bool, f func()) {
	defer func(old bool) { useAsm = old }(useAsm)
	useAsm = asm && hasAsm
	f()
}

// vecLengths covers lengths 0..67 and a few long rows.
func vecLengths() []int {
	var ns []int
	for n := range 68 {
		ns = append(ns, n)
	}
	return append(ns, 100, 1000, 1025, 4099)
}

// vecNormals returns n standard normals.
func vecNormals(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

const guardVal = 12345.678

// guarded returns a slice of length n followed (in its backing array) by guard elements,
// more than the widest (16-lane) tail.
func guarded(n int) []float32 {
	full := make([]float32, n+17)
	for i := n; i < len(full); i++ {
		full[i] = guardVal
	}
	return full[:n]
}

// checkGuard fails if a kernel wrote past the end of s.
func checkGuard(t *testing.T, name string, s []float32) {
	t.Helper()
	full := s[:cap(s)]
	for i := len(s); i < len(full); i++ {
		if full[i] != guardVal {
			t.Fatalf("%s (n=%d): wrote element %d past the end", name, len(s), i)
		}
	}
}

// errStat tracks the largest errors seen against a float64 reference: absolute, relative
// (over results of at least float32's smallest normal), and absolute scaled by
// 1/max(1, |x|).
type errStat struct {
	maxAbs, maxRel, maxScaled float64
	atAbs, atRel, atScaled    float64 // inputs where they occurred
}

func (e *errStat) add(got float32, want, x float64) {
	d := math.Abs(float64(got) - want)
	if d > e.maxAbs {
		e.maxAbs, e.atAbs = d, x
	}
	if math.Abs(want) >= 0x1p-126 {
		if r := d / math.Abs(want); r > e.maxRel {
			e.maxRel, e.atRel = r, x
		}
	}
	if s := d / max(1, math.Abs(x)); s > e.maxScaled {
		e.maxScaled, e.atScaled = s, x
	}
}

func (e errStat) String() string {
	return fmt.Sprintf("max abs err %.3g (x=%.7g), max rel err %.3g (x=%.7g), max abs err/max(1,|x|) %.3g (x=%.7g)",
		e.maxAbs, e.atAbs, e.maxRel, e.atRel, e.maxScaled, e.atScaled)
}

// sameSpecial reports whether got matches a non-finite or zero want exactly (NaN matches any
// NaN, a zero must match with its sign), and whether want was special at all.
func sameSpecial(got float32, want float64) (special, ok bool) {
	g := float64(got)
	switch {
	case math.IsNaN(want):
		return true, math.IsNaN(g)
	case math.IsInf(want, 0):
		return true, g == want
	}
	return false, true
}

// ulpDiff returns the distance between a and b in float32 ulps (large for a NaN against a
// number, 0 for two NaNs).
func ulpDiff(a, b float32) int64 {
	if a != a || b != b {
		if a != a && b != b {
			return 0
		}
		return math.MaxInt32
	}
	ia, ib := int64(math.Float32bits(a)), int64(math.Float32bits(b))
	if ia < 0x80000000 == (ib < 0x80000000) {
		return max(ia-ib, ib-ia)
	}
	// Opposite signs: count through zero.
	return (ia & 0x7fffffff) + (ib & 0x7fffffff)
}

// unaryCase describes an element-wise kernel for the shared tests.
type unaryCase struct {
	name string
	fn   func(dst, src []float32)
	ref  func(x float64) float64
	// tol returns the allowed |got − want| for input x.
	tol func(x, want float64) float64
	// gen draws a test input.
	gen func(rng *rand.Rand) float32
	// sweep is a range swept densely for the accuracy figure.
	sweepLo, sweepHi float64
	// specials are inputs checked exactly against ref.
	specials   []float32
	parityUlps int64 // allowed distance between the assembly and pure-Go results
}

var (
	inf32  = float32(math.Inf(1))
	nan32  = float32(math.NaN())
	negz32 = float32(math.Copysign(0, -1))
)

// mixedGen draws mostly from a uniform range, sometimes near zero, sometimes huge.
func mixedGen(lo, hi float64) func(rng *rand.Rand) float32 {
	return func(rng *rand.Rand) float32 {
		switch rng.IntN(10) {
		case 0:
			return float32(rng.NormFloat64() * 1e-3)
		case 1:
			return float32(rng.NormFloat64() * 1e6)
		default:
			return float32(lo + (hi-lo)*rng.Float64())
		}
	}
}

func refExp(x float64) float64 { return math.Exp(x) }

// toFloat32Range maps a float64 result beyond the float32 range to ±Inf, as rounding to
// float32 does.
func toFloat32Range(v float64) float64 {
	if math.Abs(v) >= math.MaxFloat32*(1+0x1p-25) {
		return math.Copysign(math.Inf(1), v)
	}
	return v
}

// normCDF64 is Φ(x) in float64.
func normCDF64(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// refGELUTanh is 0.5·x·(1 + tanh(u)) written as x/(1 + e^(−2u)), which float64 evaluates
// without cancellation in the negative tail.
func refGELUTanh(x float64) float64 {
	if math.IsInf(x, -1) {
		return 0
	}
	u := math.Sqrt(2/math.Pi) * (x + 0.044715*x*x*x)
	return x / (1 + math.Exp(-2*u))
}

func refGELUErf(x float64) float64 {
	if math.IsInf(x, -1) {
		return 0
	}
	return x * normCDF64(x)
}

var unaryCases = []unaryCase{
	{
		name: "Exp", fn: Exp, ref: refExp,
		tol: func(x, want float64) float64 {
			if want < 0x1p-126 { // denormal result: one rounding on the denormal grid
				return 0x1p-149 + 2e-7*want
			}
			return 2e-7 * want
		},
		gen: mixedGen(-110, 95), sweepLo: -104, sweepHi: 89,
		specials:   []float32{0, negz32, inf32, -inf32, nan32, 89, 88.8, -104, -200, 1e30, -1e30},
		parityUlps: 1,
	},
	{
		name: "Tanh", fn: Tanh, ref: math.Tanh,
		tol: func(x, want float64) float64 { return 3e-7 * math.Abs(want) },
		gen: mixedGen(-12, 12), sweepLo: -12, sweepHi: 12,
		specials:   []float32{0, negz32, inf32, -inf32, nan32, 1e-30, -1e-30, 50, -50, 1e30},
		parityUlps: 2,
	},
	{
		name: "Erf", fn: Erf, ref: math.Erf,
		tol: func(x, want float64) float64 {
			if math.Abs(x) < 1 {
				return 3e-7 * math.Abs(want)
			}
			return 1e-7
		},
		gen: mixedGen(-6, 6), sweepLo: -6, sweepHi: 6,
		specials:   []float32{0, negz32, inf32, -inf32, nan32, 1e-30, -1e-30, 11, -11, 1e30},
		parityUlps: 2,
	},
	{
		name: "GELUTanh", fn: GELUTanh, ref: refGELUTanh,
		tol: func(x, want float64) float64 { return 2e-7 * max(1, math.Abs(x)) },
		gen: mixedGen(-12, 12), sweepLo: -12, sweepHi: 12,
		specials:   []float32{0, negz32, inf32, -inf32, nan32, 10, 100, 1e30, -1e30, -100},
		parityUlps: 4,
	},
	{
		name: "GELUErf", fn: GELUErf, ref: refGELUErf,
		tol: func(x, want float64) float64 { return 1.5e-7 * max(1, math.Abs(x)) },
		gen: mixedGen(-12, 12), sweepLo: -12, sweepHi: 12,
		specials:   []float32{0, negz32, inf32, -inf32, nan32, 6, 100, 1e30, -1e30, -100},
		parityUlps: 4,
	},
}

// checkUnary checks dst = kernel(src) against the reference and returns the error figures.
func checkUnary(t *testing.T, c unaryCase, src, dst []float32) errStat {
	t.Helper()
	var st errStat
	for i, v := range src {
		x := float64(v)
		want := toFloat32Range(c.ref(x))
		if sp, ok := sameSpecial(dst[i], want); sp {
			if !ok {
				t.Fatalf("%s(%g) = %g, want %g", c.name, v, dst[i], want)
			}
			continue
		}
		if d := math.Abs(float64(dst[i]) - want); d > c.tol(x, want) || math.IsNaN(float64(dst[i])) {
			t.Fatalf("%s(%g) = %g, want %g (error %.3g, tolerance %.3g)", c.name, v, dst[i], want, d, c.tol(x, want))
		}
		st.add(dst[i], want, x)
	}
	return st
}

func TestVecUnary(t *testing.T) {
	for _, c := range unaryCases {
		t.Run(c.name, func(t *testing.T) {
			forEachVecPath(t, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, 2))
				for _, n := range vecLengths() {
					src, dst := guarded(n), guarded(n)
					for i := range src {
						src[i] = c.gen(rng)
					}
					// Sprinkle special values over short rows so they land in the tails too.
					if n > 0 && n < 68 {
						src[rng.IntN(n)] = c.specials[rng.IntN(len(c.specials))]
					}
					c.fn(dst, src)
					checkGuard(t, c.name, dst)
					checkUnary(t, c, src, dst)
					// In place.
					c.fn(src, src)
					for i := range src {
						if ulpDiff(src[i], dst[i]) != 0 {
							t.Fatalf("%s in place (n=%d): element %d = %g, want %g", c.name, n, i, src[i], dst[i])
						}
					}
				}
				// The special values, exactly.
				sp := append([]float32(nil), c.specials...)
				out := make([]float32, len(sp))
				c.fn(out, sp)
				for i, v := range sp {
					want := toFloat32Range(c.ref(float64(v)))
					if s, ok := sameSpecial(out[i], want); s && !ok {
						t.Errorf("%s(%g) = %g, want %g", c.name, v, out[i], want)
					} else if !s && float64(out[i]) != want && math.Abs(float64(out[i])-want) > c.tol(float64(v), want) {
						t.Errorf("%s(%g) = %g, want %g", c.name, v, out[i], want)
					}
					if want == 0 && out[i] != 0 {
						t.Errorf("%s(%g) = %g, want 0", c.name, v, out[i])
					}
				}
				// A dense sweep for the accuracy figure.
				const m = 1 << 18
				src := make([]float32, m)
				for i := range src {
					src[i] = float32(c.sweepLo + (c.sweepHi-c.sweepLo)*float64(i)/(m-1))
				}
				dst := make([]float32, m)
				c.fn(dst, src)
				t.Logf("%s on [%g, %g]: %v", c.name, c.sweepLo, c.sweepHi, checkUnary(t, c, src, dst))
			})
		})
	}
}

// TestVecUnaryParity compares the assembly and pure-Go kernels element by element.
func TestVecUnaryParity(t *testing.T) {
	if !hasAsm {
		t.Skip("no assembly kernels on this CPU")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range unaryCases {
		src := make([]float32, 1<<16+5)
		for i := range src {
			src[i] = c.gen(rng)
		}
		copy(src, c.specials)
		a, g := make([]float32, len(src)), make([]float32, len(src))
		withPath(true, func() { c.fn(a, src) })
		withPath(false, func() { c.fn(g, src) })
		var worst int64
		var worstAbs float64
		for i := range src {
			d := ulpDiff(a[i], g[i])
			x := float64(src[i])
			diff := math.Abs(float64(a[i]) - float64(g[i]))
			if d > c.parityUlps && !(diff <= c.tol(x, toFloat32Range(c.ref(x)))) {
				t.Errorf("%s(%g): asm %g, go %g (%d ulps apart)", c.name, src[i], a[i], g[i], d)
				break
			}
			if math.Abs(float64(g[i])) >= 1e-3 && !math.IsInf(float64(g[i]), 0) {
				worst = max(worst, d)
			}
			if !math.IsInf(float64(g[i]), 0) && !math.IsNaN(diff) {
				worstAbs = max(worstAbs, diff/max(1, math.Abs(x)))
			}
		}
		t.Logf("%s: asm and go differ by at most %d ulps (results ≥ 1e-3), %.3g·max(1,|x|) absolute", c.name, worst, worstAbs)
	}
}

// TestVecExpSweep checks Exp on every 997th float32 in [−88, 88.72] (about 2·10⁶ values).
func TestVecExpSweep(t *testing.T) {
	forEachVecPath(t, func(t *testing.T) {
		var xs []float32
		for _, r := range [][2]float32{{0, 88.72}, {negz32, -88}} {
			lo, hi := math.Float32bits(r[0]), math.Float32bits(r[1])
			for b := lo; b <= hi; b += 997 {
				xs = append(xs, math.Float32frombits(b))
			}
		}
		out := make([]float32, len(xs))
		Exp(out, xs)
		var st errStat
		for i, x := range xs {
			want := math.Exp(float64(x))
			if want < 0x1p-126 {
				continue // denormals: covered by TestVecUnary's absolute bound
			}
			st.add(out[i], want, float64(x))
		}
		if st.maxRel > 2e-7 {
			t.Errorf("Exp: %v, want rel err ≤ 2e-7", st)
		}
		t.Logf("Exp on %d values of [−88, 88.72] (normal results): %v", len(xs), st)
	})
}

// The derivative kernels: dx += f'(x)·dy.
type gradCase struct {
	name  string
	fn    func(dx, dy, x []float32)
	deriv func(x float64) float64
	tol   func(x float64) float64 // allowed error of f'(x)
	lo    float64
	hi    float64
}

// derivGELUTanh is d/dx 0.5·x·(1 + tanh(u)) = s + x·s·(1−s)·v' with v = 2u and s = σ(v),
// written without cancellation in the negative tail.
func derivGELUTanh(x float64) float64 {
	if math.IsInf(x, 0) {
		if x > 0 {
			return 1
		}
		return 0
	}
	c := math.Sqrt(2 / math.Pi)
	v := 2 * c * (x + 0.044715*x*x*x)
	s, oms := 1/(1+math.Exp(-v)), 1/(1+math.Exp(v))
	return s + x*s*oms*2*c*(1+3*0.044715*x*x)
}

func derivGELUErf(x float64) float64 {
	if math.IsInf(x, 0) {
		if x > 0 {
			return 1
		}
		return 0
	}
	return normCDF64(x) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
}

var gradCases = []gradCase{
	{"GELUTanhBackward", GELUTanhBackward, derivGELUTanh, func(x float64) float64 { return 3e-7 }, -12, 12},
	{"GELUErfBackward", GELUErfBackward, derivGELUErf, func(x float64) float64 { return 3e-7 }, -12, 12},
}

func TestVecGELUBackward(t *testing.T) {
	for _, c := range gradCases {
		t.Run(c.name, func(t *testing.T) {
			// The float64 derivatives themselves, against central differences.
			ref := refGELUTanh
			if c.name == "GELUErfBackward" {
				ref = refGELUErf
			}
			for x := -6.0; x <= 6; x += 0.37 {
				const h = 1e-6
				fd := (ref(x+h) - ref(x-h)) / (2 * h)
				if math.Abs(fd-c.deriv(x)) > 1e-7 {
					t.Fatalf("reference derivative at %g: %g, finite difference %g", x, c.deriv(x), fd)
				}
			}
			forEachVecPath(t, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(5, 6))
				specials := []float32{0, negz32, inf32, -inf32, 10.5, -10.5, 25, -25, 1e30, -1e30}
				for _, n := range vecLengths() {
					x, dy, dx := guarded(n), guarded(n), guarded(n)
					gen := mixedGen(c.lo, c.hi)
					for i := range x {
						x[i] = gen(rng)
						dy[i] = float32(rng.NormFloat64())
						dx[i] = float32(rng.NormFloat64())
					}
					if n > 0 && n < 68 {
						x[rng.IntN(n)] = specials[rng.IntN(len(specials))]
					}
					orig := append([]float32(nil), dx...)
					c.fn(dx, dy, x)
					checkGuard(t, c.name, dx)
					for i := range x {
						d := c.deriv(float64(x[i]))
						want := float64(orig[i]) + d*float64(dy[i])
						tol := c.tol(float64(x[i]))*math.Abs(float64(dy[i])) + 1.2e-7*(math.Abs(float64(orig[i]))+math.Abs(d*float64(dy[i])))
						if math.Abs(float64(dx[i])-want) > tol {
							t.Fatalf("%s x=%g dy=%g: dx %g + %g, want %g", c.name, x[i], dy[i], orig[i], float64(dx[i])-float64(orig[i]), want)
						}
					}
				}
				// NaN propagates; the far tails are exact.
				x := []float32{nan32, -30, -1e30, -inf32, 30, 1e30, inf32}
				dx := make([]float32, len(x))
				dy := []float32{1, 1, 1, 1, 1, 1, 1}
				c.fn(dx, dy, x)
				if !math.IsNaN(float64(dx[0])) {
					t.Errorf("%s: NaN input gave %g", c.name, dx[0])
				}
				for i, want := range []float32{0, 0, 0, 1, 1, 1} {
					if dx[i+1] != want {
						t.Errorf("%s(%g) = %g, want %g", c.name, x[i+1], dx[i+1], want)
					}
				}
				// The accuracy figure over a sweep, dy = 1, dx = 0.
				const m = 1 << 17
				xs, ones, out := make([]float32, m), make([]float32, m), make([]float32, m)
				for i := range xs {
					xs[i] = float32(c.lo + (c.hi-c.lo)*float64(i)/(m-1))
					ones[i] = 1
				}
				c.fn(out, ones, xs)
				var st errStat
				for i := range xs {
					st.add(out[i], c.deriv(float64(xs[i])), float64(xs[i]))
				}
				if st.maxAbs > c.tol(0) {
					t.Errorf("%s: %v", c.name, st)
				}
				t.Logf("%s derivative on [%g, %g]: %v", c.name, c.lo, c.hi, st)
			})
		})
	}
}

// TestGELUAVX512Parity requires the AVX-512 GELU kernels (erf and tanh, forward and
// backward) to give the bits of the AVX2 ones, whose arithmetic they repeat lane for lane:
// normal inputs at several scales with special values sprinkled in, over lengths 0..100
// (every tail) and a few long rows, guards intact.
func TestGELUAVX512Parity(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 kernels on this CPU")
	}
	specials := []float32{0, negz32, inf32, -inf32, nan32, -nan32, 1e-30, -1e-30, 1e-40, -1e-40,
		0.5, -0.5, 1.4142135, -1.4142135, 6, -6, 10.5, -10.5, 13, -13, 14, -14, 25, -25, 100, -100,
		1e30, -1e30, math.MaxFloat32, -math.MaxFloat32}
	lengths := []int{1000, 3001, 4111}
	for n := range 101 {
		lengths = append(lengths, n)
	}
	run := func(avx512 bool, f func()) {
		defer func(asm, a bool) { useAsm, useAVX512 = asm, a }(useAsm, useAVX512)
		useAsm, useAVX512 = true, avx512
		f()
	}
	same := func(t *testing.T, what string, x, a, b []float32) {
		t.Helper()
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s (n=%d) x=%g: avx512 %g (%#08x), avx2 %g (%#08x)", what, len(a), x[i],
					a[i], math.Float32bits(a[i]), b[i], math.Float32bits(b[i]))
			}
		}
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, sd := range []float64{1e-3, 0.3, 1, 3, 10, 30, 1e6} {
		t.Run(fmt.Sprintf("sd=%g", sd), func(t *testing.T) {
			for _, n := range lengths {
				x, dy, dx0 := guarded(n), guarded(n), guarded(n)
				for i := range x {
					x[i] = float32(rng.NormFloat64() * sd)
					dy[i] = float32(rng.NormFloat64())
					dx0[i] = float32(rng.NormFloat64())
				}
				for range min(n, 4) {
					x[rng.IntN(n)] = specials[rng.IntN(len(specials))]
				}
				if n == 0 {
					x = append(x[:0:0], specials...)
					dy, dx0 = make([]float32, len(x)), make([]float32, len(x))
					for i := range dy {
						dy[i], dx0[i] = 1, 0.25
					}
				}
				for _, f := range []struct {
					name    string
					fwd     func(dst, src []float32)
					bwd     func(dx, dy, x []float32)
					bwdName string
				}{{"GELUErf", GELUErf, GELUErfBackward, "GELUErfBackward"}, {"GELUTanh", GELUTanh, GELUTanhBackward, "GELUTanhBackward"}} {
					a, b := guarded(len(x)), guarded(len(x))
					run(true, func() { f.fwd(a, x) })
					run(false, func() { f.fwd(b, x) })
					checkGuard(t, f.name, a)
					same(t, f.name, x, a, b)
					a, b = guarded(len(x)), guarded(len(x))
					copy(a, dx0)
					copy(b, dx0)
					run(true, func() { f.bwd(a, dy, x) })
					run(false, func() { f.bwd(b, dy, x) })
					checkGuard(t, f.bwdName, a)
					same(t, f.bwdName, x, a, b)
				}
			}
		})
	}
}

func TestVecGELUBackwardParity(t *testing.T) {
	if !hasAsm {
		t.Skip("no assembly kernels on this CPU")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, c := range gradCases {
		n := 1<<15 + 3
		x, dy := make([]float32, n), make([]float32, n)
		gen := mixedGen(-12, 12)
		for i := range x {
			x[i], dy[i] = gen(rng), float32(rng.NormFloat64())
		}
		a, g := make([]float32, n), make([]float32, n)
		withPath(true, func() { c.fn(a, dy, x) })
		withPath(false, func() { c.fn(g, dy, x) })
		var worstAbs float64
		for i := range a {
			diff := math.Abs(float64(a[i]) - float64(g[i]))
			if diff > 2*c.tol(float64(x[i]))*math.Abs(float64(dy[i])) {
				t.Fatalf("%s(x=%g): asm %g, go %g", c.name, x[i], a[i], g[i])
			}
			worstAbs = max(worstAbs, diff)
		}
		t.Logf("%s: asm and go differ by at most %.3g", c.name, worstAbs)
	}
}

// TestGELUKeepsSubnormals checks that the GELU kernels, which flush subnormals while they run,
// leave the floating-point mode as they found it: a product into the subnormals afterwards
// still gives a subnormal, not zero.
func TestGELUKeepsSubnormals(t *testing.T) {
	x := []float32{-30, -1, 0, 2, 40}
	y := make([]float32, len(x))
	GELUErf(y, x)
	GELUTanh(y, x)
	GELUErfBackward(y, x, x)
	GELUTanhBackward(y, x, x)
	if got := subnormalProbe[0] * subnormalProbe[1]; got == 0 {
		t.Fatalf("1e-38 · 1e-3 = 0 after the GELU kernels: flush-to-zero leaked into the caller")
	}
}

// subnormalProbe is a product into the subnormals, in a variable so that it is computed at
// run time.
var subnormalProbe = [2]float32{1e-38, 1e-3}

// TestGELURows checks that GELUErfRows and GELUTanhRows give each row the bits of GELUErf and
// GELUTanh on it, on rows of every tail length, and leave the values between the rows as
// they were; and that a buffer too short for the rows is refused.
func TestGELURows(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, f := range []struct {
		name string
		rows func(c []float32, ld, rows, n int)
		row  func(dst, src []float32)
	}{{"GELUErfRows", GELUErfRows, GELUErf}, {"GELUTanhRows", GELUTanhRows, GELUTanh}} {
		for _, s := range [][3]int{{1, 1, 1}, {3, 7, 9}, {32, 32, 100}, {5, 17, 17}, {12, 33, 40}, {2, 0, 5}, {0, 8, 8}} {
			rows, n, ld := s[0], s[1], s[2]
			c := make([]float32, max(0, (rows-1)*ld+n)+ld)
			for i := range c {
				c[i] = float32(rng.NormFloat64() * 2)
			}
			want := append([]float32(nil), c...)
			for r := range rows {
				f.row(want[r*ld:r*ld+n], want[r*ld:r*ld+n])
			}
			f.rows(c, ld, rows, n)
			for i, v := range c {
				if math.Float32bits(v) != math.Float32bits(want[i]) {
					t.Fatalf("%s rows=%d n=%d ld=%d: c[%d] = %g, want %g", f.name, rows, n, ld, i, v, want[i])
				}
			}
		}
		func() {
			defer func() {
				if r, _ := recover().(string); !strings.Contains(r, "3 rows of 8, 10 apart, in 27 values") {
					t.Fatalf("%s on a short buffer: panic %q", f.name, r)
				}
			}()
			f.rows(make([]float32, 27), 10, 3, 8)
		}()
	}
}
