//go:build amd64 && !purego

#include "textflag.h"

// The AMX micro-kernel of bfloat16 compute (see amx_amd64.go). The Go assembler knows no AMX
// instruction, so they are spelt out in bytes: each is a three-byte VEX prefix (C4, then
// R̄X̄B̄ and the 0F38 map, then W, v̄v̄v̄v̄, L and the implied prefix), the opcode and a ModRM
// byte, with a SIB byte for the tile loads and stores. Registers are given by number (AX 0,
// CX 1, DX 2, BX 3, SI 6, DI 7, R8–R15 8–15); a base register of a tile load must not be BP
// or R13, an index not SP.

#define rAX 0
#define rCX 1
#define rDX 2
#define rBX 3
#define rSI 6
#define rDI 7
#define rR8 8
#define rR10 10
#define rR11 11
#define rR12 12

// LDTILECFG and STTILECFG take a base register without SIB: not SP, BP, R12 or R13.

// VEX byte 1 for the 0F38 map with the R̄X̄B̄ bits of index and base register numbers.
#define VEX1(idx, base) BYTE $(0xE2 - ((idx>>3)<<6) - ((base>>3)<<5))

// LDTILECFG (base): load the tile configuration, zeroing every tile.
#define LDTILECFG(base) BYTE $0xC4; VEX1(0, base); BYTE $0x78; BYTE $0x49; BYTE $(base&7)

// STTILECFG (base): store the tile configuration (64 zero bytes when none is loaded).
#define STTILECFG(base) BYTE $0xC4; VEX1(0, base); BYTE $0x79; BYTE $0x49; BYTE $(base&7)

// TILEZERO tmm t.
#define TILEZERO(t) BYTE $0xC4; BYTE $0xE2; BYTE $0x7B; BYTE $0x49; BYTE $(0xC0 | (t<<3))

// TILELOADD tmm t, (base)(idx*1): the tile's rows, idx bytes apart.
#define TILELOADD(t, base, idx) BYTE $0xC4; VEX1(idx, base); BYTE $0x7B; BYTE $0x4B; BYTE $(0x04 | (t<<3)); BYTE $(((idx&7)<<3) | (base&7))

// TILESTORED (base)(idx*1), tmm t.
#define TILESTORED(t, base, idx) BYTE $0xC4; VEX1(idx, base); BYTE $0x7A; BYTE $0x4B; BYTE $(0x04 | (t<<3)); BYTE $(((idx&7)<<3) | (base&7))

// TDPBF16PS tmm c, tmm a, tmm b: c[m][n] += Σ_p a[m][2p]·b[p][2n] + a[m][2p+1]·b[p][2n+1].
#define TDPBF16PS(c, a, b) BYTE $0xC4; BYTE $0xE2; BYTE $(((15-b)<<3) | 2); BYTE $0x5C; BYTE $(0xC0 | (c<<3) | a)

// func amxTile32(steps int, a *float32, sa, as int, b *float32, sb int, c *float32, ldc int, init *float32, ldi int, ahead *float32, n int, cfg *[64]byte)
//
// C (32×32 float32, row stride ldc bytes) = I + Ap·Bp, over steps of 16 pairs of depths: Ap is
// 32 rows of pair words, sa bytes apart, its steps (16 words of each row) as bytes apart; Bp is a micro-panel of 32 columns, a row of 32 pair
// words (sb bytes) per pair of depths. I is zero when init is nil, else the 32×32 float32 at
// init with row stride ldi bytes (C itself, or with ldi = 0 a bias row repeated). Tiles 0–3
// hold C (rows 0–15 and 16–31, columns 0–15 and 16–31), 4–5 the two A tiles of a step, 6–7
// its two B tiles. While the products run, C's rows are prefetched, two a step, so that the
// stores at the end do not wait on memory, and the n bytes at ahead (a slice of the caller's
// next B micro-panel) are prefetched into L2, two lines a step. The tile configuration cfg
// is loaded only when the thread's differs (LDTILECFG costs as much as a few hundred
// multiply-adds); the tiles are left configured for the next call, whichever goroutine makes
// it.
TEXT ·amxTile32(SB), NOSPLIT, $64-104
	// Configure the tiles unless this thread has cfg already.
	MOVQ cfg+96(FP), R10
	LEAQ cur-64(SP), R11
	STTILECFG(rR11)
	VMOVDQU64 (R11), Z0
	VPCMPEQQ (R10), Z0, K1
	KORTESTB K1, K1
	JCS configured
	LDTILECFG(rR10)

