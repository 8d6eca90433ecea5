//go:build ignore

// gemm512_gen.go writes gemm512_amd64.s, the AVX-512 SGEMM micro-kernels, and
// gemmbf16_amd64.s, the AVX512-BF16 micro-kernel of bfloat16 compute:
//
//	go run gemm512_gen.go
//
// The register tile is MR rows × NV vectors of 16 floats. The kernels are plain text with one
// line per instruction; generating them keeps the dozens of near-identical lines of an
// unrolled tile consistent, and lets the tile be changed in one place.
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

const (
	tileMR = 12 // rows of the register tile: of a packed A micro-panel
	nv     = 2  // zmm vectors per row: NR = 16·nv columns
	nr     = 16 * nv
	unroll = 4 // k steps per iteration of the main loop
)

// mr is the rows the kernel being written computes: tileMR, or fewer for the variants that
// finish the last rows of a matrix (sgemm512P4, …) without computing twelve.
var mr = tileMR

var out bytes.Buffer

func emit(format string, args ...any) { fmt.Fprintf(&out, format+"\n", args...) }

// acc is the accumulator of row i, vector v: the tile fills the top of the register file.
func acc(i, v int) string { return fmt.Sprintf("Z%d", 32-mr*nv+i*nv+v) }

// bsets is how many sets of B registers alternate between k steps: two when the tile leaves
// room for them and two broadcast registers, else one.
func bsets() int { return min(2, (32-mr*nv-2)/nv) }

// bvec is the register holding vector v of the B row of k step u.
func bvec(u, v int) string { return fmt.Sprintf("Z%d", (u%bsets())*nv+v) }

// bcast is the register holding a broadcast A element: the ones left below the B vectors.
func bcast(i int) string {
	free := 32 - mr*nv - bsets()*nv
	return fmt.Sprintf("Z%d", bsets()*nv+i%free)
}

// aAddrP is the address of A element (p0+u, i) in a packed or column panel: SI points at
// step p0, R8 is the step stride in bytes and R9 = 3·R8.
func aAddrP(u, i int) string {
	base := [...]string{"(SI)", "(SI)(R8*1)", "(SI)(R8*2)", "(SI)(R9*1)"}[u]
	return fmt.Sprintf("%d%s", 4*i, base)
}

// rowBase names the registers that point at rows 3r, 3r+1, 3r+2 of a row-major A: SI, R12,
// R13, AX, R14 for r = 0..4; R8 is the row stride in bytes.
var rowBase = [...]string{"SI", "R12", "R13", "AX", "R14"}

// aAddrR is the address of A element (p0+u, i) in row-major A: row i is rowBase[i/3] plus
// (i%3)·R8, and the step is 4 bytes.
func aAddrR(u, i int) string {
	idx := [...]string{"", "(R8*1)", "(R8*2)"}[i%3]
	return fmt.Sprintf("%d(%s)%s", 4*u, rowBase[i/3], idx)
}

// rowPointers sets R9 = 3·R8 and points rowBase[1], rowBase[2], … at rows 3, 6, … of a
// row-major A whose row 0 is at SI, R8 being its row stride in bytes.
func rowPointers() {
	emit("\tLEAQ (R8)(R8*2), R9")
	for r := 1; r < (mr+2)/3; r++ {
		emit("\tLEAQ (%s)(R9*1), %s", rowBase[r-1], rowBase[r])
	}
}

// advanceRows moves every row pointer of a row-major A on by n bytes.
func advanceRows(n int) {
	for r := 0; r < (mr+2)/3; r++ {
		emit("\tADDQ $%d, %s", n, rowBase[r])
	}
}

// bAddr is the address of vector v of B row p0+u: DI points at row p0, BX is the row stride
// in bytes and R10 = 3·BX.
func bAddr(u, v int) string {
	base := [...]string{"(DI)", "(DI)(BX*1)", "(DI)(BX*2)", "(DI)(R10*1)"}[u]
	return fmt.Sprintf("%d%s", 64*v, base)
}

// step emits one k step: load the B row, then for each row of A broadcast its element and
// multiply-add it into the row's accumulators. With prefetch set it also asks for the row's
// next NR floats: where B is read in place they are the next micro-panel's row, which would
// otherwise come from L3 a line at a time, one row every 9–12 KiB, when the first tile of
// the next micro-panel reads them.
func step(u int, aAddr func(u, i int) string, prefetch bool) {
	for v := range nv {
		emit("\tVMOVUPS      %s, %s", bAddr(u, v), bvec(u, v))
	}
	if prefetch {
		for v := range nv {
			emit("\tPREFETCHT0   %s", bAddr(u, nv+v))
		}
	}
	for i := range mr {
		b := bcast(u*mr + i)
		emit("\tVBROADCASTSS %s, %s", aAddr(u, i), b)
		for v := range nv {
			emit("\tVFMADD231PS  %s, %s, %s", bvec(u, v), b, acc(i, v))
		}
	}
}

