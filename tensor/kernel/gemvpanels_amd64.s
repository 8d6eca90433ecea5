//go:build amd64 && !purego

#include "textflag.h"

// func gemvPanelBF16(pairs int, xp, b, out *float32)
//
// out[c] = Σ_p x_p · B[p][c] for the 32 columns of one micro-panel of bfloat16 pairs (see
// PanelMatrix): xp holds the pair words of x, b the panel (pairs × 32 words, 128 bytes a
// pair). VDPBF16PS adds both products of a pair to each float32 lane. Four pairs per step
// into eight accumulators (two per pair: columns 0–15 and 16–31), so that the instruction's
// latency does not limit the stream; the panel is read 1 KiB ahead. The Go assembler does not
// know VDPBF16PS: it is written as bytes, each line with the instruction it encodes.
//
// Registers: CX pairs, SI xp, DI b, DX out, BX steps of four; Z0–Z7 the panel, Z8–Z11 the
// broadcast pairs of x, Z16–Z23 the sums.
TEXT ·gemvPanelBF16(SB), NOSPLIT, $0-32
	MOVQ pairs+0(FP), CX
	MOVQ xp+8(FP), SI
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
	VMOVDQU32 0(DI), Z0
	VMOVDQU32 64(DI), Z1
	VMOVDQU32 128(DI), Z2
	VMOVDQU32 192(DI), Z3
	VMOVDQU32 256(DI), Z4
	VMOVDQU32 320(DI), Z5
	VMOVDQU32 384(DI), Z6
	VMOVDQU32 448(DI), Z7
	VPBROADCASTD 0(SI), Z8
	VPBROADCASTD 4(SI), Z9
	VPBROADCASTD 8(SI), Z10
	VPBROADCASTD 12(SI), Z11
	BYTE $0x62; BYTE $0xe2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0xc0 // VDPBF16PS Z0, Z8, Z16
	BYTE $0x62; BYTE $0xe2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0xc9 // VDPBF16PS Z1, Z8, Z17
	BYTE $0x62; BYTE $0xe2; BYTE $0x36; BYTE $0x48; BYTE $0x52; BYTE $0xd2 // VDPBF16PS Z2, Z9, Z18
	BYTE $0x62; BYTE $0xe2; BYTE $0x36; BYTE $0x48; BYTE $0x52; BYTE $0xdb // VDPBF16PS Z3, Z9, Z19
	BYTE $0x62; BYTE $0xe2; BYTE $0x2e; BYTE $0x48; BYTE $0x52; BYTE $0xe4 // VDPBF16PS Z4, Z10, Z20
	BYTE $0x62; BYTE $0xe2; BYTE $0x2e; BYTE $0x48; BYTE $0x52; BYTE $0xed // VDPBF16PS Z5, Z10, Z21
	BYTE $0x62; BYTE $0xe2; BYTE $0x26; BYTE $0x48; BYTE $0x52; BYTE $0xf6 // VDPBF16PS Z6, Z11, Z22
	BYTE $0x62; BYTE $0xe2; BYTE $0x26; BYTE $0x48; BYTE $0x52; BYTE $0xff // VDPBF16PS Z7, Z11, Z23
	ADDQ $512, DI
	ADDQ $16, SI
	DECQ BX
	JNZ  gemvLoop4

gemvTail:
	ANDQ $3, CX
	JZ   gemvDone

gemvLoop1:
	VMOVDQU32    0(DI), Z0
	VMOVDQU32    64(DI), Z1
	VPBROADCASTD (SI), Z8
	BYTE $0x62; BYTE $0xe2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0xc0 // VDPBF16PS Z0, Z8, Z16
	BYTE $0x62; BYTE $0xe2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0xc9 // VDPBF16PS Z1, Z8, Z17
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

// func gemvPanels4BF16(pairs int, xp, b *float32, stride int, out *float32)
//
// gemvPanelBF16 for four micro-panels at once, b + i·stride bytes for i < 4, into out[32·i:]:
// four streams through memory per core keep more requests in flight than one (as the x4
// kernels of quant_amd64.s). One pair per step; each stream read 1 KiB ahead.
//
// Registers: CX pairs, SI xp, R8–R11 the panels, DX out; Z0–Z7 the panels' vectors, Z8 the
// broadcast pair of x, Z16–Z23 the sums (two per panel).
TEXT ·gemvPanels4BF16(SB), NOSPLIT, $0-40
	MOVQ pairs+0(FP), CX
	MOVQ xp+8(FP), SI
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
	VPBROADCASTD (SI), Z8
	PREFETCHT0   1024(R8)
	PREFETCHT0   1088(R8)
	VMOVDQU32    0(R8), Z0
	VMOVDQU32    64(R8), Z1
	PREFETCHT0   1024(R9)
	PREFETCHT0   1088(R9)
	VMOVDQU32    0(R9), Z2
	VMOVDQU32    64(R9), Z3
	PREFETCHT0   1024(R10)
	PREFETCHT0   1088(R10)
	VMOVDQU32    0(R10), Z4
	VMOVDQU32    64(R10), Z5
	PREFETCHT0   1024(R11)
	PREFETCHT0   1088(R11)
	VMOVDQU32    0(R11), Z6
	VMOVDQU32    64(R11), Z7
	BYTE $0x62; BYTE $0xe2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0xc0 // VDPBF16PS Z0, Z8, Z16
	BYTE $0x62; BYTE $0xe2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0xc9 // VDPBF16PS Z1, Z8, Z17
	BYTE $0x62; BYTE $0xe2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0xd2 // VDPBF16PS Z2, Z8, Z18
	BYTE $0x62; BYTE $0xe2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0xdb // VDPBF16PS Z3, Z8, Z19
	BYTE $0x62; BYTE $0xe2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0xe4 // VDPBF16PS Z4, Z8, Z20
	BYTE $0x62; BYTE $0xe2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0xed // VDPBF16PS Z5, Z8, Z21
	BYTE $0x62; BYTE $0xe2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0xf6 // VDPBF16PS Z6, Z8, Z22
	BYTE $0x62; BYTE $0xe2; BYTE $0x3e; BYTE $0x48; BYTE $0x52; BYTE $0xff // VDPBF16PS Z7, Z8, Z23
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
