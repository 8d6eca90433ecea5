//go:build amd64 && !purego

#include "textflag.h"

// AVX2/FMA kernels of vec.go. Every kernel takes the element count n ≥ 1 and base pointers
// (ABI0: arguments on the stack), runs 8 float32 lanes per iteration with AX as the element
// index and CX as the count left, and finishes the last n%8 elements with VMASKMOVPS loads and
// stores under a lane mask in Y15, so memory past the slices is never touched. Each pure-Go
// twin in vec.go performs the same operations in the same order, except that the assembly
// fuses some multiply-adds and sums reductions in float32 lanes folded into float64 sums
// every 16 terms (FOLD), where the Go kernels add every term into float64 sums.
//
// Constants live in vecC, each replicated over 8 lanes (32 bytes) so that it can be a memory
// operand of a 256-bit instruction. The operand order is Go's: sources first, destination
// last; VFMADD213PS m, b, a computes a = b·a + m and VFMADD231PS m, b, a computes a = b·m + a.
//
// NaN handling: VMINPS/VMAXPS return their second Intel source (the first Go operand) when
// either input is NaN, so clamps are written "VMAXPS x, bound, x" to let a NaN in x through.

// C8 stores one 32-bit constant 8 times at byte offset off of vecC.
#define C8(off, bits) \
	DATA vecC<>+(off+0)(SB)/4, bits; DATA vecC<>+(off+4)(SB)/4, bits; \
	DATA vecC<>+(off+8)(SB)/4, bits; DATA vecC<>+(off+12)(SB)/4, bits; \
	DATA vecC<>+(off+16)(SB)/4, bits; DATA vecC<>+(off+20)(SB)/4, bits; \
	DATA vecC<>+(off+24)(SB)/4, bits; DATA vecC<>+(off+28)(SB)/4, bits

// The values match the constants of vec.go.
C8(0, $0x3f800000) // ONE = 1
C8(32, $0x3f000000) // HALF = 0.5
C8(64, $0x40000000) // TWO = 2
C8(96, $0x7fffffff) // ABSMASK = clears the sign bit
C8(128, $0x80000000) // SIGNMASK = the sign bit
C8(160, $0xff800000) // NEGINF = -Inf
C8(192, $0xff7fffff) // NEGMAX = -3.4028235e+38
C8(224, $0xc2d00000) // EXPLO = -104
C8(256, $0x42b20000) // EXPHI = 89
C8(288, $0x3fb8aa3b) // LOG2E = 1.442695
C8(320, $0x3f318000) // LN2HI = 0.6933594
C8(352, $0xb95e8083) // LN2LO = -0.00021219444
C8(384, $0x3efffffe) // EP0 = 0.49999994
C8(416, $0x3e2aaa48) // EP1 = 0.1666652
C8(448, $0x3d2aac7a) // EP2 = 0.041668393
C8(480, $0x3c091d36) // EP3 = 0.008368781
C8(512, $0x3ab511a9) // EP4 = 0.0013814467
C8(544, $0x0000007f) // BIAS = the float32 exponent bias (int32)
C8(576, $0xbfcc422a) // GC1 = -1.5957692
C8(608, $0xbd922279) // GC2 = -0.071354814
C8(640, $0x3e5b33b6) // GK3 = 0.21406445
C8(672, $0xc1200000) // GGRADMIN = -10
C8(704, $0x41200000) // GGRADMAX = 10
C8(736, $0x3f200000) // TANHSMALL = 0.625
C8(768, $0xbeaaaa99) // TP0 = -0.3333328
C8(800, $0x3e088393) // TP1 = 0.13331442
C8(832, $0xbd5c1e2d) // TP2 = -0.053739715
C8(864, $0x3ca9134e) // TP3 = 0.020639088
C8(896, $0xbbbaf0e7) // TP4 = -0.0057049873
C8(928, $0x3f3504f3) // INVSQRT2 = 0.70710677
C8(960, $0x3e0375d4) // EA0 = 0.12837917
C8(992, $0xbec0939f) // EA1 = -0.37612626
C8(1024, $0x3de7167c) // EA2 = 0.112835854
C8(1056, $0xbcdbfc87) // EA3 = -0.026853813
C8(1088, $0x3baa02d9) // EA4 = 0.0051883277
C8(1120, $0xba51fb80) // EA5 = -0.00080101937
C8(1152, $0x38a4b519) // EA6 = 7.8538615e-05
C8(1184, $0xbfa1fc1b) // EC0 = -1.2655061
C8(1216, $0x3f7ff736) // EC1 = 0.9998659
C8(1248, $0x3ec08c59) // EC2 = 0.37607077
C8(1280, $0x3da5daa5) // EC3 = 0.08098344
C8(1312, $0xbdd2c284) // EC4 = -0.10291007
C8(1344, $0xbbbda166) // EC5 = -0.0057870625
C8(1376, $0xbf05ecb8) // EC6 = -0.5231433
C8(1408, $0x3f319bef) // EC7 = 0.6937856
C8(1440, $0xbe8265a7) // EC8 = -0.2546818
C8(1472, $0xc1a00000) // ERFGRADMIN = -20
C8(1504, $0x41a00000) // ERFGRADMAX = 20
C8(1536, $0xbf000000) // NEGHALF = -0.5
C8(1568, $0x3ecc422a) // INVSQRT2PI = 0.3989423

// The tail-mask table: 8 lanes of all ones, then 8 lanes of zeros.
C8(1600, $0xffffffff)
C8(1632, $0x00000000)
GLOBL vecC<>(SB), RODATA|NOPTR, $1664

#define ONE vecC<>+0(SB)
#define HALF vecC<>+32(SB)
#define TWO vecC<>+64(SB)
#define ABSMASK vecC<>+96(SB)
#define SIGNMASK vecC<>+128(SB)
#define NEGINF vecC<>+160(SB)
#define NEGMAX vecC<>+192(SB)
#define EXPLO vecC<>+224(SB)
#define EXPHI vecC<>+256(SB)
#define LOG2E vecC<>+288(SB)
#define LN2HI vecC<>+320(SB)
#define LN2LO vecC<>+352(SB)
#define EP0 vecC<>+384(SB)
#define EP1 vecC<>+416(SB)
#define EP2 vecC<>+448(SB)
#define EP3 vecC<>+480(SB)
#define EP4 vecC<>+512(SB)
#define BIAS vecC<>+544(SB)
#define GC1 vecC<>+576(SB)
#define GC2 vecC<>+608(SB)
#define GK3 vecC<>+640(SB)
#define GGRADMIN vecC<>+672(SB)
#define GGRADMAX vecC<>+704(SB)
#define TANHSMALL vecC<>+736(SB)
#define TP0 vecC<>+768(SB)
#define TP1 vecC<>+800(SB)
#define TP2 vecC<>+832(SB)
#define TP3 vecC<>+864(SB)
#define TP4 vecC<>+896(SB)
#define INVSQRT2 vecC<>+928(SB)
#define EA0 vecC<>+960(SB)
#define EA1 vecC<>+992(SB)
#define EA2 vecC<>+1024(SB)
#define EA3 vecC<>+1056(SB)
#define EA4 vecC<>+1088(SB)
#define EA5 vecC<>+1120(SB)
#define EA6 vecC<>+1152(SB)
#define EC0 vecC<>+1184(SB)
#define EC1 vecC<>+1216(SB)
#define EC2 vecC<>+1248(SB)
#define EC3 vecC<>+1280(SB)
#define EC4 vecC<>+1312(SB)
#define EC5 vecC<>+1344(SB)
#define EC6 vecC<>+1376(SB)
#define EC7 vecC<>+1408(SB)
#define EC8 vecC<>+1440(SB)
#define ERFGRADMIN vecC<>+1472(SB)
#define ERFGRADMAX vecC<>+1504(SB)
#define NEGHALF vecC<>+1536(SB)
#define INVSQRT2PI vecC<>+1568(SB)

// TAILMASK sets dst to a mask of the first cnt lanes (1 ≤ cnt ≤ 7) by loading 8 lanes of the
// table starting 4·cnt bytes before its zeros; it clobbers cnt and tmp.
#define TAILMASK(cnt, tmp, dst) \
	LEAQ vecC<>+1632(SB), tmp; \
	SHLQ $2, cnt; \
	SUBQ cnt, tmp; \
	VMOVUPS (tmp), dst

// FOLD adds the 8 float32 lanes of acc into the float64 sums lo (lanes 0–3) and hi (lanes
// 4–7) and clears acc; t is scratch (tx its low half). The reductions add at most 16 terms
// per float32 lane between folds, so their rounding error does not grow with the row length.
#define FOLD(acc, accx, lo, hi, t, tx) \
	VCVTPS2PD    accx, t; \
	VADDPD       t, lo, lo; \
	VEXTRACTF128 $1, acc, tx; \
	VCVTPS2PD    tx, t; \
	VADDPD       t, hi, hi; \
	VXORPS       acc, acc, acc

// HSUMPD adds the float64 lanes of lo and hi into the low lane of lox (tx is scratch).
#define HSUMPD(lo, lox, hi, tx) \
	VADDPD       hi, lo, lo; \
	VEXTRACTF128 $1, lo, tx; \
	VADDPD       tx, lox, lox; \
	VHADDPD      lox, lox, lox

