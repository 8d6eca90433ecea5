//go:build amd64 && !purego

package kernel

// The kernels of quant_amd64.s. Each GEMV kernel takes rows ≥ 1 and computes whole blocks
// of 32 inputs per row; the drivers below add the inputs past the last whole block.

// gemvBF16AVX512 sets y[r] = Σ_{p<32·blocks} W[r][p]·x[p] for r < rows, where W is bfloat16
// with row stride ldw elements and xp is x regrouped by bf16PermuteX.
//
//go:noescape
func gemvBF16AVX512(blocks, rows int, w *uint16, ldw int, xp, y *float32)

// gemvBF16x4AVX512 is gemvBF16AVX512 on the 4·rows rows i, rows+i, 2·rows+i, 3·rows+i
// (i < rows) taken four at a time, as gemvQ8x4AVX512 takes them.
//
//go:noescape
func gemvBF16x4AVX512(blocks, rows int, w *uint16, ldw int, xp, y *float32)

// gemvBF16AVX2 is gemvBF16AVX512 on AVX2/FMA.
//
//go:noescape
func gemvBF16AVX2(blocks, rows int, w *uint16, ldw int, xp, y *float32)

// gemvQ8AVX512 sets y[r] = Σ_{g<groups} s[r][g]·Σ_{p in group g} q[r][p]·x[p] for r < rows,
// where q has row stride ldq bytes and s row stride lds floats.
//
//go:noescape
func gemvQ8AVX512(groups, rows int, q *int8, ldq int, s *float32, lds int, x, y *float32)

// gemvQ8x4AVX512 is gemvQ8AVX512 on the 4·rows rows i, rows+i, 2·rows+i, 3·rows+i (i < rows)
// taken four at a time, each load of x serving four rows.
//
//go:noescape
func gemvQ8x4AVX512(groups, rows int, q *int8, ldq int, s *float32, lds int, x, y *float32)

// gemvQ8AVX2 is gemvQ8AVX512 on AVX2/FMA.
//
//go:noescape
func gemvQ8AVX2(groups, rows int, q *int8, ldq int, s *float32, lds int, x, y *float32)

// gemvQ8VNNI sets y[r] = Σ_{g<groups} s[r][g]·Σ_{p in group g} q[r][p]·xq[p] for r < rows,
// summing each group in int32 with VPDPBUSD, where q has row stride ldq bytes, s row stride
// lds floats, and xn holds xq and its offset correction (see q8Act).
//
//go:noescape
func gemvQ8VNNI(groups, rows int, q *int8, ldq int, s *float32, lds int, xn *int32, y *float32)

// gemvQ8x4VNNI is gemvQ8VNNI on the 4·rows rows i, rows+i, 2·rows+i, 3·rows+i (i < rows)
// taken four at a time, as gemvQ8x4AVX512 takes them.
//
//go:noescape
func gemvQ8x4VNNI(groups, rows int, q *int8, ldq int, s *float32, lds int, xn *int32, y *float32)

// gemvQ8x4AVXVNNI is gemvQ8x4VNNI on 256-bit registers with AVX-VNNI.
//
//go:noescape
func gemvQ8x4AVXVNNI(groups, rows int, q *int8, ldq int, s *float32, lds int, xn *int32, y *float32)

// q8QuantizeVNNI fills the q8Act layout xn for 64·chunks inputs of x: round(x·inv) and the
// offset corrections.
//
//go:noescape
func q8QuantizeVNNI(chunks int, x *float32, inv float32, xn *int32)

// bf16WidenAVX512 writes the float32 of n bfloat16s from src to dst; n is a multiple of 16.
//
//go:noescape
func bf16WidenAVX512(n int, dst *float32, src *uint16)

// bf16WidenAVX2 writes the float32 of n bfloat16s from src to dst; n is a multiple of 8.
//
//go:noescape
func bf16WidenAVX2(n int, dst *float32, src *uint16)

// q8DequantAVX512 writes groups whole groups of dequantised weights q·s to dst.
//
//go:noescape
func q8DequantAVX512(groups int, dst *float32, q *int8, s *float32)

// q8DequantAVX2 is q8DequantAVX512 on AVX2.
//
//go:noescape
func q8DequantAVX2(groups int, dst *float32, q *int8, s *float32)

