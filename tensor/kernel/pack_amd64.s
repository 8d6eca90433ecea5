//go:build amd64 && !purego

#include "textflag.h"

// func copyRowsAsm(kc int, b *float32, ldb int, d *float32, nr int)
//
// d[p·nr + c] = b[p·ldb + c] for c < nr, p < kc, nr 32 (AVX-512: two 512-bit vectors a row)
// or 16 (AVX2: two 256-bit vectors): an NR-column micro-panel of a row-major B copied out of
// its rows, with the rows 16 ahead prefetched. Each row's bytes lie a whole row of B (12 KiB
// for GPT-2's up-projection) after the last, a stride the hardware prefetchers do not
// follow, so without the prefetch every row waited on memory.
TEXT ·copyRowsAsm(SB), NOSPLIT, $0-40
	MOVQ  kc+0(FP), CX
	MOVQ  b+8(FP), SI
	MOVQ  ldb+16(FP), R8
	MOVQ  d+24(FP), DI
	SHLQ  $2, R8
	MOVQ  R8, R9
	SHLQ  $4, R9 // 16 rows ahead
	TESTQ CX, CX
	JEQ   copyDone
	CMPQ  nr+32(FP), $32
	JNE   copy16

copy32:
	PREFETCHT0 (SI)(R9*1)
	PREFETCHT0 64(SI)(R9*1)
	VMOVUPS    (SI), Z0
	VMOVUPS    64(SI), Z1
	VMOVUPS    Z0, (DI)
	VMOVUPS    Z1, 64(DI)
	ADDQ       R8, SI
	ADDQ       $128, DI
	DECQ       CX
	JNZ        copy32
	JMP        copyDone

copy16:
	PREFETCHT0 (SI)(R9*1)
	VMOVUPS    (SI), Y0
	VMOVUPS    32(SI), Y1
	VMOVUPS    Y0, (DI)
	VMOVUPS    Y1, 32(DI)
	ADDQ       R8, SI
	ADDQ       $64, DI
	DECQ       CX
	JNZ        copy16

copyDone:
	VZEROUPPER
	RET