// kernel emits one TEXT symbol; rowMajor selects how A is addressed.
func kernel(name string, rowMajor bool) {
	aAddr := aAddrP
	if rowMajor {
		aAddr = aAddrR
	}
	emit("// func %s(k int, a *float32, sa int, b *float32, sb int, c *float32, ldc, mr, nr int, alpha, beta float32)", name)
	emit("TEXT ·%s(SB), NOSPLIT, $0-80", name)
	emit("\tMOVQ k+0(FP), CX")
	emit("\tMOVQ a+8(FP), SI")
	emit("\tMOVQ sa+16(FP), R8")
	emit("\tMOVQ b+24(FP), DI")
	emit("\tMOVQ sb+32(FP), BX")
	emit("\tSHLQ $2, R8")
	emit("\tSHLQ $2, BX")
	emit("\tLEAQ (BX)(BX*2), R10")
	if rowMajor {
		rowPointers()
	} else {
		emit("\tLEAQ (R8)(R8*2), R9")
	}
	prologue()
	emit("\tMOVQ CX, DX")
	emit("\tSHRQ $2, DX")
	emit("\t// A B read in place (row stride other than the packed %d floats) takes the loops", nr)
	emit("\t// that prefetch its next micro-panel.")
	emit("\tCMPQ BX, $%d", 4*nr)
	emit("\tJNE  inplace")
	loops("", aAddr, rowMajor, false)
	emit("\tJMP  scale")
	emit("")
	emit("inplace:")
	loops("pf", aAddr, rowMajor, true)
	emit("")
	scaleAndStore()
}

// loops emits the k loops of a kernel (labels suffixed with sfx): unroll steps at a time
// while DX counts, then the CX%%unroll steps left, falling through at the end.
func loops(sfx string, aAddr func(u, i int) string, rowMajor, prefetch bool) {
	emit("\tTESTQ DX, DX")
	emit("\tJZ   tail%s", sfx)
	emit("")
	emit("loop%d%s:", unroll, sfx)
	for u := range unroll {
		step(u, aAddr, prefetch)
	}
	if rowMajor {
		advanceRows(4 * unroll)
	} else {
		emit("\tLEAQ (SI)(R8*4), SI")
	}
	emit("\tLEAQ (DI)(BX*4), DI")
	emit("\tDECQ DX")
	emit("\tJNZ  loop%d%s", unroll, sfx)
	emit("")
	emit("tail%s:", sfx)
	emit("\tANDQ $%d, CX", unroll-1)
	emit("\tJZ   done%s", sfx)
	emit("")
	emit("loop1%s:", sfx)
	step(0, aAddr, prefetch)
	if rowMajor {
		advanceRows(4)
	} else {
		emit("\tADDQ R8, SI")
	}
	emit("\tADDQ BX, DI")
	emit("\tDECQ CX")
	emit("\tJNZ  loop1%s", sfx)
	emit("")
	emit("done%s:", sfx)
}

// scaleAndStore emits the label scale, where the k loops of every kernel end: the tile is
// multiplied by alpha, then stored (epilogue).
func scaleAndStore() {
	emit("scale:")
	emit("\tVBROADCASTSS alpha+72(FP), Z0")
	for i := range mr {
		for v := range nv {
			emit("\tVMULPS       Z0, %s, %s", acc(i, v), acc(i, v))
		}
	}
	epilogue()
}

// epilogue stores the scaled tile (alpha already applied) to C: beta·C + tile, or the tile
// alone when beta == 0, masked at the right edge.
func epilogue() {
	emit("")
	emit("\tMOVQ c+40(FP), DX")
	emit("\tMOVQ mr+56(FP), CX")
	emit("\tMOVQ nr+64(FP), AX")
	emit("")
	emit("\t// beta == 0 (but not NaN) overwrites C; anything else reads it. Z0 holds beta.")
	emit("\tVMOVSS   beta+76(FP), X0")
	emit("\tVXORPS   X1, X1, X1")
	emit("\tVUCOMISS X1, X0")
	emit("\tJNE      readc")
	emit("\tJPS      readc")
	emit("\tCMPQ     AX, $%d", nr)
	emit("\tJNE      store0edge")
	stores("store0", false, false)
	emit("")
	emit("store0edge:")
	masks()
	stores("store0edge", false, true)
	emit("")
	emit("readc:")
	emit("\tVBROADCASTSS X0, Z0")
	emit("\tCMPQ         AX, $%d", nr)
	emit("\tJNE          storebedge")
	stores("storeb", true, false)
	emit("")
	emit("storebedge:")
	masks()
	stores("storebedge", true, true)
	emit("")
}

