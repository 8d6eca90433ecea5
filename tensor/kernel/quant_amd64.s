//go:build amd64 && !purego

#include "textflag.h"

// Kernels of the compact weight formats (quant.go).
//
// The GEMV kernels walk weight rows one after another, which makes a sequential stream
// through W. The x4 kernels run four such streams at once, over four separate runs of rows
// (i, rows+i, 2·rows+i, 3·rows+i), so that each load of x serves four rows and more memory
// requests are in flight; they also prefetch each stream 1 KiB ahead, which the hardware
// prefetchers alone did not keep up with (measured: 12 → 17 GB/s for int8 and 10 → 14 GB/s
// for bfloat16 on one core, docs/speed.md). (Four adjacent rows side by side instead stream
// as four short runs that the prefetchers pick up late: measured at half the bandwidth from
// DRAM.) Each row keeps several independent accumulators so that FMA latency does not limit
// it. The kernels cover whole blocks of 32 inputs only (rows ≥ 1, blocks ≥ 1); the Go drivers
// add the rest.

// func gemvBF16AVX512(blocks, rows int, w *uint16, ldw int, xp, y *float32)
//
// y[r] = Σ_p W[r][p]·x[p] over 32·blocks inputs. A 64-byte load of a row holds 16 pairs of
// bfloat16 (even input in the low half of each 32-bit lane, odd input in the high half):
// shifting the lanes left by 16 gives the even weights as float32, masking off the low half
// gives the odd ones, and xp holds x regrouped the same way (16 even inputs, then 16 odd), so
// each FMA takes its inputs straight from xp. Two blocks per iteration, then one.
//
// Registers: DI the row; R8 the row stride in bytes; AX the byte offset in the row; R9 its end
// (64·blocks), R10 the end of the two-block loop; R13 the xp cursor; BX the rows left; DX the
// y cursor. Z0–Z3 accumulate (even and odd products of two blocks); Z10–Z13 are weights; Z31
// is the mask 0xffff0000.
TEXT ·gemvBF16AVX512(SB), NOSPLIT, $0-48
	MOVQ         blocks+0(FP), R9
	MOVQ         rows+8(FP), BX
	MOVQ         w+16(FP), DI
	MOVQ         ldw+24(FP), R8
	MOVQ         xp+32(FP), SI
	MOVQ         y+40(FP), DX
	SHLQ         $1, R8          // row stride in bytes
	SHLQ         $6, R9          // bytes of a row covered: 64 per block
	MOVQ         R9, R10
	ANDQ         $-128, R10      // bytes covered two blocks at a time
	MOVL         $0xffff0000, AX
	VPBROADCASTD AX, Z31

b512row:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	XORQ   AX, AX
	MOVQ   SI, R13

b512loop2:
	CMPQ        AX, R10
	JGE         b512loop1
	PREFETCHT0  1024(DI)(AX*1)      // the weights a few rows ahead
	PREFETCHT0  1088(DI)(AX*1)
	VMOVDQU32   (DI)(AX*1), Z10
	VMOVDQU32   64(DI)(AX*1), Z11
	VPSLLD      $16, Z10, Z12    // even weights of block 1
	VPANDD      Z31, Z10, Z10    // odd weights of block 1
	VPSLLD      $16, Z11, Z13
	VPANDD      Z31, Z11, Z11
	VFMADD231PS (R13), Z12, Z0
	VFMADD231PS 64(R13), Z10, Z1
	VFMADD231PS 128(R13), Z13, Z2
	VFMADD231PS 192(R13), Z11, Z3
	ADDQ        $128, AX
	ADDQ        $256, R13
	JMP         b512loop2

b512loop1:
	CMPQ        AX, R9
	JGE         b512sum
	VMOVDQU32   (DI)(AX*1), Z10
	VPSLLD      $16, Z10, Z12
	VPANDD      Z31, Z10, Z10
	VFMADD231PS (R13), Z12, Z0
	VFMADD231PS 64(R13), Z10, Z1

b512sum:
	VADDPS        Z1, Z0, Z0
	VADDPS        Z3, Z2, Z2
	VADDPS        Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VHADDPS       X0, X0, X0
	VHADDPS       X0, X0, X0
	VMOVSS        X0, (DX)
	ADDQ          $4, DX
	ADDQ          R8, DI
	DECQ          BX
	JNZ           b512row
	VZEROUPPER
	RET

// func gemvBF16AVX2(blocks, rows int, w *uint16, ldw int, xp, y *float32)
//
// gemvBF16AVX512 with 32-byte vectors: a block of 32 inputs is two loads of 8 pairs. The
// first load's even weights pair with xp[0:8] and its odd ones with xp[16:24]; the second
// load's with xp[8:16] and xp[24:32].
//
// Registers: DI the row; R8 the row stride in bytes; AX the byte offset in the row; R9 its
// end; R13 the xp cursor; BX the rows left; DX the y cursor. Y0–Y3 accumulate; Y8–Y11 are
// weights; Y15 is the mask 0xffff0000.
TEXT ·gemvBF16AVX2(SB), NOSPLIT, $0-48
	MOVQ         blocks+0(FP), R9
	MOVQ         rows+8(FP), BX
	MOVQ         w+16(FP), DI
	MOVQ         ldw+24(FP), R8
	MOVQ         xp+32(FP), SI
	MOVQ         y+40(FP), DX
	SHLQ         $1, R8
	SHLQ         $6, R9
	MOVL         $0xffff0000, AX
	MOVQ         AX, X15
	VPBROADCASTD X15, Y15

b256row:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   AX, AX
	MOVQ   SI, R13

b256loop:
	VMOVDQU     (DI)(AX*1), Y8
	VMOVDQU     32(DI)(AX*1), Y9
	VPSLLD      $16, Y8, Y10
	VPAND       Y15, Y8, Y8
	VPSLLD      $16, Y9, Y11
	VPAND       Y15, Y9, Y9
	VFMADD231PS (R13), Y10, Y0
	VFMADD231PS 32(R13), Y11, Y1
	VFMADD231PS 64(R13), Y8, Y2
	VFMADD231PS 96(R13), Y9, Y3
	ADDQ        $64, AX
	ADDQ        $128, R13
	CMPQ        AX, R9
	JLT         b256loop

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
	JNZ          b256row
	VZEROUPPER
	RET

// func gemvQ8AVX512(groups, rows int, q *int8, ldq int, s *float32, lds int, x, y *float32)
//
// y[r] = Σ_g s[r][g]·Σ_{p in g} q[r][p]·x[p] over whole groups of 32. Per group: two
// sign-extending loads widen 32 int8 to int32, two conversions make them float32, a multiply
// and an FMA with the group's 32 inputs give 16 partial sums, and one FMA with the scale
// broadcast from memory adds them to an accumulator. Four groups per iteration, each into an
// accumulator of its own, then one group at a time.
//
// Registers: DI the q row and SI its scales; R8 the q row stride in bytes, CX the scale row
// stride in bytes; DX the x cursor; R12 and R13 the q and scale cursors; AX the groups left;
// R9 the groups; BX the rows left; R10 the y cursor. Z0–Z3 accumulate; Z4–Z11 are weights.
TEXT ·gemvQ8AVX512(SB), NOSPLIT, $0-64
	MOVQ groups+0(FP), R9
	MOVQ rows+8(FP), BX
	MOVQ q+16(FP), DI
	MOVQ ldq+24(FP), R8
	MOVQ s+32(FP), SI
	MOVQ lds+40(FP), CX
	MOVQ y+56(FP), R10
	SHLQ $2, CX              // scale row stride in bytes

q512row:
	MOVQ   R9, AX
	MOVQ   DI, R12
	MOVQ   SI, R13
	MOVQ   x+48(FP), DX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

