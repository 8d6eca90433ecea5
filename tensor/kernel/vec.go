package kernel

import (
	"fmt"
	"math"
)

// Row kernels of the Transformer: vectorised exp/tanh/erf, softmax, log-sum-exp, the
// softmax-cross-entropy gradient, LayerNorm forward and backward, GELU (tanh and erf forms)
// forward and backward, the AdamW update, and a few element-wise helpers.
//
// Each kernel works on one row; callers parallelise over rows. Lengths are arbitrary (tails
// are handled inside the kernels) and slices need no alignment. The kernels allocate nothing
// and are safe to run concurrently on disjoint outputs. Each says which of its slices may
// alias; partially overlapping slices give undefined results. Length mismatches panic.
//
// This file holds the public API and the pure-Go kernels. The element-wise primitives that
// the API calls (expv, maxv, …) are defined in vec_amd64.go, which picks the AVX2/FMA
// assembly of vec_amd64.s when useAsm is set, and in vec_other.go, which always runs the
// pure-Go kernels below.

// Constants of the exp kernel: e^x = 2^n · e^r with n = round(x·log2(e)) and
// r = x − n·ln2 reduced with a two-part ln2 (ln2Hi has few bits, so n·ln2Hi is exact),
// and e^r ≈ 1 + r + r²·P(r) with P a degree-4 minimax polynomial (relative error 3.1e-9
// on |r| ≤ ln2/2). 2^n is applied as two factors 2^(n>>1)·2^(n−n>>1), so every result from
// overflow down to the denormals takes a single final rounding.
const (
	expLo      = -104 // e^-104 < 2^-150: any x below rounds to 0
	expHi      = 89   // e^89 > MaxFloat32: any x above overflows to +Inf
	expLog2e   = 1.44269504088896341
	expLn2Hi   = 0.693359375
	expLn2Lo   = -2.12194440e-4
	expP0      = 0.49999994
	expP1      = 0.166665196
	expP2      = 0.0416683927
	expP3      = 0.00836878084
	expP4      = 0.00138144672
	roundMagic = 12582912 // 1.5·2^23: (t + roundMagic) − roundMagic rounds t to an integer (ties to even)
)

// Constants of tanh: for |x| < tanhSmall, tanh(x) = x + x³·P(x²) with P of degree 4
// (relative error 4.4e-9); above, tanh(|x|) = 1 − 2/(e^(2|x|) + 1).
const (
	tanhSmall = 0.625
	tanhP0    = -0.333332807
	tanhP1    = 0.133314416
	tanhP2    = -0.0537397154
	tanhP3    = 0.020639088
	tanhP4    = -0.00570498733
)

// Constants of erf: for |t| < 1, erf(t) = t + t·A(t²) with A of degree 6 (relative error
// 1.2e-9); for |t| ≥ 1, erfc(|t|) = τ·e^(C(τ) − t²) with τ = 1/(1 + |t|/2) and C of degree 8
// (relative error 4e-9 on 1 ≤ |t| ≤ 12; beyond, erfc is below the float32 range).
const (
	erfA0 = 0.128379166
	erfA1 = -0.37612626
	erfA2 = 0.112835854
	erfA3 = -0.0268538129
	erfA4 = 0.00518832775
	erfA5 = -0.000801019371
	erfA6 = 7.85386146e-05
	erfC0 = -1.26550615
	erfC1 = 0.99986589
	erfC2 = 0.376070768
	erfC3 = 0.0809834376
	erfC4 = -0.102910072
	erfC5 = -0.00578706246
	erfC6 = -0.523143291
	erfC7 = 0.693785608
	erfC8 = -0.254681796
)

// Constants of the GELUs. The tanh form is evaluated as x·σ(2u) = x/(1 + e^(−2u)) with
// u = √(2/π)(x + 0.044715x³), so −2u = x·(geluC1 + geluC2·x²).
const (
	geluC1      = -1.5957691216057308  // −2√(2/π)
	geluC2      = -0.07135481627260025 // −2√(2/π)·0.044715
	geluK3      = 0.21406444881780076  // −3·geluC2: d(2u)/dx = −geluC1 + geluK3·x²
	geluGradMin = -10                  // below, gelu'(x) < 3e-36 and the kernels return 0
	geluGradMax = 10                   // above, gelu'(x) rounds to 1
	erfGradMax  = 20                   // |x|·φ(x) underflows to 0 beyond
	invSqrt2    = 0.7071067811865475
	invSqrt2Pi  = 0.3989422804014327
)

