package kernel

import (
	"math"
	"unsafe"
)

// Quantised activations for the int8 GEMV on VNNI.
//
// Where the CPU has AVX512-VNNI (or AVX-VNNI without AVX-512), an int8 GEMV quantises its
// input row too: x ≈ sx·xq with one scale sx = max|x|/127 for the row and xq = round(x/sx) in
// [−127, 127], so that VPDPBUSD multiplies int8 weights by int8 activations and sums each
// group's products exactly in int32, 64 products per instruction (32 on AVX-VNNI). Output j
// is then
//
//	y[j] = sx · Σ_g s[j][g] · Σ_{p in g} q[j][p]·xq[p]   (the whole groups)
//	     + Σ_{p in the last, shorter group} q[j][p]·s[j][g]·x[p]   (in float32, x unrounded)
//
// The rounding of x adds an error of at most sx/2 per input: about 0.9% of the RMS output
// for GPT-2-like rows against 0.5% for the weights alone (TestQuantAccuracy). A row with a
// NaN or an infinity, or all zeros, is not quantised: it runs the float32 kernels, so a NaN
// still comes out as a NaN.

// q8Act is one input row quantised for the VNNI kernel, in the layout the kernel reads: for
// each step of 64 inputs, the 64 bytes xq, then 16 int32 nc[l] = −128·Σ_{i<4} xq[4l+i] (the
// correction of VPDPBUSD's unsigned operand, see gemvQ8VNNI); a last odd group of 32 inputs
// fills the first half of both.
type q8Act struct {
	xn []int32 // 32 int32 per step: 16 of packed xq, 16 of nc
	s  float32 // sx
	k0 int     // the inputs in whole groups
}

// q8ActStep is the int32s of xn per 64 inputs.
const q8ActStep = 32

// xq returns the quantised input p < k0.
func (a *q8Act) xq(p int) int8 {
	b := unsafe.Slice((*int8)(unsafe.Pointer(&a.xn[0])), 4*len(a.xn))
	return b[p/64*4*q8ActStep+p%64]
}

// quantize sets a to the quantised whole groups of x and reports whether the VNNI kernel can
// take them: x is finite and not all zero, and it has at least one whole group.
func (a *q8Act) quantize(x []float32) bool {
	k0 := len(x) / Q8Group * Q8Group
	if k0 == 0 {
		return false
	}
	// The largest magnitude, on the bits: for non-negative floats their order is the
	// integers'; anything above the bits of +Inf is a NaN.
	var mb uint32
	if useAsm {
		mb = q8AbsMaxAVX2(k0, &x[0])
	} else {
		for _, v := range x[:k0] {
			mb = max(mb, math.Float32bits(v)&0x7fffffff)
		}
	}
	if mb == 0 || mb >= 0x7f800000 { // zero, infinite or NaN
		return false
	}
	mx := math.Float32frombits(mb)
	a.k0, a.s = k0, mx/127
	a.xn = quantGrow(a.xn, (k0+63)/64*q8ActStep)
	inv := 127 / mx
	if math.IsInf(float64(inv), 0) {
		// mx is subnormal: scale up first, so that x·inv stays finite and exact enough.
		return a.quantizeGo(x[:k0], 0, 0)
	}
	done := 0
	switch {
	case !useAsm:
	case useAVX512 && useVNNI:
		if chunks := k0 / 64; chunks > 0 {
			q8QuantizeVNNI(chunks, &x[0], inv, &a.xn[0])
			done = chunks * 64
		}
	default:
		// AVX2, as on AVX-VNNI without AVX-512: every whole group, the odd last one too.
		q8QuantizeAVX2(k0/Q8Group, &x[0], inv, &a.xn[0])
		done = k0
	}
	return a.quantizeGo(x[done:k0], inv, done)
}

// quantizeGo quantises x, the inputs from p0 on, into a.xn: round(x·inv), or round(x/sx)
// when inv is 0. It reports true.
func (a *q8Act) quantizeGo(x []float32, inv float32, p0 int) bool {
	if len(x) == 0 {
		return true
	}
	b := unsafe.Slice((*int8)(unsafe.Pointer(&a.xn[0])), 4*len(a.xn))
	for i, v := range x {
		var r float64
		if inv == 0 {
			r = float64(v) / float64(a.s)
		} else {
			r = float64(v * inv)
		}
		p := p0 + i
		b[p/64*4*q8ActStep+p%64] = int8(max(-127, min(127, math.RoundToEven(r))))
	}
	for l := p0 / 4; l < (p0+len(x))/4; l++ {
		p := 4 * l
		var sum int32
		for i := range 4 {
			sum += int32(a.xq(p + i))
		}
		a.xn[p/64*q8ActStep+16+p%64/4] = -128 * sum
	}
	return true
}

// q8RowsActGo sets t[i] = Σ_p W[j0+i][p]·x[p] for the rows j0 ≤ j0+i < j0+len(t), as the VNNI
// kernel computes it: the whole groups from the quantised activations a (each group's sum
// exact in int32, scaled in float32), the last, shorter group from x.
func q8RowsActGo(m *Q8Matrix, j0 int, a *q8Act, x, t []float32) {
	k, gs := m.K, q8Groups(m.K)
	full := a.k0 / Q8Group
	for i := range t {
		j := j0 + i
		q, s := m.Q[j*k:(j+1)*k], m.Scales[j*gs:(j+1)*gs]
		var acc float32
		for g := range full {
			var d int32
			for p := g * Q8Group; p < (g+1)*Q8Group; p++ {
				d += int32(q[p]) * int32(a.xq(p))
			}
			acc += s[g] * float32(d)
		}
		t[i] = a.s * acc
		if full < gs {
			t[i] += q8DotGo(q[a.k0:], s[full:], x[a.k0:k])
		}
	}
}