// EXPV sets x = e^x in 8 lanes; t1, t2, t3 are scratch and Y13 = EXPLO, Y14 = EXPHI must hold
// the clamp bounds. After the clamp (NaN passes), t1 = n = round(x·log2e) and x = r =
// x − n·ln2 (two-part ln2, fused); t2 = 1 + r + r²·P(r) by Horner; then t1 = n−n>>1 and
// t3 = n>>1 become the float32 powers of two 2^(n−n>>1) and 2^(n>>1) through their exponent
// bits, and x = t2·t3·t1, so results down to the denormals round once.
#define EXPV(x, t1, t2, t3) \
	VMAXPS       x, Y13, x; \
	VMINPS       x, Y14, x; \
	VMULPS       LOG2E, x, t1; \
	VROUNDPS     $0, t1, t1; \
	VFNMADD231PS LN2HI, t1, x; \
	VFNMADD231PS LN2LO, t1, x; \
	VMOVUPS      EP4, t2; \
	VFMADD213PS  EP3, x, t2; \
	VFMADD213PS  EP2, x, t2; \
	VFMADD213PS  EP1, x, t2; \
	VFMADD213PS  EP0, x, t2; \
	VMULPS       x, x, t3; \
	VFMADD213PS  x, t3, t2; \
	VADDPS       ONE, t2, t2; \
	VCVTPS2DQ    t1, t1; \
	VPSRAD       $1, t1, t3; \
	VPSUBD       t3, t1, t1; \
	VPADDD       BIAS, t3, t3; \
	VPADDD       BIAS, t1, t1; \
	VPSLLD       $23, t3, t3; \
	VPSLLD       $23, t1, t1; \
	VMULPS       t3, t2, x; \
	VMULPS       t1, x, x

// ERFC sets r = erfc(a) for a ≥ 1 held in a (lanes with a < 1 get meaningless values):
// tau = 1/(1 + a/2), r = C(tau) by Horner, r = tau·e^(r − a²). t1, t2, t3 are scratch for
// EXPV.
#define ERFC(a, r, tau, t1, t2, t3) \
	VMOVUPS      HALF, tau; \
	VFMADD213PS  ONE, a, tau; \
	VMOVUPS      ONE, r; \
	VDIVPS       tau, r, tau; \
	VMOVUPS      EC8, r; \
	VFMADD213PS  EC7, tau, r; \
	VFMADD213PS  EC6, tau, r; \
	VFMADD213PS  EC5, tau, r; \
	VFMADD213PS  EC4, tau, r; \
	VFMADD213PS  EC3, tau, r; \
	VFMADD213PS  EC2, tau, r; \
	VFMADD213PS  EC1, tau, r; \
	VFMADD213PS  EC0, tau, r; \
	VFNMADD231PS a, a, r; \
	EXPV(r, t1, t2, t3); \
	VMULPS       tau, r, r

// ERFSMALL sets r = t + t·A(t²) = erf(t) for |t| < 1; s receives t².
#define ERFSMALL(t, r, s) \
	VMULPS      t, t, s; \
	VMOVUPS     EA6, r; \
	VFMADD213PS EA5, s, r; \
	VFMADD213PS EA4, s, r; \
	VFMADD213PS EA3, s, r; \
	VFMADD213PS EA2, s, r; \
	VFMADD213PS EA1, s, r; \
	VFMADD213PS EA0, s, r; \
	VFMADD213PS t, t, r

// NORMCDF sets p = Φ(x) = 0.5·(1 + erf(x/√2)) for x in register x: t = x/√2 (Y9) and
// a = |t| (Y1); for a < 1, Φ = 0.5·erf(t) + 0.5 (Y3); otherwise h = erfc(a)/2 (Y4) and
// Φ = h for t < 0, 1 − h for t ≥ 0 (chosen by the sign bit of t). Clobbers Y1–Y9; p may be
// Y5 (free once ERFC is done) or any register outside Y1–Y9; m is one more register, outside
// Y1–Y9 and other than p, that the two halves below pass the mask a < 1 in.
#define NORMCDF(x, p, m) \
	NORMCDFSMALL(x, m); \
	NORMCDFLARGE(p, m)

// NORMCDFSMALL is the first half of NORMCDF: Y9 = t, Y1 = a, Y3 = the small-argument value,
// m = a < 1 (all ones where it holds). Where it holds in every lane, Y3 is NORMCDF's result
// and the second half (an erfc with a division and an exponential, most of the cost) can be
// skipped: the GELU loops branch on it (VMOVMSKPS gives 0xff).
#define NORMCDFSMALL(x, m) \
	VMULPS    INVSQRT2, x, Y9; \
	VANDPS    ABSMASK, Y9, Y1; \
	VCMPPS    $1, ONE, Y1, m; \
	ERFSMALL(Y9, Y3, Y2); \
	VMULPS    HALF, Y3, Y3; \
	VADDPS    HALF, Y3, Y3

// NORMCDFLARGE is the second half of NORMCDF: p = Φ from Y1, Y3, Y9 and m.
#define NORMCDFLARGE(p, m) \
	ERFC(Y1, Y4, Y5, Y6, Y7, Y8); \
	VMULPS    HALF, Y4, Y4; \
	VMOVUPS   ONE, p; \
	VSUBPS    Y4, p, p; \
	VBLENDVPS Y9, Y4, p, p; \
	VBLENDVPS m, Y3, p, p

// func expAVX2(n int, dst, src *float32)
//
// dst = e^src. Y0 value, Y1–Y3 scratch.
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ    n+0(FP), CX
	MOVQ    dst+8(FP), DI
	MOVQ    src+16(FP), SI
	VMOVUPS EXPLO, Y13
	VMOVUPS EXPHI, Y14
	XORQ    AX, AX

loop:
	CMPQ    CX, $8
	JLT     tail
	VMOVUPS (SI)(AX*4), Y0
	EXPV(Y0, Y1, Y2, Y3)
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	SUBQ    $8, CX
	JMP     loop

tail:
	TESTQ      CX, CX
	JZ         done
	TAILMASK(CX, DX, Y15)
	VMASKMOVPS (SI)(AX*4), Y15, Y0
	EXPV(Y0, Y1, Y2, Y3)
	VMASKMOVPS Y0, Y15, (DI)(AX*4)

done:
	VZEROUPPER
	RET

// TANHV sets Y0 = tanh(Y0): Y1 = |x|, Y2 = x², Y3 = x + x·x²·P(x²) (small |x|); Y4 = e^(2|x|),
// Y6 = 1 − 2/(e+1) with the sign of x (large |x|); Y7 = the mask |x| < tanhSmall selects.
#define TANHV \
	VANDPS      ABSMASK, Y0, Y1; \
	VMULPS      Y0, Y0, Y2; \
	VMOVUPS     TP4, Y3; \
	VFMADD213PS TP3, Y2, Y3; \
	VFMADD213PS TP2, Y2, Y3; \
	VFMADD213PS TP1, Y2, Y3; \
	VFMADD213PS TP0, Y2, Y3; \
	VMULPS      Y2, Y0, Y2; \
	VFMADD213PS Y0, Y2, Y3; \
	VADDPS      Y1, Y1, Y4; \
	EXPV(Y4, Y5, Y6, Y7); \
	VADDPS      ONE, Y4, Y4; \
	VMOVUPS     TWO, Y5; \
	VDIVPS      Y4, Y5, Y5; \
	VMOVUPS     ONE, Y6; \
	VSUBPS      Y5, Y6, Y6; \
	VANDPS      SIGNMASK, Y0, Y7; \
	VORPS       Y7, Y6, Y6; \
	VCMPPS      $1, TANHSMALL, Y1, Y7; \
	VBLENDVPS   Y7, Y3, Y6, Y0

// func tanhAVX2(n int, dst, src *float32)
TEXT ·tanhAVX2(SB), NOSPLIT, $0-24
	MOVQ    n+0(FP), CX
	MOVQ    dst+8(FP), DI
	MOVQ    src+16(FP), SI
	VMOVUPS EXPLO, Y13
	VMOVUPS EXPHI, Y14
	XORQ    AX, AX

loop:
	CMPQ    CX, $8
	JLT     tail
	VMOVUPS (SI)(AX*4), Y0
	TANHV
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	SUBQ    $8, CX
	JMP     loop

tail:
	TESTQ      CX, CX
	JZ         done
	TAILMASK(CX, DX, Y15)
	VMASKMOVPS (SI)(AX*4), Y15, Y0
	TANHV
	VMASKMOVPS Y0, Y15, (DI)(AX*4)

done:
	VZEROUPPER
	RET

// ERFV sets Y0 = erf(Y0): Y1 = |x|, Y3 = erf(x) for |x| < 1, Y4 = erfc(|x|) and
// Y5 = (1 − erfc) with the sign of x for |x| ≥ 1; Y6 = the mask |x| < 1 selects.
#define ERFV \
	VANDPS    ABSMASK, Y0, Y1; \
	ERFSMALL(Y0, Y3, Y2); \
	ERFC(Y1, Y4, Y5, Y6, Y7, Y8); \
	VMOVUPS   ONE, Y5; \
	VSUBPS    Y4, Y5, Y5; \
	VANDPS    SIGNMASK, Y0, Y6; \
	VORPS     Y6, Y5, Y5; \
	VCMPPS    $1, ONE, Y1, Y6; \
	VBLENDVPS Y6, Y3, Y5, Y0

// func erfAVX2(n int, dst, src *float32)
TEXT ·erfAVX2(SB), NOSPLIT, $0-24
	MOVQ    n+0(FP), CX
	MOVQ    dst+8(FP), DI
	MOVQ    src+16(FP), SI
	VMOVUPS EXPLO, Y13
	VMOVUPS EXPHI, Y14
	XORQ    AX, AX

loop:
	CMPQ    CX, $8
	JLT     tail
	VMOVUPS (SI)(AX*4), Y0
	ERFV
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	SUBQ    $8, CX
	JMP     loop

tail:
	TESTQ      CX, CX
	JZ         done
	TAILMASK(CX, DX, Y15)
	VMASKMOVPS (SI)(AX*4), Y15, Y0
	ERFV
	VMASKMOVPS Y0, Y15, (DI)(AX*4)

