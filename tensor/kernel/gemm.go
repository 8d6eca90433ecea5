package kernel

import (
	"fmt"
	"sync"
	"unsafe"
)

// Sgemm is packed and cache-blocked in the GotoBLAS/BLIS scheme:
//
//	for jc in steps of NC:                    B panel (KC, NC) lives in L3
//	  for pc in steps of at most KC:          k split into even blocks
//	    pack op(B)[pc:pc+KC, jc:jc+NC]        NR-column micro-panels
//	    for ic in steps of MC:                the tasks the pool shares out
//	      pack op(A)[ic:ic+MC, pc:pc+KC]      MR-row micro-panels; the block lives in L2
//	      for jr in steps of NR:              B micro-panel (KC, NR) lives in L1
//	        for ir in steps of MR:
//	          micro-kernel: C[ir:ir+MR, jr:jr+NR] (+)= A micro-panel · B micro-panel
//
// The register tile (MR, NR) and the blocks (KC, MC, NC) belong to the micro-kernel, which a
// gemmKernel describes; the CPU decides which one runs (see activeGemmKernel), and its cache
// sizes the blocks (blocking.go), unless `qkv bench --tune` measured better ones (tune.go).
//
// Packing pays for itself when a packed block is read many times: an A block once per NR
// columns of C, a B panel once per MR rows. Kernels that take strided operands (inPlace) read
// an operand in place when it would be read only a few times, as in the skinny products of
// training (x·W with a 128-column W, or the weight gradient xᵀ·dy with 128 rows); then only
// the partial micro-panel at its edge is packed, into a zero-padded buffer. A row-major B is
// also read in place when read many times, unless its rows alias in the caches: packing it
// buys nothing else. What pays was measured on the training and W1 shapes
// (BenchmarkSgemmTraining, BenchmarkSgemm).
//
// Threads share the work as tasks, each a block of rows against a chunk of columns. With at
// least as many row blocks as threads the rows are split; otherwise the columns are too. When
// B is packed and several row blocks use each B panel, the threads pack the panel together and
// then take tasks, once per (jc, pc) block. Otherwise no packed data is shared: a single
// parallel call runs every task to the end, each packing what it alone uses (its A block, its
// B micro-panels just before their first use), and no packed data crosses between cores.
const (
	// gemmSerialWork is the size m·n·k under which Sgemm runs on the calling goroutine only:
	// below it, handing work to the pool costs more than it saves.
	gemmSerialWork = 1 << 20

	// gemmInPlaceB is the most elements of B (k·n), 8 MiB, that an inPlace kernel reads in
	// place when many A micro-panels read it: it has to stay in the last-level cache.
	gemmInPlaceB = 2 << 20
)

// tileFunc is the micro-kernel contract. It computes the first mr rows and nr columns
// (0 < mr ≤ MR, 0 < nr ≤ NR) of the tile C = alpha·(Ap·Bp) + beta·C over depth k, where Ap
// is a (k, MR) micro-panel of op(A)ᵀ, Bp a (k, NR) micro-panel of op(B) and C has row stride
// ldc. beta == 0 does not read C. Bp element (p, j) is b[p·sb + j]. Ap element (p, i) is
// a[p·sa + i] (a packed micro-panel, sa = MR, or a column panel of a transposed A), or, for a
// row kernel, a[i·sa + p] (rows of a row-major A). The whole MR×NR footprint of Ap and Bp is
// readable; a packed panel is zero-padded past the edge of the matrix.
type tileFunc func(k int, a *float32, sa int, b *float32, sb int, c *float32, ldc, mr, nr int, alpha, beta float32)

