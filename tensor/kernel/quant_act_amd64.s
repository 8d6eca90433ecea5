//go:build amd64 && !purego

#include "textflag.h"

// The quantisation of activation rows on AVX2 (quant_act.go): the row's largest magnitude,
// then xq = round(x·inv) and the offset corrections nc in the layout of q8Act, 32 inputs at a
// time. Only VEX-encoded 256-bit instructions, so that CPUs with AVX-VNNI but no AVX-512 run
// them.

// func q8AbsMaxAVX2(n int, x *float32) uint32
//
// Returns max_p (bits(x[p]) & 0x7fffffff) over n inputs, n a positive multiple of 32: the
// largest magnitude on the bits, above 0x7f800000 where a NaN is among them. The values are
// below 2³¹, so the unsigned maximum orders them as the floats they stand for.
//
// Registers: CX the inputs left; SI the x cursor. Y0–Y3 hold the running maxima, Y4–Y7 the
// masked inputs; Y15 the mask 0x7fffffff.
TEXT ·q8AbsMaxAVX2(SB), NOSPLIT, $0-20
	MOVQ         n+0(FP), CX
	MOVQ         x+8(FP), SI
	MOVL         $0x7fffffff, AX
	MOVL         AX, X15
	VPBROADCASTD X15, Y15
	VPXOR        Y0, Y0, Y0
	VPXOR        Y1, Y1, Y1
	VPXOR        Y2, Y2, Y2
	VPXOR        Y3, Y3, Y3

maxloop:
	VPAND   (SI), Y15, Y4
	VPAND   32(SI), Y15, Y5
	VPAND   64(SI), Y15, Y6
	VPAND   96(SI), Y15, Y7
	VPMAXUD Y4, Y0, Y0
	VPMAXUD Y5, Y1, Y1
	VPMAXUD Y6, Y2, Y2
	VPMAXUD Y7, Y3, Y3
	ADDQ    $128, SI
	SUBQ    $32, CX
	JNZ     maxloop

	VPMAXUD      Y1, Y0, Y0
	VPMAXUD      Y3, Y2, Y2
	VPMAXUD      Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPMAXUD      X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPMAXUD      X1, X0, X0
	VPSHUFD      $0xb1, X0, X1
	VPMAXUD      X1, X0, X0
	VMOVSS       X0, ret+16(FP)
	VZEROUPPER
	RET

// The dword order that undoes the lane interleaving of VPACKSSDW and VPACKSSWB: after them,
// 128-bit lane 0 holds inputs 0–3, 8–11, 16–19, 24–27 and lane 1 inputs 4–7, 12–15, 20–23,
// 28–31.
DATA q8quantPerm<>+0(SB)/8, $0x0000000400000000
DATA q8quantPerm<>+8(SB)/8, $0x0000000500000001
DATA q8quantPerm<>+16(SB)/8, $0x0000000600000002
DATA q8quantPerm<>+24(SB)/8, $0x0000000700000003
GLOBL q8quantPerm<>(SB), RODATA|NOPTR, $32

// Q8QUANT32 quantises the 32 inputs at xoff(SI) into the 32 bytes xq at qoff(DI) and their
// eight corrections nc at qoff+64(DI), with a–d as temporaries: VCVTPS2DQ rounds x·inv to the
// nearest integer, ties to even (the MXCSR default); the two saturating packs narrow to bytes
// (clamping to [−128, 127]), VPERMD restores the input order and VPMAXSB raises −128 to −127.
// VPMADDUBSW of the bytes 1 by xq sums each pair, VPMADDWD by the words −128 each two pairs:
// nc = −128·Σ of each four, exactly.
#define Q8QUANT32(xoff, qoff, a, b, c, d) \
	VMULPS     xoff(SI), Y15, a;    \
	VMULPS     xoff+32(SI), Y15, b; \
	VMULPS     xoff+64(SI), Y15, c; \
	VMULPS     xoff+96(SI), Y15, d; \
	VCVTPS2DQ  a, a;                \
	VCVTPS2DQ  b, b;                \
	VCVTPS2DQ  c, c;                \
	VCVTPS2DQ  d, d;                \
	VPACKSSDW  b, a, a;             \
	VPACKSSDW  d, c, c;             \
	VPACKSSWB  c, a, a;             \
	VPERMD     a, Y14, a;           \
	VPMAXSB    Y13, a, a;           \
	VMOVDQU    a, qoff(DI);         \
	VPMADDUBSW a, Y12, b;           \
	VPMADDWD   Y11, b, b;           \
	VMOVDQU    b, qoff+64(DI)

// func q8QuantizeAVX2(groups int, x *float32, inv float32, xn *int32)
//
// Fills xn (see q8Act) for 32·groups inputs of x, as q8QuantizeVNNI does: xq = round(x·inv)
// to nearest even, clamped to [−127, 127], and nc = −128·Σ of each four; an odd last group
// fills the first half of its step. The caller checks that x·inv is finite and at most 127
// in magnitude up to rounding.
//
// Registers: CX the two-group steps left; SI the x cursor; DI the xn cursor. Y15 holds inv,
// Y14 the dword order q8quantPerm, Y13 the bytes −127, Y12 the bytes 1, Y11 the words −128;
// Y0–Y7 are temporaries.
TEXT ·q8QuantizeAVX2(SB), NOSPLIT, $0-32
	MOVQ         groups+0(FP), CX
	MOVQ         x+8(FP), SI
	MOVQ         xn+24(FP), DI
	VBROADCASTSS inv+16(FP), Y15
	VMOVDQU      q8quantPerm<>(SB), Y14
	MOVL         $0x81818181, AX
	MOVL         AX, X13
	VPBROADCASTD X13, Y13
	MOVL         $0x01010101, AX
	MOVL         AX, X12
	VPBROADCASTD X12, Y12
	MOVL         $0xff80ff80, AX
	MOVL         AX, X11
	VPBROADCASTD X11, Y11
	MOVQ         CX, BX
	SHRQ         $1, CX
	JZ           quantodd

quantloop:
	Q8QUANT32(0, 0, Y0, Y1, Y2, Y3)
	Q8QUANT32(128, 32, Y4, Y5, Y6, Y7)
	ADDQ $256, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  quantloop

quantodd:
	TESTQ $1, BX
	JZ    quantdone
	Q8QUANT32(0, 0, Y0, Y1, Y2, Y3)

quantdone:
	VZEROUPPER
	RET
