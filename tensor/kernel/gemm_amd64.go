//go:build amd64 && !purego

package kernel

// sgemmKernelAVX2 is the AVX2/FMA micro-kernel (gemm_amd64.s): it computes the 6×16 tile
// C = alpha·(Ap·Bp) + beta·C from a packed (k, 6) micro-panel Ap and a packed (k, 16)
// micro-panel Bp; C has row stride ldc. beta == 0 does not read C.
//
//go:noescape
func sgemmKernelAVX2(k int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernel runs the micro-kernel the CPU supports.
func sgemmKernel(k int, a, b, c *float32, ldc int, alpha, beta float32) {
	if useAsm {
		sgemmKernelAVX2(k, a, b, c, ldc, alpha, beta)
		return
	}
	sgemmKernelGo(k, a, b, c, ldc, alpha, beta)
}

// packBTransAVX2 packs a 16-column micro-panel of op(B) = Bᵀ: dst[p·16+c] = B[c][p] for
// c < 16, p < k, where B has row stride ldb; k must be a multiple of 8.
//
//go:noescape
func packBTransAVX2(k int, b *float32, ldb int, dst *float32)

// packBTrans packs a full 16-column micro-panel of Bᵀ (see packB): d[p·16+c] = b[c·ldb+p]
// for p < kc.
func packBTrans(kc int, b []float32, ldb int, d []float32) {
	k8 := 0
	if useAsm {
		k8 = kc &^ 7
		if k8 > 0 {
			_ = b[(gemmNR-1)*ldb+k8-1]
			_ = d[k8*gemmNR-1]
			packBTransAVX2(k8, &b[0], ldb, &d[0])
		}
	}
	packBTransGo(kc-k8, b[k8:], ldb, d[k8*gemmNR:])
}
