package kernel

import (
	"math"
)

// bfloat16 compute: Sgemm with inputs rounded to bfloat16 and products summed in float32.
//
// With SetCompute(BF16) on a CPU with AVX512-BF16, Sgemm rounds op(A) and op(B) to bfloat16
// (nearest, ties to even) as it packs them, and its micro-kernel multiplies pairs of them
// with VDPBF16PS, which adds two products to each float32 lane per instruction: twice the
// multiply-adds of an FMA, from micro-panels of half the bytes. The float32 operands
// themselves are not changed (in training the weights stay the float32 master copy); each
// product is that of the rounded inputs, so a result carries a relative error of about 2⁻⁸
// per input on top of the float32 sums. Matrix–vector products (m == 1 or n == 1) stay float32:
// they are memory-bound.
//
// A packed micro-panel of pairs holds, for each pair of depths (2p, 2p+1), one 32-bit word per
// row (A) or column (B): the bfloat16 of depth 2p in the low half, of depth 2p+1 in the high
// half (zero past k). It sits at the start of the slot a float32 micro-panel of the same tile
// would take, using half of it.

// Compute is the arithmetic Sgemm uses.
type Compute string

const (
	FP32Compute Compute = "fp32" // float32 inputs and sums
	BF16Compute Compute = "bf16" // bfloat16 inputs, float32 sums (AVX512-BF16)
)

// computeBF16 is set while Sgemm computes in bfloat16.
var computeBF16 bool

// SetCompute sets the arithmetic of Sgemm for the whole process. BF16Compute needs
// AVX512-BF16 (VDPBF16PS); where the CPU (or QKV_CPU) lacks it the error says so and Sgemm
// stays float32. Call it before starting work, not while multiplies are running.
func SetCompute(c Compute) error {
	switch c {
	case FP32Compute, "":
		computeBF16 = false
		return nil
	case BF16Compute:
		if !hasBF16 {
			computeBF16 = false
			return errNoBF16
		}
		computeBF16 = true
		return nil
	}
	return &computeError{"compute " + string(c) + ": want fp32 or bf16"}
}

// ActiveCompute returns the arithmetic Sgemm uses now.
func ActiveCompute() Compute {
	if computeBF16 && useAsm && useAVX512 && useBF16 {
		return BF16Compute
	}
	return FP32Compute
}

type computeError struct{ msg string }

func (e *computeError) Error() string { return e.msg }

var errNoBF16 = &computeError{"bf16 compute needs AVX512-BF16 (VDPBF16PS), which this CPU lacks (or QKV_CPU turned off): computing in fp32"}

// pair returns the 32-bit word of the bfloat16 pair (lo, hi).
func pair(lo, hi float32) float32 {
	return math.Float32frombits(uint32(bf16Round(lo)) | uint32(bf16Round(hi))<<16)
}

// packPairsA is packA for a kernel of pairs: the micro-panels of rows [i0, i0+mb) of op(A) at
// depth [p0, p0+kc), micro-panel ip at dst[ip·MR·kc:], element (pair p, row r) at
// [p·MR + r].
func packPairsA(mr int, dst []float32, transA bool, a []float32, lda, i0, mb, p0, kc int) {
	pairs := (kc + 1) / 2
	for ip := 0; ip*mr < mb; ip++ {
		r0 := i0 + ip*mr
		h := min(mr, i0+mb-r0)
		d := dst[ip*mr*kc : ip*mr*kc+pairs*mr]
		if h < mr {
			clear(d)
		}
		for r := range h {
			if transA {
				col := a[p0*lda+r0+r:]
				for p := range kc / 2 {
					d[p*mr+r] = pair(col[2*p*lda], col[(2*p+1)*lda])
				}
				if kc%2 == 1 {
					d[(pairs-1)*mr+r] = pair(col[(kc-1)*lda], 0)
				}
				continue
			}
			row := a[(r0+r)*lda+p0 : (r0+r)*lda+p0+kc]
			for p := range kc / 2 {
				d[p*mr+r] = pair(row[2*p], row[2*p+1])
			}
			if kc%2 == 1 {
				d[(pairs-1)*mr+r] = pair(row[kc-1], 0)
			}
		}
	}
}

// packPairsB is packB for a kernel of pairs: micro-panels [jp0, jp1) of the block of op(B)
// at depth [p0, p0+kc) and columns [j0, j0+nb), micro-panel jp at dst[jp·NR·kc:], element
// (pair p, column c) at [p·NR + c].
func packPairsB(nr int, dst []float32, transB bool, b []float32, ldb, p0, kc, j0, nb, jp0, jp1 int) {
	pairs := (kc + 1) / 2
	for jp := jp0; jp < jp1; jp++ {
		c0 := j0 + jp*nr
		w := min(nr, j0+nb-c0)
		d := dst[jp*nr*kc : jp*nr*kc+pairs*nr]
		if w < nr {
			clear(d)
		}
		if !transB {
			for p := range pairs {
				lo := b[(p0+2*p)*ldb+c0 : (p0+2*p)*ldb+c0+w]
				dp := d[p*nr : p*nr+w]
				if 2*p+1 < kc {
					packPairRows(dp, lo, b[(p0+2*p+1)*ldb+c0:(p0+2*p+1)*ldb+c0+w])
				} else {
					for c, v := range lo {
						dp[c] = pair(v, 0)
					}
				}
			}
			continue
		}
		for c := range w {
			row := b[(c0+c)*ldb+p0 : (c0+c)*ldb+p0+kc]
			for p := range kc / 2 {
				d[p*nr+c] = pair(row[2*p], row[2*p+1])
			}
			if kc%2 == 1 {
				d[(pairs-1)*nr+c] = pair(row[kc-1], 0)
			}
		}
	}
}

// packPairRows writes d[c] = pair(lo[c], hi[c]) (same lengths).
var packPairRows = packPairRowsGo

// packPairRowsGo writes d[c] = pair(lo[c], hi[c]) (same lengths).
func packPairRowsGo(d, lo, hi []float32) {
	hi = hi[:len(lo)]
	d = d[:len(lo)]
	for c, v := range lo {
		d[c] = pair(v, hi[c])
	}
}