// prologue starts fetching the C tile and zeroes the accumulators.
func prologue() {
	emit("")
	emit("\t// Start fetching the C tile: its loads and stores at the end then hit the cache.")
	emit("\tMOVQ c+40(FP), DX")
	emit("\tMOVQ ldc+48(FP), R11")
	emit("\tSHLQ $2, R11")
	for i := range mr {
		for v := range nv {
			emit("\tPREFETCHT0 %d(DX)", 64*v)
		}
		emit("\tPREFETCHT0 %d(DX)", 64*nv-1)
		if i < mr-1 {
			emit("\tADDQ       R11, DX")
		}
	}
	emit("")
	for i := range mr {
		for v := range nv {
			emit("\tVPXORD %s, %s, %s", acc(i, v), acc(i, v), acc(i, v))
		}
	}
	emit("")
}

// masks sets K1.. (one per vector of a row) from the column count nr in AX (0 < nr < NR):
// the low nr bits of a 64-bit mask, 16 bits per vector.
func masks() {
	emit("\tXORQ  R9, R9")
	emit("\tBTSQ  AX, R9")
	emit("\tDECQ  R9")
	for v := range nv {
		emit("\tKMOVW R9, K%d", v+1)
		if v < nv-1 {
			emit("\tSHRQ  $16, R9")
		}
	}
}

// stores writes the first mr (in CX) rows of the tile to C at DX, row stride R11. withBeta
// adds beta (Z0) times C first; masked limits each vector to the columns in its mask.
func stores(label string, withBeta, masked bool) {
	for i := range mr {
		for v := range nv {
			a := acc(i, v)
			addr := fmt.Sprintf("%d(DX)", 64*v)
			switch {
			case withBeta && masked:
				emit("\tVMOVUPS.Z    %s, K%d, Z1", addr, v+1)
				emit("\tVFMADD231PS  Z1, Z0, %s", a)
			case withBeta:
				emit("\tVFMADD231PS  %s, Z0, %s", addr, a)
			}
			if masked {
				emit("\tVMOVUPS      %s, K%d, %s", a, v+1, addr)
			} else {
				emit("\tVMOVUPS      %s, %s", a, addr)
			}
		}
		if i < mr-1 {
			emit("\tDECQ         CX")
			emit("\tJZ           %sdone", label)
			emit("\tADDQ         R11, DX")
		}
	}
	emit("%sdone:", label)
	emit("\tVZEROUPPER")
	emit("\tRET")
}

// vdpbf16ps emits VDPBF16PS dst, src, a (dst += src · a, pair by pair) as bytes, all three
// zmm numbers.
func vdpbf16ps(dst, src, a int, comment string) {
	inv := func(bit int) int { return 1 - bit }
	p0 := inv(dst>>3&1)<<7 | inv(a>>4&1)<<6 | inv(a>>3&1)<<5 | inv(dst>>4&1)<<4 | 0b10 // R X B R' 0 0 mm=0F38
	p1 := 0<<7 | (^src&0xf)<<3 | 1<<2 | 0b10                                           // W=0 vvvv 1 pp=F3
	p2 := 0<<7 | 0b10<<5 | 0<<4 | inv(src>>4&1)<<3                                     // z L'L=512 b=0 V' aaa=0
	modrm := 0b11<<6 | (dst&7)<<3 | a&7                                                // register
	emit("\tBYTE $0x62; BYTE $0x%02x; BYTE $0x%02x; BYTE $0x%02x; BYTE $0x52; BYTE $0x%02x // VDPBF16PS Z%d, Z%d, Z%d%s",
		p0, p1, p2, modrm, a, src, dst, comment)
}

