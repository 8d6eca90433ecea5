//go:build amd64 && !purego

#include "textflag.h"

// The 6×16 SGEMM micro-kernel for AVX2/FMA.
//
// Register use: Y4..Y15 hold the 6×16 tile of C as 6 rows × 2 vectors of 8 (row r in
// Y(4+2r), Y(5+2r)); Y0, Y1 hold one row of the B micro-panel; Y2, Y3 hold broadcast
// elements of the A micro-panel. SI walks A with step stride R11 (R13 = 3·R11), DI walks B
// with row stride R10 (R12 = 3·R10); R14 is zero, the index of the first step of four.

// STEP adds one k step, the outer product of the 6 A elements at (SI)aidx and the 16 B
// elements at (DI)bidx, to the tile.
#define STEP(aidx, bidx) \
	VMOVUPS      (DI)bidx, Y0;       \
	VMOVUPS      32(DI)bidx, Y1;     \
	VBROADCASTSS (SI)aidx, Y2;       \
	VBROADCASTSS 4(SI)aidx, Y3;      \
	VFMADD231PS  Y0, Y2, Y4;         \
	VFMADD231PS  Y1, Y2, Y5;         \
	VFMADD231PS  Y0, Y3, Y6;         \
	VFMADD231PS  Y1, Y3, Y7;         \
	VBROADCASTSS 8(SI)aidx, Y2;      \
	VBROADCASTSS 12(SI)aidx, Y3;     \
	VFMADD231PS  Y0, Y2, Y8;         \
	VFMADD231PS  Y1, Y2, Y9;         \
	VFMADD231PS  Y0, Y3, Y10;        \
	VFMADD231PS  Y1, Y3, Y11;        \
	VBROADCASTSS 16(SI)aidx, Y2;     \
	VBROADCASTSS 20(SI)aidx, Y3;     \
	VFMADD231PS  Y0, Y2, Y12;        \
	VFMADD231PS  Y1, Y2, Y13;        \
	VFMADD231PS  Y0, Y3, Y14;        \
	VFMADD231PS  Y1, Y3, Y15

// STORE0 writes one row of the tile (two vectors) to DX and moves DX to the next row.
#define STORE0(lo, hi) \
	VMOVUPS lo, (DX);   \
	VMOVUPS hi, 32(DX); \
	ADDQ    R8, DX

// STOREB adds beta·C (beta in Y1) to one row of the tile before writing it.
#define STOREB(lo, hi) \
	VFMADD231PS (DX), Y1, lo;   \
	VFMADD231PS 32(DX), Y1, hi; \
	VMOVUPS     lo, (DX);       \
	VMOVUPS     hi, 32(DX);     \
	ADDQ        R8, DX

