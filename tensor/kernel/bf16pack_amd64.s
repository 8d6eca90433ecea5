//go:build amd64 && !purego

#include "textflag.h"

// Packing for bfloat16 compute (gemm_pairs.go): float32 rounded to bfloat16 (nearest, ties to
// even; a NaN stays a quiet NaN), as bf16Round does, sixteen lanes at a time. For a lane x,
//
//	r = x + 0x7fff + ((x >> 16) & 1)       the rounded value in the high half
//	r = x | 0x00400000  where |x| is a NaN  (quiet bit set, never rounded into infinity)
//
// and the bfloat16 is r >> 16. Registers: Z28 = 0x7fffffff, Z29 = 0x7f800000, Z30 = 0x7fff,
// Z31 = 0x00400000, Z27 = 1, Z26 = 0xffff0000.

#define CONSTS \
	MOVL         $0x7fffffff, AX \
	VPBROADCASTD AX, Z28         \
	MOVL         $0x7f800000, AX \
	VPBROADCASTD AX, Z29         \
	MOVL         $0x7fff, AX     \
	VPBROADCASTD AX, Z30         \
	MOVL         $0x00400000, AX \
	VPBROADCASTD AX, Z31         \
	MOVL         $1, AX          \
	VPBROADCASTD AX, Z27         \
	MOVL         $0xffff0000, AX \
	VPBROADCASTD AX, Z26

// ROUND rounds the float32 lanes of X into the high halves of X; T is scratch, K the mask
// register it uses.
#define ROUND(X, T, K) \
	VPANDD  Z28, X, T      \
	VPCMPUD $6, Z29, T, K  \ // |x| > +Inf: NaN
	VPSRLD  $16, X, T      \
	VPANDD  Z27, T, T      \
	VPADDD  Z30, T, T      \
	VPADDD  T, X, T        \
	VPORD   Z31, X, K, T   \ // NaN lanes: x with the quiet bit
	VMOVDQA32 T, X

// PAIRWORDS joins the rounded lanes of LO (the even depth) and HI (the odd one) into pair
// words in LO: bf16(lo) in the low half, bf16(hi) in the high half; HI is clobbered.
#define PAIRWORDS(LO, HI) \
	VPSRLD $16, LO, LO \
	VPANDD Z26, HI, HI \
	VPORD  HI, LO, LO

// WIDTHMASKS sets K3 to the lanes of columns 0..15 below the argument width (≤ 32), K4 to
// those of columns 16..31: (1 << min(width, 16)) − 1 and (1 << max(width − 16, 0)) − 1.
#define WIDTHMASKS \
	MOVQ    width+40(FP), CX \
	MOVQ    $16, DX          \
	CMPQ    CX, DX           \
	CMOVQGT DX, CX           \
	MOVL    $1, AX           \
	SHLL    CX, AX           \
	DECL    AX               \
	KMOVW   AX, K3           \
	MOVQ    width+40(FP), CX \
	SUBQ    $16, CX          \
	XORQ    DX, DX           \
	CMPQ    CX, DX           \
	CMOVQLT DX, CX           \
	MOVL    $1, AX           \
	SHLL    CX, AX           \
	DECL    AX               \
	KMOVW   AX, K4