configured:
	// The tiles of C start from I, or zero.
	MOVQ init+64(FP), SI
	TESTQ SI, SI
	JEQ zero
	MOVQ ldi+72(FP), AX
	MOVQ AX, DI
	SHLQ $4, DI
	ADDQ SI, DI         // I's rows 16–31
	TILELOADD(0, rSI, rAX)
	TILELOADD(2, rDI, rAX)
	ADDQ $64, SI
	ADDQ $64, DI
	TILELOADD(1, rSI, rAX)
	TILELOADD(3, rDI, rAX)
	JMP operands

zero:
	TILEZERO(0)
	TILEZERO(1)
	TILEZERO(2)
	TILEZERO(3)

operands:
	MOVQ a+8(FP), SI
	MOVQ sa+16(FP), AX
	MOVQ b+32(FP), DI
	MOVQ sb+40(FP), CX
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), BX
	MOVQ steps+0(FP), R9
	MOVQ AX, R8
	SHLQ $4, R8
	ADDQ SI, R8         // rows 16–31 of Ap
	LEAQ 64(DI), R10    // columns 16–31 of Bp
	MOVQ CX, R11
	SHLQ $4, R11        // the bytes of 16 pair rows of Bp

	// R13 walks C's rows to prefetch, up to R12, the end of the tile; R14 the bytes ahead, up
	// to R15.
	MOVQ DX, R13
	MOVQ BX, R12
	SHLQ $5, R12
	ADDQ DX, R12
	MOVQ ahead+80(FP), R14
	MOVQ n+88(FP), R15
	ADDQ R14, R15

loop:
	TESTQ R9, R9
	JEQ store
	TILELOADD(4, rSI, rAX)
	TILELOADD(6, rDI, rCX)
	TDPBF16PS(0, 4, 6)
	TILELOADD(7, rR10, rCX)
	TDPBF16PS(1, 4, 7)
	TILELOADD(5, rR8, rAX)
	TDPBF16PS(2, 5, 6)
	TDPBF16PS(3, 5, 7)
	ADDQ as+24(FP), SI
	ADDQ as+24(FP), R8
	ADDQ R11, DI
	ADDQ R11, R10
	DECQ R9
	CMPQ R14, R15
	JAE prefetchC
	PREFETCHT1 (R14)
	PREFETCHT1 64(R14)
	ADDQ $128, R14

prefetchC:
	CMPQ R13, R12
	JAE loop
	PREFETCHT0 (R13)
	PREFETCHT0 64(R13)
	ADDQ BX, R13
	PREFETCHT0 (R13)
	PREFETCHT0 64(R13)
	ADDQ BX, R13
	JMP loop

store:
	// C's rows 16–31 start 16·ldc bytes on.
	MOVQ BX, R12
	SHLQ $4, R12
	ADDQ DX, R12
	TILESTORED(0, rDX, rBX)
	TILESTORED(2, rR12, rBX)
	ADDQ $64, DX
	ADDQ $64, R12
	TILESTORED(1, rDX, rBX)
	TILESTORED(3, rR12, rBX)
	VZEROUPPER
	RET

// func amxScaleAdd32(alpha float32, t *float32, c *float32, ldc int)
//
// C[i][j] += alpha·T[i][j] for the 32×32 float32 tile T (row stride 32 floats) and C (row
// stride ldc bytes): the product rounded, then the sum, as scalev followed by addTo, one row
// of two vectors a step. The tile of a product with alpha ≠ 1 and beta 1 (the attention's
// scaled, accumulating gradients) leaves the stack this way.
TEXT ·amxScaleAdd32(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Z0
	MOVQ t+8(FP), SI
	MOVQ c+16(FP), DI
	MOVQ ldc+24(FP), BX
	MOVQ $32, CX

scaleAddRow:
	VMULPS  0(SI), Z0, Z1
	VMULPS  64(SI), Z0, Z2
	VADDPS  0(DI), Z1, Z1
	VADDPS  64(DI), Z2, Z2
	VMOVUPS Z1, 0(DI)
	VMOVUPS Z2, 64(DI)
	ADDQ    $128, SI
	ADDQ    BX, DI
	DECQ    CX
	JNZ     scaleAddRow
	VZEROUPPER
	RET
