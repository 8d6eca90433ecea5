//go:build amd64 && !purego

package kernel

import (
	"sync/atomic"
	"unsafe"
)

// The int8 GEMM on VNNI: a prompt's rows times an int8 weight matrix in integer arithmetic.
//
// Each row of X is quantised as the VNNI GEMV quantises its row (one scale sx = max|x|/127,
// xq = round(x/sx); see quant_act.go), and a tile kernel multiplies six rows by a panel of
// weight rows at a time with VPDPBUSD: q8GemmVNNI 32 weight rows on zmm (AVX512-VNNI, 64
// multiply-adds per instruction against an FMA's 16), q8GemmAVXVNNI 16 on ymm (AVX-VNNI,
// without AVX-512; 32 against 8). Every group's sum is exact in int32, then scaled in
// float32. Output (i, j) is
//
//	Y[i][j] = alpha · sx_i · Σ_g s[j][g] · Σ_{p in g} q[j][p]·xq_i[p] + beta · Y[i][j]
//
// which is what the GEMV computes for the row, up to the order of the float32 additions.
// It runs where K is whole groups; a row with a NaN or an infinity sends the whole call back
// to the float32 kernels (so a NaN comes out as one), and an all-zero row gives zeros.

// q8GemmVNNI is the 6×32 tile kernel of AVX512-VNNI (quant_gemm_vnni_amd64.s).
//
//go:noescape
func q8GemmVNNI(groups int, a *int32, b *byte, s *float32, corr *int32, out *float32)

// q8GemmAVXVNNI is the 6×16 tile kernel of AVX-VNNI (quant_gemm_avxvnni_amd64.s): the same
// arguments and layouts as q8GemmVNNI, for 16 weight rows.
//
//go:noescape
func q8GemmAVXVNNI(groups int, a *int32, b *byte, s *float32, corr *int32, out *float32)

// The register tiles of the kernels.
const (
	vnniMR    = 6  // rows of X, both kernels
	vnniNR    = 32 // rows of W (columns of Y), q8GemmVNNI
	avxvnniNR = 16 // rows of W, q8GemmAVXVNNI
)

// q8VNNIGemmCall is one int8 GEMM on the VNNI tiles, shared by the threads: the quantised rows
// of X packed for the kernel, and the output.
type q8VNNIGemmCall struct {
	m           *Q8Matrix
	rows, tiles int
	groups      int
	nr          int // the kernel's rows of W: vnniNR or avxvnniNR
	alpha, beta float32
	y           []float32
	ldy         int

	a    []int32   // tile t, four inputs q, row r: a[(t·K/4 + q)·6 + r], the row's four bytes xq
	corr []int32   // tile t, group g, row r: corr[(t·groups + g)·6 + r] = −128·Σ_{p in g} xq
	sx   []float32 // the rows' scales (0 for an all-zero row)

	x   []float32 // the rows, while they are quantised
	ldx int
	bad atomic.Bool // a row holds a NaN or an infinity

	runFn, quantizeFn func(lo, hi int)
}

// q8VNNIWorker is a thread's packed weight panel.
type q8VNNIWorker struct {
	b []float32 // nr weight rows, four inputs to a 32-bit word: b[q·nr + c]
	s []float32 // their scales by group: s[g·nr + c]
}

var (
	q8VNNIGemmCalls = freeList[q8VNNIGemmCall]{init: func(g *q8VNNIGemmCall) {
		g.runFn, g.quantizeFn = g.run, g.quantize
	}}
	q8VNNIWorkers freeList[q8VNNIWorker]
	q8VNNIActs    freeList[q8Act]
)

// q8GemmVNNIRuns reports whether an int8 GEMM with depth k (and rows of X without NaN or
// infinity) runs on the VNNI tiles, with its activations quantised: AVX512-VNNI, or AVX-VNNI
// without AVX-512, as for the GEMV (q8UsesAct).
func q8GemmVNNIRuns(k int) bool {
	return q8UsesAct() && k > 0 && k%Q8Group == 0
}

// q8GemmTilesVNNI runs Y = alpha·X·Wᵀ + beta·Y on the VNNI tiles and reports true, or reports
// false when it is not to run: neither AVX512-VNNI nor AVX-VNNI, K not whole groups, or a row
// of X with a NaN or an infinity.
func q8GemmTilesVNNI(w *Q8Matrix, M int, alpha float32, x []float32, ldx int, beta float32, y []float32, ldy int) bool {
	k := w.K
	if !q8GemmVNNIRuns(k) {
		return false
	}
	g := q8VNNIGemmCalls.get()
	defer q8VNNIGemmCalls.put(g)
	g.nr = vnniNR
	if !useAVX512 {
		g.nr = avxvnniNR // AVX-VNNI
	}
	quads := k / 4
	g.m, g.rows, g.tiles, g.groups = w, M, (M+vnniMR-1)/vnniMR, k/Q8Group
	g.alpha, g.beta, g.y, g.ldy = alpha, beta, y, ldy
	g.a = quantGrow(g.a, g.tiles*quads*vnniMR)
	g.corr = quantGrow(g.corr, g.tiles*g.groups*vnniMR)
	g.sx = quantGrow(g.sx, g.tiles*vnniMR)
	g.x, g.ldx = x, ldx
	g.bad.Store(false)
	// Quantise the rows, a tile of six at a time, on all threads: for a short K this is as
	// much work as the products.
	if Threads() == 1 || M*k < gemmSerialWork/8 {
		g.quantize(0, g.tiles)
	} else {
		Parallel(g.tiles, 1, g.quantizeFn)
	}
	if g.bad.Load() {
		g.m, g.y, g.x = nil, nil, nil
		return false // a NaN or an infinity: the float32 kernels keep it
	}
	panels := (w.N + g.nr - 1) / g.nr
	if Threads() == 1 || M*w.N*k < gemmSerialWork {
		g.run(0, panels)
	} else {
		Parallel(panels, 1, g.runFn)
	}
	g.m, g.y, g.x = nil, nil, nil
	return true
}