// Exp sets dst[i] = e^src[i]. The relative error is below 2e-7 wherever the result is a
// normal float32 (x in [−87.3, 88.7]); denormal results are rounded once; x < −103.98 and −Inf
// give 0, x > 88.72 and +Inf give +Inf, NaN gives NaN. dst and src must have the same length;
// dst may alias src.
func Exp(dst, src []float32) {
	checkLen2("Exp", dst, src)
	expv(dst, src)
}

// Tanh sets dst[i] = tanh(src[i]) with a relative error below 3e-7; ±0, ±Inf and NaN map to
// ±0, ±1 and NaN. dst and src must have the same length; dst may alias src.
func Tanh(dst, src []float32) {
	checkLen2("Tanh", dst, src)
	tanhv(dst, src)
}

// Erf sets dst[i] = erf(src[i]) with an absolute error below 1e-7 (and a relative error
// below 3e-7 for |x| < 1); ±Inf give ±1 and NaN gives NaN. dst and src must have the same
// length; dst may alias src.
func Erf(dst, src []float32) {
	checkLen2("Erf", dst, src)
	erfv(dst, src)
}

// Max returns the largest element of x: −Inf for an empty x or one of −Inf only; NaNs are
// skipped.
func Max(x []float32) float32 { return maxv(x) }

// ExpSubSum sets dst[i] = e^(src[i]−shift), as Exp computes it from the float32 difference,
// and returns their sum (relative error below 1e-6: the vector kernels add up to 16 terms
// in float32 before float64 takes over): the numerator and denominator of a softmax
// (shift the row maximum). dst and src must have the same length; dst may alias src.
func ExpSubSum(dst, src []float32, shift float32) float64 {
	checkLen2("ExpSubSum", dst, src)
	return expSubSum(dst, src, shift)
}

// SoftmaxRow sets dst to the softmax of src: dst[i] = e^(src[i]−m) / Σ_j e^(src[j]−m) with
// m = max(src). Each output has a relative error below 1e-6 + 6e-8·|src[i]−m| (the float32
// difference src[i]−m is rounded once). A row of −Inf gives
// zeros, a row holding a NaN or a +Inf gives NaNs (as PyTorch does). dst and src must have
// the same length; dst may alias src.
func SoftmaxRow(dst, src []float32) {
	checkLen2("SoftmaxRow", dst, src)
	if len(src) == 0 {
		return
	}
	m := maxv(src)
	if math.IsInf(float64(m), -1) {
		// Every element is −Inf (or NaN, which the max may skip).
		v := float32(0)
		if hasNaN(src) {
			v = float32(math.NaN())
		}
		for i := range dst {
			dst[i] = v
		}
		return
	}
	s := expSubSum(dst, src, m)
	scalev(dst, dst, float32(1/s))
}

// LogSumExp returns log Σ_i e^src[i], computed as m + log Σ_i e^(src[i]−m) with m the row
// maximum; the absolute error is below 1e-6·max(1, |result|). An empty row or a row of −Inf
// gives −Inf; a row holding +Inf gives +Inf; a row holding a NaN gives NaN.
func LogSumExp(src []float32) float32 {
	if len(src) == 0 {
		return float32(math.Inf(-1))
	}
	m := maxv(src)
	if math.IsInf(float64(m), 0) {
		if hasNaN(src) {
			return float32(math.NaN())
		}
		return m
	}
	return float32(float64(m) + math.Log(sumExpSub(src, m)))
}