q512loop4:
	CMPQ             AX, $4
	JLT              q512loop1
	VPMOVSXBD        (R12), Z4
	VPMOVSXBD        16(R12), Z5
	VPMOVSXBD        32(R12), Z6
	VPMOVSXBD        48(R12), Z7
	VPMOVSXBD        64(R12), Z8
	VPMOVSXBD        80(R12), Z9
	VPMOVSXBD        96(R12), Z10
	VPMOVSXBD        112(R12), Z11
	VCVTDQ2PS        Z4, Z4
	VCVTDQ2PS        Z5, Z5
	VCVTDQ2PS        Z6, Z6
	VCVTDQ2PS        Z7, Z7
	VCVTDQ2PS        Z8, Z8
	VCVTDQ2PS        Z9, Z9
	VCVTDQ2PS        Z10, Z10
	VCVTDQ2PS        Z11, Z11
	VMULPS           (DX), Z4, Z4        // group 0: 16 partial sums
	VFMADD231PS      64(DX), Z5, Z4
	VMULPS           128(DX), Z6, Z6     // group 1
	VFMADD231PS      192(DX), Z7, Z6
	VMULPS           256(DX), Z8, Z8     // group 2
	VFMADD231PS      320(DX), Z9, Z8
	VMULPS           384(DX), Z10, Z10   // group 3
	VFMADD231PS      448(DX), Z11, Z10
	VFMADD231PS.BCST (R13), Z4, Z0       // acc += scale · partial sums
	VFMADD231PS.BCST 4(R13), Z6, Z1
	VFMADD231PS.BCST 8(R13), Z8, Z2
	VFMADD231PS.BCST 12(R13), Z10, Z3
	ADDQ             $128, R12
	ADDQ             $16, R13
	ADDQ             $512, DX
	SUBQ             $4, AX
	JMP              q512loop4

q512loop1:
	TESTQ            AX, AX
	JZ               q512sum
	VPMOVSXBD        (R12), Z4
	VPMOVSXBD        16(R12), Z5
	VCVTDQ2PS        Z4, Z4
	VCVTDQ2PS        Z5, Z5
	VMULPS           (DX), Z4, Z4
	VFMADD231PS      64(DX), Z5, Z4
	VFMADD231PS.BCST (R13), Z4, Z0
	ADDQ             $32, R12
	ADDQ             $4, R13
	ADDQ             $128, DX
	DECQ             AX
	JMP              q512loop1

q512sum:
	VADDPS        Z1, Z0, Z0
	VADDPS        Z3, Z2, Z2
	VADDPS        Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VHADDPS       X0, X0, X0
	VHADDPS       X0, X0, X0
	VMOVSS        X0, (R10)
	ADDQ          $4, R10
	ADDQ          R8, DI
	ADDQ          CX, SI
	DECQ          BX
	JNZ           q512row
	VZEROUPPER
	RET

// Q8X4SETUP loads the arguments of the four-run int8 GEMV kernels (gemvQ8x4AVX512,
// gemvQ8x4VNNI, which share their argument layout) into the registers they describe.
#define Q8X4SETUP \
	MOVQ  groups+0(FP), AX \
	MOVQ  rows+8(FP), BX \
	MOVQ  ldq+24(FP), CX \
	MOVQ  lds+40(FP), R8 \
	MOVQ  CX, R9 \
	IMULQ BX, R9 \
	MOVQ  q+16(FP), DI \
	LEAQ  (DI)(R9*1), R10 \
	LEAQ  (DI)(R9*2), R11 \
	LEAQ  (R10)(R9*2), R12 \
	SHLQ  $2, R8 \
	MOVQ  R8, R9 \
	IMULQ BX, R9 \
	MOVQ  s+32(FP), SI \
	LEAQ  (SI)(R9*1), R13 \
	LEAQ  (SI)(R9*2), R14 \
	LEAQ  (R13)(R9*2), R15 \
	MOVQ  AX, R9 \
	SHLQ  $5, R9 \
	SUBQ  R9, CX \
	SHLQ  $2, AX \
	SUBQ  AX, R8 \
	MOVQ  y+56(FP), R9

// func gemvQ8x4AVX512(groups, rows int, q *int8, ldq int, s *float32, lds int, x, y *float32)
//
// gemvQ8AVX512 on four rows at once, so that each load of x serves four rows: x is loaded
// once per group instead of once per row, which is what limits the one-row kernel in cache.
// The four rows come from four separate runs of rows, i, rows+i, 2·rows+i and 3·rows+i for
// i < rows, so that the weights still stream as four long sequential runs, which the hardware
// prefetchers follow as well as one. y[i], y[rows+i], y[2·rows+i], y[3·rows+i] receive them.
//
// Registers: DI, R10, R11, R12 the q cursors of the four runs and SI, R13, R14, R15 their
// scale cursors, each advanced group by group; CX and R8 take them from the end of a row's
// whole groups to the start of the next row (ldq − 32·groups and 4·(lds − groups) bytes);
// DX the x cursor; AX the groups left; BX the rows left; R9 the y cursor. Z0–Z3 accumulate
// the four rows; Z16, Z17 hold the group's inputs; Z4–Z11 are weights.
TEXT ·gemvQ8x4AVX512(SB), NOSPLIT, $0-64
	Q8X4SETUP

q4row:
	MOVQ   groups+0(FP), AX
	MOVQ   x+48(FP), DX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

q4loop:
	PREFETCHT0       1024(DI)            // the weights a few rows ahead
	PREFETCHT0       1024(R10)
	PREFETCHT0       1024(R11)
	PREFETCHT0       1024(R12)
	VMOVUPS          (DX), Z16           // x[0:16] of the group
	VMOVUPS          64(DX), Z17         // x[16:32]
	VPMOVSXBD        (DI), Z4
	VPMOVSXBD        16(DI), Z5
	VPMOVSXBD        (R10), Z6
	VPMOVSXBD        16(R10), Z7
	VPMOVSXBD        (R11), Z8
	VPMOVSXBD        16(R11), Z9
	VPMOVSXBD        (R12), Z10
	VPMOVSXBD        16(R12), Z11
	VCVTDQ2PS        Z4, Z4
	VCVTDQ2PS        Z5, Z5
	VCVTDQ2PS        Z6, Z6
	VCVTDQ2PS        Z7, Z7
	VCVTDQ2PS        Z8, Z8
	VCVTDQ2PS        Z9, Z9
	VCVTDQ2PS        Z10, Z10
	VCVTDQ2PS        Z11, Z11
	VMULPS           Z16, Z4, Z4
	VFMADD231PS      Z17, Z5, Z4         // run 0: 16 partial sums of the group
	VMULPS           Z16, Z6, Z6
	VFMADD231PS      Z17, Z7, Z6
	VMULPS           Z16, Z8, Z8
	VFMADD231PS      Z17, Z9, Z8
	VMULPS           Z16, Z10, Z10
	VFMADD231PS      Z17, Z11, Z10
	VFMADD231PS.BCST (SI), Z4, Z0        // acc += scale · partial sums
	VFMADD231PS.BCST (R13), Z6, Z1
	VFMADD231PS.BCST (R14), Z8, Z2
	VFMADD231PS.BCST (R15), Z10, Z3
	ADDQ             $32, DI
	ADDQ             $32, R10
	ADDQ             $32, R11
	ADDQ             $32, R12
	ADDQ             $4, SI
	ADDQ             $4, R13
	ADDQ             $4, R14
	ADDQ             $4, R15
	ADDQ             $128, DX
	DECQ             AX
	JNZ              q4loop

	// Sum each accumulator: X0 = [run0 run1 run2 run3].
	VEXTRACTF64X4 $1, Z0, Y4
	VADDPS        Y4, Y0, Y0
	VEXTRACTF64X4 $1, Z1, Y5
	VADDPS        Y5, Y1, Y1
	VEXTRACTF64X4 $1, Z2, Y6
	VADDPS        Y6, Y2, Y2
	VEXTRACTF64X4 $1, Z3, Y7
	VADDPS        Y7, Y3, Y3
	VHADDPS       Y1, Y0, Y0             // [0 0 1 1 | 0 0 1 1] partial sums
	VHADDPS       Y3, Y2, Y2             // [2 2 3 3 | 2 2 3 3]
	VHADDPS       Y2, Y0, Y0             // [0 1 2 3 | 0 1 2 3]
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	MOVQ          rows+8(FP), AX
	SHLQ          $2, AX                 // y stride between the runs
	VMOVSS        X0, (R9)
	LEAQ          (R9)(AX*1), DX
	VEXTRACTPS    $1, X0, (DX)
	ADDQ          AX, DX
	VEXTRACTPS    $2, X0, (DX)
	ADDQ          AX, DX
	VEXTRACTPS    $3, X0, (DX)
	ADDQ          $4, R9
	ADDQ          CX, DI
	ADDQ          CX, R10
	ADDQ          CX, R11
	ADDQ          CX, R12
	ADDQ          R8, SI
	ADDQ          R8, R13
	ADDQ          R8, R14
	ADDQ          R8, R15
	DECQ          BX
	JNZ           q4row
	VZEROUPPER
	RET