// func bf16Panels48AVX512(d *float32, panel int, x *float32, ldx, pairs int)
//
// Four micro-panels of 12 columns from 48 columns of x at once, for a transposed A:
// d[(c/12)·panel + p·12 + c%12] = bf16(x[2p·ldx + c]) | bf16(x[(2p+1)·ldx + c])<<16 for
// c < 48, p < pairs. Each pair of rows is read as three vectors per row, rounded and joined
// into three vectors of pair words, which masked stores spread over the four micro-panels
// (a store placed before a panel's start writes only the lanes its mask keeps, so nothing
// outside the panels is touched): panel 0 takes lanes 0–11 of the first vector, panel 1
// lanes 12–15 of it and 0–7 of the second, panel 2 lanes 8–15 of the second and 0–3 of the
// third, panel 3 lanes 4–15 of the third. DI walks the pair rows of panel 0 (48 bytes a
// pair), R8 is the panel stride in bytes and R10 = 3·R8; SI and DX walk the even and odd
// rows of x, with the rows 16 ahead prefetched.
TEXT ·bf16Panels48AVX512(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), DI
	MOVQ panel+8(FP), R8
	MOVQ x+16(FP), SI
	MOVQ ldx+24(FP), R9
	MOVQ pairs+32(FP), CX
	SHLQ $2, R8
	SHLQ $2, R9
	LEAQ (R8)(R8*2), R10
	TESTQ CX, CX
	JEQ   panels48Done
	CONSTS
	MOVL  $0x0fff, AX
	KMOVW AX, K2
	MOVL  $0xf000, AX
	KMOVW AX, K3
	MOVL  $0x00ff, AX
	KMOVW AX, K4
	MOVL  $0xff00, AX
	KMOVW AX, K5
	MOVL  $0x000f, AX
	KMOVW AX, K6
	MOVL  $0xfff0, AX
	KMOVW AX, K7
	LEAQ  (SI)(R9*1), DX // the odd row
	MOVQ  R9, R12
	SHLQ  $4, R12        // 16 rows ahead
	SHLQ  $1, R9         // two rows per pair

panels48Loop:
	PREFETCHT0 (SI)(R12*1)
	PREFETCHT0 64(SI)(R12*1)
	PREFETCHT0 128(SI)(R12*1)
	PREFETCHT0 (DX)(R12*1)
	PREFETCHT0 64(DX)(R12*1)
	PREFETCHT0 128(DX)(R12*1)
	VMOVDQU32  (SI), Z0
	VMOVDQU32  (DX), Z1
	VMOVDQU32  64(SI), Z2
	VMOVDQU32  64(DX), Z3
	VMOVDQU32  128(SI), Z4
	VMOVDQU32  128(DX), Z5
	ROUND(Z0, Z6, K1)
	ROUND(Z1, Z7, K1)
	ROUND(Z2, Z8, K1)
	ROUND(Z3, Z9, K1)
	ROUND(Z4, Z10, K1)
	ROUND(Z5, Z11, K1)
	PAIRWORDS(Z0, Z1)
	PAIRWORDS(Z2, Z3)
	PAIRWORDS(Z4, Z5)
	VMOVDQU32  Z0, K2, (DI)
	VMOVDQU32  Z0, K3, -48(DI)(R8*1)
	VMOVDQU32  Z2, K4, 16(DI)(R8*1)
	VMOVDQU32  Z2, K5, -32(DI)(R8*2)
	VMOVDQU32  Z4, K6, 32(DI)(R8*2)
	VMOVDQU32  Z4, K7, -16(DI)(R10*1)
	ADDQ       R9, SI
	ADDQ       R9, DX
	ADDQ       $48, DI
	DECQ       CX
	JNZ        panels48Loop

panels48Done:
	VZEROUPPER
	RET

// Where the CPU has AVX512-BF16 the packers below round on VCVTNE2PS2BF16, which rounds 32
// lanes to bfloat16 in one instruction, nearest with ties to even and a NaN made quiet, as
// ROUND does, but with a subnormal input taken as zero. Each step therefore tests its inputs
// for subnormals first (DENORMALS) and, where it finds one, packs that step with ROUND
// instead, so the bits are ROUND's always. Z25 = 0x007fffff, Z24 = the word index that
// interleaves two halves (CVTCONSTS).
//
// VCVTNE2PS2BF16 zmm1, zmm2, zmm3 (in Intel's order) writes bfloat16 words 0–15 from zmm3's
// lanes and 16–31 from zmm2's; the Go assembler does not know it, so it is written as bytes.
#define CVT_Z2_Z1_Z0 BYTE $0x62; BYTE $0xf2; BYTE $0x77; BYTE $0x48; BYTE $0x72; BYTE $0xd0 // VCVTNE2PS2BF16 Z0, Z1, Z2
#define CVT_Z6_Z5_Z4 BYTE $0x62; BYTE $0xf2; BYTE $0x57; BYTE $0x48; BYTE $0x72; BYTE $0xf4 // VCVTNE2PS2BF16 Z4, Z5, Z6