// SoftmaxCrossEntropyBackwardRow adds scale·softmax(logits) to dst, given lse =
// LogSumExp(logits): dst[i] += e^(logits[i]−lse)·scale. The gradient of the mean
// cross-entropy of one row is this with scale = 1/rows, after which the caller subtracts
// scale at the target index. Each term has the accuracy of Exp. dst and logits must have the
// same length and must not overlap.
func SoftmaxCrossEntropyBackwardRow(dst, logits []float32, lse, scale float32) {
	checkLen2("SoftmaxCrossEntropyBackwardRow", dst, logits)
	expSubScaleAdd(dst, logits, lse, scale)
}

// SoftmaxBackwardRow adds to dx the gradient through a softmax: given its output y and the
// gradient dy of that output, dx[i] += y[i]·(dy[i] − Σ_j y[j]·dy[j]). All three slices must
// have the same length; dx must not overlap y or dy.
func SoftmaxBackwardRow(dx, y, dy []float32) {
	checkLen3("SoftmaxBackwardRow", dx, y, dy)
	softmaxBwd(dx, y, dy, Dot(y, dy))
}

// LayerNormRow normalises one row: out[i] = (x[i]−mean)·rstd·w[i] + b[i], with mean and the
// biased variance var of x and rstd = 1/√(var + eps), and returns mean and rstd for the
// backward pass. b may be nil (no bias). The moments take two passes (the sum, then the
// sums of d = x − mean and d², which also correct the rounding of the first mean), and the
// normalisation centres x on the corrected mean: the returned mean is within about half an
// ulp, rstd within a few 1e-7 relative, and out within a few 1e-7 of |xhat·w| + |w| + |b|,
// even for rows offset far from zero (say values 1e2 ± 1e-2, length 4096). out, w and b
// must have the length of x; out may alias x.
func LayerNormRow(out, x, w, b []float32, eps float32) (mean, rstd float32) {
	n := len(x)
	if len(out) != n || len(w) != n || (b != nil && len(b) != n) {
		panic(fmt.Sprintf("kernel: LayerNormRow of lengths out %d, x %d, w %d, b %d", len(out), n, len(w), len(b)))
	}
	if n == 0 {
		return 0, float32(1 / math.Sqrt(float64(eps)))
	}
	mean = float32(sumv(x) / float64(n))
	s1, s2 := sumDev(x, mean)
	d := s1 / float64(n) // the rounding error of mean: the true mean is mean + d
	v := max(s2/float64(n)-d*d, 0)
	rstd = float32(1 / math.Sqrt(v+float64(eps)))
	lnApply(out, x, w, b, mean, float32(d), rstd)
	return float32(float64(mean) + d), rstd
}

// LayerNormBackwardRow adds to dx the gradient of LayerNormRow with respect to x, given the
// output gradient dout, the input x, the weight w and the mean and rstd the forward pass
// returned: with xhat = (x−mean)·rstd and g = dout·w,
// dx[i] += rstd·(g[i] − mean_j(g) − xhat[i]·mean_j(g·xhat)).
// All slices must have the same
// length; dx must not overlap the others. The weight and bias gradients come from
// LayerNormParamGradRow.
func LayerNormBackwardRow(dx, dout, x, w []float32, mean, rstd float32) {
	n := len(x)
	if len(dx) != n || len(dout) != n || len(w) != n {
		panic(fmt.Sprintf("kernel: LayerNormBackwardRow of lengths dx %d, dout %d, x %d, w %d", len(dx), len(dout), n, len(w)))
	}
	if n == 0 {
		return
	}
	sg, sgx := lnBwdSums(dout, x, w, mean, rstd)
	lnBwdApply(dx, dout, x, w, mean, rstd, float32(sg/float64(n)), float32(sgx/float64(n)))
}

// LayerNormParamGradRow adds one row's share of the LayerNorm weight and bias gradients:
// dw[i] += dout[i]·(x[i]−mean)·rstd and db[i] += dout[i]. db may be nil (no bias). All
// slices must have the same length; dw and db must not overlap the others.
func LayerNormParamGradRow(dw, db, dout, x []float32, mean, rstd float32) {
	n := len(x)
	if len(dw) != n || len(dout) != n || (db != nil && len(db) != n) {
		panic(fmt.Sprintf("kernel: LayerNormParamGradRow of lengths dw %d, db %d, dout %d, x %d", len(dw), len(db), len(dout), n))
	}
	if n == 0 {
		return
	}
	lnParamGrad(dw, db, dout, x, mean, rstd)
}

