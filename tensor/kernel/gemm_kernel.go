package kernel

import "unsafe"

// The pure-Go micro-kernel: a 6×16 tile, the fallback on every CPU and the only kernel under
// the purego tag. It takes any strides, so it also reads operands in place.
const (
	goMR = 6
	goNR = 16
)

// gemmKernelGo describes the pure-Go micro-kernel.
var gemmKernelGo = &gemmKernel{
	name: "go",
	mr:   goMR, nr: goNR,
	tile: func(k int, a *float32, sa int, b *float32, sb int, c *float32, ldc, mr, nr int, alpha, beta float32) {
		sgemmTileGo(k, a, sa, 1, b, sb, c, ldc, mr, nr, alpha, beta)
	},
	tileRow: func(k int, a *float32, sa int, b *float32, sb int, c *float32, ldc, mr, nr int, alpha, beta float32) {
		sgemmTileGo(k, a, 1, sa, b, sb, c, ldc, mr, nr, alpha, beta)
	},
	inPlace: true,
	aUses:   16, bUses: 16, bMany: gemmInPlaceB,
	packBT: func(kc int, b []float32, ldb int, d []float32) {
		packBTransGo(kc, goNR, b, ldb, d)
	},
}

// sgemmTileGo is the pure-Go micro-kernel (see tileFunc) with A element (p, i) at
// a[p·ap + i·ai] (ap = 1 or ai = 1) and B element (p, j) at b[p·sb + j]. It walks the tile in
// 2×4 sub-tiles, so that the eight accumulators of a sub-tile stay in registers over the
// whole k loop, and skips the sub-tiles wholly outside the mr×nr corner.
func sgemmTileGo(k int, a *float32, ap, ai int, b *float32, sb int, c *float32, ldc, mr, nr int, alpha, beta float32) {
	var acc [goMR][goNR]float32
	if k > 0 {
		for i := 0; i < mr; i += 2 {
			a0 := unsafe.Add(unsafe.Pointer(a), 4*i*ai)
			a1 := unsafe.Add(a0, 4*ai)
			for j := 0; j < nr; j += 4 {
				bj := unsafe.Add(unsafe.Pointer(b), 4*j)
				acc0, acc1 := subtile2x4(k, a0, a1, uintptr(4*ap), bj, uintptr(4*sb))
				*(*[4]float32)(acc[i][j:]) = acc0
				*(*[4]float32)(acc[i+1][j:]) = acc1
			}
		}
	}
	for i := range mr {
		row := cRow(c, ldc, i, nr)
		if beta == 0 {
			for j := range row {
				row[j] = alpha * acc[i][j]
			}
		} else {
			for j := range row {
				row[j] = alpha*acc[i][j] + beta*row[j]
			}
		}
	}
}

// subtile2x4 returns the products of rows a0, a1 of Ap (step da bytes per k) with four
// columns of Bp at b (step db bytes per k), over k steps.
func subtile2x4(k int, a0, a1 unsafe.Pointer, da uintptr, b unsafe.Pointer, db uintptr) (r0, r1 [4]float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var offA, offB uintptr
	for range k {
		x0 := *(*float32)(unsafe.Add(a0, offA))
		x1 := *(*float32)(unsafe.Add(a1, offA))
		bv := (*[4]float32)(unsafe.Add(b, offB))
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00 += x0 * b0
		c01 += x0 * b1
		c02 += x0 * b2
		c03 += x0 * b3
		c10 += x1 * b0
		c11 += x1 * b1
		c12 += x1 * b2
		c13 += x1 * b3
		offA += da
		offB += db
	}
	return [4]float32{c00, c01, c02, c03}, [4]float32{c10, c11, c12, c13}
}

// cRow returns the first nr floats of row i of the tile of C at c (row stride ldc), as a
// micro-kernel's caller addresses them.
func cRow(c *float32, ldc, i, nr int) []float32 {
	return unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(c), 4*i*ldc)), nr)
}