// kernelBF16 emits sgemmBF16P: the tile over k steps of pairs. A packed A micro-panel holds
// for each pair of depths the MR 32-bit pairs (A[i][2p] in the low half, A[i][2p+1] in the
// high half); a packed B micro-panel the NR pairs (B[2p][j], B[2p+1][j]). Each pair step loads
// the B vectors and, for each row, broadcasts the row's A pair and multiplies the B vectors
// by it with VDPBF16PS, which adds both products to the float32 accumulator.
//
// With rowMajor set it emits sgemmBF16R, which reads A as rows of pairs instead: pair p of row
// i at a[i·sa + p] (words), the rows addressed as in sgemm512R. A row-major A is then rounded
// to pairs row by row, with no transposition into a micro-panel.
func kernelBF16(name string, rowMajor bool) {
	const unrollBF16 = 2
	emit("// func %s(k int, a *float32, sa int, b *float32, sb int, c *float32, ldc, mr, nr int, alpha, beta float32)", name)
	emit("TEXT ·%s(SB), NOSPLIT, $0-80", name)
	emit("\tMOVQ k+0(FP), CX")
	emit("\tMOVQ a+8(FP), SI")
	emit("\tMOVQ b+24(FP), DI")
	if rowMajor {
		emit("\tMOVQ sa+16(FP), R8")
		emit("\tSHLQ $2, R8")
		rowPointers()
	}
	prologue()
	emit("\tMOVQ CX, DX")
	emit("\tSHRQ $%d, DX", unrollBF16/2)
	emit("\tJZ   tail")
	emit("")
	pairStep := func(u int) {
		for v := range nv {
			emit("\tVMOVUPS %d(DI), %s", 4*nr*u+64*v, bvec(u, v))
		}
		for i := range mr {
			// The row's A pair, broadcast once into a register for its nv products: with the
			// broadcast in each VDPBF16PS the loads outnumber what the load ports take where
			// VDPBF16PS runs two a cycle (Zen 5).
			var a int
			fmt.Sscanf(bcast(i), "Z%d", &a)
			if rowMajor {
				emit("\tVPBROADCASTD %s, %s", aAddrR(u, i), bcast(i))
			} else {
				emit("\tVPBROADCASTD %d(SI), %s", 4*(tileMR*u+i), bcast(i))
			}
			for v := range nv {
				var d, b int
				fmt.Sscanf(acc(i, v), "Z%d", &d)
				fmt.Sscanf(bvec(u, v), "Z%d", &b)
				vdpbf16ps(d, b, a, "")
			}
		}
	}
	emit("loop%d:", unrollBF16)
	for u := range unrollBF16 {
		pairStep(u)
	}
	if rowMajor {
		advanceRows(4 * unrollBF16)
	} else {
		emit("\tADDQ $%d, SI", 4*tileMR*unrollBF16)
	}
	emit("\tADDQ $%d, DI", 4*nr*unrollBF16)
	emit("\tDECQ DX")
	emit("\tJNZ  loop%d", unrollBF16)
	emit("")
	emit("tail:")
	emit("\tANDQ $%d, CX", unrollBF16-1)
	emit("\tJZ   scale")
	pairStep(0)
	emit("")
	scaleAndStore()
}