// GELUTanh sets dst[i] = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) for x = src[i], the
// "gelu_new" of GPT-2, evaluated as x/(1 + e^(−2u)) so that nothing overflows: the absolute
// error is below 2e-7·max(1, |x|), gelu(x) = x exactly for x ≥ 10, and very negative x (−Inf
// included) give −0. dst and src must have the same length; dst may alias src.
func GELUTanh(dst, src []float32) {
	checkLen2("GELUTanh", dst, src)
	geluTanh(dst, src)
}

// GELUTanhBackward adds the gradient through GELUTanh: dx[i] += gelu'(x[i])·dy[i], with an
// absolute error in gelu' below 3e-7. gelu'(x) is exactly 1 for x > 10 and exactly 0 for
// x < −10 (where it is below 3e-36). All three slices must have the same length; dx must not
// overlap dy or x.
func GELUTanhBackward(dx, dy, x []float32) {
	checkLen3("GELUTanhBackward", dx, dy, x)
	geluTanhBwd(dx, dy, x)
}

// GELUErf sets dst[i] = x·Φ(x) = 0.5·x·(1 + erf(x/√2)) for x = src[i], the exact GELU of
// BERT. Φ is taken from the vectorised erf for |x| < √2 and from erfc (with no cancellation)
// beyond, so the absolute error is below 1.5e-7·max(1, |x|), gelu(x) = x exactly for x ≥ 6,
// and very negative x (−Inf included) give −0. dst and src must have the same length; dst may
// alias src.
func GELUErf(dst, src []float32) {
	checkLen2("GELUErf", dst, src)
	geluErf(dst, src)
}

// GELUTanhRows applies GELUTanh in place to rows rows of n values, ld apart from c[0]
// (c[r·ld : r·ld+n] for r < rows), with its bits: the rows of a tile in one call.
func GELUTanhRows(c []float32, ld, rows, n int) {
	if checkRows("GELUTanhRows", c, ld, rows, n) {
		geluTanhRows(c, ld, rows, n)
	}
}

// GELUErfRows applies GELUErf in place to rows rows of n values, ld apart from c[0]
// (c[r·ld : r·ld+n] for r < rows), with its bits: the rows of a tile in one call.
func GELUErfRows(c []float32, ld, rows, n int) {
	if checkRows("GELUErfRows", c, ld, rows, n) {
		geluErfRows(c, ld, rows, n)
	}
}

// checkRows checks that c holds rows rows of n values, ld apart, and reports whether there is
// any value to work on.
func checkRows(name string, c []float32, ld, rows, n int) bool {
	if rows < 0 || n < 0 || (rows > 1 && ld < n) || (rows > 0 && n > 0 && len(c) < (rows-1)*ld+n) {
		panic(fmt.Sprintf("kernel: %s of %d rows of %d, %d apart, in %d values", name, rows, n, ld, len(c)))
	}
	return rows > 0 && n > 0
}

// addToRowsGo is addToRows in Go.
func addToRowsGo(c []float32, ldc, rows int, row []float32) {
	for r := range rows {
		addToGo(c[r*ldc:r*ldc+len(row)], row)
	}
}

// geluRowsGo applies the row function f to rows rows of n values, ld apart: dst[r·ld + i] =
// f(src[r·ld + i]).
func geluRowsGo(f func(dst, src []float32), dst, src []float32, ld, rows, n int) {
	for r := range rows {
		f(dst[r*ld:r*ld+n], src[r*ld:r*ld+n])
	}
}

// GELUErfBackward adds the gradient through GELUErf: dx[i] += (Φ(x) + x·φ(x))·dy[i] for
// x = x[i], φ the standard normal density, with an absolute error in the derivative below
// 3e-7. All three slices must have the same length; dx must not overlap dy or x.
func GELUErfBackward(dx, dy, x []float32) {
	checkLen3("GELUErfBackward", dx, dy, x)
	geluErfBwd(dx, dy, x)
}