done:
	VZEROUPPER
	RET

// func maxAVX2(n int, x *float32) float32
//
// Two running maxima Y0, Y1 (16 elements per iteration); the tail's missing lanes are set to
// −Inf (Y11) before they join. A NaN may or may not survive (see maxGo); callers do not rely
// on it.
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ    n+0(FP), CX
	MOVQ    x+8(FP), SI
	VMOVUPS NEGINF, Y11
	VMOVUPS Y11, Y0
	VMOVUPS Y11, Y1
	XORQ    AX, AX

loop16:
	CMPQ   CX, $16
	JLT    loop8
	VMAXPS (SI)(AX*4), Y0, Y0
	VMAXPS 32(SI)(AX*4), Y1, Y1
	ADDQ   $16, AX
	SUBQ   $16, CX
	JMP    loop16

loop8:
	CMPQ   CX, $8
	JLT    tail
	VMAXPS (SI)(AX*4), Y0, Y0
	ADDQ   $8, AX
	SUBQ   $8, CX

tail:
	TESTQ      CX, CX
	JZ         done
	TAILMASK(CX, DX, Y15)
	VMASKMOVPS (SI)(AX*4), Y15, Y2
	VBLENDVPS  Y15, Y2, Y11, Y2
	VMAXPS     Y2, Y1, Y1

done:
	VMAXPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	VMOVSS       X0, ret+16(FP)
	VZEROUPPER
	RET

// func expSubSumAVX2(n int, dst, src *float32, shift float32) float64
//
// dst = e^(src − shift) and returns the sum. Y12 = shift, Y0 value, Y1–Y3 scratch. Y8 holds
// float32 lane sums of at most 16 terms (R9 counts the vectors of a chunk), folded into the
// float64 sums Y10, Y11 (Y9 scratch); the tail's missing lanes are zeroed before they join.
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-40
	MOVQ         n+0(FP), CX
	MOVQ         dst+8(FP), DI
	MOVQ         src+16(FP), SI
	VBROADCASTSS shift+24(FP), Y12
	VMOVUPS      EXPLO, Y13
	VMOVUPS      EXPHI, Y14
	VXORPS       Y8, Y8, Y8
	VXORPD       Y10, Y10, Y10
	VXORPD       Y11, Y11, Y11
	XORQ         AX, AX

chunk:
	MOVQ $16, R9

loop:
	CMPQ    CX, $8
	JLT     tail
	VMOVUPS (SI)(AX*4), Y0
	VSUBPS  Y12, Y0, Y0
	EXPV(Y0, Y1, Y2, Y3)
	VMOVUPS Y0, (DI)(AX*4)
	VADDPS  Y0, Y8, Y8
	ADDQ    $8, AX
	SUBQ    $8, CX
	DECQ    R9
	JNZ     loop
	FOLD(Y8, X8, Y10, Y11, Y9, X9)
	JMP     chunk

tail:
	TESTQ      CX, CX
	JZ         done
	TAILMASK(CX, DX, Y15)
	VMASKMOVPS (SI)(AX*4), Y15, Y0
	VSUBPS     Y12, Y0, Y0
	EXPV(Y0, Y1, Y2, Y3)
	VMASKMOVPS Y0, Y15, (DI)(AX*4)
	VANDPS     Y15, Y0, Y0
	VADDPS     Y0, Y8, Y8

done:
	FOLD(Y8, X8, Y10, Y11, Y9, X9)
	HSUMPD(Y10, X10, Y11, X9)
	VMOVSD X10, ret+32(FP)
	VZEROUPPER
	RET