// gemmKernel describes one micro-kernel: its register tile and the cache blocks tuned for it.
type gemmKernel struct {
	name       string
	mr, nr     int // register tile
	kc, mc, nc int // cache blocks: depth, A block rows, B panel columns (see blocksFor, Tune)

	tile    tileFunc // Ap in column form: a[p·sa + i]
	tileRow tileFunc // Ap in row form: a[i·sa + p]; nil when A must be packed
	// tileAhead, where set, is tileRow with two more duties: with bias set (alpha 1) C starts
	// from bias (nr values) in every row, the bits of tileRow with beta 1 on a C set to the
	// bias (for a kernel that adds its products to C one after another rather than scaling
	// their sum); and it prefetches the n bytes at ahead (a slice of the next B micro-panel)
	// into L2 as it goes.
	tileAhead func(k int, a *float32, sa int, b *float32, sb int, c *float32, ldc, mr, nr int, alpha, beta float32, bias []float32, ahead *float32, n int)
	// inPlace is set when tile takes any strides, so that operands can be read in place;
	// otherwise it is only called with packed micro-panels (sa = MR, sb = NR).
	inPlace bool
	// aUses and bUses are the most times an A (B) micro-panel may be read, by the micro-panels
	// of the other operand, for an inPlace kernel to read it in place rather than pack it.
	// bMany is the most elements (k·n) of a B read in place when read more often than that.
	aUses, bUses, bMany int

	// packBT packs a full NR-column micro-panel of op(B) = Bᵀ: d[p·NR + c] = b[c·ldb + p]
	// for c < NR, p < kc.
	packBT func(kc int, b []float32, ldb int, d []float32)
	// packBN, where set, packs a full NR-column micro-panel of op(B) = B: d[p·NR + c] =
	// b[p·ldb + c]; otherwise packCopyRows does.
	packBN func(kc int, b []float32, ldb int, d []float32)

	// pairs is set for a kernel of bfloat16 compute: it reads micro-panels of bfloat16 pairs
	// (see packPairsA), never an operand in place.
	pairs bool
	// deepL2 is set for a kernel whose depth blocks are three times deeper on a core with an
	// L2 of deepL2 or more (see blocksFor).
	deepL2 bool
	// amx is set for the AMX kernel of pairs (amx_amd64.go): it reads A only in tile rows
	// (amxTileWord), the last rows too, and micro-panels of pairs zero-padded to whole 16-pair
	// steps (pairRows).
	amx bool
	// gemv, where set, runs one input row against this kernel's B micro-panels (a PanelMatrix
	// on one row: GemmPanels, MatVec).
	gemv *panelGemv
}

// panelGemv holds the matrix–vector kernels on a kernel's B micro-panels: one writes out[c] =
// Σ_p x_p·B[p][c] for the NR columns of the micro-panel b over its first steps rows (pair
// rows and pair words of x for a kernel of pairs, floats otherwise) into out[:NR]; four does
// the same for the four micro-panels at b[i·size:], i < 4, into out[i·NR:].
type panelGemv struct {
	one  func(steps int, x, b []float32, out *[32]float32)
	four func(steps int, x, b []float32, size int, out *[4 * 32]float32)
}

// amxPairStep is the pairs of depths of one step of the AMX kernel: a 64-byte tile row of
// pair words.
const amxPairStep = 16

// pairRows is the rows of pair words of K's micro-panels of depth kc: ⌈kc/2⌉, or for the AMX
// kernel that rounded up to a whole step.
func (K *gemmKernel) pairRows(kc int) int {
	if K.amx {
		return amxPairRows(kc)
	}
	return (kc + 1) / 2
}

// panelRows is the rows of K's B micro-panels of depth kc: kc floats, or for a kernel of
// pairs its pairRows.
func (K *gemmKernel) panelRows(kc int) int {
	if K.pairs {
		return K.pairRows(kc)
	}
	return kc
}

// amxPairRows is ⌈kc/2⌉ rounded up to a whole step of the AMX kernel.
func amxPairRows(kc int) int {
	return ((kc+1)/2 + amxPairStep - 1) / amxPairStep * amxPairStep
}

// amxStepWords is the words of one step of an AMX micro-panel of A in tile rows: 32 rows of
// 16 pair words.
const amxStepWords = 32 * amxPairStep

// amxTileWord is where pair word p of row r of an A block in tile rows lies, q = pairRows the
// words of a row: micro-panel r/32 (32·q words each), then step p/16 (amxStepWords each),
// then row r%32 (16 words each), then word p%16.
func amxTileWord(q, r, p int) int {
	return r/32*32*q + p/amxPairStep*amxStepWords + r%32*amxPairStep + p%amxPairStep
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C, where op(X) is X or Xᵀ, as BLAS does, on
// row-major matrices:
//
//	op(A) is (m, k): A is (m, k) with row stride lda, or (k, m) when transA
//	op(B) is (k, n): B is (k, n) with row stride ldb, or (n, k) when transB
//	C is (m, n) with row stride ldc
//
// beta == 0 overwrites C without reading it (so C may hold NaN garbage). As in BLAS,
// alpha == 0 or k == 0 only scales C by beta and does not read A or B. m == 1 and n == 1 run
// the matrix–vector kernel (see Sgemv), a few rows times a large B several of them sharing
// one pass over B (see gemmSmallM). C must not overlap A or B. Slices that are too short
// for the sizes and strides given panic.
//
// The work is split over the worker pool; steady-state calls do not allocate.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm("Sgemm", transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, nil, c, ldc)
}

