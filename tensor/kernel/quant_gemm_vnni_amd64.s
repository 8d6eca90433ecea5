//go:build amd64 && !purego

#include "textflag.h"

// The int8 GEMM on VNNI (quant_gemm_vnni_amd64.go): a 6×32 tile of Y from six rows of
// quantised activations and 32 weight rows, one group of 32 inputs at a time.
//
// VPDPBUSD multiplies the unsigned bytes of a register by the signed bytes of its memory
// operand, four to a 32-bit lane, and adds them to the lane. The weights are packed offset by
// 128 as they are loaded (q xor 0x80 = q + 128, unsigned); they are packed for 32 columns,
// four inputs to a lane: 128 bytes per four inputs. Each row's four activations (signed) are
// broadcast from memory. The offset adds 128·Σ xq over the group to every lane of a row; corr
// holds its negation per row and group and is added, so the int32 lanes hold Σ q·xq exactly.
// Each group's sums are converted to float32 and added times the columns' scales of the group
// to float32 accumulators.

// FIXUP ends a group for one row: its int32 sums I0, I1 (columns 0–15, 16–31) plus the
// correction −128·Σ xq at off(R9), converted to float32, times the scales Z2, Z3 into F0, F1.
#define FIXUP(off, I0, I1, F0, F1) \
	VPADDD.BCST off(R9), I0, I0 \
	VPADDD.BCST off(R9), I1, I1 \
	VCVTDQ2PS   I0, I0          \
	VCVTDQ2PS   I1, I1          \
	VFMADD231PS Z2, I0, F0      \
	VFMADD231PS Z3, I1, F1

// func q8GemmVNNI(groups int, a *int32, b *byte, s *float32, corr *int32, out *float32)
//
// out[r·32 + c] = Σ_{g<groups} s[g·32 + c] · Σ_{p in g} xq_r[p]·q_c[p] for r < 6, c < 32.
// a holds, for each four inputs, the six rows' four bytes (24 bytes); b, for each four
// inputs, the 32 columns' four bytes (128 bytes); s, per group, the 32 columns' scales;
// corr, per group, −128·Σ xq of each row (6 int32).
//
// Registers: CX groups left, BX the steps of four inputs left in a group; SI a, DI b, R8 s,
// R9 corr, DX out. Z0, Z1 the weights of four inputs; Z2, Z3 the scales; Z4–Z15 the int32
// sums of a group (row r: Z4+2r, Z5+2r); Z16–Z27 the float32 sums; Z31 the bytes 0x80.
TEXT ·q8GemmVNNI(SB), NOSPLIT, $0-48
	MOVQ groups+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ s+24(FP), R8
	MOVQ corr+32(FP), R9
	MOVQ out+40(FP), DX
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Z31
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27

vnniGroup:
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	MOVQ $8, BX // four inputs at a time: the group's 32

vnniQuad:
	VPXORD (DI), Z31, Z0 // weights + 128, unsigned
	VPXORD 64(DI), Z31, Z1
	VPDPBUSD.BCST 0(SI), Z0, Z4
	VPDPBUSD.BCST 0(SI), Z1, Z5
	VPDPBUSD.BCST 4(SI), Z0, Z6
	VPDPBUSD.BCST 4(SI), Z1, Z7
	VPDPBUSD.BCST 8(SI), Z0, Z8
	VPDPBUSD.BCST 8(SI), Z1, Z9
	VPDPBUSD.BCST 12(SI), Z0, Z10
	VPDPBUSD.BCST 12(SI), Z1, Z11
	VPDPBUSD.BCST 16(SI), Z0, Z12
	VPDPBUSD.BCST 16(SI), Z1, Z13
	VPDPBUSD.BCST 20(SI), Z0, Z14
	VPDPBUSD.BCST 20(SI), Z1, Z15
	ADDQ $128, DI
	ADDQ $24, SI
	DECQ BX
	JNZ  vnniQuad

	VMOVUPS (R8), Z2 // the group's scales
	VMOVUPS 64(R8), Z3
	FIXUP(0, Z4, Z5, Z16, Z17)
	FIXUP(4, Z6, Z7, Z18, Z19)
	FIXUP(8, Z8, Z9, Z20, Z21)
	FIXUP(12, Z10, Z11, Z22, Z23)
	FIXUP(16, Z12, Z13, Z24, Z25)
	FIXUP(20, Z14, Z15, Z26, Z27)

	ADDQ $128, R8
	ADDQ $24, R9
	DECQ CX
	JNZ  vnniGroup

	VMOVUPS Z16, 0(DX)
	VMOVUPS Z17, 64(DX)
	VMOVUPS Z18, 128(DX)
	VMOVUPS Z19, 192(DX)
	VMOVUPS Z20, 256(DX)
	VMOVUPS Z21, 320(DX)
	VMOVUPS Z22, 384(DX)
	VMOVUPS Z23, 448(DX)
	VMOVUPS Z24, 512(DX)
	VMOVUPS Z25, 576(DX)
	VMOVUPS Z26, 640(DX)
	VMOVUPS Z27, 704(DX)
	VZEROUPPER
	RET