// gemmBF16TileAVX512 sets out[r·4+c] = Σ_{p<16·blocks} x[r][p]·W[c][p] for r < 6, c < 4, where
// X has row stride ldx floats and the bfloat16 W row stride ldw elements.
//
//go:noescape
func gemmBF16TileAVX512(blocks int, x *float32, ldx int, w *uint16, ldw int, out *float32)

// gemmQ8TileAVX512 sets out[r·4+c] = Σ_{g<groups} s[c][g]·Σ_{p in g} x[r][p]·q[c][p] for r < 6,
// c < 4, where X has row stride ldx floats, q row stride ldq bytes and s row stride lds
// floats.
//
//go:noescape
func gemmQ8TileAVX512(groups int, x *float32, ldx int, q *int8, ldq int, s *float32, lds int, out *float32)

// bf16Rows sets t[i] = Σ_p W[j0+i][p]·x[p] for j0 ≤ j0+i < j1 (len(t) == j1-j0); xp is x
// regrouped by bf16PermuteX, empty when the assembly kernels are not to run.
func bf16Rows(m *BF16Matrix, j0, j1 int, x, xp, t []float32) {
	k := m.K
	t = t[:j1-j0]
	blocks := len(xp) / bf16Block
	if blocks == 0 {
		bf16RowsGo(m, j0, x, t)
		return
	}
	w := m.Data[j0*k : j1*k]
	_ = w[(j1-j0-1)*k+blocks*bf16Block-1]
	if useAVX512 {
		// Four runs of rows at a time, then the one to three rows left one by one.
		r4 := len(t) / 4
		if r4 > 0 {
			gemvBF16x4AVX512(blocks, r4, &w[0], k, &xp[0], &t[0])
		}
		if i := 4 * r4; i < len(t) {
			gemvBF16AVX512(blocks, len(t)-i, &w[i*k], k, &xp[0], &t[i])
		}
	} else {
		gemvBF16AVX2(blocks, len(t), &w[0], k, &xp[0], &t[0])
	}
	if k0 := blocks * bf16Block; k0 < k {
		for i := range t {
			t[i] += bf16DotGo(w[i*k+k0:(i+1)*k], x[k0:k])
		}
	}
}

// q8Rows sets t[i] = Σ_p W[j0+i][p]·x[p] for j0 ≤ j0+i < j1 (len(t) == j1-j0).
func q8Rows(m *Q8Matrix, j0, j1 int, x, t []float32) {
	k, gs := m.K, q8Groups(m.K)
	t = t[:j1-j0]
	full := k / Q8Group
	if !useAsm || full == 0 {
		q8RowsGo(m, j0, x, t)
		return
	}
	q := m.Q[j0*k : j1*k]
	s := m.Scales[j0*gs : j1*gs]
	_ = q[(j1-j0-1)*k+full*Q8Group-1]
	_ = s[(j1-j0-1)*gs+full-1]
	_ = x[full*Q8Group-1]
	if useAVX512 {
		// Four runs of rows at a time, then the one to three rows left one by one.
		r4 := len(t) / 4
		if r4 > 0 {
			gemvQ8x4AVX512(full, r4, &q[0], k, &s[0], gs, &x[0], &t[0])
		}
		if i := 4 * r4; i < len(t) {
			gemvQ8AVX512(full, len(t)-i, &q[i*k], k, &s[i*gs], gs, &x[0], &t[i])
		}
	} else {
		gemvQ8AVX2(full, len(t), &q[0], k, &s[0], gs, &x[0], &t[0])
	}
	if full < gs {
		// The last, shorter group.
		k0 := full * Q8Group
		for i := range t {
			t[i] += q8DotGo(q[i*k+k0:(i+1)*k], s[i*gs+full:(i+1)*gs], x[k0:k])
		}
	}
}

