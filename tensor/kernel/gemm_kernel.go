package kernel

import "unsafe"

// sgemmKernelGo is the pure-Go micro-kernel, the twin of the assembly one: it computes the
// gemmMR×gemmNR tile C = alpha·(Ap·Bp) + beta·C from a packed (k, MR) micro-panel Ap and a
// packed (k, NR) micro-panel Bp; C has row stride ldc. beta == 0 does not read C.
//
// It walks the tile in 2×4 sub-tiles so that the eight accumulators of a sub-tile stay in
// registers over the whole k loop.
func sgemmKernelGo(k int, a, b, c *float32, ldc int, alpha, beta float32) {
	var acc [gemmMR][gemmNR]float32
	if k > 0 {
		ap := unsafe.Slice((*[gemmMR]float32)(unsafe.Pointer(a)), k) // (k, MR)
		bp := unsafe.Slice((*[gemmNR]float32)(unsafe.Pointer(b)), k) // (k, NR)
		for i := 0; i < gemmMR; i += 2 {
			for j := 0; j < gemmNR; j += 4 {
				subtile2x4(ap, bp, i, j, &acc)
			}
		}
	}
	for i := range gemmMR {
		row := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(c), i*ldc*4)), gemmNR)
		if beta == 0 {
			for j, v := range acc[i] {
				row[j] = alpha * v
			}
		} else {
			for j, v := range acc[i] {
				row[j] = alpha*v + beta*row[j]
			}
		}
	}
}

// subtile2x4 accumulates rows i, i+1 and columns j..j+3 of the tile product Ap·Bp into acc.
func subtile2x4(ap [][gemmMR]float32, bp [][gemmNR]float32, i, j int, acc *[gemmMR][gemmNR]float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	bp = bp[:len(ap)]
	for p := range ap {
		a := (*[2]float32)(ap[p][i:])
		b := (*[4]float32)(bp[p][j:])
		a0, a1 := a[0], a[1]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	r0 := (*[4]float32)(acc[i][j:])
	r1 := (*[4]float32)(acc[i+1][j:])
	r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
	r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
}
