//go:build amd64 && !purego

#include "textflag.h"

// func gemvPanelF32(k int, x, b, out *float32)
//
// out[c] = Σ_p x_p · B[p][c] for the 32 columns of one float32 micro-panel (see PanelMatrix):
// x holds the k inputs, b the panel (k × 32 floats, 128 bytes a row). The float32 twin of
// gemvPanelBF16 (gemvpanels_amd64.s), with the same steps: four rows per step into eight
// accumulators (two per row: columns 0–15 and 16–31), so that the FMA's latency does not
// limit the stream; the panel is read 1 KiB ahead.
//
// Registers: CX k, SI x, DI b, DX out, BX steps of four; Z0–Z7 the panel, Z8–Z11 the
// broadcast inputs, Z16–Z23 the sums.
TEXT ·gemvPanelF32(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ out+24(FP), DX
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	MOVQ CX, BX
	SHRQ $2, BX
	JZ   gemvTail

gemvLoop4:
	PREFETCHT0 1024(DI)
	PREFETCHT0 1088(DI)
	PREFETCHT0 1152(DI)
	PREFETCHT0 1216(DI)
	PREFETCHT0 1280(DI)
	PREFETCHT0 1344(DI)
	PREFETCHT0 1408(DI)
	PREFETCHT0 1472(DI)
	VMOVUPS   0(DI), Z0
	VMOVUPS   64(DI), Z1
	VMOVUPS   128(DI), Z2
	VMOVUPS   192(DI), Z3
	VMOVUPS   256(DI), Z4
	VMOVUPS   320(DI), Z5
	VMOVUPS   384(DI), Z6
	VMOVUPS   448(DI), Z7
	VBROADCASTSS 0(SI), Z8
	VBROADCASTSS 4(SI), Z9
	VBROADCASTSS 8(SI), Z10
	VBROADCASTSS 12(SI), Z11
	VFMADD231PS  Z0, Z8, Z16
	VFMADD231PS  Z1, Z8, Z17
	VFMADD231PS  Z2, Z9, Z18
	VFMADD231PS  Z3, Z9, Z19
	VFMADD231PS  Z4, Z10, Z20
	VFMADD231PS  Z5, Z10, Z21
	VFMADD231PS  Z6, Z11, Z22
	VFMADD231PS  Z7, Z11, Z23
	ADDQ $512, DI
	ADDQ $16, SI
	DECQ BX
	JNZ  gemvLoop4

gemvTail:
	ANDQ $3, CX
	JZ   gemvDone

gemvLoop1:
	VMOVUPS      0(DI), Z0
	VMOVUPS      64(DI), Z1
	VBROADCASTSS (SI), Z8
	VFMADD231PS  Z0, Z8, Z16
	VFMADD231PS  Z1, Z8, Z17
	ADDQ $128, DI
	ADDQ $4, SI
	DECQ CX
	JNZ  gemvLoop1

gemvDone:
	VADDPS    Z18, Z16, Z16
	VADDPS    Z20, Z16, Z16
	VADDPS    Z22, Z16, Z16
	VADDPS    Z19, Z17, Z17
	VADDPS    Z21, Z17, Z17
	VADDPS    Z23, Z17, Z17
	VMOVUPS   Z16, (DX)
	VMOVUPS   Z17, 64(DX)
	VZEROUPPER
	RET

// func gemvPanels4F32(k int, x, b *float32, stride int, out *float32)
//
// gemvPanelF32 for four micro-panels at once, b + i·stride bytes for i < 4, into out[32·i:],
// as gemvPanels4BF16. One row per step; each stream read 1 KiB ahead.
//
// Registers: CX k, SI x, R8–R11 the panels, DX out; Z0–Z7 the panels' vectors, Z8 the
// broadcast input, Z16–Z23 the sums (two per panel).
TEXT ·gemvPanels4F32(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ b+16(FP), R8
	MOVQ stride+24(FP), AX
	MOVQ out+32(FP), DX
	LEAQ (R8)(AX*1), R9
	LEAQ (R9)(AX*1), R10
	LEAQ (R10)(AX*1), R11
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	TESTQ CX, CX
	JZ    gemv4Done

gemv4Loop:
	VBROADCASTSS (SI), Z8
	PREFETCHT0   1024(R8)
	PREFETCHT0   1088(R8)
	VMOVUPS      0(R8), Z0
	VMOVUPS      64(R8), Z1
	PREFETCHT0   1024(R9)
	PREFETCHT0   1088(R9)
	VMOVUPS      0(R9), Z2
	VMOVUPS      64(R9), Z3
	PREFETCHT0   1024(R10)
	PREFETCHT0   1088(R10)
	VMOVUPS      0(R10), Z4
	VMOVUPS      64(R10), Z5
	PREFETCHT0   1024(R11)
	PREFETCHT0   1088(R11)
	VMOVUPS      0(R11), Z6
	VMOVUPS      64(R11), Z7
	VFMADD231PS  Z0, Z8, Z16
	VFMADD231PS  Z1, Z8, Z17
	VFMADD231PS  Z2, Z8, Z18
	VFMADD231PS  Z3, Z8, Z19
	VFMADD231PS  Z4, Z8, Z20
	VFMADD231PS  Z5, Z8, Z21
	VFMADD231PS  Z6, Z8, Z22
	VFMADD231PS  Z7, Z8, Z23
	ADDQ $128, R8
	ADDQ $128, R9
	ADDQ $128, R10
	ADDQ $128, R11
	ADDQ $4, SI
	DECQ CX
	JNZ  gemv4Loop

gemv4Done:
	VMOVUPS Z16, 0(DX)
	VMOVUPS Z17, 64(DX)
	VMOVUPS Z18, 128(DX)
	VMOVUPS Z19, 192(DX)
	VMOVUPS Z20, 256(DX)
	VMOVUPS Z21, 320(DX)
	VMOVUPS Z22, 384(DX)
	VMOVUPS Z23, 448(DX)
	VZEROUPPER
	RET

// func gemvPanelF32AVX2(k int, x, b, out *float32)
//
// gemvPanelF32 on a micro-panel of the AVX2 kernel, 16 columns wide (64 bytes a row), into
// out[0:16]: four rows per step into eight accumulators (two per row: columns 0–7 and 8–15),
// the panel read 512 bytes ahead.
//
// Registers: CX k, SI x, DI b, DX out, BX steps of four; Y0–Y3 the broadcast inputs, Y8–Y15
// the sums.
TEXT ·gemvPanelF32AVX2(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ out+24(FP), DX
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	MOVQ CX, BX
	SHRQ $2, BX
	JZ   gemv16Tail

gemv16Loop4:
	PREFETCHT0   512(DI)
	PREFETCHT0   576(DI)
	PREFETCHT0   640(DI)
	PREFETCHT0   704(DI)
	VBROADCASTSS 0(SI), Y0
	VBROADCASTSS 4(SI), Y1
	VBROADCASTSS 8(SI), Y2
	VBROADCASTSS 12(SI), Y3
	VFMADD231PS  0(DI), Y0, Y8
	VFMADD231PS  32(DI), Y0, Y9
	VFMADD231PS  64(DI), Y1, Y10
	VFMADD231PS  96(DI), Y1, Y11
	VFMADD231PS  128(DI), Y2, Y12
	VFMADD231PS  160(DI), Y2, Y13
	VFMADD231PS  192(DI), Y3, Y14
	VFMADD231PS  224(DI), Y3, Y15
	ADDQ         $256, DI
	ADDQ         $16, SI
	DECQ         BX
	JNZ          gemv16Loop4

gemv16Tail:
	ANDQ $3, CX
	JZ   gemv16Done

gemv16Loop1:
	VBROADCASTSS (SI), Y0
	VFMADD231PS  0(DI), Y0, Y8
	VFMADD231PS  32(DI), Y0, Y9
	ADDQ         $64, DI
	ADDQ         $4, SI
	DECQ         CX
	JNZ          gemv16Loop1

gemv16Done:
	VADDPS  Y10, Y8, Y8
	VADDPS  Y12, Y8, Y8
	VADDPS  Y14, Y8, Y8
	VADDPS  Y11, Y9, Y9
	VADDPS  Y13, Y9, Y9
	VADDPS  Y15, Y9, Y9
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, 32(DX)
	VZEROUPPER
	RET

// func gemvPanels4F32AVX2(k int, x, b *float32, stride int, out *float32)
//
// gemvPanelF32AVX2 for four micro-panels at once, b + i·stride bytes for i < 4, into
// out[16·i:]. One row per step; each stream read 512 bytes ahead.
//
// Registers: CX k, SI x, R8–R11 the panels, DX out; Y0 the broadcast input, Y8–Y15 the sums
// (two per panel).
TEXT ·gemvPanels4F32AVX2(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ b+16(FP), R8
	MOVQ stride+24(FP), AX
	MOVQ out+32(FP), DX
	LEAQ (R8)(AX*1), R9
	LEAQ (R9)(AX*1), R10
	LEAQ (R10)(AX*1), R11
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15
	TESTQ CX, CX
	JZ    gemv16x4Done

gemv16x4Loop:
	VBROADCASTSS (SI), Y0
	PREFETCHT0   512(R8)
	VFMADD231PS  0(R8), Y0, Y8
	VFMADD231PS  32(R8), Y0, Y9
	PREFETCHT0   512(R9)
	VFMADD231PS  0(R9), Y0, Y10
	VFMADD231PS  32(R9), Y0, Y11
	PREFETCHT0   512(R10)
	VFMADD231PS  0(R10), Y0, Y12
	VFMADD231PS  32(R10), Y0, Y13
	PREFETCHT0   512(R11)
	VFMADD231PS  0(R11), Y0, Y14
	VFMADD231PS  32(R11), Y0, Y15
	ADDQ         $64, R8
	ADDQ         $64, R9
	ADDQ         $64, R10
	ADDQ         $64, R11
	ADDQ         $4, SI
	DECQ         CX
	JNZ          gemv16x4Loop

gemv16x4Done:
	VMOVUPS Y8, 0(DX)
	VMOVUPS Y9, 32(DX)
	VMOVUPS Y10, 64(DX)
	VMOVUPS Y11, 96(DX)
	VMOVUPS Y12, 128(DX)
	VMOVUPS Y13, 160(DX)
	VMOVUPS Y14, 192(DX)
	VMOVUPS Y15, 224(DX)
	VZEROUPPER
	RET
