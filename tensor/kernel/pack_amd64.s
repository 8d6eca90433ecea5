//go:build amd64 && !purego

#include "textflag.h"

// func copyRows32AVX512(kc int, b *float32, ldb int, d *float32)
//
// d[p·32 + c] = b[p·ldb + c] for c < 32, p < kc: a 32-column micro-panel of a row-major B
// copied out of its rows, two vectors a row, with the rows 16 ahead prefetched. Each row's
// 128 bytes lie a whole row of B (12 KiB for GPT-2's up-projection) after the last, a stride
// the hardware prefetchers do not follow, so without the prefetch every row waited on memory.
TEXT ·copyRows32AVX512(SB), NOSPLIT, $0-32
	MOVQ  kc+0(FP), CX
	MOVQ  b+8(FP), SI
	MOVQ  ldb+16(FP), R8
	MOVQ  d+24(FP), DI
	SHLQ  $2, R8
	MOVQ  R8, R9
	SHLQ  $4, R9 // 16 rows ahead
	TESTQ CX, CX
	JEQ   copyDone

copyLoop:
	PREFETCHT0 (SI)(R9*1)
	PREFETCHT0 64(SI)(R9*1)
	VMOVUPS    (SI), Z0
	VMOVUPS    64(SI), Z1
	VMOVUPS    Z0, (DI)
	VMOVUPS    Z1, 64(DI)
	ADDQ       R8, SI
	ADDQ       $128, DI
	DECQ       CX
	JNZ        copyLoop

copyDone:
	VZEROUPPER
	RET

// func copyRows16AVX2(kc int, b *float32, ldb int, d *float32)
//
// copyRows32AVX512 for the 16-column micro-panels of the AVX2 kernel: two 256-bit vectors a
// row, one line prefetched 16 rows ahead.
TEXT ·copyRows16AVX2(SB), NOSPLIT, $0-32
	MOVQ  kc+0(FP), CX
	MOVQ  b+8(FP), SI
	MOVQ  ldb+16(FP), R8
	MOVQ  d+24(FP), DI
	SHLQ  $2, R8
	MOVQ  R8, R9
	SHLQ  $4, R9 // 16 rows ahead
	TESTQ CX, CX
	JEQ   copy16Done

copy16Loop:
	PREFETCHT0 (SI)(R9*1)
	VMOVUPS    (SI), Y0
	VMOVUPS    32(SI), Y1
	VMOVUPS    Y0, (DI)
	VMOVUPS    Y1, 32(DI)
	ADDQ       R8, SI
	ADDQ       $64, DI
	DECQ       CX
	JNZ        copy16Loop

copy16Done:
	VZEROUPPER
	RET