// SgemmBias computes C = op(A)·op(B) + bias, bias (n) added to every row: a linear layer's
// forward pass. Its bits are those of Sgemm with alpha 1 and beta 1 on a C whose rows were
// first set to bias, but where the tiles run, each tile of C takes the bias right after the
// kernel stores its first depth block, while it is in L1, instead of in a pass over C
// beforehand. C is overwritten.
func SgemmBias(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	if len(bias) < n {
		panic(fmt.Sprintf("kernel: SgemmBias: %d bias values for n=%d", len(bias), n))
	}
	sgemm("SgemmBias", transA, transB, m, n, k, 1, a, lda, b, ldb, 0, bias[:n], c, ldc)
}

// Tiled reports whether Sgemm (with alpha ≠ 0) runs an (m, k)·op(B) product with op(B)
// (k, n) and A not transposed in its tiles, the path that bfloat16 compute (SetCompute)
// applies to, rather than on a one-row, one-column or few-row path, which stays float32.
func Tiled(m, n, k int) bool { return tiled(false, m, n, k) }

// tiled is Tiled for an A transposed or not.
func tiled(transA bool, m, n, k int) bool {
	return k != 0 && m > 1 && n > 1 && !useSmallM(transA, m, n, k)
}

// sgemm is Sgemm and, with bias set (and beta 0), SgemmBias.
func sgemm(op string, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernel: %s with negative size m=%d n=%d k=%d", op, m, n, k))
	}
	if transA {
		checkMatrix(op, "A", k, m, a, lda)
	} else {
		checkMatrix(op, "A", m, k, a, lda)
	}
	if transB {
		checkMatrix(op, "B", n, k, b, ldb)
	} else {
		checkMatrix(op, "B", k, n, b, ldb)
	}
	checkMatrix(op, "C", m, n, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	tiles := alpha != 0 && tiled(transA, m, n, k)
	if bias != nil && !tiles {
		// Where the tiles do not run, set the rows to the bias and add the product to them.
		setRows(m, n, bias, c, ldc)
		bias, beta = nil, 1
	}
	switch {
	case alpha == 0 || k == 0:
		scaleMatrix(m, n, beta, c, ldc)
	case m == 1:
		gemmRow(transA, transB, n, k, alpha, a, lda, b, ldb, beta, c[:n])
	case n == 1:
		gemmColumn(transA, transB, m, k, alpha, a, lda, b, ldb, beta, c, ldc)
	case !tiles:
		gemmSmallM(transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	default:
		loadTuningOnce()
		g := gemmCalls.get()
		g.bias = bias
		g.run(gemmKernelFor(k), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		g.bias = nil
		gemmCalls.put(g)
	}
}

// checkMatrix panics unless x holds a (rows, cols) row-major matrix with row stride ld.
func checkMatrix(op, name string, rows, cols int, x []float32, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("kernel: %s: leading dimension of %s is %d, below its %d columns", op, name, ld, cols))
	}
	if rows > 0 && cols > 0 && len(x) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("kernel: %s: %s has %d elements, too few for (%d, %d) with stride %d", op, name, len(x), rows, cols, ld))
	}
}

// setRows sets each row of the (m, n) matrix C to row (n values).
func setRows(m, n int, row, c []float32, ldc int) {
	for i := range m {
		copy(c[i*ldc:i*ldc+n], row[:n])
	}
}

