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
	ip0 := 0
	if transA && mr == 12 && packDepthPanels48 != nil {
		// Four whole micro-panels at a time: each pair of rows of A is read once for the 48
		// columns, not once for each micro-panel.
		for ; (ip0+4)*mr <= mb; ip0 += 4 {
			packDepthPairs48(dst[ip0*mr*kc:], mr*kc, a[p0*lda+i0+ip0*mr:], lda, kc)
		}
	}
	for ip := ip0; ip*mr < mb; ip++ {
		r0 := i0 + ip*mr
		h := min(mr, i0+mb-r0)
		d := dst[ip*mr*kc : ip*mr*kc+pairs*mr]
		if h < mr {
			clear(d)
		}
		if transA {
			// The rows of the micro-panel are contiguous in each row of A.
			packDepthPairs(d, mr, a[p0*lda+r0:], lda, kc, h)
			continue
		}
		// Each row of the micro-panel is contiguous in a row of A; the unused second half of
		// the micro-panel's slot holds the rows' pair words until they are transposed.
		packRowsPairs(d, mr, a[r0*lda+p0:], lda, kc, h, dst[ip*mr*kc+pairs*mr:(ip+1)*mr*kc])
	}
}

// packPairsB is packB for a kernel of pairs: micro-panels [jp0, jp1) of the block of op(B)
// at depth [p0, p0+kc) and columns [j0, j0+nb), micro-panel jp at dst[jp·NR·kc:], element
// (pair p, column c) at [p·NR + c], rows of pairs past ⌈kc/2⌉ zero up to rows (pairRows; at
// most kc).
func packPairsB(nr, rows int, dst []float32, transB bool, b []float32, ldb, p0, kc, j0, nb, jp0, jp1 int) {
	pairs := (kc + 1) / 2
	for jp := jp0; jp < jp1; jp++ {
		c0 := j0 + jp*nr
		w := min(nr, j0+nb-c0)
		d := dst[jp*nr*kc : jp*nr*kc+pairs*nr]
		if w < nr {
			clear(d)
		}
		if !transB {
			// The columns of the micro-panel are contiguous in each row of B.
			packDepthPairs(d, nr, b[p0*ldb+c0:], ldb, kc, w)
			continue
		}
		// Each column is contiguous in a row of B (as for A in packPairsA).
		packRowsPairs(d, nr, b[c0*ldb+p0:], ldb, kc, w, dst[jp*nr*kc+pairs*nr:(jp+1)*nr*kc])
	}
	for jp := jp0; jp < jp1 && rows > pairs; jp++ {
		clear(dst[jp*nr*kc+pairs*nr : jp*nr*kc+rows*nr]) // after packRowsPairs used it
	}
}

// packPairsBT, where set, transposes a full micro-panel of 32-bit words: d[p·nr + c] =
// b[c·ldb + p] for c < nr, p < k (packBTransAsm).
var packPairsBT func(k, nr int, b []float32, ldb int, d []float32)

// packDepthPairs writes the (kc+1)/2 pairs of depths of a micro-panel whose width columns are
// contiguous in the rows of x (row stride ldx, depth p in row p): d[p·ldd + c] =
// pair(x[2p·ldx + c], x[(2p+1)·ldx + c]), the last depth paired with 0 when kc is odd.
func packDepthPairs(d []float32, ldd int, x []float32, ldx, kc, width int) {
	packPanelPairs(d, ldd, x, ldx, kc/2, width)
	if kc%2 == 1 {
		p := kc / 2
		for c, v := range x[2*p*ldx : 2*p*ldx+width] {
			d[p*ldd+c] = pair(v, 0)
		}
	}
}