// AdamWStep applies one AdamW update to the parameters w with gradient g and moments m, v:
//
//	m = β1·m + (1−β1)·g
//	v = β2·v + (1−β2)·g²
//	w = w·decay − stepSize·m / (√v/sqrtBC2 + eps)
//
// where the caller passes decay = 1 − lr·λ (decoupled weight decay), stepSize =
// lr/(1 − β1^t) and sqrtBC2 = √(1 − β2^t) (PyTorch's bias corrections). Every operation is
// rounded as written, in float32 (exact division and square root, no fused multiply-add), so
// the assembly and pure-Go kernels agree to the bit. All four slices must have the same
// length and must not overlap.
func AdamWStep(w, g, m, v []float32, beta1, beta2, eps, decay, stepSize, sqrtBC2 float32) {
	n := len(w)
	if len(g) != n || len(m) != n || len(v) != n {
		panic(fmt.Sprintf("kernel: AdamWStep of lengths w %d, g %d, m %d, v %d", n, len(g), len(m), len(v)))
	}
	adamw(w, g, m, v, adamParams{beta1, 1 - beta1, beta2, 1 - beta2, eps, decay, stepSize, sqrtBC2})
}

// Add sets dst[i] = a[i] + b[i], correctly rounded. All three slices must have the same length; dst may alias
// a or b.
func Add(dst, a, b []float32) {
	checkLen3("Add", dst, a, b)
	addv(dst, a, b)
}

// Mul sets dst[i] = a[i]·b[i], correctly rounded. All three slices must have the same length; dst may alias
// a or b.
func Mul(dst, a, b []float32) {
	checkLen3("Mul", dst, a, b)
	mulv(dst, a, b)
}

// AddTo adds src to dst: dst[i] += src[i], correctly rounded. The slices must have the same length; they may be
// the same slice.
func AddTo(dst, src []float32) {
	checkLen2("AddTo", dst, src)
	addTo(dst, src)
}

// Scale sets dst[i] = alpha·src[i], correctly rounded. The slices must have the same length; dst may alias src.
func Scale(dst, src []float32, alpha float32) {
	checkLen2("Scale", dst, src)
	scalev(dst, src, alpha)
}

func checkLen2(name string, a, b []float32) {
	if len(a) != len(b) {
		panic(fmt.Sprintf("kernel: %s of lengths %d and %d", name, len(a), len(b)))
	}
}

func checkLen3(name string, a, b, c []float32) {
	if len(a) != len(b) || len(a) != len(c) {
		panic(fmt.Sprintf("kernel: %s of lengths %d, %d and %d", name, len(a), len(b), len(c)))
	}
}

func hasNaN(x []float32) bool {
	for _, v := range x {
		if v != v {
			return true
		}
	}
	return false
}

// adamParams carries the scalars of one AdamW step, with 1−β1 and 1−β2 precomputed.
type adamParams struct {
	beta1, omb1, beta2, omb2, eps, decay, stepSize, sqrtBC2 float32
}

// ---- Pure-Go kernels. Each mirrors its assembly twin operation for operation, except that
// the assembly fuses some multiply-adds and that the reductions here add every term into
// float64 sums, where the assembly adds 16 terms per float32 lane before it folds the lanes
// into float64 sums. Either way the sums are accurate to about a float32 rounding whatever
// the row length. ----

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// copysign32 returns |x| with the sign of s.
func copysign32(x, s float32) float32 {
	return math.Float32frombits(math.Float32bits(x)&^(1<<31) | math.Float32bits(s)&(1<<31))
}

// expf returns e^x (see Exp).
func expf(x float32) float32 {
	if x < expLo {
		x = expLo
	}
	if x > expHi {
		x = expHi
	} // NaN passes both tests unchanged
	t := x * expLog2e
	n := (t + roundMagic) - roundMagic
	r := x - n*expLn2Hi
	r -= n * expLn2Lo
	p := (((expP4*r+expP3)*r+expP2)*r+expP1)*r + expP0
	p = p*(r*r) + r
	p += 1
	k := int32(n)
	k1 := k >> 1
	k2 := k - k1
	return p * math.Float32frombits(uint32(k1+127)<<23) * math.Float32frombits(uint32(k2+127)<<23)
}