func main() {
	rows := (mr + 2) / 3 // row pointers of sgemm512R
	bases := make([]string, rows)
	starts := make([]string, rows)
	for r := range rows {
		bases[r], starts[r] = rowBase[r], fmt.Sprint(3*r)
	}
	emit("// Code generated by gemm512_gen.go; DO NOT EDIT.")
	emit("")
	emit("//go:build amd64 && !purego")
	emit("")
	emit(`#include "textflag.h"`)
	emit("")
	emit(strings.TrimSpace(fmt.Sprintf(`
// The %[1]d×%[2]d SGEMM micro-kernels for AVX-512 (EVEX-encoded FMA on 512-bit registers).
//
// Both compute the first mr rows and nr columns (0 < mr ≤ %[1]d, 0 < nr ≤ %[2]d) of the tile
// C = alpha·(Ap·Bp) + beta·C over depth k. C has row stride ldc; beta == 0 does not read C.
// Bp is any (k, %[2]d) panel with row stride sb floats: a packed micro-panel (sb = %[2]d) or
// the columns of a row-major B read in place. The two kernels differ in how A is read:
//
//	sgemm512P: A element (p, i) at a[p·sa + i], a packed micro-panel (sa = %[1]d) or the
//	           columns of a transposed A read in place
//	sgemm512R: A element (p, i) at a[i·sa + p], the rows of a row-major A read in place
//
// Rows of A past mr and columns of B past nr are read (a packed panel is padded with zeros);
// only the mr×nr corner of C is read and written, with masked loads and stores at the right
// edge.
//
// Register use: Z%[3]d..Z31 hold the tile, row i in the %[4]d registers from Z%[3]d+%[4]d·i;
// Z0..Z%[5]d hold the B rows of the k steps (%[6]d sets, alternating), Z%[7]d..Z%[8]d
// broadcast elements of A. Each k step loads one B row, then broadcasts the A element of
// each row of the tile and multiply-adds it into that row's accumulators: %[9]d FMAs for
// %[10]d loads. The main loop takes %[11]d k steps per iteration (DX counts iterations, CX the
// single steps left). DI walks B with row stride BX and R10 = 3·BX. In sgemm512P SI walks A
// with step stride R8 and R9 = 3·R8. In sgemm512R, R8 is the row stride of A and rows
// %[12]s start at %[13]s, each followed by two more rows at R8 and 2·R8.
// For the stores, DX walks the rows of C with stride R11, CX counts the rows left and
// K1..K%[4]d mask the vectors of a row at the right edge.`,
		mr, nr, 32-mr*nv, nv, bsets()*nv-1, bsets(), bsets()*nv, 31-mr*nv, mr*nv, mr+nv, unroll,
		strings.Join(starts, ", "), strings.Join(bases, ", "))))
	emit("")
	kernel("sgemm512P", false)
	kernel("sgemm512R", true)
	emit(strings.TrimSpace(fmt.Sprintf(`
// sgemm512P on the first 4 or 8 rows only (mr ≤ 4, mr ≤ 8), for the last rows of a matrix
// whose rows are not a multiple of %[1]d: a 64-row product then computes 64 rows, not 72. A
// is read with the same strides; the tile takes the top registers as above. (The row form
// never runs a partial tile: the last rows of an A read in place are packed.)`, tileMR)))
	emit("")
	for _, rows := range []int{4, 8} {
		mr = rows
		kernel(fmt.Sprintf("sgemm512P%d", rows), false)
	}
	mr = tileMR
	write("gemm512_amd64.s", out.Bytes())
	out.Reset()
	emit("// Code generated by gemm512_gen.go; DO NOT EDIT.")
	emit("")
	emit("//go:build amd64 && !purego")
	emit("")
	emit(`#include "textflag.h"`)
	emit("")
	emit(strings.TrimSpace(fmt.Sprintf(`
// The %[1]d×%[2]d micro-kernel of bfloat16 compute for AVX512-BF16: sgemmBF16P computes the
// first mr rows and nr columns of C = alpha·(Ap·Bp) + beta·C as sgemm512P does, from packed
// micro-panels of bfloat16 pairs (k is the number of pairs): float32 products of the bfloat16
// inputs, summed in float32 by VDPBF16PS (two products per lane per instruction, twice the
// multiply-adds of an FMA). The Go assembler does not know VDPBF16PS, so it is written as
// bytes, each line with the instruction it encodes.
//
// Register use as in sgemm512P: Z%[3]d..Z31 hold the tile, Z0..Z%[4]d the B vectors of two
// pair steps, and each row's A pair is broadcast once (VPBROADCASTD) into one of the
// registers left, Z%[4]d+1 on, for its two VDPBF16PS: where VDPBF16PS runs two a cycle (Zen 5),
// a broadcast from memory in every one of them asks more loads than the load ports take
// (4096×768×3072 on one thread: 266–294 GFLOP/s that way, 306–340 this way). SI walks the A
// micro-panel (%[5]d bytes a pair), DI the B micro-panel (%[6]d bytes a pair). sgemmBF16R reads
// A as rows of pairs (pair p of row i at a[i·sa + p]), the rows addressed as in sgemm512R.`,
		mr, nr, 32-mr*nv, 2*nv-1, 4*mr, 4*nr)))
	emit("")
	kernelBF16("sgemmBF16P", false)
	kernelBF16("sgemmBF16R", true)
	emit(strings.TrimSpace(fmt.Sprintf(`
// The same kernel on the first 4 or 8 rows only, reading the same %[1]d-row micro-panels.`, tileMR)))
	emit("")
	for _, rows := range []int{4, 8} {
		mr = rows
		kernelBF16(fmt.Sprintf("sgemmBF16P%d", rows), false)
	}
	mr = tileMR
	write("gemmbf16_amd64.s", out.Bytes())
	write("gemm512_tile_amd64.go", []byte(fmt.Sprintf(`// Code generated by gemm512_gen.go; DO NOT EDIT.

//go:build amd64 && !purego

package kernel

// The register tile of the AVX-512 micro-kernels (gemm512_amd64.s).
const (
	mr512 = %d // rows
	nr512 = %d // columns
)
`, mr, nr)))
}

func write(name string, src []byte) {
	if err := os.WriteFile(name, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