// q8RowsAct sets t[i] = Σ_p W[j0+i][p]·x[p] for j0 ≤ j0+i < j1 (len(t) == j1-j0) from the
// quantised activations a, as q8RowsActGo does, on the VNNI kernel when useVNNI is set.
func q8RowsAct(m *Q8Matrix, j0, j1 int, a *q8Act, x, t []float32) {
	k, gs := m.K, q8Groups(m.K)
	t = t[:j1-j0]
	full := a.k0 / Q8Group
	avx512 := useAsm && useAVX512 && useVNNI
	if !avx512 && !(useAsm && !useAVX512 && useAVXVNNI) {
		q8RowsActGo(m, j0, a, x, t)
		return
	}
	q := m.Q[j0*k : j1*k]
	s := m.Scales[j0*gs : j1*gs]
	_ = q[(j1-j0-1)*k+a.k0-1]
	_ = s[(j1-j0-1)*gs+full-1]
	_ = a.xn[(a.k0+63)/64*q8ActStep-1]
	// Four runs of rows at a time, then the one to three rows left one by one.
	r4 := len(t) / 4
	done := len(t) // rows the kernels computed
	switch i := 4 * r4; {
	case avx512:
		if r4 > 0 {
			gemvQ8x4VNNI(full, r4, &q[0], k, &s[0], gs, &a.xn[0], &t[0])
		}
		if i < len(t) {
			gemvQ8VNNI(full, len(t)-i, &q[i*k], k, &s[i*gs], gs, &a.xn[0], &t[i])
		}
	default:
		if r4 > 0 {
			gemvQ8x4AVXVNNI(full, r4, &q[0], k, &s[0], gs, &a.xn[0], &t[0])
		}
		done = i
	}
	for i := range done {
		t[i] *= a.s
	}
	if full < gs {
		// The last, shorter group, from x itself.
		for i := range done {
			t[i] += q8DotGo(q[i*k+a.k0:(i+1)*k], s[i*gs+full:(i+1)*gs], x[a.k0:k])
		}
	}
	if done < len(t) {
		// AVX-VNNI: the one to three rows left, at most once per GEMV (tasks take multiples
		// of four rows).
		q8RowsActGo(m, j0+done, a, x, t[done:])
	}
}

// bf16Dequant writes the float32 of each bfloat16 in src to dst (same length).
func bf16Dequant(dst []float32, src []uint16) {
	n := len(src)
	dst = dst[:n]
	done := 0
	switch {
	case !useAsm:
	case useAVX512:
		if done = n &^ 15; done > 0 {
			bf16WidenAVX512(done, &dst[0], &src[0])
		}
	default:
		if done = n &^ 7; done > 0 {
			bf16WidenAVX2(done, &dst[0], &src[0])
		}
	}
	if done < n {
		bf16WidenGo(dst[done:], src[done:])
	}
}

// q8Dequant writes the dequantised weights q[p]·s[p/Q8Group] of a run of whole groups (the
// last one may be shorter) to dst (same length as q).
func q8Dequant(dst []float32, q []int8, s []float32) {
	full := len(q) / Q8Group
	dst = dst[:len(q)]
	if useAsm && full > 0 {
		_ = s[full-1]
		if useAVX512 {
			q8DequantAVX512(full, &dst[0], &q[0], &s[0])
		} else {
			q8DequantAVX2(full, &dst[0], &q[0], &s[0])
		}
	} else {
		full = 0
	}
	if k0 := full * Q8Group; k0 < len(q) {
		q8DequantGo(dst[k0:], q[k0:], s[full:])
	}
}

// The tiled GEMM: Y = alpha·X·Wᵀ + beta·Y by 6×4 tiles of dot products (gemmBF16TileAVX512,
// gemmQ8TileAVX512). Tasks take blocks of W rows, which stay in L2 while the task walks the
// blocks of six X rows over them, each block of X staying in L1 (or L2 for long rows) while
// it meets the block's W rows four at a time. The last rows of X and W, when M is not a
// multiple of 6 or N of 4, are copied once per call into zero-padded blocks; inputs past the
// kernels' whole steps are added in Go.
const (
	quantTileRows     = 6       // rows of X in a tile
	quantTileCols     = 4       // rows of W in a tile
	quantTileBF16Step = 16      // inputs per step of the bfloat16 tile kernel
	quantTileBytes    = 1 << 16 // weight bytes a task aims at: its W block stays in L2
)