// func sumExpSubAVX2(n int, src *float32, shift float32) float64
//
// Returns Σ e^(src − shift); registers as in expSubSumAVX2.
TEXT ·sumExpSubAVX2(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	MOVQ         src+8(FP), SI
	VBROADCASTSS shift+16(FP), Y12
	VMOVUPS      EXPLO, Y13
	VMOVUPS      EXPHI, Y14
	VXORPS       Y8, Y8, Y8
	VXORPD       Y10, Y10, Y10
	VXORPD       Y11, Y11, Y11
	XORQ         AX, AX

chunk:
	MOVQ $16, R9

loop:
	CMPQ    CX, $8
	JLT     tail
	VMOVUPS (SI)(AX*4), Y0
	VSUBPS  Y12, Y0, Y0
	EXPV(Y0, Y1, Y2, Y3)
	VADDPS  Y0, Y8, Y8
	ADDQ    $8, AX
	SUBQ    $8, CX
	DECQ    R9
	JNZ     loop
	FOLD(Y8, X8, Y10, Y11, Y9, X9)
	JMP     chunk

tail:
	TESTQ      CX, CX
	JZ         done
	TAILMASK(CX, DX, Y15)
	VMASKMOVPS (SI)(AX*4), Y15, Y0
	VSUBPS     Y12, Y0, Y0
	EXPV(Y0, Y1, Y2, Y3)
	VANDPS     Y15, Y0, Y0
	VADDPS     Y0, Y8, Y8

done:
	FOLD(Y8, X8, Y10, Y11, Y9, X9)
	HSUMPD(Y10, X10, Y11, X9)
	VMOVSD X10, ret+24(FP)
	VZEROUPPER
	RET

// func expSubScaleAddAVX2(n int, dst, src *float32, shift, scale float32)
//
// dst += e^(src − shift)·scale. Y12 = shift, Y11 = scale, Y0 value, Y1–Y4 scratch.
TEXT ·expSubScaleAddAVX2(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	MOVQ         dst+8(FP), DI
	MOVQ         src+16(FP), SI
	VBROADCASTSS shift+24(FP), Y12
	VBROADCASTSS scale+28(FP), Y11
	VMOVUPS      EXPLO, Y13
	VMOVUPS      EXPHI, Y14
	XORQ         AX, AX

loop:
	CMPQ        CX, $8
	JLT         tail
	VMOVUPS     (SI)(AX*4), Y0
	VSUBPS      Y12, Y0, Y0
	EXPV(Y0, Y1, Y2, Y3)
	VFMADD213PS (DI)(AX*4), Y11, Y0
	VMOVUPS     Y0, (DI)(AX*4)
	ADDQ        $8, AX
	SUBQ        $8, CX
	JMP         loop

tail:
	TESTQ       CX, CX
	JZ          done
	TAILMASK(CX, DX, Y15)
	VMASKMOVPS  (SI)(AX*4), Y15, Y0
	VMASKMOVPS  (DI)(AX*4), Y15, Y4
	VSUBPS      Y12, Y0, Y0
	EXPV(Y0, Y1, Y2, Y3)
	VFMADD213PS Y4, Y11, Y0
	VMASKMOVPS  Y0, Y15, (DI)(AX*4)

done:
	VZEROUPPER
	RET

// func softmaxBwdAVX2(n int, dx, y, dy *float32, c float32)
//
// dx += y·(dy − c). Y12 = c, Y0 = dy − c, Y1 = y, Y2 = dx (tail).
TEXT ·softmaxBwdAVX2(SB), NOSPLIT, $0-36
	MOVQ         n+0(FP), CX
	MOVQ         dx+8(FP), DI
	MOVQ         y+16(FP), SI
	MOVQ         dy+24(FP), DX
	VBROADCASTSS c+32(FP), Y12
	XORQ         AX, AX

loop:
	CMPQ        CX, $8
	JLT         tail
	VMOVUPS     (DX)(AX*4), Y0
	VSUBPS      Y12, Y0, Y0
	VMOVUPS     (SI)(AX*4), Y1
	VFMADD213PS (DI)(AX*4), Y1, Y0
	VMOVUPS     Y0, (DI)(AX*4)
	ADDQ        $8, AX
	SUBQ        $8, CX
	JMP         loop

tail:
	TESTQ       CX, CX
	JZ          done
	TAILMASK(CX, R8, Y15)
	VMASKMOVPS  (DX)(AX*4), Y15, Y0
	VMASKMOVPS  (SI)(AX*4), Y15, Y1
	VMASKMOVPS  (DI)(AX*4), Y15, Y2
	VSUBPS      Y12, Y0, Y0
	VFMADD213PS Y2, Y1, Y0
	VMASKMOVPS  Y0, Y15, (DI)(AX*4)

done:
	VZEROUPPER
	RET

// func sumAVX2(n int, x *float32) float64
//
// Two float32 lane sums Y8, Y9 over 16 elements per iteration, folded every 8 iterations
// (R9) into the float64 sums Y10, Y11 (Y0 scratch); the masked tail load zeroes the missing
// lanes.
TEXT ·sumAVX2(SB), NOSPLIT, $0-24
	MOVQ   n+0(FP), CX
	MOVQ   x+8(FP), SI
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
	XORQ   AX, AX

chunk:
	MOVQ $8, R9

loop16:
	CMPQ   CX, $16
	JLT    loop8
	VADDPS (SI)(AX*4), Y8, Y8
	VADDPS 32(SI)(AX*4), Y9, Y9
	ADDQ   $16, AX
	SUBQ   $16, CX
	DECQ   R9
	JNZ    loop16
	FOLD(Y8, X8, Y10, Y11, Y0, X0)
	FOLD(Y9, X9, Y10, Y11, Y0, X0)
	JMP    chunk

loop8:
	CMPQ   CX, $8
	JLT    tail
	VADDPS (SI)(AX*4), Y8, Y8
	ADDQ   $8, AX
	SUBQ   $8, CX

tail:
	TESTQ      CX, CX
	JZ         done
	TAILMASK(CX, DX, Y15)
	VMASKMOVPS (SI)(AX*4), Y15, Y2
	VADDPS     Y2, Y9, Y9

done:
	FOLD(Y8, X8, Y10, Y11, Y0, X0)
	FOLD(Y9, X9, Y10, Y11, Y0, X0)
	HSUMPD(Y10, X10, Y11, X0)
	VMOVSD X10, ret+16(FP)
	VZEROUPPER
	RET

// func sumDevAVX2(n int, x *float32, mean float32) (s1, s2 float64)
//
// s1 = Σ(x − mean), s2 = Σ(x − mean)². Y12 = mean, Y0 = d; Y8 and Y9 hold float32 lane
// sums of at most 16 terms (R9), folded into the float64 sums Y4, Y5 (s1) and Y6, Y7 (s2),
// Y1 scratch; the tail's missing lanes of d are zeroed.
TEXT ·sumDevAVX2(SB), NOSPLIT, $0-40
	MOVQ         n+0(FP), CX
	MOVQ         x+8(FP), SI
	VBROADCASTSS mean+16(FP), Y12
	VXORPS       Y8, Y8, Y8
	VXORPS       Y9, Y9, Y9
	VXORPD       Y4, Y4, Y4
	VXORPD       Y5, Y5, Y5
	VXORPD       Y6, Y6, Y6
	VXORPD       Y7, Y7, Y7
	XORQ         AX, AX

chunk:
	MOVQ $16, R9

loop:
	CMPQ        CX, $8
	JLT         tail
	VMOVUPS     (SI)(AX*4), Y0
	VSUBPS      Y12, Y0, Y0
	VADDPS      Y0, Y8, Y8
	VFMADD231PS Y0, Y0, Y9
	ADDQ        $8, AX
	SUBQ        $8, CX
	DECQ        R9
	JNZ         loop
	FOLD(Y8, X8, Y4, Y5, Y1, X1)
	FOLD(Y9, X9, Y6, Y7, Y1, X1)
	JMP         chunk

tail:
	TESTQ       CX, CX
	JZ          done
	TAILMASK(CX, DX, Y15)
	VMASKMOVPS  (SI)(AX*4), Y15, Y0
	VSUBPS      Y12, Y0, Y0
	VANDPS      Y15, Y0, Y0
	VADDPS      Y0, Y8, Y8
	VFMADD231PS Y0, Y0, Y9

done:
	FOLD(Y8, X8, Y4, Y5, Y1, X1)
	FOLD(Y9, X9, Y6, Y7, Y1, X1)
	HSUMPD(Y4, X4, Y5, X1)
	HSUMPD(Y6, X6, Y7, X1)
	VMOVSD X4, s1+24(FP)
	VMOVSD X6, s2+32(FP)
	VZEROUPPER
	RET

// func lnApplyAVX2(n int, out, x, w, b *float32, mean, mlo, rstd float32)
//
// out = ((x − mean) − mlo)·rstd·w + b, or without b when b is nil. Y10 = mean, Y11 = mlo,
// Y12 = rstd, Y0 value, Y1 = w, Y2 = b (tail).
TEXT ·lnApplyAVX2(SB), NOSPLIT, $0-52
	MOVQ         n+0(FP), CX
	MOVQ         out+8(FP), DI
	MOVQ         x+16(FP), SI
	MOVQ         w+24(FP), DX
	MOVQ         b+32(FP), BX
	VBROADCASTSS mean+40(FP), Y10
	VBROADCASTSS mlo+44(FP), Y11
	VBROADCASTSS rstd+48(FP), Y12
	XORQ         AX, AX
	TESTQ        BX, BX
	JZ           nbloop

loop:
	CMPQ        CX, $8
	JLT         tail
	VMOVUPS     (SI)(AX*4), Y0
	VSUBPS      Y10, Y0, Y0
	VSUBPS      Y11, Y0, Y0
	VMULPS      Y12, Y0, Y0
	VMOVUPS     (DX)(AX*4), Y1
	VFMADD213PS (BX)(AX*4), Y1, Y0
	VMOVUPS     Y0, (DI)(AX*4)
	ADDQ        $8, AX
	SUBQ        $8, CX
	JMP         loop

tail:
	TESTQ       CX, CX
	JZ          done
	TAILMASK(CX, R8, Y15)
	VMASKMOVPS  (SI)(AX*4), Y15, Y0
	VMASKMOVPS  (DX)(AX*4), Y15, Y1
	VMASKMOVPS  (BX)(AX*4), Y15, Y2
	VSUBPS      Y10, Y0, Y0
	VSUBPS      Y11, Y0, Y0
	VMULPS      Y12, Y0, Y0
	VFMADD213PS Y2, Y1, Y0
	VMASKMOVPS  Y0, Y15, (DI)(AX*4)
	JMP         done

nbloop:
	CMPQ    CX, $8
	JLT     nbtail
	VMOVUPS (SI)(AX*4), Y0
	VSUBPS  Y10, Y0, Y0
	VSUBPS  Y11, Y0, Y0
	VMULPS  Y12, Y0, Y0
	VMULPS  (DX)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	SUBQ    $8, CX
	JMP     nbloop

nbtail:
	TESTQ      CX, CX
	JZ         done
	TAILMASK(CX, R8, Y15)
	VMASKMOVPS (SI)(AX*4), Y15, Y0
	VMASKMOVPS (DX)(AX*4), Y15, Y1
	VSUBPS     Y10, Y0, Y0
	VSUBPS     Y11, Y0, Y0
	VMULPS     Y12, Y0, Y0
	VMULPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y15, (DI)(AX*4)

done:
	VZEROUPPER
	RET

// func lnBwdSumsAVX2(n int, dout, x, w *float32, mean, rstd float32) (sg, sgx float64)
//
// sg = Σ dout·w, sgx = Σ dout·w·xhat with xhat = (x − mean)·rstd. Y10 = mean, Y12 = rstd,
// Y0 = g = dout·w, Y1 = xhat; Y8 and Y9 hold float32 lane sums of at most 16 terms (R9),
// folded into the float64 sums Y4, Y5 (sg) and Y6, Y7 (sgx), Y3 scratch; the tail's missing
// lanes are zeroed.
TEXT ·lnBwdSumsAVX2(SB), NOSPLIT, $0-56
	MOVQ         n+0(FP), CX
	MOVQ         dout+8(FP), SI
	MOVQ         x+16(FP), DX
	MOVQ         w+24(FP), BX
	VBROADCASTSS mean+32(FP), Y10
	VBROADCASTSS rstd+36(FP), Y12
	VXORPS       Y8, Y8, Y8
	VXORPS       Y9, Y9, Y9
	VXORPD       Y4, Y4, Y4
	VXORPD       Y5, Y5, Y5
	VXORPD       Y6, Y6, Y6
	VXORPD       Y7, Y7, Y7
	XORQ         AX, AX

chunk:
	MOVQ $16, R9

loop:
	CMPQ        CX, $8
	JLT         tail
	VMOVUPS     (SI)(AX*4), Y0
	VMULPS      (BX)(AX*4), Y0, Y0
	VMOVUPS     (DX)(AX*4), Y1
	VSUBPS      Y10, Y1, Y1
	VMULPS      Y12, Y1, Y1
	VADDPS      Y0, Y8, Y8
	VFMADD231PS Y1, Y0, Y9
	ADDQ        $8, AX
	SUBQ        $8, CX
	DECQ        R9
	JNZ         loop
	FOLD(Y8, X8, Y4, Y5, Y3, X3)
	FOLD(Y9, X9, Y6, Y7, Y3, X3)
	JMP         chunk

tail:
	TESTQ       CX, CX
	JZ          done
	TAILMASK(CX, R8, Y15)
	VMASKMOVPS  (SI)(AX*4), Y15, Y0
	VMASKMOVPS  (BX)(AX*4), Y15, Y2
	VMULPS      Y2, Y0, Y0
	VMASKMOVPS  (DX)(AX*4), Y15, Y1
	VSUBPS      Y10, Y1, Y1
	VMULPS      Y12, Y1, Y1
	VANDPS      Y15, Y1, Y1
	VADDPS      Y0, Y8, Y8
	VFMADD231PS Y1, Y0, Y9

done:
	FOLD(Y8, X8, Y4, Y5, Y3, X3)
	FOLD(Y9, X9, Y6, Y7, Y3, X3)
	HSUMPD(Y4, X4, Y5, X3)
	HSUMPD(Y6, X6, Y7, X3)
	VMOVSD X4, sg+40(FP)
	VMOVSD X6, sgx+48(FP)
	VZEROUPPER
	RET

// func lnBwdApplyAVX2(n int, dx, dout, x, w *float32, mean, rstd, ca, cb float32)
//
// dx += rstd·(dout·w − ca − xhat·cb). Y10 = mean, Y12 = rstd, Y9 = ca, Y11 = cb,
// Y0 = the bracket, Y1 = xhat, Y2–Y3 tail loads.
TEXT ·lnBwdApplyAVX2(SB), NOSPLIT, $0-56
	MOVQ         n+0(FP), CX
	MOVQ         dx+8(FP), DI
	MOVQ         dout+16(FP), SI
	MOVQ         x+24(FP), DX
	MOVQ         w+32(FP), BX
	VBROADCASTSS mean+40(FP), Y10
	VBROADCASTSS rstd+44(FP), Y12
	VBROADCASTSS ca+48(FP), Y9
	VBROADCASTSS cb+52(FP), Y11
	XORQ         AX, AX

loop:
	CMPQ         CX, $8
	JLT          tail
	VMOVUPS      (DX)(AX*4), Y1
	VSUBPS       Y10, Y1, Y1
	VMULPS       Y12, Y1, Y1
	VMOVUPS      (SI)(AX*4), Y0
	VMULPS       (BX)(AX*4), Y0, Y0
	VSUBPS       Y9, Y0, Y0
	VFNMADD231PS Y11, Y1, Y0
	VFMADD213PS  (DI)(AX*4), Y12, Y0
	VMOVUPS      Y0, (DI)(AX*4)
	ADDQ         $8, AX
	SUBQ         $8, CX
	JMP          loop

tail:
	TESTQ        CX, CX
	JZ           done
	TAILMASK(CX, R8, Y15)
	VMASKMOVPS   (DX)(AX*4), Y15, Y1
	VMASKMOVPS   (SI)(AX*4), Y15, Y0
	VMASKMOVPS   (BX)(AX*4), Y15, Y2
	VMASKMOVPS   (DI)(AX*4), Y15, Y3
	VSUBPS       Y10, Y1, Y1
	VMULPS       Y12, Y1, Y1
	VMULPS       Y2, Y0, Y0
	VSUBPS       Y9, Y0, Y0
	VFNMADD231PS Y11, Y1, Y0
	VFMADD213PS  Y3, Y12, Y0
	VMASKMOVPS   Y0, Y15, (DI)(AX*4)

done:
	VZEROUPPER
	RET

// func lnParamGradAVX2(n int, dw, db, dout, x *float32, mean, rstd float32)
//
// dw += dout·xhat and, unless db is nil, db += dout. Y10 = mean, Y12 = rstd, Y0 = dout,
// Y1 = xhat then dw, Y2 = db, Y3 = dw (tail).
TEXT ·lnParamGradAVX2(SB), NOSPLIT, $0-48
	MOVQ         n+0(FP), CX
	MOVQ         dw+8(FP), DI
	MOVQ         db+16(FP), BX
	MOVQ         dout+24(FP), SI
	MOVQ         x+32(FP), DX
	VBROADCASTSS mean+40(FP), Y10
	VBROADCASTSS rstd+44(FP), Y12
	XORQ         AX, AX

loop:
	CMPQ        CX, $8
	JLT         tail
	VMOVUPS     (DX)(AX*4), Y1
	VSUBPS      Y10, Y1, Y1
	VMULPS      Y12, Y1, Y1
	VMOVUPS     (SI)(AX*4), Y0
	VFMADD213PS (DI)(AX*4), Y0, Y1
	VMOVUPS     Y1, (DI)(AX*4)
	TESTQ       BX, BX
	JZ          next
	VADDPS      (BX)(AX*4), Y0, Y2
	VMOVUPS     Y2, (BX)(AX*4)

next:
	ADDQ $8, AX
	SUBQ $8, CX
	JMP  loop

tail:
	TESTQ       CX, CX
	JZ          done
	TAILMASK(CX, R8, Y15)
	VMASKMOVPS  (DX)(AX*4), Y15, Y1
	VMASKMOVPS  (SI)(AX*4), Y15, Y0
	VMASKMOVPS  (DI)(AX*4), Y15, Y3
	VSUBPS      Y10, Y1, Y1
	VMULPS      Y12, Y1, Y1
	VFMADD213PS Y3, Y0, Y1
	VMASKMOVPS  Y1, Y15, (DI)(AX*4)
	TESTQ       BX, BX
	JZ          done
	VMASKMOVPS  (BX)(AX*4), Y15, Y2
	VADDPS      Y2, Y0, Y2
	VMASKMOVPS  Y2, Y15, (BX)(AX*4)

done:
	VZEROUPPER
	RET

// GELUTANHV sets Y0 = x/(1 + e^(x·(c1 + c2·x²))) for x in Y0, after clamping x to
// ≥ −MaxFloat32 (Y12) so that −Inf gives −0: Y1 = x², Y2 = the exponent then 1 + e,
// Y3–Y5 scratch.
#define GELUTANHV \
	VMAXPS      Y0, Y12, Y0; \
	VMULPS      Y0, Y0, Y1; \
	VMOVUPS     GC2, Y2; \
	VFMADD213PS GC1, Y1, Y2; \
	VMULPS      Y2, Y0, Y2; \
	EXPV(Y2, Y3, Y4, Y5); \
	VADDPS      ONE, Y2, Y2; \
	VDIVPS      Y2, Y0, Y0

// FTZON sets flush-to-zero in MXCSR for the GELU kernels, keeping the caller's MXCSR in the
// frame; FTZOFF puts it back. Far in a GELU's tails the exponentials and the products after
// them fall into the subnormals, whose arithmetic runs slowly (with inputs of magnitude 10,
// as in a BERT's MLP before training, the GELUs ran 2.5x slower); flushed, those terms are
// the exact zeros the tails round to anyway. Assembly functions are not preempted, so the
// mode never leaks into other code.
#define FTZON \
	STMXCSR mxcsr-8(SP); \
	MOVL    mxcsr-8(SP), R10; \
	ORL     $0x8000, R10; \
	MOVL    R10, mxcsr-4(SP); \
	LDMXCSR mxcsr-4(SP)
#define FTZOFF \
	LDMXCSR mxcsr-8(SP)

// GELUROWS256(STEP, VEC) is the body of an 8-lane GELU kernel func(rows, n, ld int, dst,
// src *float32) once its arguments are in R9 (rows), R12 (n), R11 (ld), DI and SI:
// dst[r·ld + i] = gelu(src[r·ld + i]) for i < n and r < rows, STEP computing Y0 = gelu(Y0)
// for a whole vector, VEC for the masked tail (Y15); Y12 = NEGMAX, Y13 and Y14 EXPV's clamps.
#define GELUROWS256(STEP, VEC) \
	FTZON; \
	SHLQ    $2, R11; \
	VMOVUPS NEGMAX, Y12; \
	VMOVUPS EXPLO, Y13; \
	VMOVUPS EXPHI, Y14; \
rows: \
	TESTQ R9, R9; \
	JEQ   done; \
	MOVQ  R12, CX; \
	XORQ  AX, AX; \
loop: \
	CMPQ    CX, $8; \
	JLT     tail; \
	VMOVUPS (SI)(AX*4), Y0; \
	STEP; \
	VMOVUPS Y0, (DI)(AX*4); \
	ADDQ    $8, AX; \
	SUBQ    $8, CX; \
	JMP     loop; \
tail: \
	TESTQ      CX, CX; \
	JZ         rowDone; \
	TAILMASK(CX, DX, Y15); \
	VMASKMOVPS (SI)(AX*4), Y15, Y0; \
	VEC; \
	VMASKMOVPS Y0, Y15, (DI)(AX*4); \
rowDone: \
	ADDQ R11, DI; \
	ADDQ R11, SI; \
	DECQ R9; \
	JMP  rows; \
done: \
	VZEROUPPER; \
	FTZOFF; \
	RET

// func geluTanhAVX2(rows, n, ld int, dst, src *float32)
//
// dst[r·ld + i] = gelu(src[r·ld + i]) for i < n, r < rows.
TEXT ·geluTanhAVX2(SB), NOSPLIT, $8-40
	MOVQ rows+0(FP), R9
	MOVQ n+8(FP), R12
	MOVQ ld+16(FP), R11
	MOVQ dst+24(FP), DI
	MOVQ src+32(FP), SI
	GELUROWS256(GELUTANHV, GELUTANHV)

// GELUTANHGRAD sets Y6 = gelu'(x) for x in Y0 (see geluTanhGradf): Y1 = xc = min(x, 10)
// (Y11), Y2 = xc², Y3 = e = e^(xc·(c1 + c2·xc²)), Y5 = s = 1/(1 + e), Y4 = e·s (formed
// first: e alone may be near MaxFloat32), Y6 = k = d(2u)/dx then t = xc·k·(e·s) then s·t + s,
// and Y7 = the mask !(x < −10) (Y10; true for NaN) that zeroes the
// far negative tail.
#define GELUTANHGRAD \
	VMINPS      Y0, Y11, Y1; \
	VMULPS      Y1, Y1, Y2; \
	VMOVUPS     GC2, Y3; \
	VFMADD213PS GC1, Y2, Y3; \
	VMULPS      Y1, Y3, Y3; \
	EXPV(Y3, Y4, Y5, Y6); \
	VADDPS      ONE, Y3, Y4; \
	VMOVUPS     ONE, Y5; \
	VDIVPS      Y4, Y5, Y5; \
	VMULPS      Y5, Y3, Y4; \
	VMOVUPS     GK3, Y6; \
	VFMSUB213PS GC1, Y2, Y6; \
	VMULPS      Y6, Y1, Y6; \
	VMULPS      Y4, Y6, Y6; \
	VFMADD213PS Y5, Y5, Y6; \
	VCMPPS      $5, Y10, Y0, Y7; \
	VANDPS      Y7, Y6, Y6

// func geluTanhBwdAVX2(n int, dx, dy, x *float32)
//
// dx += gelu'(x)·dy; Y8 = dy, Y9 = dx (tail).
TEXT ·geluTanhBwdAVX2(SB), NOSPLIT, $8-32
	FTZON
	MOVQ    n+0(FP), CX
	MOVQ    dx+8(FP), DI
	MOVQ    dy+16(FP), SI
	MOVQ    x+24(FP), DX
	VMOVUPS GGRADMIN, Y10
	VMOVUPS GGRADMAX, Y11
	VMOVUPS EXPLO, Y13
	VMOVUPS EXPHI, Y14
	XORQ    AX, AX

loop:
	CMPQ        CX, $8
	JLT         tail
	VMOVUPS     (DX)(AX*4), Y0
	GELUTANHGRAD
	VMOVUPS     (SI)(AX*4), Y8
	VFMADD213PS (DI)(AX*4), Y8, Y6
	VMOVUPS     Y6, (DI)(AX*4)
	ADDQ        $8, AX
	SUBQ        $8, CX
	JMP         loop

tail:
	TESTQ       CX, CX
	JZ          done
	TAILMASK(CX, R8, Y15)
	VMASKMOVPS  (DX)(AX*4), Y15, Y0
	GELUTANHGRAD
	VMASKMOVPS  (SI)(AX*4), Y15, Y8
	VMASKMOVPS  (DI)(AX*4), Y15, Y9
	VFMADD213PS Y9, Y8, Y6
	VMASKMOVPS  Y6, Y15, (DI)(AX*4)

done:
	VZEROUPPER
	FTZOFF
	RET

// GELUERFV sets Y0 = x·Φ(x) for x in Y0, after clamping x to ≥ −MaxFloat32 (Y12) so that
// −Inf gives −0; Φ lands in Y5.
#define GELUERFV \
	VMAXPS Y0, Y12, Y0; \
	NORMCDF(Y0, Y5, Y10); \
	VMULPS Y5, Y0, Y0

// GELUERFSTEP is GELUERFV for a whole vector, skipping the erfc where every lane has
// |x| < √2 (Φ(x) is then the small-argument value).
#define GELUERFSTEP \
	VMAXPS    Y0, Y12, Y0; \
	NORMCDFSMALL(Y0, Y10); \
	VMOVMSKPS Y10, R8; \
	CMPL      R8, $0xff; \
	JEQ       small; \
	NORMCDFLARGE(Y5, Y10); \
	VMULPS    Y5, Y0, Y0; \
	JMP       stepped; \
small: \
	VMULPS Y3, Y0, Y0; \
stepped:

// func geluErfAVX2(rows, n, ld int, dst, src *float32)
TEXT ·geluErfAVX2(SB), NOSPLIT, $8-40
	MOVQ rows+0(FP), R9
	MOVQ n+8(FP), R12
	MOVQ ld+16(FP), R11
	MOVQ dst+24(FP), DI
	MOVQ src+32(FP), SI
	GELUROWS256(GELUERFSTEP, GELUERFV)

// GELUERFGRAD sets Y5 = Φ(x) + xc·φ(xc) for x in Y0, xc = x clamped to [−20, 20] (Y10,
// Y11): Y6 = xc, Y7 = −xc²/2 then φ(xc); Y1–Y4 scratch, Y12 NORMCDF's mask.
#define GELUERFGRAD \
	NORMCDF(Y0, Y5, Y12); \
	GELUERFGRADREST

// GELUERFGRADREST is GELUERFGRAD after Φ(x) is in Y5.
#define GELUERFGRADREST \
	VMAXPS      Y0, Y10, Y6; \
	VMINPS      Y6, Y11, Y6; \
	VMULPS      Y6, Y6, Y7; \
	VMULPS      NEGHALF, Y7, Y7; \
	EXPV(Y7, Y1, Y2, Y3); \
	VMULPS      INVSQRT2PI, Y7, Y7; \
	VFMADD231PS Y7, Y6, Y5

// func geluErfBwdAVX2(n int, dx, dy, x *float32)
//
// dx += (Φ(x) + x·φ(x))·dy; Y8 = dy, Y9 = dx (tail).
TEXT ·geluErfBwdAVX2(SB), NOSPLIT, $8-32
	FTZON
	MOVQ    n+0(FP), CX
	MOVQ    dx+8(FP), DI
	MOVQ    dy+16(FP), SI
	MOVQ    x+24(FP), DX
	VMOVUPS ERFGRADMIN, Y10
	VMOVUPS ERFGRADMAX, Y11
	VMOVUPS EXPLO, Y13
	VMOVUPS EXPHI, Y14
	XORQ    AX, AX

loop:
	CMPQ        CX, $8
	JLT         tail
	VMOVUPS     (DX)(AX*4), Y0
	NORMCDFSMALL(Y0, Y12)
	VMOVAPS     Y3, Y5
	VMOVMSKPS   Y12, R8
	CMPL        R8, $0xff
	JEQ         small // every lane |x| < √2: Φ(x) is the small-argument value
	NORMCDFLARGE(Y5, Y12)

small:
	GELUERFGRADREST
	VMOVUPS     (SI)(AX*4), Y8
	VFMADD213PS (DI)(AX*4), Y8, Y5
	VMOVUPS     Y5, (DI)(AX*4)
	ADDQ        $8, AX
	SUBQ        $8, CX
	JMP         loop

tail:
	TESTQ       CX, CX
	JZ          done
	TAILMASK(CX, R8, Y15)
	VMASKMOVPS  (DX)(AX*4), Y15, Y0
	GELUERFGRAD
	VMASKMOVPS  (SI)(AX*4), Y15, Y8
	VMASKMOVPS  (DI)(AX*4), Y15, Y9
	VFMADD213PS Y9, Y8, Y5
	VMASKMOVPS  Y5, Y15, (DI)(AX*4)

done:
	VZEROUPPER
	FTZOFF
	RET

// The 16-lane AVX-512 erf GELU kernels below repeat the arithmetic of their AVX2 twins lane for
// lane (the same operations in the same order, the same constants, the same fusions), so the
// two give identical bits. The constants are the 32-bit values of vecC broadcast from memory
// ({1to16}), VBLENDVPS becomes a merge-masked VMOVAPS under a mask register set from the same
// condition, and the last n%16 elements are loaded (zeroing) and stored under a k-mask of
// their lanes, so memory past the slices is never touched.

// EXPV512 is EXPV on the 16 lanes of Z registers; Z13 = EXPLO, Z14 = EXPHI must hold the clamp
// bounds. VRNDSCALEPS $0 rounds to nearest even as VROUNDPS $0 does.
#define EXPV512(x, t1, t2, t3) \
	VMAXPS            x, Z13, x; \
	VMINPS            x, Z14, x; \
	VMULPS.BCST       LOG2E, x, t1; \
	VRNDSCALEPS       $0, t1, t1; \
	VFNMADD231PS.BCST LN2HI, t1, x; \
	VFNMADD231PS.BCST LN2LO, t1, x; \
	VBROADCASTSS      EP4, t2; \
	VFMADD213PS.BCST  EP3, x, t2; \
	VFMADD213PS.BCST  EP2, x, t2; \
	VFMADD213PS.BCST  EP1, x, t2; \
	VFMADD213PS.BCST  EP0, x, t2; \
	VMULPS            x, x, t3; \
	VFMADD213PS       x, t3, t2; \
	VADDPS.BCST       ONE, t2, t2; \
	VCVTPS2DQ         t1, t1; \
	VPSRAD            $1, t1, t3; \
	VPSUBD            t3, t1, t1; \
	VPADDD.BCST       BIAS, t3, t3; \
	VPADDD.BCST       BIAS, t1, t1; \
	VPSLLD            $23, t3, t3; \
	VPSLLD            $23, t1, t1; \
	VMULPS            t3, t2, x; \
	VMULPS            t1, x, x

// ERFC512 is ERFC on Z registers: r = erfc(a) for a ≥ 1.
#define ERFC512(a, r, tau, t1, t2, t3) \
	VBROADCASTSS      HALF, tau; \
	VFMADD213PS.BCST  ONE, a, tau; \
	VBROADCASTSS      ONE, r; \
	VDIVPS            tau, r, tau; \
	VBROADCASTSS      EC8, r; \
	VFMADD213PS.BCST  EC7, tau, r; \
	VFMADD213PS.BCST  EC6, tau, r; \
	VFMADD213PS.BCST  EC5, tau, r; \
	VFMADD213PS.BCST  EC4, tau, r; \
	VFMADD213PS.BCST  EC3, tau, r; \
	VFMADD213PS.BCST  EC2, tau, r; \
	VFMADD213PS.BCST  EC1, tau, r; \
	VFMADD213PS.BCST  EC0, tau, r; \
	VFNMADD231PS      a, a, r; \
	EXPV512(r, t1, t2, t3); \
	VMULPS            tau, r, r

// ERFSMALL512 is ERFSMALL on Z registers: r = erf(t) for |t| < 1, s = t².
#define ERFSMALL512(t, r, s) \
	VMULPS           t, t, s; \
	VBROADCASTSS     EA6, r; \
	VFMADD213PS.BCST EA5, s, r; \
	VFMADD213PS.BCST EA4, s, r; \
	VFMADD213PS.BCST EA3, s, r; \
	VFMADD213PS.BCST EA2, s, r; \
	VFMADD213PS.BCST EA1, s, r; \
	VFMADD213PS.BCST EA0, s, r; \
	VFMADD213PS      t, t, r

// NORMCDF512 is NORMCDF on Z registers (Z1–Z9 clobbered, K1 and K2 too): K1 = the sign bits
// of t (VPTESTMD against SIGNMASK, as VBLENDVPS reads them) picks h over 1 − h, then K2 =
// a < 1 (ordered, so NaN lanes keep the erfc branch as VCMPPS $1 leaves them) picks the
// small-argument value.
#define NORMCDF512(x, p) \
	NORMCDF512SMALL(x); \
	NORMCDF512LARGE(p)

// NORMCDF512SMALL is the first half of NORMCDF512: Z9 = t, Z1 = a, Z3 = the small-argument
// value, K2 = a < 1. Where K2 holds in every lane, Z3 is NORMCDF512's result and the second
// half (an erfc with a division and an exponential, most of the cost) can be skipped:
// the GELU loops branch on it (KORTESTW K2, K2 sets the carry).
#define NORMCDF512SMALL(x) \
	VMULPS.BCST    INVSQRT2, x, Z9; \
	VPANDD.BCST    ABSMASK, Z9, Z1; \
	VCMPPS.BCST    $1, ONE, Z1, K2; \
	ERFSMALL512(Z9, Z3, Z2); \
	VMULPS.BCST    HALF, Z3, Z3; \
	VADDPS.BCST    HALF, Z3, Z3

// NORMCDF512LARGE is the second half of NORMCDF512: p = Φ from Z1, Z3, Z9 and K2.
#define NORMCDF512LARGE(p) \
	ERFC512(Z1, Z4, Z5, Z6, Z7, Z8); \
	VMULPS.BCST    HALF, Z4, Z4; \
	VBROADCASTSS   ONE, p; \
	VSUBPS         Z4, p, p; \
	VPTESTMD.BCST  SIGNMASK, Z9, K1; \
	VMOVAPS        Z4, K1, p; \
	VMOVAPS        Z3, K2, p

// GELUERFV512 is GELUERFV on Z registers: Z0 = x·Φ(x) for x in Z0, Z12 = NEGMAX.
#define GELUERFV512 \
	VMAXPS Z0, Z12, Z0; \
	NORMCDF512(Z0, Z5); \
	VMULPS Z5, Z0, Z0

// TAILMASK512 sets k to the low cnt lanes (cnt in CX, below 16); tmp is scratch.
#define TAILMASK512(cnt, tmp, k) \
	MOVL  $1, tmp; \
	SHLL  cnt, tmp; \
	DECL  tmp; \
	KMOVW tmp, k

// GELUROWS512(STEP, VEC) is GELUROWS256 on 16 lanes: STEP computes Z0 = gelu(Z0) for a
// whole vector, VEC for the tail masked by K3; Z12 = NEGMAX, Z13 and Z14 EXPV512's clamps.
#define GELUROWS512(STEP, VEC) \
	FTZON; \
	SHLQ         $2, R11; \
	VBROADCASTSS NEGMAX, Z12; \
	VBROADCASTSS EXPLO, Z13; \
	VBROADCASTSS EXPHI, Z14; \
rows: \
	TESTQ R9, R9; \
	JEQ   done; \
	MOVQ  R12, CX; \
	XORQ  AX, AX; \
loop: \
	CMPQ    CX, $16; \
	JLT     tail; \
	VMOVUPS (SI)(AX*4), Z0; \
	STEP; \
	VMOVUPS Z0, (DI)(AX*4); \
	ADDQ    $16, AX; \
	SUBQ    $16, CX; \
	JMP     loop; \
tail: \
	TESTQ     CX, CX; \
	JZ        rowDone; \
	TAILMASK512(CX, DX, K3); \
	VMOVUPS.Z (SI)(AX*4), K3, Z0; \
	VEC; \
	VMOVUPS   Z0, K3, (DI)(AX*4); \
rowDone: \
	ADDQ R11, DI; \
	ADDQ R11, SI; \
	DECQ R9; \
	JMP  rows; \
done: \
	VZEROUPPER; \
	FTZOFF; \
	RET

// GELUBWD512(LO, HI, STEP, GRAD, R) is the body of a 16-lane GELU gradient kernel func(n int,
// dx, dy, x *float32) once its arguments are in CX (n), DI, SI and DX: dx += gelu'(x)·dy,
// with Z10 = LO and Z11 = HI (the clamps of x), STEP computing R = gelu'(Z0) for a whole
// vector and GRAD for the tail masked by K3; Z8 = dy, Z9 = dx (tail).
#define GELUBWD512(LO, HI, STEP, GRAD, R) \
	FTZON; \
	VBROADCASTSS LO, Z10; \
	VBROADCASTSS HI, Z11; \
	VBROADCASTSS EXPLO, Z13; \
	VBROADCASTSS EXPHI, Z14; \
	XORQ         AX, AX; \
loop: \
	CMPQ        CX, $16; \
	JLT         tail; \
	VMOVUPS     (DX)(AX*4), Z0; \
	STEP; \
	VMOVUPS     (SI)(AX*4), Z8; \
	VFMADD213PS (DI)(AX*4), Z8, R; \
	VMOVUPS     R, (DI)(AX*4); \
	ADDQ        $16, AX; \
	SUBQ        $16, CX; \
	JMP         loop; \
tail: \
	TESTQ       CX, CX; \
	JZ          done; \
	TAILMASK512(CX, R8, K3); \
	VMOVUPS.Z   (DX)(AX*4), K3, Z0; \
	GRAD; \
	VMOVUPS.Z   (SI)(AX*4), K3, Z8; \
	VMOVUPS.Z   (DI)(AX*4), K3, Z9; \
	VFMADD213PS Z9, Z8, R; \
	VMOVUPS     R, K3, (DI)(AX*4); \
done: \
	VZEROUPPER; \
	FTZOFF; \
	RET

// GELUERFSTEP512 is GELUERFSTEP on Z registers.
#define GELUERFSTEP512 \
	VMAXPS   Z0, Z12, Z0; \
	NORMCDF512SMALL(Z0); \
	KORTESTW K2, K2; \
	JCS      small; \
	NORMCDF512LARGE(Z5); \
	VMULPS   Z5, Z0, Z0; \
	JMP      stepped; \
small: \
	VMULPS Z3, Z0, Z0; \
stepped:

// func geluErfAVX512(rows, n, ld int, dst, src *float32)
//
// Z0 value; K3 masks the tail.
TEXT ·geluErfAVX512(SB), NOSPLIT, $8-40
	MOVQ rows+0(FP), R9
	MOVQ n+8(FP), R12
	MOVQ ld+16(FP), R11
	MOVQ dst+24(FP), DI
	MOVQ src+32(FP), SI
	GELUROWS512(GELUERFSTEP512, GELUERFV512)

// GELUERFGRAD512 is GELUERFGRAD on Z registers: Z5 = Φ(x) + xc·φ(xc) for x in Z0, with
// Z10 = ERFGRADMIN, Z11 = ERFGRADMAX; Z6 = xc, Z7 = φ(xc).
#define GELUERFGRAD512 \
	NORMCDF512(Z0, Z5); \
	GELUERFGRAD512REST

// GELUERFGRAD512REST is GELUERFGRAD512 after Φ(x) is in Z5.
#define GELUERFGRAD512REST \
	VMAXPS      Z0, Z10, Z6; \
	VMINPS      Z6, Z11, Z6; \
	VMULPS      Z6, Z6, Z7; \
	VMULPS.BCST NEGHALF, Z7, Z7; \
	EXPV512(Z7, Z1, Z2, Z3); \
	VMULPS.BCST INVSQRT2PI, Z7, Z7; \
	VFMADD231PS Z7, Z6, Z5

// GELUERFGRADSTEP512 is GELUERFGRAD512 for a whole vector, skipping the erfc where every
// lane has |x| < √2.
#define GELUERFGRADSTEP512 \
	NORMCDF512SMALL(Z0); \
	VMOVAPS  Z3, Z5; \
	KORTESTW K2, K2; \
	JCS      small; \
	NORMCDF512LARGE(Z5); \
small: \
	GELUERFGRAD512REST

// func geluErfBwdAVX512(n int, dx, dy, x *float32)
//
// dx += (Φ(x) + x·φ(x))·dy; Z8 = dy, Z9 = dx (tail); K3 masks the tail.
TEXT ·geluErfBwdAVX512(SB), NOSPLIT, $8-32
	MOVQ n+0(FP), CX
	MOVQ dx+8(FP), DI
	MOVQ dy+16(FP), SI
	MOVQ x+24(FP), DX
	GELUBWD512(ERFGRADMIN, ERFGRADMAX, GELUERFGRADSTEP512, GELUERFGRAD512, Z5)

// GELUTANHV512 is GELUTANHV on Z registers: Z0 = x/(1 + e^(x·(c1 + c2·x²))) for x in Z0,
// with Z12 = NEGMAX (and Z13, Z14 EXPV512's clamps); Z1–Z5 scratch.
#define GELUTANHV512 \
	VMAXPS           Z0, Z12, Z0; \
	VMULPS           Z0, Z0, Z1; \
	VBROADCASTSS     GC2, Z2; \
	VFMADD213PS.BCST GC1, Z1, Z2; \
	VMULPS           Z2, Z0, Z2; \
	EXPV512(Z2, Z3, Z4, Z5); \
	VADDPS.BCST      ONE, Z2, Z2; \
	VDIVPS           Z2, Z0, Z0

// func geluTanhAVX512(rows, n, ld int, dst, src *float32)
//
// geluTanhAVX2 on 16 lanes, with identical results. K3 masks the tail.
TEXT ·geluTanhAVX512(SB), NOSPLIT, $8-40
	MOVQ rows+0(FP), R9
	MOVQ n+8(FP), R12
	MOVQ ld+16(FP), R11
	MOVQ dst+24(FP), DI
	MOVQ src+32(FP), SI
	GELUROWS512(GELUTANHV512, GELUTANHV512)

// GELUTANHGRAD512 is GELUTANHGRAD on Z registers: Z6 = gelu'(x) for x in Z0, Z10 =
// GGRADMIN, Z11 = GGRADMAX (and Z13, Z14 EXPV512's clamps); K1 = !(x < −10) (true for NaN)
// zeroes the far negative tail. Z1–Z5 scratch.
#define GELUTANHGRAD512 \
	VMINPS           Z0, Z11, Z1; \
	VMULPS           Z1, Z1, Z2; \
	VBROADCASTSS     GC2, Z3; \
	VFMADD213PS.BCST GC1, Z2, Z3; \
	VMULPS           Z1, Z3, Z3; \
	EXPV512(Z3, Z4, Z5, Z6); \
	VADDPS.BCST      ONE, Z3, Z4; \
	VBROADCASTSS     ONE, Z5; \
	VDIVPS           Z4, Z5, Z5; \
	VMULPS           Z5, Z3, Z4; \
	VBROADCASTSS     GK3, Z6; \
	VFMSUB213PS.BCST GC1, Z2, Z6; \
	VMULPS           Z6, Z1, Z6; \
	VMULPS           Z4, Z6, Z6; \
	VFMADD213PS      Z5, Z5, Z6; \
	VCMPPS           $5, Z10, Z0, K1; \
	VMOVAPS.Z        Z6, K1, Z6

// func geluTanhBwdAVX512(n int, dx, dy, x *float32)
//
// geluTanhBwdAVX2 on 16 lanes, with identical results: dx += gelu'(x)·dy; Z8 = dy, Z9 = dx
// (tail); K3 masks the tail.
TEXT ·geluTanhBwdAVX512(SB), NOSPLIT, $8-32
	MOVQ n+0(FP), CX
	MOVQ dx+8(FP), DI
	MOVQ dy+16(FP), SI
	MOVQ x+24(FP), DX
	GELUBWD512(GGRADMIN, GGRADMAX, GELUTANHGRAD512, GELUTANHGRAD512, Z6)

// ADAMW updates one vector of moments and weights, every operation rounded separately in
// the order of adamwGo: Y0 = g, Y1 = m, Y2 = v, Y3 = w in; Y4, Y5 scratch. The scalars are
// broadcast in Y8 = β1, Y9 = 1−β1, Y10 = β2, Y11 = 1−β2, Y12 = eps, Y13 = decay,
// Y14 = stepSize, Y15 = sqrtBC2.
#define ADAMW \
	VMULPS Y8, Y1, Y1; \
	VMULPS Y0, Y9, Y4; \
	VADDPS Y4, Y1, Y1; \
	VMULPS Y10, Y2, Y2; \
	VMULPS Y0, Y11, Y4; \
	VMULPS Y0, Y4, Y4; \
	VADDPS Y4, Y2, Y2; \
	VSQRTPS Y2, Y4; \
	VDIVPS Y15, Y4, Y4; \
	VADDPS Y12, Y4, Y4; \
	VMULPS Y1, Y14, Y5; \
	VDIVPS Y4, Y5, Y5; \
	VMULPS Y13, Y3, Y3; \
	VSUBPS Y5, Y3, Y3

// func adamwAVX2(n int, w, grad, m, v *float32, beta1, omb1, beta2, omb2, eps, decay, stepSize, sqrtBC2 float32)
//
// The tail mask lives in Y7 (Y15 holds sqrtBC2).
TEXT ·adamwAVX2(SB), NOSPLIT, $0-72
	MOVQ         n+0(FP), CX
	MOVQ         w+8(FP), DI
	MOVQ         grad+16(FP), SI
	MOVQ         m+24(FP), DX
	MOVQ         v+32(FP), BX
	VBROADCASTSS beta1+40(FP), Y8
	VBROADCASTSS omb1+44(FP), Y9
	VBROADCASTSS beta2+48(FP), Y10
	VBROADCASTSS omb2+52(FP), Y11
	VBROADCASTSS eps+56(FP), Y12
	VBROADCASTSS decay+60(FP), Y13
	VBROADCASTSS stepSize+64(FP), Y14
	VBROADCASTSS sqrtBC2+68(FP), Y15
	XORQ         AX, AX

loop:
	CMPQ    CX, $8
	JLT     tail
	VMOVUPS (SI)(AX*4), Y0
	VMOVUPS (DX)(AX*4), Y1
	VMOVUPS (BX)(AX*4), Y2
	VMOVUPS (DI)(AX*4), Y3
	ADAMW
	VMOVUPS Y1, (DX)(AX*4)
	VMOVUPS Y2, (BX)(AX*4)
	VMOVUPS Y3, (DI)(AX*4)
	ADDQ    $8, AX
	SUBQ    $8, CX
	JMP     loop

tail:
	TESTQ      CX, CX
	JZ         done
	TAILMASK(CX, R8, Y7)
	VMASKMOVPS (SI)(AX*4), Y7, Y0
	VMASKMOVPS (DX)(AX*4), Y7, Y1
	VMASKMOVPS (BX)(AX*4), Y7, Y2
	VMASKMOVPS (DI)(AX*4), Y7, Y3
	ADAMW
	VMASKMOVPS Y1, Y7, (DX)(AX*4)
	VMASKMOVPS Y2, Y7, (BX)(AX*4)
	VMASKMOVPS Y3, Y7, (DI)(AX*4)

done:
	VZEROUPPER
	RET

// func addAVX2(n int, dst, a, b *float32)
//
// dst = a + b, 16 elements per iteration (Y0, Y1), then 8, then the masked tail.
TEXT ·addAVX2(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), DX
	XORQ AX, AX

loop16:
	CMPQ    CX, $16
	JLT     loop8
	VMOVUPS (SI)(AX*4), Y0
	VMOVUPS 32(SI)(AX*4), Y1
	VADDPS  (DX)(AX*4), Y0, Y0
	VADDPS  32(DX)(AX*4), Y1, Y1
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	ADDQ    $16, AX
	SUBQ    $16, CX
	JMP     loop16

loop8:
	CMPQ    CX, $8
	JLT     tail
	VMOVUPS (SI)(AX*4), Y0
	VADDPS  (DX)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	SUBQ    $8, CX

tail:
	TESTQ      CX, CX
	JZ         done
	TAILMASK(CX, R8, Y15)
	VMASKMOVPS (SI)(AX*4), Y15, Y0
	VMASKMOVPS (DX)(AX*4), Y15, Y1
	VADDPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y15, (DI)(AX*4)

done:
	VZEROUPPER
	RET

// func mulAVX2(n int, dst, a, b *float32)
//
// dst = a·b, laid out as addAVX2.
TEXT ·mulAVX2(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), DX
	XORQ AX, AX

loop16:
	CMPQ    CX, $16
	JLT     loop8
	VMOVUPS (SI)(AX*4), Y0
	VMOVUPS 32(SI)(AX*4), Y1
	VMULPS  (DX)(AX*4), Y0, Y0
	VMULPS  32(DX)(AX*4), Y1, Y1
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	ADDQ    $16, AX
	SUBQ    $16, CX
	JMP     loop16

loop8:
	CMPQ    CX, $8
	JLT     tail
	VMOVUPS (SI)(AX*4), Y0
	VMULPS  (DX)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	SUBQ    $8, CX

tail:
	TESTQ      CX, CX
	JZ         done
	TAILMASK(CX, R8, Y15)
	VMASKMOVPS (SI)(AX*4), Y15, Y0
	VMASKMOVPS (DX)(AX*4), Y15, Y1
	VMULPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y15, (DI)(AX*4)

done:
	VZEROUPPER
	RET

// func addToAVX2(rows, n, ldd int, dst, src *float32)
//
// dst[r·ldd + i] += src[i] for i < n, r < rows (one row, or a bias added to the rows of a
// tile), laid out as addAVX2.
TEXT ·addToAVX2(SB), NOSPLIT, $0-40
	MOVQ rows+0(FP), R9
	MOVQ ldd+16(FP), R11
	SHLQ $2, R11
	MOVQ dst+24(FP), DX

rows:
	TESTQ R9, R9
	JEQ   done
	MOVQ  n+8(FP), CX
	MOVQ  DX, DI
	MOVQ  src+32(FP), SI
	XORQ  AX, AX

loop16:
	CMPQ    CX, $16
	JLT     loop8
	VMOVUPS (DI)(AX*4), Y0
	VMOVUPS 32(DI)(AX*4), Y1
	VADDPS  (SI)(AX*4), Y0, Y0
	VADDPS  32(SI)(AX*4), Y1, Y1
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	ADDQ    $16, AX
	SUBQ    $16, CX
	JMP     loop16

loop8:
	CMPQ    CX, $8
	JLT     tail
	VMOVUPS (DI)(AX*4), Y0
	VADDPS  (SI)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	SUBQ    $8, CX

tail:
	TESTQ      CX, CX
	JZ         rowDone
	TAILMASK(CX, R8, Y15)
	VMASKMOVPS (DI)(AX*4), Y15, Y0
	VMASKMOVPS (SI)(AX*4), Y15, Y1
	VADDPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y15, (DI)(AX*4)

rowDone:
	ADDQ R11, DX
	DECQ R9
	JMP  rows

done:
	VZEROUPPER
	RET

// func scaleAVX2(n int, dst, src *float32, alpha float32)
//
// dst = alpha·src with Y12 = alpha, laid out as addAVX2.
TEXT ·scaleAVX2(SB), NOSPLIT, $0-28
	MOVQ         n+0(FP), CX
	MOVQ         dst+8(FP), DI
	MOVQ         src+16(FP), SI
	VBROADCASTSS alpha+24(FP), Y12
	XORQ         AX, AX

loop16:
	CMPQ    CX, $16
	JLT     loop8
	VMULPS  (SI)(AX*4), Y12, Y0
	VMULPS  32(SI)(AX*4), Y12, Y1
	VMOVUPS Y0, (DI)(AX*4)
	VMOVUPS Y1, 32(DI)(AX*4)
	ADDQ    $16, AX
	SUBQ    $16, CX
	JMP     loop16

loop8:
	CMPQ    CX, $8
	JLT     tail
	VMULPS  (SI)(AX*4), Y12, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ    $8, AX
	SUBQ    $8, CX

tail:
	TESTQ      CX, CX
	JZ         done
	TAILMASK(CX, R8, Y15)
	VMASKMOVPS (SI)(AX*4), Y15, Y0
	VMULPS     Y0, Y12, Y0
	VMASKMOVPS Y0, Y15, (DI)(AX*4)

done:
	VZEROUPPER
	RET
