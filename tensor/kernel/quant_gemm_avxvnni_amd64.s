//go:build amd64 && !purego

#include "textflag.h"

// The int8 GEMM on AVX-VNNI (quant_gemm_vnni_amd64.go): a 6×16 tile of Y from six rows of
// quantised activations and 16 weight rows, one group of 32 inputs at a time, on the 16 ymm
// registers of CPUs with AVX-VNNI but no AVX-512.
//
// The arithmetic is q8GemmVNNI's (quant_gemm_vnni_amd64.s): the weights offset by 128 as they
// are loaded (q xor 0x80 = q + 128, unsigned), each row's four activations (signed)
// broadcast, VPDPBUSD summing four products per 32-bit lane; the offset's 128·Σ xq per row
// and group is cancelled by starting the group's int32 sums at corr = −128·Σ xq, so they end
// at Σ q·xq exactly. Twelve ymm sums fill the registers, so the float32 sums live in out
// (L1): each group's int32 sums are converted, times the columns' scales, added to out.
//
// The Go assembler knows VPDPBUSD only in its EVEX form (AVX512-VNNI), which faults without
// AVX-512; VPDPBUSDY writes the VEX form of AVX-VNNI as bytes, for ymm registers given by
// number: VEX.256.66.0F38.W0 50 /r, with src the signed operand (ModRM.rm), uns the unsigned
// one (VEX.vvvv) and dst the sums (ModRM.reg).
#define VPDPBUSDY(src, uns, dst) \
	BYTE $0xc4; BYTE $(0x42 | ((15-(dst))>>3)<<7 | ((15-(src))>>3)<<5); \
	BYTE $(0x05 | (15-(uns))<<3); BYTE $0x50; BYTE $(0xc0 | ((dst)&7)<<3 | ((src)&7))

// QUAD adds four inputs' products to the sums: the 16 columns' weights at w(DI), the six
// rows' activations at x(SI).
#define QUAD(w, x) \
	VPXOR        w(DI), Y15, Y12    \
	VPXOR        w+32(DI), Y15, Y13 \
	VPBROADCASTD x(SI), Y14         \
	VPDPBUSDY(14, 12, 0)            \
	VPDPBUSDY(14, 13, 1)            \
	VPBROADCASTD x+4(SI), Y14       \
	VPDPBUSDY(14, 12, 2)            \
	VPDPBUSDY(14, 13, 3)            \
	VPBROADCASTD x+8(SI), Y14       \
	VPDPBUSDY(14, 12, 4)            \
	VPDPBUSDY(14, 13, 5)            \
	VPBROADCASTD x+12(SI), Y14      \
	VPDPBUSDY(14, 12, 6)            \
	VPDPBUSDY(14, 13, 7)            \
	VPBROADCASTD x+16(SI), Y14      \
	VPDPBUSDY(14, 12, 8)            \
	VPDPBUSDY(14, 13, 9)            \
	VPBROADCASTD x+20(SI), Y14      \
	VPDPBUSDY(14, 12, 10)           \
	VPDPBUSDY(14, 13, 11)

// START sets a row's sums I0, I1 (columns 0–7, 8–15) to its correction at off(R9).
#define START(off, I0, I1) \
	VPBROADCASTD off(R9), I0 \
	VMOVDQA      I0, I1

// FIXUP ends a group for one row: its int32 sums I0, I1 converted to float32, times the
// scales Y12, Y13, added to the row's float32 sums at off(DX).
#define FIXUP(off, I0, I1) \
	VCVTDQ2PS   I0, I0              \
	VCVTDQ2PS   I1, I1              \
	VFMADD213PS off(DX), Y12, I0    \
	VFMADD213PS off+32(DX), Y13, I1 \
	VMOVUPS     I0, off(DX)         \
	VMOVUPS     I1, off+32(DX)

// func q8GemmAVXVNNI(groups int, a *int32, b *byte, s *float32, corr *int32, out *float32)
//
// out[r·16 + c] = Σ_{g<groups} s[g·16 + c] · Σ_{p in g} xq_r[p]·q_c[p] for r < 6, c < 16.
// a holds, for each four inputs, the six rows' four bytes (24 bytes); b, for each four
// inputs, the 16 columns' four bytes (64 bytes); s, per group, the 16 columns' scales; corr,
// per group, −128·Σ xq of each row (6 int32).
//
// Registers: CX groups left; SI a, DI b, R8 s, R9 corr, DX out. Y0–Y11 the int32 sums of a
// group (row r: Y2r columns 0–7, Y2r+1 columns 8–15); Y12, Y13 the weights of four inputs,
// then the group's scales; Y14 a row's four activations; Y15 the bytes 0x80.
TEXT ·q8GemmAVXVNNI(SB), NOSPLIT, $0-48
	MOVQ         groups+0(FP), CX
	MOVQ         a+8(FP), SI
	MOVQ         b+16(FP), DI
	MOVQ         s+24(FP), R8
	MOVQ         corr+32(FP), R9
	MOVQ         out+40(FP), DX
	MOVL         $0x80808080, AX
	MOVL         AX, X15
	VPBROADCASTD X15, Y15
	VPXOR        Y14, Y14, Y14
	VMOVUPS      Y14, 0(DX)
	VMOVUPS      Y14, 32(DX)
	VMOVUPS      Y14, 64(DX)
	VMOVUPS      Y14, 96(DX)
	VMOVUPS      Y14, 128(DX)
	VMOVUPS      Y14, 160(DX)
	VMOVUPS      Y14, 192(DX)
	VMOVUPS      Y14, 224(DX)
	VMOVUPS      Y14, 256(DX)
	VMOVUPS      Y14, 288(DX)
	VMOVUPS      Y14, 320(DX)
	VMOVUPS      Y14, 352(DX)

avxvnniGroup:
	START(0, Y0, Y1)
	START(4, Y2, Y3)
	START(8, Y4, Y5)
	START(12, Y6, Y7)
	START(16, Y8, Y9)
	START(20, Y10, Y11)
	QUAD(0, 0) // the group's 32 inputs, four at a time
	QUAD(64, 24)
	QUAD(128, 48)
	QUAD(192, 72)
	QUAD(256, 96)
	QUAD(320, 120)
	QUAD(384, 144)
	QUAD(448, 168)
	VMOVUPS (R8), Y12 // the group's scales
	VMOVUPS 32(R8), Y13
	FIXUP(0, Y0, Y1)
	FIXUP(64, Y2, Y3)
	FIXUP(128, Y4, Y5)
	FIXUP(192, Y6, Y7)
	FIXUP(256, Y8, Y9)
	FIXUP(320, Y10, Y11)
	ADDQ    $512, DI
	ADDQ    $192, SI
	ADDQ    $64, R8
	ADDQ    $24, R9
	DECQ    CX
	JNZ     avxvnniGroup
	VZEROUPPER
	RET
