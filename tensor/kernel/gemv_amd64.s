//go:build amd64 && !purego

#include "textflag.h"

// func gemvNAVX2(k, n int, x, w *float32, ldw int, y *float32)
//
// y[0:n] += Σ_p x[p]·W[p][0:n], four rows of W at a time: each pass loads a stretch of y once,
// adds four rows into it and stores it back. n is a multiple of 8.
TEXT ·gemvNAVX2(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ n+8(FP), BX
	MOVQ x+16(FP), SI
	MOVQ w+24(FP), DI
	MOVQ ldw+32(FP), R8
	MOVQ y+40(FP), DX
	SHLQ $2, R8          // row stride in bytes
	SHLQ $2, BX          // n in bytes
	MOVQ BX, R9
	ANDQ $-128, R9       // bytes covered by the 32-wide loop

rows4:
	CMPQ CX, $4
	JLT  rows1
	VBROADCASTSS 0(SI), Y0
	VBROADCASTSS 4(SI), Y1
	VBROADCASTSS 8(SI), Y2
	VBROADCASTSS 12(SI), Y3
	LEAQ (DI)(R8*1), R10 // row p+1
	LEAQ (DI)(R8*2), R11 // row p+2
	LEAQ (R10)(R8*2), R12 // row p+3
	XORQ AX, AX

cols32:
	CMPQ AX, R9
	JGE  cols8
	VMOVUPS     (DX)(AX*1), Y4
	VMOVUPS     32(DX)(AX*1), Y5
	VMOVUPS     64(DX)(AX*1), Y6
	VMOVUPS     96(DX)(AX*1), Y7
	VFMADD231PS (DI)(AX*1), Y0, Y4
	VFMADD231PS 32(DI)(AX*1), Y0, Y5
	VFMADD231PS 64(DI)(AX*1), Y0, Y6
	VFMADD231PS 96(DI)(AX*1), Y0, Y7
	VFMADD231PS (R10)(AX*1), Y1, Y4
	VFMADD231PS 32(R10)(AX*1), Y1, Y5
	VFMADD231PS 64(R10)(AX*1), Y1, Y6
	VFMADD231PS 96(R10)(AX*1), Y1, Y7
	VFMADD231PS (R11)(AX*1), Y2, Y4
	VFMADD231PS 32(R11)(AX*1), Y2, Y5
	VFMADD231PS 64(R11)(AX*1), Y2, Y6
	VFMADD231PS 96(R11)(AX*1), Y2, Y7
	VFMADD231PS (R12)(AX*1), Y3, Y4
	VFMADD231PS 32(R12)(AX*1), Y3, Y5
	VFMADD231PS 64(R12)(AX*1), Y3, Y6
	VFMADD231PS 96(R12)(AX*1), Y3, Y7
	VMOVUPS     Y4, (DX)(AX*1)
	VMOVUPS     Y5, 32(DX)(AX*1)
	VMOVUPS     Y6, 64(DX)(AX*1)
	VMOVUPS     Y7, 96(DX)(AX*1)
	ADDQ        $128, AX
	JMP         cols32

cols8:
	CMPQ AX, BX
	JGE  next4
	VMOVUPS     (DX)(AX*1), Y4
	VFMADD231PS (DI)(AX*1), Y0, Y4
	VFMADD231PS (R10)(AX*1), Y1, Y4
	VFMADD231PS (R11)(AX*1), Y2, Y4
	VFMADD231PS (R12)(AX*1), Y3, Y4
	VMOVUPS     Y4, (DX)(AX*1)
	ADDQ        $32, AX
	JMP         cols8

next4:
	LEAQ (DI)(R8*4), DI
	ADDQ $16, SI
	SUBQ $4, CX
	JMP  rows4

rows1:
	TESTQ CX, CX
	JZ    done
	VBROADCASTSS (SI), Y0
	XORQ  AX, AX

cols1:
	CMPQ AX, BX
	JGE  next1
	VMOVUPS     (DX)(AX*1), Y4
	VFMADD231PS (DI)(AX*1), Y0, Y4
	VMOVUPS     Y4, (DX)(AX*1)
	ADDQ        $32, AX
	JMP         cols1

next1:
	ADDQ R8, DI
	ADDQ $4, SI
	DECQ CX
	JMP  rows1

done:
	VZEROUPPER
	RET

// func gemvTAVX2(k, n int, x, w *float32, ldw int, y *float32)
//
// y[j] = Σ_p x[p]·W[j][p] for j < n: one dot product at a time, with four accumulators. Rows
// one after another make a single sequential stream through W, which the hardware
// prefetchers follow best when W comes from DRAM. k is a multiple of 8.
TEXT ·gemvTAVX2(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ n+8(FP), BX
	MOVQ x+16(FP), SI
	MOVQ w+24(FP), DI
	MOVQ ldw+32(FP), R8
	MOVQ y+40(FP), DX
	SHLQ $2, R8          // row stride in bytes
	SHLQ $2, CX          // k in bytes
	MOVQ CX, R9
	ANDQ $-128, R9       // bytes covered by the 32-wide loop

trow:
	TESTQ  BX, BX
	JZ     tdone
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   AX, AX

tk32:
	CMPQ AX, R9
	JGE  tk8
	VMOVUPS     (SI)(AX*1), Y8
	VMOVUPS     32(SI)(AX*1), Y9
	VMOVUPS     64(SI)(AX*1), Y10
	VMOVUPS     96(SI)(AX*1), Y11
	VFMADD231PS (DI)(AX*1), Y8, Y0
	VFMADD231PS 32(DI)(AX*1), Y9, Y1
	VFMADD231PS 64(DI)(AX*1), Y10, Y2
	VFMADD231PS 96(DI)(AX*1), Y11, Y3
	ADDQ        $128, AX
	JMP         tk32

tk8:
	CMPQ AX, CX
	JGE  tsum
	VMOVUPS     (SI)(AX*1), Y8
	VFMADD231PS (DI)(AX*1), Y8, Y0
	ADDQ        $32, AX
	JMP         tk8

tsum:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, (DX)
	ADDQ         $4, DX
	ADDQ         R8, DI
	DECQ         BX
	JMP          trow

tdone:
	VZEROUPPER
	RET