// scaleMatrix sets the (m, n) matrix C to beta·C; beta == 0 writes zeros without reading C.
func scaleMatrix(m, n int, beta float32, c []float32, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// gemmRow computes the single row C (n) = alpha·op(A)·op(B) + beta·C with the GEMV kernel:
// op(A) is the row vector x (k).
func gemmRow(transA, transB bool, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32) {
	x := a[:k]
	if transA && lda != 1 {
		// A is (k, 1): gather the column.
		s := scratch.get()
		x = s.floats(k)
		for p := range x {
			x[p] = a[p*lda]
		}
		defer scratch.put(s)
	}
	Sgemv(transB, k, n, alpha, x, b, ldb, beta, c)
}

// gemmColumn computes the single column C (m, 1) = alpha·op(A)·op(B) + beta·C with the GEMV
// kernel: op(B) is the column vector x (k), and C = x·op(A)ᵀ read as a row.
func gemmColumn(transA, transB bool, m, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	s := scratch.get()
	defer scratch.put(s)
	buf := s.floats(k + m)
	x, y := b[:k], c[:m]
	if !transB && ldb != 1 {
		// B is (k, 1): gather the column.
		x = buf[:k]
		for p := range x {
			x[p] = b[p*ldb]
		}
	}
	if ldc != 1 {
		y = buf[k : k+m]
		if beta != 0 {
			for i := range y {
				y[i] = c[i*ldc]
			}
		}
	}
	// C (m) = op(A)·x = x·op(A)ᵀ: with A (m, k) that is the Linear layout (transW).
	Sgemv(!transA, k, m, alpha, x, a, lda, beta, y)
	if ldc != 1 {
		for i, v := range y {
			c[i*ldc] = v
		}
	}
}

// gemmCall holds the state of one blocked Sgemm call, shared by the threads working on it.
// Calls are pooled with their packed-B buffer and bound methods, so steady-state calls do not
// allocate.
type gemmCall struct {
	kern           *gemmKernel
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int

	aInPlace bool // full A micro-panels are read from A itself
	bInPlace bool // full B micro-panels are read from B itself
	shared   bool // B panels are packed by all threads together, once per (jc, pc) block

	threads int // threads this call uses
	kcStep  int // depth of the k blocks, all but the last of which are full
	mc      int // rows per A block, a multiple of MR
	mBlocks int // A blocks: ceil(m / mc)
	nSplit  int // column chunks the work is split into across threads
	chunk   int // NR micro-panels per column chunk: of the B panel (shared), of n (otherwise)

	// The current (jc, pc) block of the shared scheme.
	jc, nc, pc, kc int
	panels         int // NR micro-panels in the B panel: ceil(nc / NR)

	bp []float32 // shared packed B panel, (KC, NC) as NC/NR micro-panels

	// pre, when set, holds op(B) packed ahead (GemmPanels): nothing of B is packed, and the
	// current block's micro-panels are read from it.
	pre *PanelMatrix
	// bias, if set, is added to every row of C: each tile of C takes it right after the
	// kernel stores the tile's first depth block (with beta 0), while the tile is in L1, so
	// no pass over C sets it beforehand.
	bias []float32
	// act, if set, is applied to every row of C the same way, right after the kernel stores
	// a tile's last depth block: one call a tile.
	act Activation
	// The micro-panels of the current (jc, pc) block of the shared scheme (bp or pre), and the
	// distance between them.
	bBlock []float32
	bPanel int

	packFn, computeFn, runFn func(lo, hi int) // bound methods, made once per pooled call
}

// gemmWorker is the private workspace of one thread.
type gemmWorker struct {
	ap []float32 // packed A block (MC, KC); or the partial last micro-panel of an A read in place
	bp []float32 // one packed B micro-panel (KC, NR)
	at []float32 // a micro-panel of a transposed A in pairs, before its transposition (AMX)
}

var (
	gemmCalls = freeList[gemmCall]{init: func(g *gemmCall) {
		g.packFn = g.packB
		g.computeFn = g.compute
		g.runFn = g.runTasks
	}}
	gemmWorkers freeList[gemmWorker]
)

func (g *gemmCall) run(kern *gemmKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g.kern = kern
	g.transA, g.transB, g.m, g.n, g.k = transA, transB, m, n, k
	g.alpha, g.beta = alpha, beta
	g.a, g.b, g.c, g.lda, g.ldb, g.ldc = a, b, c, lda, ldb, ldc
	g.plan()
	if !g.shared {
		Parallel(g.mBlocks*g.nSplit, 1, g.runFn)
		g.a, g.b, g.c = nil, nil, nil
		return
	}
	if g.pre == nil {
		g.bp = growAligned(g.bp, kern.kc*kern.nc)
	}
	for jc := 0; jc < n; jc += kern.nc {
		g.jc, g.nc = jc, min(kern.nc, n-jc)
		g.panels = (g.nc + kern.nr - 1) / kern.nr
		g.chunk = (g.panels + g.nSplit - 1) / g.nSplit
		for pc := 0; pc < k; pc += g.kcStep {
			g.pc, g.kc = pc, min(g.kcStep, k-pc)
			tasks := g.mBlocks * g.nSplit
			if g.pre != nil {
				g.bBlock, g.bPanel = g.pre.panels(pc, jc)
			} else {
				// Pack the B panel (the threads together), then share it.
				g.bBlock, g.bPanel = g.bp, kern.nr*g.kc
				if g.threads == 1 {
					g.packB(0, g.panels)
				} else {
					Parallel(g.panels, 8, g.packFn)
				}
			}
			if g.threads == 1 {
				g.compute(0, tasks)
			} else {
				Parallel(tasks, 1, g.computeFn)
			}
		}
	}
	g.a, g.b, g.c, g.bBlock = nil, nil, nil, nil // do not keep the caller's matrices alive
}

// depthStep is the depth of the blocks Sgemm splits a depth k into: at most kc, all but the
// last full, and as even as they can be (no thin remnant).
func depthStep(k, kc int) int {
	blocks := max(1, (k+kc-1)/kc)
	return max(1, (k+blocks-1)/blocks)
}

// plan chooses which operands are read in place, the k blocks, the A block height and how
// the work is split over threads.
func (g *gemmCall) plan() {
	K := g.kern
	g.threads = Threads()
	if g.m*g.n*g.k < gemmSerialWork {
		g.threads = 1
	}
	// An A micro-panel is read once per B micro-panel, and the other way round.
	aUses := (min(g.n, K.nc) + K.nr - 1) / K.nr
	bUses := (g.m + K.mr - 1) / K.mr
	g.aInPlace = K.inPlace && aUses <= K.aUses && (g.transA || K.tileRow != nil)
	// B read in place also pays when it is read many times, as long as it stays in the
	// last-level cache while each row block of A sweeps all of it. Either way its rows must
	// not alias in the caches: a stride that is a multiple of 4 KiB maps all the rows of a
	// micro-panel to the same L1 sets, so that the A micro-panels after the first find none
	// of it there.
	g.bInPlace = K.inPlace && !g.transB && g.ldb%1024 != 0 &&
		(bUses <= K.bUses || g.k*g.n <= K.bMany)

	kc := K.kc
	if g.bInPlace {
		kc = inPlaceDepth(K)
	}
	g.kcStep = depthStep(g.k, kc)
	if g.pre != nil {
		g.kcStep = g.pre.kcStep // the blocks it was packed in
	}

	blocks := (g.m + K.mc - 1) / K.mc
	g.nSplit = 1
	if g.threads > 1 {
		if blocks >= g.threads {
			blocks = (blocks + g.threads - 1) / g.threads * g.threads
		} else {
			g.nSplit = (g.threads + blocks - 1) / blocks
		}
	}
	// Even blocks, rounded up to whole micro-panels.
	g.mc = ((g.m+blocks-1)/blocks + K.mr - 1) / K.mr * K.mr
	g.mBlocks = (g.m + g.mc - 1) / g.mc
	g.shared = !g.bInPlace && g.mBlocks > 1
	if !g.shared {
		panels := (g.n + K.nr - 1) / K.nr
		g.chunk = (panels + g.nSplit - 1) / g.nSplit
	}
}

// packB packs B micro-panels [lo, hi) of the current block of the shared scheme.
func (g *gemmCall) packB(lo, hi int) {
	packB(g.kern, g.bp, g.transB, g.b, g.ldb, g.pc, g.kc, g.jc, g.nc, lo, hi)
}

// compute runs tasks [lo, hi) of the current (jc, pc) block of the shared scheme; task t is
// row block t / nSplit against column chunk t % nSplit of the packed B panel.
func (g *gemmCall) compute(lo, hi int) {
	K := g.kern
	w := gemmWorkers.get()
	w.ap = growAligned(w.ap, g.aBlockSize())
	beta := g.blockBeta(g.pc)
	packed := -1 // the row block now in w.ap
	var av aView
	for t := lo; t < hi; t++ {
		ib, jb := t/g.nSplit, t%g.nSplit
		i0 := ib * g.mc
		mb := min(g.mc, g.m-i0)
		if ib != packed {
			av = g.prepareA(w, i0, mb, g.pc, g.kc)
			packed = ib
		}
		jp0 := jb * g.chunk
		jp1 := min(jp0+g.chunk, g.panels)
		if jp0 >= jp1 {
			continue
		}
		j0 := g.jc + jp0*K.nr
		nb := min(g.jc+g.nc, g.jc+jp1*K.nr) - j0
		bv := bView{p: g.bBlock[jp0*g.bPanel:], s: K.nr, panel: g.bPanel}
		g.macroKernel(w, &av, &bv, i0, mb, j0, nb, g.pc, g.kc, beta)
	}
	gemmWorkers.put(w)
}

// runTasks runs tasks [lo, hi) of the unshared scheme to the end: task t is row block
// t / nSplit against column chunk t % nSplit of C, over every (jc, pc) block.
func (g *gemmCall) runTasks(lo, hi int) {
	K := g.kern
	w := gemmWorkers.get()
	w.ap = growAligned(w.ap, g.aBlockSize())
	for t := lo; t < hi; t++ {
		ib, jb := t/g.nSplit, t%g.nSplit
		i0 := ib * g.mc
		mb := min(g.mc, g.m-i0)
		j0 := jb * g.chunk * K.nr
		j1 := min(g.n, j0+g.chunk*K.nr)
		for jc := j0; jc < j1; jc += K.nc {
			nc := min(K.nc, j1-jc)
			for pc := 0; pc < g.k; pc += g.kcStep {
				kc := min(g.kcStep, g.k-pc)
				av := g.prepareA(w, i0, mb, pc, kc)
				bv := bView{s: g.ldb, panel: K.nr, perPanel: true}
				switch {
				case g.pre != nil:
					p, size := g.pre.panels(pc, jc)
					bv = bView{p: p, s: K.nr, panel: size}
				case g.bInPlace:
					bv.p = g.b[pc*g.ldb+jc:]
				}
				g.macroKernel(w, &av, &bv, i0, mb, jc, nc, pc, kc, g.blockBeta(pc))
			}
		}
	}
	gemmWorkers.put(w)
}

// aBlockSize is the floats of a worker's A buffer: a packed (MC, KC) block, or for the row
// form of a kernel of pairs its rows of pairs and a packed last micro-panel after them.
func (g *gemmCall) aBlockSize() int {
	n := g.mc * g.kcStep
	if g.kern.pairs {
		n += g.kern.mr*g.kcStep + 16
	}
	return n
}

// blockBeta is the beta of the depth block at pc: the caller's for the first, then 1.
func (g *gemmCall) blockBeta(pc int) float32 {
	if pc == 0 {
		return g.beta
	}
	return 1
}

// aView says where the macro-kernel finds the A micro-panels of a block of rows.
type aView struct {
	p     []float32 // micro-panel ip starts at p[ip·panel]
	s     int       // stride passed to the micro-kernel as sa
	panel int
	row   bool      // p holds rows of a row-major A: run the row kernel
	edge  []float32 // the partial last micro-panel, packed; nil when p has it
}

// bView says where the macro-kernel finds the B micro-panels of a block of columns.
type bView struct {
	p     []float32 // micro-panel jp starts at p[jp·panel]; nil: pack each one before use
	s     int       // stride passed to the micro-kernel as sb
	panel int
	// perPanel is set when p is B itself (or nil): micro-panels are packed one at a time
	// into the worker's buffer when they are partial or when B is not read in place.
	perPanel bool
}

// prepareA packs rows [i0, i0+mb) of op(A) at depth [pc, pc+kc) into w.ap, or, when A is
// read in place, only the partial last micro-panel, and says where the micro-panels are.
func (g *gemmCall) prepareA(w *gemmWorker, i0, mb, pc, kc int) aView {
	K := g.kern
	if K.amx {
		if g.transA {
			return g.prepareTileRowsT(w, i0, mb, pc, kc)
		}
		return g.prepareTileRows(w, i0, mb, pc, kc)
	}
	if K.pairs && K.tileRow != nil && !g.transA && mb >= K.mr {
		return g.prepareRowPairs(w, i0, mb, pc, kc)
	}
	if !g.aInPlace {
		packA(K, w.ap, g.transA, g.a, g.lda, i0, mb, pc, kc)
		return aView{p: w.ap, s: K.mr, panel: K.mr * kc}
	}
	var v aView
	if g.transA {
		v = aView{p: g.a[pc*g.lda+i0:], s: g.lda, panel: K.mr}
	} else {
		v = aView{p: g.a[i0*g.lda+pc:], s: g.lda, panel: K.mr * g.lda, row: true}
	}
	if full := mb / K.mr * K.mr; full < mb {
		v.edge = w.ap[:K.mr*kc]
		packA(K, v.edge, g.transA, g.a, g.lda, i0+full, mb-full, pc, kc)
	}
	return v
}

// prepareRowPairs rounds rows [i0, i0+mb) of a row-major A at depth [pc, pc+kc) to rows of
// bfloat16 pairs in w.ap, pairRows(kc) words a row (zero past ⌈kc/2⌉), for the row form of a
// kernel of pairs: no transposition into micro-panels. Rows past the last whole tile are
// packed as a micro-panel after them.
func (g *gemmCall) prepareRowPairs(w *gemmWorker, i0, mb, pc, kc int) aView {
	K := g.kern
	q, words := K.pairRows(kc), (kc+1)/2
	full := mb / K.mr * K.mr
	for r := range full {
		row := (i0+r)*g.lda + pc
		packRowPairs(w.ap[r*q:r*q+words], g.a[row:row+kc], 4*g.lda) // prefetch the next row
		clear(w.ap[r*q+words : (r+1)*q])
	}
	v := aView{p: w.ap, s: q, panel: K.mr * q, row: true}
	if full < mb {
		off := (full*q + 15) &^ 15
		v.edge = w.ap[off : off+K.mr*kc]
		packPairsA(K.mr, v.edge, false, g.a, g.lda, i0+full, mb-full, pc, kc)
	}
	return v
}

// prepareTileRows rounds rows [i0, i0+mb) of a row-major A at depth [pc, pc+kc) to bfloat16
// pairs in the AMX kernel's tile rows (see amxTileWord): each step's 16 pair words of a
// micro-panel's 32 rows are one contiguous 2 KiB, so a tile load reads 1 KiB in a run rather
// than 16 rows far apart. The words past ⌈kc/2⌉ up to the whole step are zero. Rows past mb
// in the last micro-panel are not written: the kernel reads them, and the rows of C they make
// are thrown away (a row of C depends only on the same row of A).
func (g *gemmCall) prepareTileRows(w *gemmWorker, i0, mb, pc, kc int) aView {
	q, words := amxPairRows(kc), (kc+1)/2
	// The padding of a row: the words of its last step past its depth, from its first word.
	padFrom := amxTileWord(q, 0, words)
	padTo := amxTileWord(q, 0, q-1) + 1
	for r := range mb {
		row := (i0+r)*g.lda + pc
		d := w.ap[amxTileWord(q, r, 0):]
		packRowPairsRuns(d, g.a[row:row+kc], amxStepWords, 4*g.lda) // prefetch the next row
		if words < q {
			clear(d[padFrom:padTo])
		}
	}
	return aView{p: w.ap, s: amxPairStep, panel: g.kern.mr * q, row: true}
}

// prepareTileRowsT is prepareTileRows for a transposed A: op(A)'s rows are A's columns, so
// each micro-panel of 32 of them is packed as pairs of depths down A's rows (packDepthPairs:
// pair p of row r at word p·32 + r, zero past ⌈kc/2⌉ up to pairRows), then each step's 16
// pairs are transposed into its tile rows.
func (g *gemmCall) prepareTileRowsT(w *gemmWorker, i0, mb, pc, kc int) aView {
	K := g.kern
	q, words := amxPairRows(kc), (kc+1)/2
	w.at = growAligned(w.at, q*K.mr)
	t := w.at[:q*K.mr]
	for r0 := 0; r0 < mb; r0 += K.mr {
		h := min(K.mr, mb-r0)
		if h < K.mr {
			clear(t[:words*K.mr])
		}
		packDepthPairs(t, K.mr, g.a[pc*g.lda+i0+r0:], g.lda, kc, h)
		clear(t[words*K.mr:])
		for p := 0; p < q; p += amxPairStep {
			d := amxTileWord(q, r0, p)
			packPairsBT(K.mr, amxPairStep, t[p*K.mr:], K.mr, w.ap[d:d+amxStepWords])
		}
	}
	return aView{p: w.ap, s: amxPairStep, panel: K.mr * q, row: true}
}

// macroKernel multiplies the A micro-panels of rows [i0, i0+mb) by the B micro-panels of
// columns [j0, j0+nb), at depth [pc, pc+kc), into C, one MR×NR tile at a time: a B
// micro-panel stays in L1 while the A micro-panels stream past.
func (g *gemmCall) macroKernel(w *gemmWorker, av *aView, bv *bView, i0, mb, j0, nb, pc, kc int, beta float32) {
	K := g.kern
	ldc := g.ldc
	fullRows := mb / K.mr * K.mr
	// A kernel with tileAhead starts C from the bias itself, and each tile of a column
	// prefetches its share of the next B micro-panel.
	ahead := K.tileAhead != nil && av.row
	biasFirst := ahead && g.bias != nil && pc == 0
	tiles := (mb + K.mr - 1) / K.mr
	for jp := 0; jp*K.nr < nb; jp++ {
		j := j0 + jp*K.nr
		nr := min(K.nr, nb-jp*K.nr)
		b, sb := bv.p, bv.s
		switch {
		case !bv.perPanel:
			b = b[jp*bv.panel:]
		case bv.p != nil && nr == K.nr:
			b = b[jp*bv.panel:]
		default:
			// Pack this micro-panel now, just before the A micro-panels stream past it.
			w.bp = growAligned(w.bp, K.kc*K.nr)
			packB(K, w.bp, g.transB, g.b, g.ldb, pc, kc, j, nr, 0, 1)
			b, sb = w.bp, K.nr
		}
		// The next B micro-panel, where it is packed already, and each tile's share of it.
		var next, bias []float32
		share := 0
		if ahead && !bv.perPanel && (jp+1)*K.nr < nb {
			next = bv.p[(jp+1)*bv.panel:][:K.panelRows(kc)*K.nr]
			share = (len(next)/tiles + 15) &^ 15
		}
		if biasFirst {
			bias = g.bias[j : j+nr]
		}
		for ir := 0; ir < mb; ir += K.mr {
			mr := min(K.mr, mb-ir)
			c := &g.c[(i0+ir)*ldc+j]
			switch {
			case ahead:
				var p *float32
				n := 0
				if lo := ir / K.mr * share; lo < len(next) {
					p, n = &next[lo], 4*min(share, len(next)-lo)
				}
				K.tileAhead(kc, &av.p[ir/K.mr*av.panel], av.s, &b[0], sb, c, ldc, mr, nr, g.alpha, beta, bias, p, n)
			case ir >= fullRows && av.edge != nil:
				K.tile(kc, &av.edge[0], K.mr, &b[0], sb, c, ldc, mr, nr, g.alpha, beta)
			case av.row:
				K.tileRow(kc, &av.p[ir/K.mr*av.panel], av.s, &b[0], sb, c, ldc, mr, nr, g.alpha, beta)
			default:
				K.tile(kc, &av.p[ir/K.mr*av.panel], av.s, &b[0], sb, c, ldc, mr, nr, g.alpha, beta)
			}
			if g.bias != nil && pc == 0 && !biasFirst {
				// The tile's first depth block was stored with beta 0; add the bias while the
				// tile is still in L1 (the sum rounds as alpha·AB + C with C the bias would).
				addToRows(g.c[(i0+ir)*ldc+j:], ldc, mr, g.bias[j:j+nr])
			}
			if g.act != nil && pc+kc == g.k {
				g.act(g.c[(i0+ir)*ldc+j:], ldc, mr, nr)
			}
		}
	}
}

// freeList keeps workspaces for reuse across calls. Unlike sync.Pool it never drops them, so
// steady-state calls allocate nothing even across garbage collections; it holds at most as
// many as were ever in use at once.
type freeList[T any] struct {
	mu    sync.Mutex
	items []*T
	init  func(*T) // prepares a new item
}

func (f *freeList[T]) get() *T {
	f.mu.Lock()
	if n := len(f.items); n > 0 {
		x := f.items[n-1]
		f.items = f.items[:n-1]
		f.mu.Unlock()
		return x
	}
	f.mu.Unlock()
	x := new(T)
	if f.init != nil {
		f.init(x)
	}
	return x
}

func (f *freeList[T]) put(x *T) {
	f.mu.Lock()
	f.items = append(f.items, x)
	f.mu.Unlock()
}

// scratchBuf is a growable float buffer for small temporaries (gathered vectors).
type scratchBuf struct{ buf []float32 }

// floats returns a slice of n floats, reusing the buffer when it is large enough.
func (s *scratchBuf) floats(n int) []float32 {
	if cap(s.buf) < n {
		s.buf = make([]float32, n)
	}
	return s.buf[:n]
}

var scratch freeList[scratchBuf]

// alignedFloats returns n zeroed floats whose first element is 64-byte (cache-line) aligned.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+15)
	off := 0
	if r := uintptr(unsafe.Pointer(&s[0])) % 64; r != 0 {
		off = int(64-r) / 4
	}
	return s[off : off+n : off+n]
}

// growAligned returns buf if it holds at least n floats, else a new aligned buffer of n.
func growAligned(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf[:cap(buf)]
	}
	return alignedFloats(n)
}