// pairWordIndex interleaves the words of a vector (a0…a15, b0…b15) into (a0, b0, a1, b1, …):
// the pair words of two depths.
DATA pairWordIndex<>+0(SB)/8, $0x0011000100100000
DATA pairWordIndex<>+8(SB)/8, $0x0013000300120002
DATA pairWordIndex<>+16(SB)/8, $0x0015000500140004
DATA pairWordIndex<>+24(SB)/8, $0x0017000700160006
DATA pairWordIndex<>+32(SB)/8, $0x0019000900180008
DATA pairWordIndex<>+40(SB)/8, $0x001b000b001a000a
DATA pairWordIndex<>+48(SB)/8, $0x001d000d001c000c
DATA pairWordIndex<>+56(SB)/8, $0x001f000f001e000e
GLOBL pairWordIndex<>(SB), RODATA|NOPTR, $64

#define CVTCONSTS \
	CONSTS                      \
	MOVL         $0x007fffff, AX \
	VPBROADCASTD AX, Z25         \
	VMOVDQU32    pairWordIndex<>(SB), Z24

// DENORMALS sets K to the lanes of X that hold a denormal: exponent bits 0, mantissa not.
#define DENORMALS(X, K) \
	VPTESTNMD Z29, X, K \
	VPTESTMD  Z25, X, K, K

// func bf16PanelAVX512(d *float32, ldd int, x *float32, ldx, pairs, width int, cvt bool)
//
// d[p·ldd + c] = bf16(x[2p·ldx + c]) | bf16(x[(2p+1)·ldx + c])<<16 for c < width ≤ 32,
// p < pairs: a micro-panel whose columns are contiguous in the rows of x, two rows of x to a
// pair of depths. Each row is read as two vectors, masked to width; the rows 16 ahead are
// prefetched, as x is walked down its columns, a stride the hardware prefetchers miss. With
// cvt (the CPU has AVX512-BF16) a pair of rows without subnormals is rounded by two
// VCVTNE2PS2BF16, whose words VPERMW interleaves into pair words; otherwise by ROUND.
TEXT ·bf16PanelAVX512(SB), NOSPLIT, $0-49
	MOVQ   d+0(FP), DI
	MOVQ   ldd+8(FP), R8
	MOVQ   x+16(FP), SI
	MOVQ   ldx+24(FP), R9
	MOVBQZX cvt+48(FP), R11
	SHLQ   $2, R8
	SHLQ   $2, R9

	WIDTHMASKS

	MOVQ  pairs+32(FP), CX
	TESTQ CX, CX
	JEQ   panelDone
	CVTCONSTS
	LEAQ  (SI)(R9*1), DX // the odd row
	MOVQ  R9, R12
	SHLQ  $4, R12        // 16 rows ahead
	SHLQ  $1, R9         // two rows per pair

panelLoop:
	PREFETCHT0  (SI)(R12*1)
	PREFETCHT0  64(SI)(R12*1)
	PREFETCHT0  (DX)(R12*1)
	PREFETCHT0  64(DX)(R12*1)
	VMOVDQU32.Z (SI), K3, Z0
	VMOVDQU32.Z (DX), K3, Z1
	VMOVDQU32.Z 64(SI), K4, Z4
	VMOVDQU32.Z 64(DX), K4, Z5
	TESTQ       R11, R11
	JEQ         panelRound
	DENORMALS(Z0, K5)
	DENORMALS(Z1, K6)
	KORW        K5, K6, K5
	DENORMALS(Z4, K6)
	DENORMALS(Z5, K7)
	KORW        K6, K7, K6
	KORTESTW    K5, K6
	JNE         panelRound
	CVT_Z2_Z1_Z0
	CVT_Z6_Z5_Z4
	VPERMW      Z2, Z24, Z2
	VPERMW      Z6, Z24, Z6
	VMOVDQU32   Z2, K3, (DI)
	VMOVDQU32   Z6, K4, 64(DI)

