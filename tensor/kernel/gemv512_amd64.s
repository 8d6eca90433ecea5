//go:build amd64 && !purego

#include "textflag.h"

// The AVX-512 GEMV kernels. Both take any sizes ≥ 1: the last n%16 columns (gemvN512) or k%16
// inputs (gemvT512) go through masked loads and stores, which never touch memory past them.

// func gemvN512(k, n int, x, w *float32, ldw int, y *float32)
//
// y[0:n] += Σ_{p<k} x[p]·W[p][0:n], where W has row stride ldw floats; k, n ≥ 1. Four rows of
// W at a time: Z0..Z3 hold x[p..p+3] broadcast, DI, R10, R11, R12 point at the four rows and
// each pass over the columns loads a stretch of y (Z4..Z7) once, adds the four rows into it
// and stores it back. AX is the column offset in bytes: R9 ends the 64-wide steps, R13 the
// 16-wide ones, BX (n in bytes) the masked tail under K1. The 64-wide steps advance the
// pointers themselves and prefetch the same columns of the next four rows (R8·4 further):
// a task streams its rows from DRAM, and the hardware prefetchers alone keep too few
// requests in flight to reach the memory bandwidth.
TEXT ·gemvN512(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ n+8(FP), BX
	MOVQ x+16(FP), SI
	MOVQ w+24(FP), DI
	MOVQ ldw+32(FP), R8
	MOVQ y+40(FP), DX
	SHLQ $2, R8          // row stride in bytes
	MOVQ BX, AX
	ANDQ $15, AX
	XORQ R9, R9
	BTSQ AX, R9
	DECQ R9
	KMOVW R9, K1         // the last n%16 columns
	SHLQ $2, BX          // n in bytes
	MOVQ BX, R9
	ANDQ $-256, R9
	MOVQ BX, R13
	ANDQ $-64, R13

nrows4:
	CMPQ CX, $4
	JLT  nrows1
	VBROADCASTSS 0(SI), Z0
	VBROADCASTSS 4(SI), Z1
	VBROADCASTSS 8(SI), Z2
	VBROADCASTSS 12(SI), Z3
	LEAQ (DI)(R8*1), R10
	LEAQ (DI)(R8*2), R11
	LEAQ (R10)(R8*2), R12
	XORQ AX, AX

ncols64:
	CMPQ AX, R9
	JGE  nrewind
	PREFETCHT0  (DI)(R8*4)
	PREFETCHT0  64(DI)(R8*4)
	PREFETCHT0  128(DI)(R8*4)
	PREFETCHT0  192(DI)(R8*4)
	PREFETCHT0  (R10)(R8*4)
	PREFETCHT0  64(R10)(R8*4)
	PREFETCHT0  128(R10)(R8*4)
	PREFETCHT0  192(R10)(R8*4)
	PREFETCHT0  (R11)(R8*4)
	PREFETCHT0  64(R11)(R8*4)
	PREFETCHT0  128(R11)(R8*4)
	PREFETCHT0  192(R11)(R8*4)
	PREFETCHT0  (R12)(R8*4)
	PREFETCHT0  64(R12)(R8*4)
	PREFETCHT0  128(R12)(R8*4)
	PREFETCHT0  192(R12)(R8*4)
	VMOVUPS     (DX), Z4
	VMOVUPS     64(DX), Z5
	VMOVUPS     128(DX), Z6
	VMOVUPS     192(DX), Z7
	VFMADD231PS (DI), Z0, Z4
	VFMADD231PS 64(DI), Z0, Z5
	VFMADD231PS 128(DI), Z0, Z6
	VFMADD231PS 192(DI), Z0, Z7
	VFMADD231PS (R10), Z1, Z4
	VFMADD231PS 64(R10), Z1, Z5
	VFMADD231PS 128(R10), Z1, Z6
	VFMADD231PS 192(R10), Z1, Z7
	VFMADD231PS (R11), Z2, Z4
	VFMADD231PS 64(R11), Z2, Z5
	VFMADD231PS 128(R11), Z2, Z6
	VFMADD231PS 192(R11), Z2, Z7
	VFMADD231PS (R12), Z3, Z4
	VFMADD231PS 64(R12), Z3, Z5
	VFMADD231PS 128(R12), Z3, Z6
	VFMADD231PS 192(R12), Z3, Z7
	VMOVUPS     Z4, (DX)
	VMOVUPS     Z5, 64(DX)
	VMOVUPS     Z6, 128(DX)
	VMOVUPS     Z7, 192(DX)
	ADDQ        $256, AX
	ADDQ        $256, DX
	ADDQ        $256, DI
	ADDQ        $256, R10
	ADDQ        $256, R11
	ADDQ        $256, R12
	JMP         ncols64

nrewind:
	// Back to the start of the rows: the steps below index by AX.
	SUBQ AX, DX
	SUBQ AX, DI
	SUBQ AX, R10
	SUBQ AX, R11
	SUBQ AX, R12

ncols16:
	CMPQ AX, R13
	JGE  ntail4
	VMOVUPS     (DX)(AX*1), Z4
	VFMADD231PS (DI)(AX*1), Z0, Z4
	VFMADD231PS (R10)(AX*1), Z1, Z4
	VFMADD231PS (R11)(AX*1), Z2, Z4
	VFMADD231PS (R12)(AX*1), Z3, Z4
	VMOVUPS     Z4, (DX)(AX*1)
	ADDQ        $64, AX
	JMP         ncols16

ntail4:
	CMPQ AX, BX
	JGE  nnext4
	VMOVUPS.Z   (DX)(AX*1), K1, Z4
	VMOVUPS.Z   (DI)(AX*1), K1, Z8
	VMOVUPS.Z   (R10)(AX*1), K1, Z9
	VMOVUPS.Z   (R11)(AX*1), K1, Z10
	VMOVUPS.Z   (R12)(AX*1), K1, Z11
	VFMADD231PS Z8, Z0, Z4
	VFMADD231PS Z9, Z1, Z4
	VFMADD231PS Z10, Z2, Z4
	VFMADD231PS Z11, Z3, Z4
	VMOVUPS     Z4, K1, (DX)(AX*1)

nnext4:
	LEAQ (DI)(R8*4), DI
	ADDQ $16, SI
	SUBQ $4, CX
	JMP  nrows4

nrows1:
	TESTQ CX, CX
	JZ    ndone
	VBROADCASTSS (SI), Z0
	XORQ  AX, AX

ncols1:
	CMPQ AX, R13
	JGE  ntail1
	VMOVUPS     (DX)(AX*1), Z4
	VFMADD231PS (DI)(AX*1), Z0, Z4
	VMOVUPS     Z4, (DX)(AX*1)
	ADDQ        $64, AX
	JMP         ncols1

ntail1:
	CMPQ AX, BX
	JGE  nnext1
	VMOVUPS.Z   (DX)(AX*1), K1, Z4
	VMOVUPS.Z   (DI)(AX*1), K1, Z8
	VFMADD231PS Z8, Z0, Z4
	VMOVUPS     Z4, K1, (DX)(AX*1)

nnext1:
	ADDQ R8, DI
	ADDQ $4, SI
	DECQ CX
	JMP  nrows1

ndone:
	VZEROUPPER
	RET

// REDUCE4 adds the 16 lanes of Z0 (and of Z2, Z4, Z6) down to 4 in X0 (X2, X4, X6).
#define REDUCE4(z, y, x) \
	VEXTRACTF64X4 $1, z, Y9; \
	VADDPS        Y9, y, y;  \
	VEXTRACTF128  $1, y, X9; \
	VADDPS        X9, x, x

// func gemvT512(k, n int, x, w *float32, ldw int, y *float32)
//
// y[j] = Σ_{p<k} x[p]·W[j][p] for j < n, where W has row stride ldw floats; k, n ≥ 1. Four
// rows of W at a time (DI, R10, R11, R12), each with two accumulators (row r in Z2r, Z2r+1),
// against x in Z8, Z9; consecutive rows make one sequential stream through W. AX is the input
// offset in bytes: R9 ends the 32-wide steps, R13 the 16-wide ones, CX (k in bytes) the masked
// tail under K1. The 32-wide steps advance the pointers themselves and prefetch the next four
// rows (R8·4 further), to keep enough requests in flight when W comes from DRAM.
TEXT ·gemvT512(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ n+8(FP), BX
	MOVQ x+16(FP), SI
	MOVQ w+24(FP), DI
	MOVQ ldw+32(FP), R8
	MOVQ y+40(FP), DX
	SHLQ $2, R8          // row stride in bytes
	MOVQ CX, AX
	ANDQ $15, AX
	XORQ R9, R9
	BTSQ AX, R9
	DECQ R9
	KMOVW R9, K1         // the last k%16 inputs
	SHLQ $2, CX          // k in bytes
	MOVQ CX, R9
	ANDQ $-128, R9
	MOVQ CX, R13
	ANDQ $-64, R13

trows4:
	CMPQ   BX, $4
	JLT    trows1
	LEAQ   (DI)(R8*1), R10
	LEAQ   (DI)(R8*2), R11
	LEAQ   (R10)(R8*2), R12
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	XORQ   AX, AX

tk32:
	CMPQ AX, R9
	JGE  tk16
	PREFETCHT0  (DI)(R8*4)
	PREFETCHT0  64(DI)(R8*4)
	PREFETCHT0  (R10)(R8*4)
	PREFETCHT0  64(R10)(R8*4)
	PREFETCHT0  (R11)(R8*4)
	PREFETCHT0  64(R11)(R8*4)
	PREFETCHT0  (R12)(R8*4)
	PREFETCHT0  64(R12)(R8*4)
	VMOVUPS     (SI), Z8
	VMOVUPS     64(SI), Z9
	VFMADD231PS (DI), Z8, Z0
	VFMADD231PS 64(DI), Z9, Z1
	VFMADD231PS (R10), Z8, Z2
	VFMADD231PS 64(R10), Z9, Z3
	VFMADD231PS (R11), Z8, Z4
	VFMADD231PS 64(R11), Z9, Z5
	VFMADD231PS (R12), Z8, Z6
	VFMADD231PS 64(R12), Z9, Z7
	ADDQ        $128, AX
	ADDQ        $128, SI
	ADDQ        $128, DI
	ADDQ        $128, R10
	ADDQ        $128, R11
	ADDQ        $128, R12
	JMP         tk32

tk16:
	SUBQ AX, SI
	SUBQ AX, DI
	SUBQ AX, R10
	SUBQ AX, R11
	SUBQ AX, R12
	CMPQ AX, R13
	JGE  ttail4
	VMOVUPS     (SI)(AX*1), Z8
	VFMADD231PS (DI)(AX*1), Z8, Z0
	VFMADD231PS (R10)(AX*1), Z8, Z2
	VFMADD231PS (R11)(AX*1), Z8, Z4
	VFMADD231PS (R12)(AX*1), Z8, Z6
	ADDQ        $64, AX

ttail4:
	CMPQ        AX, CX
	JGE         tsum4
	VMOVUPS.Z   (SI)(AX*1), K1, Z8
	VMOVUPS.Z   (DI)(AX*1), K1, Z10
	VMOVUPS.Z   (R10)(AX*1), K1, Z11
	VMOVUPS.Z   (R11)(AX*1), K1, Z12
	VMOVUPS.Z   (R12)(AX*1), K1, Z13
	VFMADD231PS Z10, Z8, Z1
	VFMADD231PS Z11, Z8, Z3
	VFMADD231PS Z12, Z8, Z5
	VFMADD231PS Z13, Z8, Z7

tsum4:
	VADDPS  Z1, Z0, Z0
	VADDPS  Z3, Z2, Z2
	VADDPS  Z5, Z4, Z4
	VADDPS  Z7, Z6, Z6
	REDUCE4(Z0, Y0, X0)
	REDUCE4(Z2, Y2, X2)
	REDUCE4(Z4, Y4, X4)
	REDUCE4(Z6, Y6, X6)
	VHADDPS X2, X0, X0   // row 0 halves, row 1 halves
	VHADDPS X6, X4, X4   // row 2 halves, row 3 halves
	VHADDPS X4, X0, X0   // rows 0..3
	VMOVUPS X0, (DX)
	ADDQ    $16, DX
	LEAQ    (DI)(R8*4), DI
	SUBQ    $4, BX
	JMP     trows4

trows1:
	TESTQ  BX, BX
	JZ     tdone
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	XORQ   AX, AX

tk16r:
	CMPQ AX, R13
	JGE  ttail1
	VMOVUPS     (SI)(AX*1), Z8
	VFMADD231PS (DI)(AX*1), Z8, Z0
	ADDQ        $64, AX
	JMP         tk16r

ttail1:
	CMPQ        AX, CX
	JGE         tsum1
	VMOVUPS.Z   (SI)(AX*1), K1, Z8
	VMOVUPS.Z   (DI)(AX*1), K1, Z10
	VFMADD231PS Z10, Z8, Z1

tsum1:
	VADDPS  Z1, Z0, Z0
	REDUCE4(Z0, Y0, X0)
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMOVSS  X0, (DX)
	ADDQ    $4, DX
	ADDQ    R8, DI
	DECQ    BX
	JMP     trows1

tdone:
	VZEROUPPER
	RET