// tanhf returns tanh(x) (see Tanh).
func tanhf(x float32) float32 {
	a := abs32(x)
	if a < tanhSmall {
		s := x * x
		p := (((tanhP4*s+tanhP3)*s+tanhP2)*s+tanhP1)*s + tanhP0
		return x + x*s*p
	}
	e := expf(a + a)
	return copysign32(1-2/(e+1), x)
}

// erfSmall returns erf(t) for |t| < 1.
func erfSmall(t float32) float32 {
	s := t * t
	q := (((((erfA6*s+erfA5)*s+erfA4)*s+erfA3)*s+erfA2)*s+erfA1)*s + erfA0
	return t + t*q
}

// erfcLarge returns erfc(a) for a ≥ 1 (and 0 for a = +Inf, NaN for NaN).
func erfcLarge(a float32) float32 {
	tau := 1 / (1 + 0.5*a)
	c := (((((((erfC8*tau+erfC7)*tau+erfC6)*tau+erfC5)*tau+erfC4)*tau+erfC3)*tau+erfC2)*tau+erfC1)*tau + erfC0
	return tau * expf(c-a*a)
}

// erff returns erf(t) (see Erf).
func erff(t float32) float32 {
	a := abs32(t)
	if a < 1 {
		return erfSmall(t)
	}
	return copysign32(1-erfcLarge(a), t)
}

// normCDF returns Φ(x) = 0.5·(1 + erf(x/√2)), from erfc where that avoids cancellation.
func normCDF(x float32) float32 {
	t := x * invSqrt2
	a := abs32(t)
	if a < 1 {
		return 0.5*erfSmall(t) + 0.5
	}
	h := 0.5 * erfcLarge(a)
	if math.Signbit(float64(t)) {
		return h
	}
	return 1 - h
}

func expGo(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = expf(v)
	}
}

func tanhGo(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = tanhf(v)
	}
}

func erfGo(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = erff(v)
	}
}

// maxGo returns the largest element of x (−Inf for an empty x); NaNs are skipped.
func maxGo(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// expSubSumGo sets dst[i] = e^(src[i]−shift) and returns the sum.
func expSubSumGo(dst, src []float32, shift float32) float64 {
	var s float64
	dst = dst[:len(src)]
	for i, v := range src {
		e := expf(v - shift)
		dst[i] = e
		s += float64(e)
	}
	return s
}

// sumExpSubGo returns Σ e^(src[i]−shift).
func sumExpSubGo(src []float32, shift float32) float64 {
	var s float64
	for _, v := range src {
		s += float64(expf(v - shift))
	}
	return s
}

func expSubScaleAddGo(dst, src []float32, shift, scale float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += expf(v-shift) * scale
	}
}

func softmaxBwdGo(dx, y, dy []float32, c float32) {
	y, dy = y[:len(dx)], dy[:len(dx)]
	for i := range dx {
		dx[i] += y[i] * (dy[i] - c)
	}
}

// sumGo returns Σ x, with four partial sums so that the additions pipeline.
func sumGo(x []float32) float64 {
	var s0, s1, s2, s3 float64
	for len(x) >= 4 {
		v := (*[4]float32)(x)
		s0 += float64(v[0])
		s1 += float64(v[1])
		s2 += float64(v[2])
		s3 += float64(v[3])
		x = x[4:]
	}
	for _, v := range x {
		s0 += float64(v)
	}
	return (s0 + s1) + (s2 + s3)
}

// sumDevGo returns Σ(x−mean) and Σ(x−mean)², each x−mean rounded to float32 as in the
// assembly.
func sumDevGo(x []float32, mean float32) (s1, s2 float64) {
	for _, v := range x {
		d := float64(v - mean)
		s1 += d
		s2 += d * d
	}
	return s1, s2
}

// lnApplyGo sets out = ((x−mean)−mlo)·rstd·w + b (b may be nil); mlo is the rounding error
// of mean.
func lnApplyGo(out, x, w, b []float32, mean, mlo, rstd float32) {
	x, w = x[:len(out)], w[:len(out)]
	if b == nil {
		for i := range out {
			out[i] = ((x[i] - mean) - mlo) * rstd * w[i]
		}
		return
	}
	b = b[:len(out)]
	for i := range out {
		out[i] = ((x[i]-mean)-mlo)*rstd*w[i] + b[i]
	}
}

