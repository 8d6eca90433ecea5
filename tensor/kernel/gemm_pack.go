package kernel

// Packing copies a block of op(A) or op(B) into the order the micro-kernel reads it, so the
// kernel streams contiguous memory whatever the layout and transposition of the operands.
// Rows or columns past the edge of the matrix are padded with zeros; the kernel computes a
// full tile and the driver keeps only the part inside C.

// packA packs rows [i0, i0+mb) and depth [p0, p0+kc) of op(A) into dst as ceil(mb/MR)
// micro-panels, one after another; a micro-panel is (kc, MR): for each depth p, the MR
// elements op(A)[i][p] of its rows.
//
//	op(A) is (m, k): A is (m, k) with row stride lda, or (k, m) when transA
func packA(dst []float32, transA bool, a []float32, lda, i0, mb, p0, kc int) {
	for ip := 0; ip*gemmMR < mb; ip++ {
		r0 := i0 + ip*gemmMR
		h := min(gemmMR, i0+mb-r0) // rows in this micro-panel
		d := dst[ip*gemmMR*kc : (ip+1)*gemmMR*kc]
		switch {
		case !transA && h == gemmMR:
			// Six rows of A, each contiguous along p, interleaved.
			a0 := a[r0*lda+p0 : r0*lda+p0+kc]
			a1 := a[(r0+1)*lda+p0:][:len(a0)]
			a2 := a[(r0+2)*lda+p0:][:len(a0)]
			a3 := a[(r0+3)*lda+p0:][:len(a0)]
			a4 := a[(r0+4)*lda+p0:][:len(a0)]
			a5 := a[(r0+5)*lda+p0:][:len(a0)]
			for p := range a0 {
				dp := (*[gemmMR]float32)(d[p*gemmMR:])
				dp[0], dp[1], dp[2], dp[3], dp[4], dp[5] = a0[p], a1[p], a2[p], a3[p], a4[p], a5[p]
			}
		case transA && h == gemmMR:
			// For each p, the six elements are contiguous in row p of A.
			for p := range kc {
				*(*[gemmMR]float32)(d[p*gemmMR:]) = *(*[gemmMR]float32)(a[(p0+p)*lda+r0:])
			}
		default:
			// A partial micro-panel at the bottom edge.
			clear(d)
			for r := range h {
				if transA {
					for p := range kc {
						d[p*gemmMR+r] = a[(p0+p)*lda+r0+r]
					}
				} else {
					row := a[(r0+r)*lda+p0 : (r0+r)*lda+p0+kc]
					for p, v := range row {
						d[p*gemmMR+r] = v
					}
				}
			}
		}
	}
}

// packB packs micro-panels [jp0, jp1) of the block of op(B) at depth [p0, p0+kc) and columns
// [j0, j0+nb) into dst; micro-panel jp covers columns j0+jp·NR.. and lives at dst[jp·NR·kc:].
// A micro-panel is (kc, NR): for each depth p, the NR elements op(B)[p][j] of its columns.
//
//	op(B) is (k, n): B is (k, n) with row stride ldb, or (n, k) when transB
func packB(dst []float32, transB bool, b []float32, ldb, p0, kc, j0, nb, jp0, jp1 int) {
	for jp := jp0; jp < jp1; jp++ {
		c0 := j0 + jp*gemmNR
		w := min(gemmNR, j0+nb-c0) // columns in this micro-panel
		d := dst[jp*gemmNR*kc : (jp+1)*gemmNR*kc]
		switch {
		case !transB && w == gemmNR:
			// Each row of the micro-panel is contiguous in a row of B.
			for p := range kc {
				*(*[gemmNR]float32)(d[p*gemmNR:]) = *(*[gemmNR]float32)(b[(p0+p)*ldb+c0:])
			}
		case transB && w == gemmNR:
			packBTrans(kc, b[c0*ldb+p0:], ldb, d)
		default:
			// A partial micro-panel at the right edge.
			clear(d)
			for c := range w {
				if transB {
					row := b[(c0+c)*ldb+p0 : (c0+c)*ldb+p0+kc]
					for p, v := range row {
						d[p*gemmNR+c] = v
					}
				} else {
					for p := range kc {
						d[p*gemmNR+c] = b[(p0+p)*ldb+c0+c]
					}
				}
			}
		}
	}
}

// packBTransGo packs a full NR-column micro-panel of op(B) = Bᵀ: d[p·NR+c] = b[c·ldb+p] for
// c < NR, p < kc. Sixteen rows of B, each contiguous along p, are interleaved.
func packBTransGo(kc int, b []float32, ldb int, d []float32) {
	if kc == 0 {
		return
	}
	var rows [gemmNR][]float32
	for c := range rows {
		rows[c] = b[c*ldb:][:kc]
	}
	for p := range kc {
		dp := (*[gemmNR]float32)(d[p*gemmNR:])
		for c := range dp {
			dp[c] = rows[c][p]
		}
	}
}