// quantize packs the quantised rows of tiles [lo, hi) of X; a row with a NaN or an infinity
// sets bad.
func (g *q8VNNIGemmCall) quantize(lo, hi int) {
	act := q8VNNIActs.get()
	defer q8VNNIActs.put(act)
	k := g.m.K
	quads := k / 4
	for i := lo * vnniMR; i < hi*vnniMR; i++ {
		t, r := i/vnniMR, i%vnniMR
		if i >= g.rows || !act.quantize(g.x[i*g.ldx:i*g.ldx+k]) {
			if i < g.rows && !allZero(g.x[i*g.ldx:i*g.ldx+k]) {
				g.bad.Store(true)
			}
			g.sx[i] = 0
			for q := range quads {
				g.a[(t*quads+q)*vnniMR+r] = 0
			}
			for gr := range g.groups {
				g.corr[(t*g.groups+gr)*vnniMR+r] = 0
			}
			continue
		}
		// The GEMV layout of act.xn: per 64 inputs, 16 words of xq, then 16 of
		// nc[l] = −128·Σ_{i<4} xq[4l+i].
		g.sx[i] = act.s
		xn := act.xn
		for q := range quads {
			g.a[(t*quads+q)*vnniMR+r] = xn[q/16*q8ActStep+q%16]
		}
		for gr := range g.groups {
			var c int32
			for l := 8 * gr; l < 8*gr+8; l++ {
				c += xn[l/16*q8ActStep+16+l%16]
			}
			g.corr[(t*g.groups+gr)*vnniMR+r] = c
		}
	}
}

// allZero reports whether every element of x is zero.
func allZero(x []float32) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}

// transposePanel sets dst[q·nr + c] = src[c·ld + q] for q < n and c < cols, and 0 for the
// columns from cols to nr (past the matrix's last row).
func transposePanel(n, nr, cols int, src []float32, ld int, dst []float32) {
	if cols == nr {
		packBTransAsm(n, nr, src, ld, dst)
		return
	}
	for q := range n {
		for c := range nr {
			v := float32(0)
			if c < cols {
				v = src[c*ld+q]
			}
			dst[q*nr+c] = v
		}
	}
}

// run computes the columns of Y of weight panels [lo, hi), each nr rows of W packed, then
// multiplied by every tile of rows.
func (g *q8VNNIGemmCall) run(lo, hi int) {
	w := q8VNNIWorkers.get()
	defer q8VNNIWorkers.put(w)
	m, nr := g.m, g.nr
	gs, quads := q8Groups(m.K), m.K/4
	w.b = quantGrow(w.b, quads*nr)
	w.s = quantGrow(w.s, g.groups*nr)
	var out [vnniMR * vnniNR]float32 // the larger tile
	for jp := lo; jp < hi; jp++ {
		j0 := jp * nr
		cols := min(nr, m.N-j0)
		// The weights as 32-bit words of four inputs (row j: k/4 words), transposed so that
		// each four inputs hold the nr columns side by side, and their scales likewise by
		// group; columns past N are zero weights with zero scales.
		q32 := unsafe.Slice((*float32)(unsafe.Pointer(&m.Q[0])), len(m.Q)/4)
		transposePanel(quads, nr, cols, q32[j0*quads:], quads, w.b)
		transposePanel(g.groups, nr, cols, m.Scales[j0*gs:], gs, w.s)
		for t := range g.tiles {
			a, b, corr := &g.a[t*quads*vnniMR], (*byte)(unsafe.Pointer(&w.b[0])), &g.corr[t*g.groups*vnniMR]
			if nr == vnniNR {
				q8GemmVNNI(g.groups, a, b, &w.s[0], corr, &out[0])
			} else {
				q8GemmAVXVNNI(g.groups, a, b, &w.s[0], corr, &out[0])
			}
			for r := range min(vnniMR, g.rows-t*vnniMR) {
				i := t*vnniMR + r
				storeScaled(g.alpha*g.sx[i], g.beta, out[r*nr:r*nr+cols], g.y[i*g.ldy+j0:])
			}
		}
	}
}
