//go:build amd64 && !purego

package kernel

// sgemmKernelAVX2 is the AVX2/FMA micro-kernel (gemm_amd64.s): it computes the 6×16 tile
// C = alpha·(Ap·Bp) + beta·C from a (k, 6) micro-panel Ap with step stride sa (6 when
// packed; A element (p, i) at a[p·sa + i]) and a (k, 16) micro-panel Bp with row stride sb
// (16 when packed); C has row stride ldc. beta == 0 does not read C.
//
//go:noescape
func sgemmKernelAVX2(k int, a *float32, sa int, b *float32, sb int, c *float32, ldc int, alpha, beta float32)

// packBTransAVX2 packs 16 columns of op(B) = Bᵀ: dst[p·ldd + c] = B[c][p] for c < 16,
// p < k, where B has row stride ldb; k must be a multiple of 8.
//
//go:noescape
func packBTransAVX2(k int, b *float32, ldb int, dst *float32, ldd int)

// gemmKernelAVX2 describes the AVX2/FMA micro-kernel. It takes any strides, so a transposed A
// (its columns) and a row-major B can be read in place: a prefill's product of a few rows by
// a weight then reads the weight once instead of copying it into micro-panels first.
var gemmKernelAVX2 = &gemmKernel{
	name: "avx2",
	mr:   6, nr: 16,
	tile:    sgemmTileAVX2,
	inPlace: true,
	aUses:   16, bUses: 16, bMany: gemmInPlaceB,
	packBT: func(kc int, b []float32, ldb int, d []float32) { packBTransAsm(kc, 16, b, ldb, d) },
	packBN: func(kc int, b []float32, ldb int, d []float32) { copyRows(kc, 16, b, ldb, d) },
}

// copyRows copies nr floats (16 or 32, the latter only where AVX-512 runs) from each of kc
// rows of b (row stride ldb) into d, one after another, prefetching the rows ahead.
func copyRows(kc, nr int, b []float32, ldb int, d []float32) {
	if kc > 0 {
		_, _ = b[(kc-1)*ldb+nr-1], d[kc*nr-1]
		copyRowsAsm(kc, &b[0], ldb, &d[0], nr)
	}
}

// copyRowsAsm is copyRows without the bounds checks (pack_amd64.s).
//
//go:noescape
func copyRowsAsm(kc int, b *float32, ldb int, d *float32, nr int)

// sgemmTileAVX2 runs the AVX2 micro-kernel under the tileFunc contract: a partial tile is
// computed whole into a scratch tile (from operands the driver packed, so that the rows and
// columns past it are there) and its corner copied to C.
func sgemmTileAVX2(k int, a *float32, sa int, b *float32, sb int, c *float32, ldc, mr, nr int, alpha, beta float32) {
	if mr == 6 && nr == 16 {
		sgemmKernelAVX2(k, a, sa, b, sb, c, ldc, alpha, beta)
		return
	}
	var tile [6 * 16]float32
	sgemmKernelAVX2(k, a, sa, b, sb, &tile[0], 16, 1, 0)
	for r := range mr {
		crow := cRow(c, ldc, r, nr)
		trow := tile[r*16 : r*16+nr]
		if beta == 0 {
			for x, v := range trow {
				crow[x] = alpha * v
			}
		} else {
			for x, v := range trow {
				crow[x] = alpha*v + beta*crow[x]
			}
		}
	}
}

// packBTransAsm packs a full nr-column micro-panel of Bᵀ (nr a multiple of 16):
// d[p·nr + c] = b[c·ldb + p] for c < nr, p < kc, 16 columns per call of the AVX2 packer.
func packBTransAsm(kc, nr int, b []float32, ldb int, d []float32) {
	k8 := kc &^ 7
	if k8 > 0 {
		_ = b[(nr-1)*ldb+k8-1]
		_ = d[(k8-1)*nr+nr-1]
		for c := 0; c < nr; c += 16 {
			packBTransAVX2(k8, &b[c*ldb], ldb, &d[c], nr)
		}
	}
	if k8 < kc {
		for p := k8; p < kc; p++ {
			for c := range nr {
				d[p*nr+c] = b[c*ldb+p]
			}
		}
	}
}

// activeGemmKernel returns the micro-kernel Sgemm runs: bfloat16 compute when it is set
// (SetCompute) and the CPU has AVX512-BF16 (on AMX where it has that too), else AVX-512 where
// the CPU has it and useAVX512 is set, else AVX2/FMA where useAsm is set, else pure Go.
func activeGemmKernel() *gemmKernel {
	switch {
	case useAsm && useAVX512 && useBF16 && useAMX && computeBF16:
		return gemmKernelAMX
	case useAsm && useAVX512 && useBF16 && computeBF16:
		return gemmKernelBF16
	}
	return floatGemmKernel()
}

// floatGemmKernel returns the micro-kernel Sgemm runs in float32 compute.
func floatGemmKernel() *gemmKernel {
	switch {
	case useAsm && useAVX512:
		return gemmKernel512
	case useAsm:
		return gemmKernelAVX2
	}
	return gemmKernelGo
}

// gemmKernelFor returns the micro-kernel of a product of depth k: the active one, except that
// the AMX kernel leaves depths under amxMinDepth (whose padded steps would be mostly zeros) to
// the VDPBF16PS kernel.
func gemmKernelFor(k int) *gemmKernel {
	K := activeGemmKernel()
	if K.amx && k < amxMinDepth {
		return gemmKernelBF16
	}
	return K
}