// packDepthPairs48 is packDepthPairs for four 12-column micro-panels at once, panel floats
// apart (packDepthPanels48 must be set): depth p of column c at word p/2 of row c%12 of
// micro-panel c/12, the last depth paired with 0 when kc is odd.
func packDepthPairs48(d []float32, panel int, x []float32, ldx, kc int) {
	packDepthPanels48(d, panel, x, ldx, kc/2)
	if kc%2 == 1 {
		p := kc / 2
		for c, v := range x[2*p*ldx : 2*p*ldx+48] {
			d[c/12*panel+p*12+c%12] = pair(v, 0)
		}
	}
}

// packRowsPairs packs a micro-panel of width ldd whose first w columns are rows of x (row
// stride ldx): d[p·ldd + c] = pair(x[c·ldx + 2p], x[c·ldx + 2p + 1]) for p < (kc+1)/2, the
// last depth paired with 0 when kc is odd. It converts each row into tmp (w·⌊kc/2⌋ words),
// then transposes.
func packRowsPairs(d []float32, ldd int, x []float32, ldx, kc, w int, tmp []float32) {
	q := kc / 2
	for c := range w {
		packRowPairs(tmp[c*q:(c+1)*q], x[c*ldx:c*ldx+2*q], 4*ldx) // prefetch the next row
	}
	switch {
	case w == ldd && w == 12:
		packInterleave6x2(q, tmp, q, d)
	case w == ldd && w%16 == 0 && packPairsBT != nil:
		packPairsBT(q, w, tmp, q, d)
	default:
		for c := range w {
			for p, v := range tmp[c*q : (c+1)*q] {
				d[p*ldd+c] = v
			}
		}
	}
	if kc%2 == 1 {
		for c := range w {
			d[q*ldd+c] = pair(x[c*ldx+kc-1], 0)
		}
	}
}

// packDepthPanels48, where set (AVX-512), writes four 12-column micro-panels of pairs, panel
// floats apart, from 48 columns of x: d[(c/12)·panel + p·12 + c%12] = pair(x[2p·ldx + c],
// x[(2p+1)·ldx + c]) for c < 48, p < pairs.
var packDepthPanels48 func(d []float32, panel int, x []float32, ldx, pairs int)

// packPanelPairs writes d[p·ldd + c] = pair(x[2p·ldx + c], x[(2p+1)·ldx + c]) for c < width,
// p < pairs.
var packPanelPairs = packPanelPairsGo

// packPanelPairsGo is packPanelPairs in Go.
func packPanelPairsGo(d []float32, ldd int, x []float32, ldx, pairs, width int) {
	for p := range pairs {
		lo, hi := x[2*p*ldx:2*p*ldx+width], x[(2*p+1)*ldx:(2*p+1)*ldx+width]
		dp := d[p*ldd : p*ldd+width]
		for c, v := range lo {
			dp[c] = pair(v, hi[c])
		}
	}
}

// packRowPairs writes d[i] = pair(src[2i], src[2i+1]) for the (len(src)+1)/2 words of d,
// pairing a last odd element with 0. ahead, when not 0, is a hint: the distance in bytes from
// src to what is converted next, which a kernel may prefetch as it goes.
var packRowPairs = packRowPairsGo

// packRowPairsRuns is packRowPairs with d's words in runs of 16, run i at d[i·stride:] (the
// AMX kernel's tile rows).
var packRowPairsRuns = packRowPairsRunsGo

// packRowPairsRunsGo is packRowPairsRuns in Go (it takes no hint).
func packRowPairsRunsGo(d, src []float32, stride, _ int) {
	for i := 0; 2*i < len(src); i += 16 {
		run := src[2*i : min(len(src), 2*i+32)]
		packRowPairsGo(d[i/16*stride:i/16*stride+(len(run)+1)/2], run, 0)
	}
}

// packRowPairsGo is packRowPairs in Go (it takes no hint).
func packRowPairsGo(d, src []float32, _ int) {
	n := len(src) / 2
	d = d[:(len(src)+1)/2]
	for i := range n {
		d[i] = pair(src[2*i], src[2*i+1])
	}
	if len(src)%2 == 1 {
		d[n] = pair(src[len(src)-1], 0)
	}
}
