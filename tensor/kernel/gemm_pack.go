package kernel

// Packing copies a block of op(A) or op(B) into the order the micro-kernel reads it, so the
// kernel streams contiguous memory whatever the layout and transposition of the operands.
// Rows or columns past the edge of the matrix are padded with zeros. The tile (MR, NR) is the
// kernel's.

// packA packs rows [i0, i0+mb) and depth [p0, p0+kc) of op(A) into dst as ceil(mb/MR)
// micro-panels, one after another; a micro-panel is (kc, MR): for each depth p, the MR
// elements op(A)[i][p] of its rows.
//
//	op(A) is (m, k): A is (m, k) with row stride lda, or (k, m) when transA
func packA(K *gemmKernel, dst []float32, transA bool, a []float32, lda, i0, mb, p0, kc int) {
	mr := K.mr
	if K.pairs {
		packPairsA(mr, dst, transA, a, lda, i0, mb, p0, kc)
		return
	}
	for ip := 0; ip*mr < mb; ip++ {
		r0 := i0 + ip*mr
		h := min(mr, i0+mb-r0) // rows in this micro-panel
		d := dst[ip*mr*kc : (ip+1)*mr*kc]
		switch {
		case transA && h == mr:
			// For each p, the MR elements are contiguous in row p of A.
			packCopyRows(kc, mr, a[p0*lda+r0:], lda, d)
		case !transA && h == mr && mr == 6:
			packInterleave6(kc, a[r0*lda+p0:], lda, d)
		case !transA && h == mr && mr == 12:
			packInterleave6x2(kc, a[r0*lda+p0:], lda, d)
		default:
			// A partial micro-panel at the bottom edge, or a tile height without a fast path.
			clear(d)
			for r := range h {
				if transA {
					for p := range kc {
						d[p*mr+r] = a[(p0+p)*lda+r0+r]
					}
				} else {
					row := a[(r0+r)*lda+p0 : (r0+r)*lda+p0+kc]
					for p, v := range row {
						d[p*mr+r] = v
					}
				}
			}
		}
	}
}

// packCopyRows copies w floats from each of kc rows of src (row stride lds) into d, one
// after another.
func packCopyRows(kc, w int, src []float32, lds int, d []float32) {
	switch w {
	case 6:
		for p := range kc {
			s := (*[6]float32)(src[p*lds:])
			t := (*[6]float32)(d[p*6:])
			t[0], t[1], t[2], t[3], t[4], t[5] = s[0], s[1], s[2], s[3], s[4], s[5]
		}
	case 12:
		for p := range kc {
			s := (*[12]float32)(src[p*lds:])
			t := (*[12]float32)(d[p*12:])
			t[0], t[1], t[2], t[3], t[4], t[5] = s[0], s[1], s[2], s[3], s[4], s[5]
			t[6], t[7], t[8], t[9], t[10], t[11] = s[6], s[7], s[8], s[9], s[10], s[11]
		}
	case 16:
		for p := range kc {
			*(*[16]float32)(d[p*16:]) = *(*[16]float32)(src[p*lds:])
		}
	default:
		for p := range kc {
			copy(d[p*w:p*w+w], src[p*lds:p*lds+w])
		}
	}
}

// packInterleave6 packs six rows of A (row stride lda), each contiguous along p, into d
// interleaved: d[p·6 + r] = a[r·lda + p] for p < kc.
func packInterleave6(kc int, a []float32, lda int, d []float32) {
	packInterleave6Stride(kc, a, lda, d, 6)
}

// packInterleave6x2 packs twelve rows of A as two interleaved groups of six: d[p·12 + r] =
// a[r·lda + p] for r < 12, p < kc.
func packInterleave6x2(kc int, a []float32, lda int, d []float32) {
	packInterleave6Stride(kc, a, lda, d, 12)
	packInterleave6Stride(kc, a[6*lda:], lda, d[6:], 12)
}

// packInterleave6Stride writes d[p·ds + r] = a[r·lda + p] for r < 6, p < kc.
func packInterleave6Stride(kc int, a []float32, lda int, d []float32, ds int) {
	if kc == 0 {
		return
	}
	a0 := a[:kc]
	a1 := a[lda:][:kc]
	a2 := a[2*lda:][:kc]
	a3 := a[3*lda:][:kc]
	a4 := a[4*lda:][:kc]
	a5 := a[5*lda:][:kc]
	d = d[:(kc-1)*ds+6]
	for p := range a0 {
		dp := (*[6]float32)(d[p*ds:])
		dp[0], dp[1], dp[2], dp[3], dp[4], dp[5] = a0[p], a1[p], a2[p], a3[p], a4[p], a5[p]
	}
}

// packB packs micro-panels [jp0, jp1) of the block of op(B) at depth [p0, p0+kc) and columns
// [j0, j0+nb) into dst; micro-panel jp covers columns j0+jp·NR.. and lives at dst[jp·NR·kc:].
// A micro-panel is (kc, NR): for each depth p, the NR elements op(B)[p][j] of its columns.
//
//	op(B) is (k, n): B is (k, n) with row stride ldb, or (n, k) when transB
func packB(K *gemmKernel, dst []float32, transB bool, b []float32, ldb, p0, kc, j0, nb, jp0, jp1 int) {
	nr := K.nr
	if K.pairs {
		packPairsB(nr, K.pairRows(kc), dst, transB, b, ldb, p0, kc, j0, nb, jp0, jp1)
		return
	}
	for jp := jp0; jp < jp1; jp++ {
		c0 := j0 + jp*nr
		w := min(nr, j0+nb-c0) // columns in this micro-panel
		d := dst[jp*nr*kc : (jp+1)*nr*kc]
		switch {
		case !transB && w == nr && K.packBN != nil:
			K.packBN(kc, b[p0*ldb+c0:], ldb, d)
		case !transB && w == nr:
			// Each row of the micro-panel is contiguous in a row of B.
			packCopyRows(kc, nr, b[p0*ldb+c0:], ldb, d)
		case transB && w == nr:
			K.packBT(kc, b[c0*ldb+p0:], ldb, d)
		default:
			// A partial micro-panel at the right edge.
			clear(d)
			for c := range w {
				if transB {
					row := b[(c0+c)*ldb+p0 : (c0+c)*ldb+p0+kc]
					for p, v := range row {
						d[p*nr+c] = v
					}
				} else {
					for p := range kc {
						d[p*nr+c] = b[(p0+p)*ldb+c0+c]
					}
				}
			}
		}
	}
}

// packBTransGo packs an nr-column micro-panel of op(B) = Bᵀ: d[p·nr + c] = b[c·ldb + p] for
// c < nr, p < kc. Rows of B, each contiguous along p, are interleaved four at a time.
func packBTransGo(kc, nr int, b []float32, ldb int, d []float32) {
	if kc == 0 {
		return
	}
	d = d[:kc*nr]
	for c := 0; c < nr; c += 4 {
		r0 := b[c*ldb:][:kc]
		r1 := b[(c+1)*ldb:][:kc]
		r2 := b[(c+2)*ldb:][:kc]
		r3 := b[(c+3)*ldb:][:kc]
		for p := range r0 {
			dp := (*[4]float32)(d[p*nr+c:])
			dp[0], dp[1], dp[2], dp[3] = r0[p], r1[p], r2[p], r3[p]
		}
	}
}