// lnBwdSumsGo returns Σ dout·w and Σ dout·w·xhat.
func lnBwdSumsGo(dout, x, w []float32, mean, rstd float32) (sg, sgx float64) {
	x, w = x[:len(dout)], w[:len(dout)]
	for i, d := range dout {
		g := d * w[i]
		sg += float64(g)
		sgx += float64(g) * float64((x[i]-mean)*rstd)
	}
	return sg, sgx
}

func lnBwdApplyGo(dx, dout, x, w []float32, mean, rstd, ca, cb float32) {
	dout, x, w = dout[:len(dx)], x[:len(dx)], w[:len(dx)]
	for i := range dx {
		xhat := (x[i] - mean) * rstd
		dx[i] += rstd * (dout[i]*w[i] - ca - xhat*cb)
	}
}

func lnParamGradGo(dw, db, dout, x []float32, mean, rstd float32) {
	dout, x = dout[:len(dw)], x[:len(dw)]
	for i := range dw {
		dw[i] += dout[i] * ((x[i] - mean) * rstd)
	}
	if db != nil {
		db = db[:len(dw)]
		for i := range db {
			db[i] += dout[i]
		}
	}
}

// geluTanhf returns x/(1 + e^(−2u)) (see GELUTanh).
func geluTanhf(x float32) float32 {
	x = max(x, -math.MaxFloat32) // −Inf would give −Inf·0; NaN passes
	e := expf(x * (geluC2*(x*x) + geluC1))
	return x / (1 + e)
}

// geluTanhGradf returns d/dx of geluTanhf: with e = e^(−2u) and s = σ(2u) = 1/(1+e),
// gelu' = s + x·s·(1−s)·d(2u)/dx = s·(1 + x·k·(e·s)), k = d(2u)/dx.
func geluTanhGradf(x float32) float32 {
	if x < geluGradMin {
		return 0
	}
	xc := min(x, geluGradMax)
	x2 := xc * xc
	e := expf(xc * (geluC2*x2 + geluC1))
	s := 1 / (1 + e)
	k := geluK3*x2 - geluC1
	t := xc * k * (e * s) // e·s = 1−s, kept apart from e, which may be near MaxFloat32
	return s*t + s
}

func geluTanhGo(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = geluTanhf(v)
	}
}

func geluTanhBwdGo(dx, dy, x []float32) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for i := range dx {
		dx[i] += geluTanhGradf(x[i]) * dy[i]
	}
}

func geluErfGo(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		v = max(v, -math.MaxFloat32)
		dst[i] = v * normCDF(v)
	}
}

// geluErfGradf returns Φ(x) + x·φ(x).
func geluErfGradf(x float32) float32 {
	xc := min(max(x, -erfGradMax), erfGradMax)
	return normCDF(x) + xc*(expf(-0.5*(xc*xc))*invSqrt2Pi)
}

func geluErfBwdGo(dx, dy, x []float32) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for i := range dx {
		dx[i] += geluErfGradf(x[i]) * dy[i]
	}
}

// adamwGo is the pure-Go AdamWStep. The float32 conversions round each product as written,
// so that no build (GOAMD64=v3 may fuse a multiply and an add) departs from the assembly.
func adamwGo(w, g, m, v []float32, p adamParams) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for i := range w {
		gi := g[i]
		mi := float32(p.beta1*m[i]) + float32(p.omb1*gi)
		vi := float32(p.beta2*v[i]) + float32(float32(p.omb2*gi)*gi)
		m[i], v[i] = mi, vi
		den := float32(math.Sqrt(float64(vi)))/p.sqrtBC2 + p.eps
		w[i] = float32(w[i]*p.decay) - float32(p.stepSize*mi)/den
	}
}

func addGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

func mulGo(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

func addToGo(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

func scaleGo(dst, src []float32, alpha float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = alpha * v
	}
}