// quantTileCall holds the state of one tiled GEMM call, shared by the threads working on it.
type quantTileCall struct {
	bf          *BF16Matrix // one of bf and q8 is set
	q8          *Q8Matrix
	m, n, k     int
	alpha, beta float32
	x, y        []float32
	ldx, ldy    int
	steps, k0   int // kernel steps per row, and the inputs they cover
	nb          int // W rows per task, a multiple of quantTileCols

	xpad []float32 // the last m%6 rows of X, zero-padded to 6 rows (6, k)
	wpad []uint16  // the last n%4 rows of a bfloat16 W, zero-padded to 4 rows (4, k)
	qpad []int8    // likewise for an int8 W, with its scales in spad (4, groups)
	spad []float32

	runFn func(lo, hi int)
}

var quantTileCalls = freeList[quantTileCall]{init: func(g *quantTileCall) { g.runFn = g.run }}

// quantHasTiles reports whether a GEMM on the matrix runs on tile kernels: for int8 weights
// the VNNI tiles of quantised activations where they run (q8GemmVNNIRuns: AVX512-VNNI, or
// AVX-VNNI without AVX-512), else the AVX-512 tiles (quantHasTiles512). On AVX-VNNI the 6×16
// tiles beat a GEMV per row from four rows on and are even with it at three (768×2304, one
// thread, Zen 5 as AVX-VNNI: 97 against 98 GFLOP/s at M = 3, 129 against 94 at M = 4, 189
// against 98 at M = 6, 155 against 98 at M = 8), so the GEMM takes them for every M past
// quantTiledGemvRows.
func quantHasTiles(bf *BF16Matrix, q8 *Q8Matrix) bool {
	if q8 != nil && q8GemmVNNIRuns(q8.K) {
		return true
	}
	return quantHasTiles512(bf, q8)
}

// quantHasTiles512 reports whether a GEMM on the matrix can run on the AVX-512 tile kernels
// (gemmBF16TileAVX512, gemmQ8TileAVX512): with AVX-512, and rows of at least one kernel step.
func quantHasTiles512(bf *BF16Matrix, q8 *Q8Matrix) bool {
	if !useAsm || !useAVX512 {
		return false
	}
	if bf != nil {
		return bf.K >= quantTileBF16Step
	}
	return q8.K >= Q8Group
}

// quantGemmTiled runs a GEMM with more than one row of X on tile kernels and reports true:
// int8 weights on the VNNI tiles of quantised activations where they take the call
// (q8GemmTilesVNNI), else on the AVX-512 tiles. It reports false when none are to run (no
// AVX-512 and no VNNI tiles, rows shorter than a kernel step, or on AVX-VNNI a row with a NaN
// or an infinity).
func quantGemmTiled(bf *BF16Matrix, q8 *Q8Matrix, m int, alpha float32, x []float32, ldx int, beta float32, y []float32, ldy int) bool {
	if q8 != nil && q8GemmTilesVNNI(q8, m, alpha, x, ldx, beta, y, ldy) {
		return true // int8 activations on VNNI
	}
	var n, k, steps, k0 int
	var rowBytes int
	if bf != nil {
		n, k = bf.N, bf.K
		steps = k / quantTileBF16Step
		k0, rowBytes = steps*quantTileBF16Step, 2*k
	} else {
		n, k = q8.N, q8.K
		steps = k / Q8Group
		k0, rowBytes = steps*Q8Group, k+4*q8Groups(k)
	}
	if !quantHasTiles512(bf, q8) {
		return false
	}
	g := quantTileCalls.get()
	g.bf, g.q8, g.m, g.n, g.k = bf, q8, m, n, k
	g.alpha, g.beta, g.x, g.y, g.ldx, g.ldy = alpha, beta, x, y, ldx, ldy
	g.steps, g.k0 = steps, k0
	if r := m % quantTileRows; r != 0 {
		g.xpad = quantGrow(g.xpad, quantTileRows*k)
		clear(g.xpad)
		for i := range r {
			copy(g.xpad[i*k:(i+1)*k], x[(m-r+i)*ldx:])
		}
	}
	if r := n % quantTileCols; r != 0 {
		if bf != nil {
			g.wpad = quantGrow(g.wpad, quantTileCols*k)
			clear(g.wpad)
			copy(g.wpad, bf.Data[(n-r)*k:])
		} else {
			gs := q8Groups(k)
			g.qpad = quantGrow(g.qpad, quantTileCols*k)
			g.spad = quantGrow(g.spad, quantTileCols*gs)
			clear(g.qpad)
			clear(g.spad)
			copy(g.qpad, q8.Q[(n-r)*k:])
			copy(g.spad, q8.Scales[(n-r)*gs:])
		}
	}
	// Tasks of about quantTileBytes of weights, at least two per thread, split evenly.
	threads := Threads()
	if m*n*k < gemmSerialWork {
		threads = 1
	}
	tasks := max((n*rowBytes+quantTileBytes-1)/quantTileBytes, 2*threads)
	tasks = quantTasks(tasks, threads)
	g.nb = ((n+tasks-1)/tasks + quantTileCols - 1) / quantTileCols * quantTileCols
	tasks = (n + g.nb - 1) / g.nb
	if threads == 1 {
		g.run(0, tasks)
	} else {
		Parallel(tasks, 1, g.runFn)
	}
	g.bf, g.q8, g.x, g.y = nil, nil, nil, nil
	quantTileCalls.put(g)
	return true
}