// func gemvQ8AVX2(groups, rows int, q *int8, ldq int, s *float32, lds int, x, y *float32)
//
// gemvQ8AVX512 with 32-byte vectors: four sign-extending loads of 8 int8 per group; two
// groups per iteration, each into an accumulator of its own, then one group.
//
// Registers as in gemvQ8AVX512; Y0, Y1 accumulate; Y4–Y11 are weights; Y12, Y13 the
// broadcast scales.
TEXT ·gemvQ8AVX2(SB), NOSPLIT, $0-64
	MOVQ groups+0(FP), R9
	MOVQ rows+8(FP), BX
	MOVQ q+16(FP), DI
	MOVQ ldq+24(FP), R8
	MOVQ s+32(FP), SI
	MOVQ lds+40(FP), CX
	MOVQ y+56(FP), R10
	SHLQ $2, CX

q256row:
	MOVQ   R9, AX
	MOVQ   DI, R12
	MOVQ   SI, R13
	MOVQ   x+48(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

q256loop2:
	CMPQ         AX, $2
	JLT          q256loop1
	VPMOVSXBD    (R12), Y4
	VPMOVSXBD    8(R12), Y5
	VPMOVSXBD    16(R12), Y6
	VPMOVSXBD    24(R12), Y7
	VPMOVSXBD    32(R12), Y8
	VPMOVSXBD    40(R12), Y9
	VPMOVSXBD    48(R12), Y10
	VPMOVSXBD    56(R12), Y11
	VCVTDQ2PS    Y4, Y4
	VCVTDQ2PS    Y5, Y5
	VCVTDQ2PS    Y6, Y6
	VCVTDQ2PS    Y7, Y7
	VCVTDQ2PS    Y8, Y8
	VCVTDQ2PS    Y9, Y9
	VCVTDQ2PS    Y10, Y10
	VCVTDQ2PS    Y11, Y11
	VMULPS       (DX), Y4, Y4        // group 0
	VMULPS       32(DX), Y5, Y5
	VFMADD231PS  64(DX), Y6, Y4
	VFMADD231PS  96(DX), Y7, Y5
	VMULPS       128(DX), Y8, Y8     // group 1
	VMULPS       160(DX), Y9, Y9
	VFMADD231PS  192(DX), Y10, Y8
	VFMADD231PS  224(DX), Y11, Y9
	VADDPS       Y5, Y4, Y4
	VADDPS       Y9, Y8, Y8
	VBROADCASTSS (R13), Y12
	VBROADCASTSS 4(R13), Y13
	VFMADD231PS  Y12, Y4, Y0
	VFMADD231PS  Y13, Y8, Y1
	ADDQ         $64, R12
	ADDQ         $8, R13
	ADDQ         $256, DX
	SUBQ         $2, AX
	JMP          q256loop2

q256loop1:
	TESTQ        AX, AX
	JZ           q256sum
	VPMOVSXBD    (R12), Y4
	VPMOVSXBD    8(R12), Y5
	VPMOVSXBD    16(R12), Y6
	VPMOVSXBD    24(R12), Y7
	VCVTDQ2PS    Y4, Y4
	VCVTDQ2PS    Y5, Y5
	VCVTDQ2PS    Y6, Y6
	VCVTDQ2PS    Y7, Y7
	VMULPS       (DX), Y4, Y4
	VMULPS       32(DX), Y5, Y5
	VFMADD231PS  64(DX), Y6, Y4
	VFMADD231PS  96(DX), Y7, Y5
	VADDPS       Y5, Y4, Y4
	VBROADCASTSS (R13), Y12
	VFMADD231PS  Y12, Y4, Y0

q256sum:
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, (R10)
	ADDQ         $4, R10
	ADDQ         R8, DI
	ADDQ         CX, SI
	DECQ         BX
	JNZ          q256row
	VZEROUPPER
	RET

// func bf16WidenAVX512(n int, dst *float32, src *uint16)
//
// dst[i] = float32 of src[i]: zero-extend 16 halves to 32-bit lanes and shift them into the
// upper half. n is a multiple of 16. CX counts the elements left, SI and DI are the cursors.
TEXT ·bf16WidenAVX512(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI

w512loop4:
	CMPQ      CX, $64
	JLT       w512loop1
	VPMOVZXWD (SI), Z0
	VPMOVZXWD 32(SI), Z1
	VPMOVZXWD 64(SI), Z2
	VPMOVZXWD 96(SI), Z3
	VPSLLD    $16, Z0, Z0
	VPSLLD    $16, Z1, Z1
	VPSLLD    $16, Z2, Z2
	VPSLLD    $16, Z3, Z3
	VMOVUPS   Z0, (DI)
	VMOVUPS   Z1, 64(DI)
	VMOVUPS   Z2, 128(DI)
	VMOVUPS   Z3, 192(DI)
	ADDQ      $128, SI
	ADDQ      $256, DI
	SUBQ      $64, CX
	JMP       w512loop4

w512loop1:
	TESTQ     CX, CX
	JZ        w512done
	VPMOVZXWD (SI), Z0
	VPSLLD    $16, Z0, Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $32, SI
	ADDQ      $64, DI
	SUBQ      $16, CX
	JMP       w512loop1

w512done:
	VZEROUPPER
	RET

// func bf16WidenAVX2(n int, dst *float32, src *uint16)
//
// bf16WidenAVX512 with 32-byte vectors; n is a multiple of 8.
TEXT ·bf16WidenAVX2(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI

w256loop:
	TESTQ     CX, CX
	JZ        w256done
	VPMOVZXWD (SI), Y0
	VPSLLD    $16, Y0, Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JMP       w256loop

w256done:
	VZEROUPPER
	RET

// func q8DequantAVX512(groups int, dst *float32, q *int8, s *float32)
//
// dst = q·s for whole groups of 32: widen, convert, multiply by the broadcast scale. CX counts
// the groups left; SI, DI and R8 are the q, dst and scale cursors.
TEXT ·q8DequantAVX512(SB), NOSPLIT, $0-32
	MOVQ groups+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ q+16(FP), SI
	MOVQ s+24(FP), R8

d512loop:
	VPMOVSXBD   (SI), Z0
	VPMOVSXBD   16(SI), Z1
	VCVTDQ2PS   Z0, Z0
	VCVTDQ2PS   Z1, Z1
	VMULPS.BCST (R8), Z0, Z0
	VMULPS.BCST (R8), Z1, Z1
	VMOVUPS     Z0, (DI)
	VMOVUPS     Z1, 64(DI)
	ADDQ        $32, SI
	ADDQ        $128, DI
	ADDQ        $4, R8
	DECQ        CX
	JNZ         d512loop
	VZEROUPPER
	RET

// func q8DequantAVX2(groups int, dst *float32, q *int8, s *float32)
//
// q8DequantAVX512 with 32-byte vectors.
TEXT ·q8DequantAVX2(SB), NOSPLIT, $0-32
	MOVQ groups+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ q+16(FP), SI
	MOVQ s+24(FP), R8

d256loop:
	VBROADCASTSS (R8), Y4
	VPMOVSXBD    (SI), Y0
	VPMOVSXBD    8(SI), Y1
	VPMOVSXBD    16(SI), Y2
	VPMOVSXBD    24(SI), Y3
	VCVTDQ2PS    Y0, Y0
	VCVTDQ2PS    Y1, Y1
	VCVTDQ2PS    Y2, Y2
	VCVTDQ2PS    Y3, Y3
	VMULPS       Y4, Y0, Y0
	VMULPS       Y4, Y1, Y1
	VMULPS       Y4, Y2, Y2
	VMULPS       Y4, Y3, Y3
	VMOVUPS      Y0, (DI)
	VMOVUPS      Y1, 32(DI)
	VMOVUPS      Y2, 64(DI)
	VMOVUPS      Y3, 96(DI)
	ADDQ         $32, SI
	ADDQ         $128, DI
	ADDQ         $4, R8
	DECQ         CX
	JNZ          d256loop
	VZEROUPPER
	RET

// The GEMM tile kernels compute a 6×4 tile of dot products, out[r·4+c] = Σ_p x[r][p]·W[c][p]
// for six rows of X and four rows of W, over whole blocks of inputs. Each step widens a
// 16-input vector of each of the four W rows once and multiplies it with the same inputs of
// the six X rows: 24 FMAs per 4 widened vectors and 6 loads of x, so the FMA units stay busy
// and the widening costs a sixth of what a GEMV pays per weight. Neither operand is packed:
// X rows (row stride ldx floats) and W rows are read where they are, and the 6×4 inputs of a
// tile come from L1 and L2 as the driver walks the tiles.
//
// Registers: SI and R9 address X rows 0 and 3 (rows 1, 2, 4, 5 at +R8, +2·R8 with R8 = ldx
// in bytes); DI and R11 address W rows 0 and 2 (rows 1, 3 at +R10, the W row stride in
// bytes); for int8, R12 and BX address the scales of W rows 0 and 2 (rows 1, 3 at +R13, the
// scale row stride in bytes); CX counts the steps left; AX is out. Z0–Z23 accumulate the
// tile, Z(4r+c) for X row r and W row c; Z24–Z27 hold the widened W vectors; Z28, Z29 the X
// vectors.

// TILE6x4 multiplies the four W vectors in Z24–Z27 with the 16 inputs at offset off of the
// six X rows and adds the products to the accumulators.
#define TILE6x4(off) \
	VMOVUPS     off(SI), Z28;        \
	VFMADD231PS Z24, Z28, Z0;        \
	VFMADD231PS Z25, Z28, Z1;        \
	VFMADD231PS Z26, Z28, Z2;        \
	VFMADD231PS Z27, Z28, Z3;        \
	VMOVUPS     off(SI)(R8*1), Z29;  \
	VFMADD231PS Z24, Z29, Z4;        \
	VFMADD231PS Z25, Z29, Z5;        \
	VFMADD231PS Z26, Z29, Z6;        \
	VFMADD231PS Z27, Z29, Z7;        \
	VMOVUPS     off(SI)(R8*2), Z28;  \
	VFMADD231PS Z24, Z28, Z8;        \
	VFMADD231PS Z25, Z28, Z9;        \
	VFMADD231PS Z26, Z28, Z10;       \
	VFMADD231PS Z27, Z28, Z11;       \
	VMOVUPS     off(R9), Z29;        \
	VFMADD231PS Z24, Z29, Z12;       \
	VFMADD231PS Z25, Z29, Z13;       \
	VFMADD231PS Z26, Z29, Z14;       \
	VFMADD231PS Z27, Z29, Z15;       \
	VMOVUPS     off(R9)(R8*1), Z28;  \
	VFMADD231PS Z24, Z28, Z16;       \
	VFMADD231PS Z25, Z28, Z17;       \
	VFMADD231PS Z26, Z28, Z18;       \
	VFMADD231PS Z27, Z28, Z19;       \
	VMOVUPS     off(R9)(R8*2), Z29;  \
	VFMADD231PS Z24, Z29, Z20;       \
	VFMADD231PS Z25, Z29, Z21;       \
	VFMADD231PS Z26, Z29, Z22;       \
	VFMADD231PS Z27, Z29, Z23

// REDUCE4 sums the 16 lanes of each of Z0–Z3 and stores the four sums at off(AX).
#define REDUCE4(off) \
	VEXTRACTF64X4 $1, Z0, Y24; \
	VADDPS        Z24, Z0, Z0; \
	VEXTRACTF64X4 $1, Z1, Y25; \
	VADDPS        Z25, Z1, Z1; \
	VEXTRACTF64X4 $1, Z2, Y26; \
	VADDPS        Z26, Z2, Z2; \
	VEXTRACTF64X4 $1, Z3, Y27; \
	VADDPS        Z27, Z3, Z3; \
	VHADDPS       Y1, Y0, Y0;  \
	VHADDPS       Y3, Y2, Y2;  \
	VHADDPS       Y2, Y0, Y0;  \
	VEXTRACTF128  $1, Y0, X1;  \
	VADDPS        X1, X0, X0;  \
	VMOVUPS       X0, off(AX)

// MOVE4 copies four accumulators into Z0–Z3 for REDUCE4.
#define MOVE4(a, b, c, d) \
	VMOVAPS a, Z0; \
	VMOVAPS b, Z1; \
	VMOVAPS c, Z2; \
	VMOVAPS d, Z3

// STORE6x4 reduces the 24 accumulators into out[0:24].
#define STORE6x4 \
	REDUCE4(0);                   \
	MOVE4(Z4, Z5, Z6, Z7);        \
	REDUCE4(16);                  \
	MOVE4(Z8, Z9, Z10, Z11);      \
	REDUCE4(32);                  \
	MOVE4(Z12, Z13, Z14, Z15);    \
	REDUCE4(48);                  \
	MOVE4(Z16, Z17, Z18, Z19);    \
	REDUCE4(64);                  \
	MOVE4(Z20, Z21, Z22, Z23);    \
	REDUCE4(80)

// ZERO6x4 clears the accumulators.
#define ZERO6x4 \
	VPXORD Z0, Z0, Z0;    \
	VPXORD Z1, Z1, Z1;    \
	VPXORD Z2, Z2, Z2;    \
	VPXORD Z3, Z3, Z3;    \
	VPXORD Z4, Z4, Z4;    \
	VPXORD Z5, Z5, Z5;    \
	VPXORD Z6, Z6, Z6;    \
	VPXORD Z7, Z7, Z7;    \
	VPXORD Z8, Z8, Z8;    \
	VPXORD Z9, Z9, Z9;    \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11; \
	VPXORD Z12, Z12, Z12; \
	VPXORD Z13, Z13, Z13; \
	VPXORD Z14, Z14, Z14; \
	VPXORD Z15, Z15, Z15; \
	VPXORD Z16, Z16, Z16; \
	VPXORD Z17, Z17, Z17; \
	VPXORD Z18, Z18, Z18; \
	VPXORD Z19, Z19, Z19; \
	VPXORD Z20, Z20, Z20; \
	VPXORD Z21, Z21, Z21; \
	VPXORD Z22, Z22, Z22; \
	VPXORD Z23, Z23, Z23

// func gemmBF16TileAVX512(blocks int, x *float32, ldx int, w *uint16, ldw int, out *float32)
//
// The 6×4 tile over 16·blocks inputs of bfloat16 weights: each step widens 16 weights of a
// row by zero-extending them to 32-bit lanes and shifting them into the upper half.
TEXT ·gemmBF16TileAVX512(SB), NOSPLIT, $0-48
	MOVQ blocks+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ ldx+16(FP), R8
	MOVQ w+24(FP), DI
	MOVQ ldw+32(FP), R10
	MOVQ out+40(FP), AX
	SHLQ $2, R8                  // X row stride in bytes
	SHLQ $1, R10                 // W row stride in bytes
	LEAQ (SI)(R8*2), R9
	ADDQ R8, R9                  // X row 3
	LEAQ (DI)(R10*2), R11        // W row 2
	ZERO6x4

bt6x4:
	VPMOVZXWD (DI), Z24
	VPMOVZXWD (DI)(R10*1), Z25
	VPMOVZXWD (R11), Z26
	VPMOVZXWD (R11)(R10*1), Z27
	VPSLLD    $16, Z24, Z24
	VPSLLD    $16, Z25, Z25
	VPSLLD    $16, Z26, Z26
	VPSLLD    $16, Z27, Z27
	TILE6x4(0)
	ADDQ      $32, DI
	ADDQ      $32, R11
	ADDQ      $64, SI
	ADDQ      $64, R9
	DECQ      CX
	JNZ       bt6x4

	STORE6x4
	VZEROUPPER
	RET

// func gemmQ8TileAVX512(groups int, x *float32, ldx int, q *int8, ldq int, s *float32, lds int, out *float32)
//
// The 6×4 tile over whole groups of 32 int8 weights: each half group of a row is widened by
// a sign-extending load and a conversion, and multiplied by its group's scale (broadcast
// from memory) before the FMAs, so the accumulators hold Σ x·q·s directly.
TEXT ·gemmQ8TileAVX512(SB), NOSPLIT, $0-64
	MOVQ groups+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ ldx+16(FP), R8
	MOVQ q+24(FP), DI
	MOVQ ldq+32(FP), R10
	MOVQ s+40(FP), R12
	MOVQ lds+48(FP), R13
	MOVQ out+56(FP), AX
	SHLQ $2, R8                  // X row stride in bytes
	SHLQ $2, R13                 // scale row stride in bytes
	LEAQ (SI)(R8*2), R9
	ADDQ R8, R9                  // X row 3
	LEAQ (DI)(R10*2), R11        // W row 2
	LEAQ (R12)(R13*2), BX        // scales of W row 2
	ZERO6x4

qt6x4:
	// Inputs 0–15 of the group.
	VPMOVSXBD   (DI), Z24
	VPMOVSXBD   (DI)(R10*1), Z25
	VPMOVSXBD   (R11), Z26
	VPMOVSXBD   (R11)(R10*1), Z27
	VCVTDQ2PS   Z24, Z24
	VCVTDQ2PS   Z25, Z25
	VCVTDQ2PS   Z26, Z26
	VCVTDQ2PS   Z27, Z27
	VMULPS.BCST (R12), Z24, Z24
	VMULPS.BCST (R12)(R13*1), Z25, Z25
	VMULPS.BCST (BX), Z26, Z26
	VMULPS.BCST (BX)(R13*1), Z27, Z27
	TILE6x4(0)

	// Inputs 16–31.
	VPMOVSXBD   16(DI), Z24
	VPMOVSXBD   16(DI)(R10*1), Z25
	VPMOVSXBD   16(R11), Z26
	VPMOVSXBD   16(R11)(R10*1), Z27
	VCVTDQ2PS   Z24, Z24
	VCVTDQ2PS   Z25, Z25
	VCVTDQ2PS   Z26, Z26
	VCVTDQ2PS   Z27, Z27
	VMULPS.BCST (R12), Z24, Z24
	VMULPS.BCST (R12)(R13*1), Z25, Z25
	VMULPS.BCST (BX), Z26, Z26
	VMULPS.BCST (BX)(R13*1), Z27, Z27
	TILE6x4(64)

	ADDQ $32, DI
	ADDQ $32, R11
	ADDQ $4, R12
	ADDQ $4, BX
	ADDQ $128, SI
	ADDQ $128, R9
	DECQ CX
	JNZ  qt6x4

	STORE6x4
	VZEROUPPER
	RET

// The lanes of a scale vector of two groups: eight of the first, eight of the second.
DATA q8vnniIdx<>+0(SB)/8, $0
DATA q8vnniIdx<>+8(SB)/8, $0
DATA q8vnniIdx<>+16(SB)/8, $0
DATA q8vnniIdx<>+24(SB)/8, $0
DATA q8vnniIdx<>+32(SB)/8, $0x0000000100000001
DATA q8vnniIdx<>+40(SB)/8, $0x0000000100000001
DATA q8vnniIdx<>+48(SB)/8, $0x0000000100000001
DATA q8vnniIdx<>+56(SB)/8, $0x0000000100000001
GLOBL q8vnniIdx<>(SB), RODATA|NOPTR, $64

// The int8 GEMV on VNNI. VPDPBUSD multiplies unsigned bytes by signed ones, four to a 32-bit
// lane, and adds the four products to the lane: the weights go in offset by 128 (q xor 0x80
// = q + 128, in [1, 255]) and the activations signed. The offset adds 128·Σ xq over each
// lane's four inputs; the activation buffer holds that negated beside the inputs, and it
// starts each lane's sum, so the int32 lanes hold Σ q·xq exactly. The buffer xn holds, for
// each 64 inputs, the 64 bytes xq and then 16 int32 nc[l] = −128·Σ_{i<4} xq[4l+i] (a last
// odd group fills half of both). A 64-byte step covers two groups of weights: lanes 0–7 the
// first, 8–15 the second, converted to float32 and multiplied by a vector of their two scales
// (eight copies each) into a float32 accumulator.

// func gemvQ8VNNI(groups, rows int, q *int8, ldq int, s *float32, lds int, xn *int32, y *float32)
//
// y[r] = Σ_{g<groups} s[r][g]·Σ_{p in g} q[r][p]·xq[p] for r < rows, one row at a time.
//
// Registers: DI the q row and SI its scales; R8 the q row stride, CX the scale row stride, in
// bytes; R12, R13 the q and scale cursors; DX the xn cursor; AX the two-group steps left; R9
// the groups; BX the rows left; R10 the y cursor. Z0, Z1 accumulate; Z4–Z9 are temporaries;
// Z30 the scale lane index; Z31 the bytes 0x80.
TEXT ·gemvQ8VNNI(SB), NOSPLIT, $0-64
	MOVQ         groups+0(FP), R9
	MOVQ         rows+8(FP), BX
	MOVQ         q+16(FP), DI
	MOVQ         ldq+24(FP), R8
	MOVQ         s+32(FP), SI
	MOVQ         lds+40(FP), CX
	MOVQ         y+56(FP), R10
	SHLQ         $2, CX
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU32    q8vnniIdx<>(SB), Z30

vnnirow:
	MOVQ   R9, AX
	SHRQ   $1, AX
	MOVQ   DI, R12
	MOVQ   SI, R13
	MOVQ   xn+48(FP), DX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1

vnniloop2:
	CMPQ         AX, $2
	JLT          vnniloop1
	PREFETCHT0   1024(R12)           // the weights a few rows ahead
	PREFETCHT0   1088(R12)
	VPXORD       (R12), Z31, Z4      // weights + 128, unsigned
	VPXORD       64(R12), Z31, Z7
	VMOVDQU32    64(DX), Z5          // −128·Σ xq per lane
	VMOVDQU32    192(DX), Z8
	VPDPBUSD     (DX), Z4, Z5        // += Σ (q+128)·xq: Σ q·xq, exact
	VPDPBUSD     128(DX), Z7, Z8
	VCVTDQ2PS    Z5, Z5
	VCVTDQ2PS    Z8, Z8
	VBROADCASTSD (R13), Z6           // the scales of the two groups
	VBROADCASTSD 8(R13), Z9
	VPERMPS      Z6, Z30, Z6
	VPERMPS      Z9, Z30, Z9
	VFMADD231PS  Z6, Z5, Z0
	VFMADD231PS  Z9, Z8, Z1
	ADDQ         $128, R12
	ADDQ         $16, R13
	ADDQ         $256, DX
	SUBQ         $2, AX
	JMP          vnniloop2

vnniloop1:
	TESTQ        AX, AX
	JZ           vnniodd
	VPXORD       (R12), Z31, Z4
	VMOVDQU32    64(DX), Z5
	VPDPBUSD     (DX), Z4, Z5
	VCVTDQ2PS    Z5, Z5
	VBROADCASTSD (R13), Z6
	VPERMPS      Z6, Z30, Z6
	VFMADD231PS  Z6, Z5, Z0
	ADDQ         $64, R12
	ADDQ         $8, R13
	ADDQ         $128, DX

vnniodd:
	TESTQ        $1, R9
	JZ           vnnisum
	VPXORD       (R12), Y31, Y4      // one group: 32 inputs
	VMOVDQU32    64(DX), Y5
	VPDPBUSD     (DX), Y4, Y5
	VCVTDQ2PS    Y5, Y5
	VBROADCASTSS (R13), Y6
	VMULPS       Y6, Y5, Y5          // the upper half of Z5 is zero
	VADDPS       Z5, Z1, Z1

vnnisum:
	VADDPS        Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VHADDPS       X0, X0, X0
	VHADDPS       X0, X0, X0
	VMOVSS        X0, (R10)
	ADDQ          $4, R10
	ADDQ          R8, DI
	ADDQ          CX, SI
	DECQ          BX
	JNZ           vnnirow
	VZEROUPPER
	RET

// func gemvQ8x4VNNI(groups, rows int, q *int8, ldq int, s *float32, lds int, xn *int32, y *float32)
//
// gemvQ8VNNI on the 4·rows rows i, rows+i, 2·rows+i, 3·rows+i (i < rows), four at a time,
// as gemvQ8x4AVX512 takes them: four long sequential runs of weights, which keep more memory
// requests in flight than one, each load of xn serving four rows. y[i], y[rows+i],
// y[2·rows+i], y[3·rows+i] receive them.
//
// Registers: DI, R10, R11, R12 the q cursors of the four runs and SI, R13, R14, R15 their
// scale cursors; CX and R8 take them from the end of a row's whole groups to the start of
// the next row; DX the xn cursor; AX the groups left; BX the rows left; R9 the y cursor.
// Z0–Z3 accumulate the four rows; Z16, Z17 hold the step's xq and nc; Z4–Z7 weights, Z8–Z11
// sums, Z12–Z15 scales; Z30 the scale lane index; Z31 the bytes 0x80.
TEXT ·gemvQ8x4VNNI(SB), NOSPLIT, $0-64
	Q8X4SETUP
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Z31
	VMOVDQU32    q8vnniIdx<>(SB), Z30

v4row:
	MOVQ   groups+0(FP), AX
	MOVQ   xn+48(FP), DX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

v4loop:
	CMPQ         AX, $2
	JLT          v4odd
	PREFETCHT0   1024(DI)            // the weights a few rows ahead
	PREFETCHT0   1024(R10)
	PREFETCHT0   1024(R11)
	PREFETCHT0   1024(R12)
	VMOVDQU32    (DX), Z16           // xq of the step
	VMOVDQU32    64(DX), Z17         // −128·Σ xq per lane
	VPXORD       (DI), Z31, Z4       // weights + 128, unsigned
	VPXORD       (R10), Z31, Z5
	VPXORD       (R11), Z31, Z6
	VPXORD       (R12), Z31, Z7
	VMOVDQA32    Z17, Z8
	VMOVDQA32    Z17, Z9
	VMOVDQA32    Z17, Z10
	VMOVDQA32    Z17, Z11
	VPDPBUSD     Z16, Z4, Z8         // Σ q·xq per lane, exact
	VPDPBUSD     Z16, Z5, Z9
	VPDPBUSD     Z16, Z6, Z10
	VPDPBUSD     Z16, Z7, Z11
	VCVTDQ2PS    Z8, Z8
	VCVTDQ2PS    Z9, Z9
	VCVTDQ2PS    Z10, Z10
	VCVTDQ2PS    Z11, Z11
	VBROADCASTSD (SI), Z12           // the scales of the two groups
	VBROADCASTSD (R13), Z13
	VBROADCASTSD (R14), Z14
	VBROADCASTSD (R15), Z15
	VPERMPS      Z12, Z30, Z12
	VPERMPS      Z13, Z30, Z13
	VPERMPS      Z14, Z30, Z14
	VPERMPS      Z15, Z30, Z15
	VFMADD231PS  Z12, Z8, Z0
	VFMADD231PS  Z13, Z9, Z1
	VFMADD231PS  Z14, Z10, Z2
	VFMADD231PS  Z15, Z11, Z3
	ADDQ         $64, DI
	ADDQ         $64, R10
	ADDQ         $64, R11
	ADDQ         $64, R12
	ADDQ         $8, SI
	ADDQ         $8, R13
	ADDQ         $8, R14
	ADDQ         $8, R15
	ADDQ         $128, DX
	SUBQ         $2, AX
	JMP          v4loop

v4odd:
	TESTQ        AX, AX
	JZ           v4sum
	VMOVDQU32    (DX), Y16           // one group: 32 inputs
	VMOVDQU32    64(DX), Y17
	VPXORD       (DI), Y31, Y4
	VPXORD       (R10), Y31, Y5
	VPXORD       (R11), Y31, Y6
	VPXORD       (R12), Y31, Y7
	VMOVDQA32    Y17, Y8
	VMOVDQA32    Y17, Y9
	VMOVDQA32    Y17, Y10
	VMOVDQA32    Y17, Y11
	VPDPBUSD     Y16, Y4, Y8
	VPDPBUSD     Y16, Y5, Y9
	VPDPBUSD     Y16, Y6, Y10
	VPDPBUSD     Y16, Y7, Y11
	VCVTDQ2PS    Y8, Y8
	VCVTDQ2PS    Y9, Y9
	VCVTDQ2PS    Y10, Y10
	VCVTDQ2PS    Y11, Y11
	VMULPS.BCST  (SI), Y8, Y8        // the upper halves stay zero
	VMULPS.BCST  (R13), Y9, Y9
	VMULPS.BCST  (R14), Y10, Y10
	VMULPS.BCST  (R15), Y11, Y11
	VADDPS       Z8, Z0, Z0
	VADDPS       Z9, Z1, Z1
	VADDPS       Z10, Z2, Z2
	VADDPS       Z11, Z3, Z3
	ADDQ         $32, DI
	ADDQ         $32, R10
	ADDQ         $32, R11
	ADDQ         $32, R12
	ADDQ         $4, SI
	ADDQ         $4, R13
	ADDQ         $4, R14
	ADDQ         $4, R15

v4sum:
	// Sum each accumulator: X0 = [run0 run1 run2 run3].
	VEXTRACTF64X4 $1, Z0, Y4
	VADDPS        Y4, Y0, Y0
	VEXTRACTF64X4 $1, Z1, Y5
	VADDPS        Y5, Y1, Y1
	VEXTRACTF64X4 $1, Z2, Y6
	VADDPS        Y6, Y2, Y2
	VEXTRACTF64X4 $1, Z3, Y7
	VADDPS        Y7, Y3, Y3
	VHADDPS       Y1, Y0, Y0
	VHADDPS       Y3, Y2, Y2
	VHADDPS       Y2, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	MOVQ          rows+8(FP), AX
	SHLQ          $2, AX             // y stride between the runs
	VMOVSS        X0, (R9)
	LEAQ          (R9)(AX*1), DX
	VEXTRACTPS    $1, X0, (DX)
	ADDQ          AX, DX
	VEXTRACTPS    $2, X0, (DX)
	ADDQ          AX, DX
	VEXTRACTPS    $3, X0, (DX)
	ADDQ          $4, R9
	ADDQ          CX, DI
	ADDQ          CX, R10
	ADDQ          CX, R11
	ADDQ          CX, R12
	ADDQ          R8, SI
	ADDQ          R8, R13
	ADDQ          R8, R14
	ADDQ          R8, R15
	DECQ          BX
	JNZ           v4row
	VZEROUPPER
	RET

// func q8QuantizeVNNI(chunks int, x *float32, inv float32, xn *int32)
//
// Fills xn (see above) for 64·chunks inputs of x: xq = round(x·inv) to nearest even,
// clamped to [−127, 127], and nc = −128·Σ of each four. The caller checks that x·inv is
// finite and at most 127 in magnitude up to rounding.
//
// Registers: CX the chunks left; SI the x cursor; DI the xn cursor. Z29 holds inv, Z28 and
// Z27 the clamps, Z31 the bytes 0x80.
TEXT ·q8QuantizeVNNI(SB), NOSPLIT, $0-32
	MOVQ         chunks+0(FP), CX
	MOVQ         x+8(FP), SI
	MOVQ         xn+24(FP), DI
	VBROADCASTSS inv+16(FP), Z29
	MOVL         $127, AX
	VPBROADCASTD AX, Z28
	MOVL         $-127, AX
	VPBROADCASTD AX, Z27
	MOVL         $0x80808080, AX
	VPBROADCASTD AX, Z31

quantloop:
	VMULPS    (SI), Z29, Z0
	VMULPS    64(SI), Z29, Z1
	VMULPS    128(SI), Z29, Z2
	VMULPS    192(SI), Z29, Z3
	VCVTPS2DQ Z0, Z0                 // round to nearest even
	VCVTPS2DQ Z1, Z1
	VCVTPS2DQ Z2, Z2
	VCVTPS2DQ Z3, Z3
	VPMINSD   Z28, Z0, Z0
	VPMINSD   Z28, Z1, Z1
	VPMINSD   Z28, Z2, Z2
	VPMINSD   Z28, Z3, Z3
	VPMAXSD   Z27, Z0, Z0
	VPMAXSD   Z27, Z1, Z1
	VPMAXSD   Z27, Z2, Z2
	VPMAXSD   Z27, Z3, Z3
	VPMOVDB   Z0, (DI)
	VPMOVDB   Z1, 16(DI)
	VPMOVDB   Z2, 32(DI)
	VPMOVDB   Z3, 48(DI)
	VMOVDQU32 (DI), Z4               // the 64 xq
	VPXORD    Z5, Z5, Z5
	VPDPBUSD  Z4, Z31, Z5            // 128·Σ of each four
	VPXORD    Z6, Z6, Z6
	VPSUBD    Z5, Z6, Z6
	VMOVDQU32 Z6, 64(DI)
	ADDQ      $256, SI
	ADDQ      $128, DI
	DECQ      CX
	JNZ       quantloop
	VZEROUPPER
	RET

// func gemvQ8x4AVXVNNI(groups, rows int, q *int8, ldq int, s *float32, lds int, xn *int32, y *float32)
//
// gemvQ8x4VNNI on 256-bit registers with AVX-VNNI (the VEX-encoded VPDPBUSD of CPUs without
// AVX-512; written as bytes, which the Go assembler lacks): one group of 32 inputs per ymm,
// so each group's scale is a plain broadcast. The same offset correction and xn layout.
//
// Registers as in gemvQ8x4VNNI; Y0–Y3 accumulate the four rows; Y4, Y5 hold the group's xq
// and nc; Y7–Y10 weights, then scales; Y11–Y14 sums; Y6 the bytes 0x80.
TEXT ·gemvQ8x4AVXVNNI(SB), NOSPLIT, $0-64
	Q8X4SETUP
	MOVL         $0x80808080, AX
	MOVL         AX, X6
	VPBROADCASTD X6, Y6

a4row:
	MOVQ   groups+0(FP), AX
	MOVQ   xn+48(FP), DX
	VPXOR  Y0, Y0, Y0
	VPXOR  Y1, Y1, Y1
	VPXOR  Y2, Y2, Y2
	VPXOR  Y3, Y3, Y3

a4loop:
	CMPQ         AX, $2
	JLT          a4odd
	PREFETCHT0   1024(DI)            // the weights a few rows ahead
	PREFETCHT0   1024(R10)
	PREFETCHT0   1024(R11)
	PREFETCHT0   1024(R12)
	VMOVDQU      0(DX), Y4
	VMOVDQU      64(DX), Y5
	VPXOR        0(DI), Y6, Y7
	VPXOR        0(R10), Y6, Y8
	VPXOR        0(R11), Y6, Y9
	VPXOR        0(R12), Y6, Y10
	VMOVDQA      Y5, Y11
	VMOVDQA      Y5, Y12
	VMOVDQA      Y5, Y13
	VMOVDQA      Y5, Y14
	BYTE $0xc4; BYTE $0x62; BYTE $0x45; BYTE $0x50; BYTE $0xdc // VPDPBUSD Y4, Y7, Y11 (AVX-VNNI)
	BYTE $0xc4; BYTE $0x62; BYTE $0x3d; BYTE $0x50; BYTE $0xe4 // VPDPBUSD Y4, Y8, Y12 (AVX-VNNI)
	BYTE $0xc4; BYTE $0x62; BYTE $0x35; BYTE $0x50; BYTE $0xec // VPDPBUSD Y4, Y9, Y13 (AVX-VNNI)
	BYTE $0xc4; BYTE $0x62; BYTE $0x2d; BYTE $0x50; BYTE $0xf4 // VPDPBUSD Y4, Y10, Y14 (AVX-VNNI)
	VCVTDQ2PS    Y11, Y11
	VCVTDQ2PS    Y12, Y12
	VCVTDQ2PS    Y13, Y13
	VCVTDQ2PS    Y14, Y14
	VBROADCASTSS 0(SI), Y7
	VBROADCASTSS 0(R13), Y8
	VBROADCASTSS 0(R14), Y9
	VBROADCASTSS 0(R15), Y10
	VFMADD231PS  Y7, Y11, Y0
	VFMADD231PS  Y8, Y12, Y1
	VFMADD231PS  Y9, Y13, Y2
	VFMADD231PS  Y10, Y14, Y3
	VMOVDQU      32(DX), Y4
	VMOVDQU      96(DX), Y5
	VPXOR        32(DI), Y6, Y7
	VPXOR        32(R10), Y6, Y8
	VPXOR        32(R11), Y6, Y9
	VPXOR        32(R12), Y6, Y10
	VMOVDQA      Y5, Y11
	VMOVDQA      Y5, Y12
	VMOVDQA      Y5, Y13
	VMOVDQA      Y5, Y14
	BYTE $0xc4; BYTE $0x62; BYTE $0x45; BYTE $0x50; BYTE $0xdc // VPDPBUSD Y4, Y7, Y11 (AVX-VNNI)
	BYTE $0xc4; BYTE $0x62; BYTE $0x3d; BYTE $0x50; BYTE $0xe4 // VPDPBUSD Y4, Y8, Y12 (AVX-VNNI)
	BYTE $0xc4; BYTE $0x62; BYTE $0x35; BYTE $0x50; BYTE $0xec // VPDPBUSD Y4, Y9, Y13 (AVX-VNNI)
	BYTE $0xc4; BYTE $0x62; BYTE $0x2d; BYTE $0x50; BYTE $0xf4 // VPDPBUSD Y4, Y10, Y14 (AVX-VNNI)
	VCVTDQ2PS    Y11, Y11
	VCVTDQ2PS    Y12, Y12
	VCVTDQ2PS    Y13, Y13
	VCVTDQ2PS    Y14, Y14
	VBROADCASTSS 4(SI), Y7
	VBROADCASTSS 4(R13), Y8
	VBROADCASTSS 4(R14), Y9
	VBROADCASTSS 4(R15), Y10
	VFMADD231PS  Y7, Y11, Y0
	VFMADD231PS  Y8, Y12, Y1
	VFMADD231PS  Y9, Y13, Y2
	VFMADD231PS  Y10, Y14, Y3
	ADDQ         $64, DI
	ADDQ         $64, R10
	ADDQ         $64, R11
	ADDQ         $64, R12
	ADDQ         $8, SI
	ADDQ         $8, R13
	ADDQ         $8, R14
	ADDQ         $8, R15
	ADDQ         $128, DX
	SUBQ         $2, AX
	JMP          a4loop

a4odd:
	TESTQ        AX, AX
	JZ           a4sum
	VMOVDQU      0(DX), Y4
	VMOVDQU      64(DX), Y5
	VPXOR        0(DI), Y6, Y7
	VPXOR        0(R10), Y6, Y8
	VPXOR        0(R11), Y6, Y9
	VPXOR        0(R12), Y6, Y10
	VMOVDQA      Y5, Y11
	VMOVDQA      Y5, Y12
	VMOVDQA      Y5, Y13
	VMOVDQA      Y5, Y14
	BYTE $0xc4; BYTE $0x62; BYTE $0x45; BYTE $0x50; BYTE $0xdc // VPDPBUSD Y4, Y7, Y11 (AVX-VNNI)
	BYTE $0xc4; BYTE $0x62; BYTE $0x3d; BYTE $0x50; BYTE $0xe4 // VPDPBUSD Y4, Y8, Y12 (AVX-VNNI)
	BYTE $0xc4; BYTE $0x62; BYTE $0x35; BYTE $0x50; BYTE $0xec // VPDPBUSD Y4, Y9, Y13 (AVX-VNNI)
	BYTE $0xc4; BYTE $0x62; BYTE $0x2d; BYTE $0x50; BYTE $0xf4 // VPDPBUSD Y4, Y10, Y14 (AVX-VNNI)
	VCVTDQ2PS    Y11, Y11
	VCVTDQ2PS    Y12, Y12
	VCVTDQ2PS    Y13, Y13
	VCVTDQ2PS    Y14, Y14
	VBROADCASTSS 0(SI), Y7
	VBROADCASTSS 0(R13), Y8
	VBROADCASTSS 0(R14), Y9
	VBROADCASTSS 0(R15), Y10
	VFMADD231PS  Y7, Y11, Y0
	VFMADD231PS  Y8, Y12, Y1
	VFMADD231PS  Y9, Y13, Y2
	VFMADD231PS  Y10, Y14, Y3
	ADDQ         $32, DI
	ADDQ         $32, R10
	ADDQ         $32, R11
	ADDQ         $32, R12
	ADDQ         $4, SI
	ADDQ         $4, R13
	ADDQ         $4, R14
	ADDQ         $4, R15

a4sum:
	VHADDPS      Y1, Y0, Y0          // [0 0 1 1 | 0 0 1 1] partial sums
	VHADDPS      Y3, Y2, Y2          // [2 2 3 3 | 2 2 3 3]
	VHADDPS      Y2, Y0, Y0          // [0 1 2 3 | 0 1 2 3]
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	MOVQ         rows+8(FP), AX
	SHLQ         $2, AX              // y stride between the runs
	VMOVSS       X0, (R9)
	LEAQ         (R9)(AX*1), DX
	VEXTRACTPS   $1, X0, (DX)
	ADDQ         AX, DX
	VEXTRACTPS   $2, X0, (DX)
	ADDQ         AX, DX
	VEXTRACTPS   $3, X0, (DX)
	ADDQ         $4, R9
	ADDQ         CX, DI
	ADDQ         CX, R10
	ADDQ         CX, R11
	ADDQ         CX, R12
	ADDQ         R8, SI
	ADDQ         R8, R13
	ADDQ         R8, R14
	ADDQ         R8, R15
	DECQ         BX
	JNZ          a4row
	VZEROUPPER
	RET

// func gemvBF16x4AVX512(blocks, rows int, w *uint16, ldw int, xp, y *float32)
//
// gemvBF16AVX512 on the 4·rows rows i, rows+i, 2·rows+i, 3·rows+i (i < rows), four at a
// time as gemvQ8x4AVX512 takes them: four long sequential runs of weights, which keep more
// memory requests in flight than one, each load of xp serving four rows. y[i], y[rows+i],
// y[2·rows+i], y[3·rows+i] receive them.
//
// Registers: DI, R10, R11, R12 the rows of the four runs; R8 the row stride in bytes; AX the
// byte offset in the rows, R9 its end (64·blocks); R13 the xp cursor; BX the rows left; DX the
// y cursor; CX the y stride between the runs. Z0–Z7 accumulate (even and odd products of each
// run); Z16, Z17 hold xp; Z8–Z15 are weights; Z31 is the mask 0xffff0000.
TEXT ·gemvBF16x4AVX512(SB), NOSPLIT, $0-48
	MOVQ         blocks+0(FP), R9
	MOVQ         rows+8(FP), BX
	MOVQ         w+16(FP), DI
	MOVQ         ldw+24(FP), R8
	MOVQ         y+40(FP), DX
	SHLQ         $1, R8              // row stride in bytes
	SHLQ         $6, R9              // bytes of a row covered: 64 per block
	MOVQ         R8, CX
	IMULQ        BX, CX              // bytes from one run of rows to the next
	LEAQ         (DI)(CX*1), R10
	LEAQ         (DI)(CX*2), R11
	LEAQ         (R10)(CX*2), R12
	MOVQ         BX, CX
	SHLQ         $2, CX              // y stride between the runs
	MOVL         $0xffff0000, AX
	VPBROADCASTD AX, Z31

bx4row:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	XORQ   AX, AX
	MOVQ   xp+32(FP), R13

bx4loop:
	PREFETCHT0  1024(DI)(AX*1)       // the weights a few rows ahead
	PREFETCHT0  1024(R10)(AX*1)
	PREFETCHT0  1024(R11)(AX*1)
	PREFETCHT0  1024(R12)(AX*1)
	VMOVUPS     (R13), Z16           // even inputs of the block
	VMOVUPS     64(R13), Z17         // odd inputs
	VMOVDQU32   (DI)(AX*1), Z8
	VMOVDQU32   (R10)(AX*1), Z10
	VMOVDQU32   (R11)(AX*1), Z12
	VMOVDQU32   (R12)(AX*1), Z14
	VPSLLD      $16, Z8, Z9          // even weights
	VPANDD      Z31, Z8, Z8          // odd weights
	VPSLLD      $16, Z10, Z11
	VPANDD      Z31, Z10, Z10
	VPSLLD      $16, Z12, Z13
	VPANDD      Z31, Z12, Z12
	VPSLLD      $16, Z14, Z15
	VPANDD      Z31, Z14, Z14
	VFMADD231PS Z16, Z9, Z0
	VFMADD231PS Z17, Z8, Z1
	VFMADD231PS Z16, Z11, Z2
	VFMADD231PS Z17, Z10, Z3
	VFMADD231PS Z16, Z13, Z4
	VFMADD231PS Z17, Z12, Z5
	VFMADD231PS Z16, Z15, Z6
	VFMADD231PS Z17, Z14, Z7
	ADDQ        $64, AX
	ADDQ        $128, R13
	CMPQ        AX, R9
	JLT         bx4loop

	// Sum each run: X0 = [run0 run1 run2 run3].
	VADDPS        Z1, Z0, Z0
	VADDPS        Z3, Z2, Z2
	VADDPS        Z5, Z4, Z4
	VADDPS        Z7, Z6, Z6
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF64X4 $1, Z2, Y3
	VADDPS        Y3, Y2, Y2
	VEXTRACTF64X4 $1, Z4, Y5
	VADDPS        Y5, Y4, Y4
	VEXTRACTF64X4 $1, Z6, Y7
	VADDPS        Y7, Y6, Y6
	VHADDPS       Y2, Y0, Y0
	VHADDPS       Y6, Y4, Y4
	VHADDPS       Y4, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VMOVSS        X0, (DX)
	LEAQ          (DX)(CX*1), SI
	VEXTRACTPS    $1, X0, (SI)
	ADDQ          CX, SI
	VEXTRACTPS    $2, X0, (SI)
	ADDQ          CX, SI
	VEXTRACTPS    $3, X0, (SI)
	ADDQ          $4, DX
	ADDQ          R8, DI
	ADDQ          R8, R10
	ADDQ          R8, R11
	ADDQ          R8, R12
	DECQ          BX
	JNZ           bx4row
	VZEROUPPER
	RET
