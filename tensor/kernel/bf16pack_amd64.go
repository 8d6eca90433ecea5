//go:build amd64 && !purego

package kernel

import "unsafe"

// bf16PanelAVX512 writes d[p·ldd + c] = pair(x[2p·ldx + c], x[(2p+1)·ldx + c]) for
// c < width ≤ 32, p < pairs, rounding on VCVTNE2PS2BF16 where cvt is set (the CPU has
// AVX512-BF16), with the same bits (bf16pack_amd64.s).
//
//go:noescape
func bf16PanelAVX512(d *float32, ldd int, x *float32, ldx, pairs, width int, cvt bool)

// bf16Panels48AVX512 writes four 12-column micro-panels of pairs, panel floats apart, from 48
// columns of x: d[(c/12)·panel + p·12 + c%12] = pair(x[2p·ldx + c], x[(2p+1)·ldx + c]) for
// c < 48, p < pairs (bf16pack_amd64.s).
//
//go:noescape
func bf16Panels48AVX512(d *float32, panel int, x *float32, ldx, pairs int)

// bf16RowPairsAVX512 writes d[i] = pair(src[2i], src[2i+1]) for i < n, n a multiple of 8,
// in runs of 16 words ds bytes apart (64: one run), prefetching the bytes ahead further on
// when ahead is not 0, rounding on VCVTNE2PS2BF16 where cvt is set, with the same bits
// (bf16pack_amd64.s).
//
//go:noescape
func bf16RowPairsAVX512(d, src *float32, n, ahead, ds int, cvt bool)

// bf16Cvt selects the packers' VCVTNE2PS2BF16 steps: where the CPU (and QKV_CPU) has
// AVX512-BF16. Tests turn it off to compare the two.
var bf16Cvt = hasBF16

func init() {
	if useAsm && useAVX512 {
		packPanelPairs = packPanelPairsAVX512
		packPairsBT = packBTransAsm
		packRowPairs = packRowPairsAVX512
		packRowPairsRuns = packRowPairsRunsAVX512
		packDepthPanels48 = packDepthPanels48AVX512
	}
	pairsGemv := asmPanelGemv(32, gemvPanelBF16, gemvPanels4BF16)
	gemmKernelBF16.gemv, gemmKernelAMX.gemv = pairsGemv, pairsGemv
}

// packPanelPairsAVX512 is packPanelPairs on AVX-512.
func packPanelPairsAVX512(d []float32, ldd int, x []float32, ldx, pairs, width int) {
	for c := 0; c < width; c += 32 {
		w := min(32, width-c)
		if pairs > 0 && w > 0 {
			_, _ = d[(pairs-1)*ldd+c+w-1], x[(2*pairs-1)*ldx+c+w-1]
			bf16PanelAVX512(&d[c], ldd, &x[c], ldx, pairs, w, bf16Cvt)
		}
	}
}

// packDepthPanels48AVX512 is packDepthPanels48 on AVX-512.
func packDepthPanels48AVX512(d []float32, panel int, x []float32, ldx, pairs int) {
	if pairs > 0 {
		_, _ = d[3*panel+pairs*12-1], x[(2*pairs-1)*ldx+47]
		bf16Panels48AVX512(&d[0], panel, &x[0], ldx, pairs)
	}
}

// packRowPairsAVX512 is packRowPairs on AVX-512: one run.
func packRowPairsAVX512(d, src []float32, ahead int) { packRowPairsRunsAVX512(d, src, 16, ahead) }

// packRowPairsRunsAVX512 is packRowPairsRuns on AVX-512.
func packRowPairsRunsAVX512(d, src []float32, stride, ahead int) {
	n := len(src) / 2
	n8 := n &^ 7
	if n8 > 0 {
		_, _ = d[(n8-1)/16*stride+(n8-1)%16], src[2*n8-1]
		bf16RowPairsAVX512(unsafe.SliceData(d), unsafe.SliceData(src), n8, ahead, 4*stride, bf16Cvt)
	}
	if rest := (len(src)+1)/2 - n8; rest > 0 { // in the run of word n8
		o := n8/16*stride + n8%16
		packRowPairsGo(d[o:o+rest], src[2*n8:], 0)
	}
}

// gemvPanelBF16 writes out[c] = Σ_p x_p·B[p][c] for the 32 columns of one micro-panel of
// pairs b over pairs pair words of x at xp (gemvpanels_amd64.s).
//
//go:noescape
func gemvPanelBF16(pairs int, xp, b, out *float32)

// gemvPanels4BF16 is gemvPanelBF16 on the four micro-panels at b + i·stride bytes, i < 4,
// into out[32·i:] (gemvpanels_amd64.s).
//
//go:noescape
func gemvPanels4BF16(pairs int, xp, b *float32, stride int, out *float32)