// run computes the columns of Y of tasks [lo, hi): W rows [t·nb, (t+1)·nb) for each task t.
func (g *quantTileCall) run(lo, hi int) {
	var out [quantTileRows * quantTileCols]float32
	k := g.k
	for t := lo; t < hi; t++ {
		j0, j1 := t*g.nb, min((t+1)*g.nb, g.n)
		for i0 := 0; i0 < g.m; i0 += quantTileRows {
			xs, ldx := g.x[i0*g.ldx:], g.ldx
			if i0+quantTileRows > g.m {
				xs, ldx = g.xpad, k
			}
			for j := j0; j < j1; j += quantTileCols {
				g.tile(xs, ldx, j, &out)
				g.store(i0, j, &out)
			}
		}
	}
}

// tile sets out to the 6×4 tile of dot products of the six X rows at xs (row stride ldx) with
// W rows j..j+3 (the padded copy when they pass N).
func (g *quantTileCall) tile(xs []float32, ldx, j int, out *[quantTileRows * quantTileCols]float32) {
	k := g.k
	_ = xs[(quantTileRows-1)*ldx+k-1]
	if g.bf != nil {
		w := g.bf.Data[j*k:]
		if j+quantTileCols > g.n {
			w = g.wpad
		}
		_ = w[(quantTileCols-1)*k+k-1]
		gemmBF16TileAVX512(g.steps, &xs[0], ldx, &w[0], k, &out[0])
		if g.k0 < k {
			for r := range quantTileRows {
				xr := xs[r*ldx+g.k0 : r*ldx+k]
				for c := range quantTileCols {
					out[r*quantTileCols+c] += bf16DotGo(w[c*k+g.k0:(c+1)*k], xr)
				}
			}
		}
		return
	}
	gs := q8Groups(k)
	q, s := g.q8.Q[j*k:], g.q8.Scales[j*gs:]
	if j+quantTileCols > g.n {
		q, s = g.qpad, g.spad
	}
	_ = q[(quantTileCols-1)*k+k-1]
	_ = s[(quantTileCols-1)*gs+gs-1]
	gemmQ8TileAVX512(g.steps, &xs[0], ldx, &q[0], k, &s[0], gs, &out[0])
	if g.k0 < k {
		// The last, shorter group.
		for r := range quantTileRows {
			xr := xs[r*ldx+g.k0 : r*ldx+k]
			for c := range quantTileCols {
				out[r*quantTileCols+c] += q8DotGo(q[c*k+g.k0:(c+1)*k], s[c*gs+g.steps:(c+1)*gs], xr)
			}
		}
	}
}

// store writes the part of the tile inside Y, rows i0.. and columns j.., as alpha·out + beta·Y.
func (g *quantTileCall) store(i0, j int, out *[quantTileRows * quantTileCols]float32) {
	rows, cols := min(quantTileRows, g.m-i0), min(quantTileCols, g.n-j)
	for r := range rows {
		y := g.y[(i0+r)*g.ldy+j : (i0+r)*g.ldy+j+cols]
		o := out[r*quantTileCols : r*quantTileCols+cols]
		if g.beta == 0 {
			for c, v := range o {
				y[c] = g.alpha * v
			}
		} else {
			for c, v := range o {
				y[c] = g.alpha*v + g.beta*y[c]
			}
		}
	}
}