// func sgemmKernelAVX2(k int, a *float32, sa int, b *float32, sb int, c *float32, ldc int, alpha, beta float32)
//
// C[0:6][0:16] = alpha·(Ap·Bp) + beta·C, where A element (p, i) is at a[p·sa + i] (a packed
// micro-panel, sa = 6, or the columns of a transposed A read in place) and B element (p, j)
// at b[p·sb + j] (a packed micro-panel, sb = 16, or the columns of a row-major B read in
// place); C has row stride ldc (in floats). beta == 0 does not read C.
TEXT ·sgemmKernelAVX2(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ sa+16(FP), R11
	MOVQ b+24(FP), DI
	MOVQ sb+32(FP), R10
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	SHLQ $2, R10
	SHLQ $2, R11
	LEAQ (R10)(R10*2), R12
	LEAQ (R11)(R11*2), R13
	XORQ R14, R14

	// Start fetching the C tile now: its loads and stores at the end then hit the cache.
	MOVQ       DX, AX
	PREFETCHT0 (AX)
	PREFETCHT0 63(AX)
	ADDQ       R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 63(AX)
	ADDQ       R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 63(AX)
	ADDQ       R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 63(AX)
	ADDQ       R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 63(AX)
	ADDQ       R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 63(AX)

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ CX, R9
	SHRQ $2, R9
	JZ   tail

loop4:
	STEP((R14*1), (R14*1))
	STEP((R11*1), (R10*1))
	STEP((R11*2), (R10*2))
	STEP((R13*1), (R12*1))
	LEAQ (SI)(R11*4), SI
	LEAQ (DI)(R10*4), DI
	DECQ R9
	JNZ  loop4

tail:
	ANDQ $3, CX
	JZ   scale

loop1:
	STEP((R14*1), (R14*1))
	ADDQ R11, SI
	ADDQ R10, DI
	DECQ CX
	JNZ  loop1

scale:
	VBROADCASTSS alpha+56(FP), Y0
	VMULPS       Y0, Y4, Y4
	VMULPS       Y0, Y5, Y5
	VMULPS       Y0, Y6, Y6
	VMULPS       Y0, Y7, Y7
	VMULPS       Y0, Y8, Y8
	VMULPS       Y0, Y9, Y9
	VMULPS       Y0, Y10, Y10
	VMULPS       Y0, Y11, Y11
	VMULPS       Y0, Y12, Y12
	VMULPS       Y0, Y13, Y13
	VMULPS       Y0, Y14, Y14
	VMULPS       Y0, Y15, Y15

	// beta == 0 (but not NaN) overwrites C; anything else reads it.
	VMOVSS   beta+60(FP), X1
	VXORPS   X2, X2, X2
	VUCOMISS X2, X1
	JNE      accumulate
	JPS      accumulate

	STORE0(Y4, Y5)
	STORE0(Y6, Y7)
	STORE0(Y8, Y9)
	STORE0(Y10, Y11)
	STORE0(Y12, Y13)
	STORE0(Y14, Y15)
	VZEROUPPER
	RET

accumulate:
	VBROADCASTSS X1, Y1
	STOREB(Y4, Y5)
	STOREB(Y6, Y7)
	STOREB(Y8, Y9)
	STOREB(Y10, Y11)
	STOREB(Y12, Y13)
	STOREB(Y14, Y15)
	VZEROUPPER
	RET

// TRANSPOSE8 transposes the 8×8 block in Y0..Y7 (row r in Yr) into Y8..Y15 (column c of the
// block in Y(8+c)); it clobbers Y0..Y7. With rows a..h: the unpacks interleave row pairs
// (a0 b0 a1 b1 | a4 b4 a5 b5), the shuffles gather four rows (a0 b0 c0 d0 | a4 b4 c4 d4) and
// the 128-bit permutes join the halves (a0 .. h0).
#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8;         \
	VUNPCKHPS  Y1, Y0, Y9;         \
	VUNPCKLPS  Y3, Y2, Y10;        \
	VUNPCKHPS  Y3, Y2, Y11;        \
	VUNPCKLPS  Y5, Y4, Y12;        \
	VUNPCKHPS  Y5, Y4, Y13;        \
	VUNPCKLPS  Y7, Y6, Y14;        \
	VUNPCKHPS  Y7, Y6, Y15;        \
	VSHUFPS    $0x44, Y10, Y8, Y0; \
	VSHUFPS    $0xEE, Y10, Y8, Y1; \
	VSHUFPS    $0x44, Y11, Y9, Y2; \
	VSHUFPS    $0xEE, Y11, Y9, Y3; \
	VSHUFPS    $0x44, Y14, Y12, Y4; \
	VSHUFPS    $0xEE, Y14, Y12, Y5; \
	VSHUFPS    $0x44, Y15, Y13, Y6; \
	VSHUFPS    $0xEE, Y15, Y13, Y7; \
	VPERM2F128 $0x20, Y4, Y0, Y8;  \
	VPERM2F128 $0x20, Y5, Y1, Y9;  \
	VPERM2F128 $0x20, Y6, Y2, Y10; \
	VPERM2F128 $0x20, Y7, Y3, Y11; \
	VPERM2F128 $0x31, Y4, Y0, Y12; \
	VPERM2F128 $0x31, Y5, Y1, Y13; \
	VPERM2F128 $0x31, Y6, Y2, Y14; \
	VPERM2F128 $0x31, Y7, Y3, Y15

// LOAD8 loads 8 floats from each of the rows at lo, lo+R8, lo+2·R8, lo+3·R8, hi, hi+R8, ...
// (R9 = 3·R8) into Y0..Y7.
#define LOAD8(lo, hi) \
	VMOVUPS (lo), Y0;         \
	VMOVUPS (lo)(R8*1), Y1;   \
	VMOVUPS (lo)(R8*2), Y2;   \
	VMOVUPS (lo)(R9*1), Y3;   \
	VMOVUPS (hi), Y4;         \
	VMOVUPS (hi)(R8*1), Y5;   \
	VMOVUPS (hi)(R8*2), Y6;   \
	VMOVUPS (hi)(R9*1), Y7

// STORE8 writes Y8..Y15 to eight consecutive rows of the packed panel at off(DI) and
// off(AX): DI points at row 0, AX at row 4, R13 is the row stride and BX = 3·R13.
#define STORE8(off) \
	VMOVUPS Y8, off(DI);          \
	VMOVUPS Y9, off(DI)(R13*1);   \
	VMOVUPS Y10, off(DI)(R13*2);  \
	VMOVUPS Y11, off(DI)(BX*1);   \
	VMOVUPS Y12, off(AX);         \
	VMOVUPS Y13, off(AX)(R13*1);  \
	VMOVUPS Y14, off(AX)(R13*2);  \
	VMOVUPS Y15, off(AX)(BX*1)

// func packBTransAVX2(k int, b *float32, ldb int, dst *float32, ldd int)
//
// Packs 16 columns of op(B) = Bᵀ: dst[p·ldd + c] = B[c][p] for c < 16, p < k, where B has
// row stride ldb; k is a multiple of 8. Each step transposes two 8×8 blocks. With ldd = 16
// that is a whole 16-column micro-panel; wider panels take 16 columns per call.
TEXT ·packBTransAVX2(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ b+8(FP), SI
	MOVQ ldb+16(FP), R8
	MOVQ dst+24(FP), DI
	MOVQ ldd+32(FP), R13
	SHLQ $2, R8
	SHLQ $2, R13
	LEAQ (R8)(R8*2), R9   // 3 rows of B
	LEAQ (SI)(R8*4), R10  // row 4
	LEAQ (R10)(R8*4), R11 // row 8
	LEAQ (R11)(R8*4), R12 // row 12
	LEAQ (R13)(R13*2), BX // 3 rows of dst
	LEAQ (DI)(R13*4), AX  // dst row 4
	SHRQ $3, CX
	JZ   pdone

ploop:
	LOAD8(SI, R10)
	TRANSPOSE8
	STORE8(0)
	LOAD8(R11, R12)
	TRANSPOSE8
	STORE8(32)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $32, R12
	LEAQ (DI)(R13*8), DI
	LEAQ (AX)(R13*8), AX
	DECQ CX
	JNZ  ploop

pdone:
	VZEROUPPER
	RET