panelNext:
	ADDQ R9, SI
	ADDQ R9, DX
	ADDQ R8, DI
	DECQ CX
	JNZ  panelLoop

panelDone:
	VZEROUPPER
	RET

panelRound:
	ROUND(Z0, Z2, K1)
	ROUND(Z1, Z3, K2)
	ROUND(Z4, Z6, K1)
	ROUND(Z5, Z7, K2)
	PAIRWORDS(Z0, Z1)
	PAIRWORDS(Z4, Z5)
	VMOVDQU32 Z0, K3, (DI)
	VMOVDQU32 Z4, K4, 64(DI)
	JMP       panelNext

// ROWWORDS rounds the 16 float32 lanes of X by ROUND and stores them as 16 consecutive
// bfloat16 at off(DI); Z2, K1 and Y3 are scratch.
#define ROWWORDS(X, off) \
	ROUND(X, Z2, K1) \
	VPSRLD  $16, X, X \
	VPMOVDW X, Y3     \
	VMOVDQU Y3, off(DI)

// func bf16RowPairsAVX512(d, src *float32, n, ahead, ds int, cvt bool)
//
// d[i] = bf16(src[2i]) | bf16(src[2i+1])<<16 for i < n, n a multiple of 8, the words in runs
// of 16 (64 bytes) ds bytes apart (64: one run): a row of float32
// as consecutive bfloat16, read as the pair words of (even, odd) depths. 32 inputs a step:
// with cvt (AVX512-BF16) and no subnormal among them, one VCVTNE2PS2BF16, whose words come
// out in the order of the row, which is that of the pair words; otherwise ROUND and VPMOVDW
// on each half. The last 16 inputs, when n is not a multiple of 16, take ROUND. ahead, when
// not 0, is the distance in bytes to the row converted next (the next row of a matrix): its
// bytes at the same offsets are prefetched, since the hardware prefetchers see each row as a
// new short stream.
TEXT ·bf16RowPairsAVX512(SB), NOSPLIT, $0-41
	MOVQ    d+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    n+16(FP), CX
	MOVQ    ahead+24(FP), R8
	MOVQ    ds+32(FP), R9
	MOVBQZX cvt+40(FP), R11
	MOVQ    CX, DX
	CVTCONSTS
	SHRQ    $4, CX
	JEQ     rowTail

row16:
	PREFETCHT0 (SI)(R8*1) // the next row's bytes (ahead 0: this row's, a no-op)
	PREFETCHT0 64(SI)(R8*1)
	VMOVDQU32  (SI), Z0
	VMOVDQU32  64(SI), Z1
	TESTQ      R11, R11
	JEQ        rowRound
	DENORMALS(Z0, K5)
	DENORMALS(Z1, K6)
	KORTESTW   K5, K6
	JNE        rowRound
	CVT_Z2_Z1_Z0
	VMOVDQU32  Z2, (DI)

rowNext:
	ADDQ $128, SI
	ADDQ R9, DI
	DECQ CX
	JNZ  row16

rowTail:
	ANDQ       $8, DX
	JEQ        rowDone
	PREFETCHT0 (SI)(R8*1)
	VMOVDQU32  (SI), Z0
	ROWWORDS(Z0, 0)

rowDone:
	VZEROUPPER
	RET

rowRound:
	ROWWORDS(Z0, 0)
	ROWWORDS(Z1, 32)
	JMP rowNext
