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
// With at least as many row blocks as threads, the threads pack the B panel together and
// then take row blocks, each packing its own A blocks. With fewer rows (a prefill, a small
// batch) they split the columns instead: each packs the B micro-panels it multiplies and its
// own copy of the A block, so no packed data crosses between cores, which costs more than
// packing a small A twice. Edge tiles run the full micro-kernel on zero-padded panels into a
// scratch tile, and only its part inside C is written.
const (
	gemmMR = 6    // rows of the register tile: 6×16 needs 12 of the 16 ymm registers
	gemmNR = 16   // columns of the register tile: two ymm vectors of 8 floats
	gemmKC = 384  // depth of a packed block: a (KC, NR) B micro-panel is 24 KiB, in L1
	gemmMC = 264  // rows of a packed A block: (MC, KC) is 396 KiB, in L2
	gemmNC = 3072 // columns of a packed B panel: (KC, NC) is 4.5 MiB, in L3

	// gemmSerialWork is the size m·n·k under which Sgemm runs on the calling goroutine only:
	// below it, handing work to the pool costs more than it saves.
	gemmSerialWork = 1 << 20
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C, where op(X) is X or Xᵀ, as BLAS does, on
// row-major matrices:
//
//	op(A) is (m, k): A is (m, k) with row stride lda, or (k, m) when transA
//	op(B) is (k, n): B is (k, n) with row stride ldb, or (n, k) when transB
//	C is (m, n) with row stride ldc
//
// beta == 0 overwrites C without reading it (so C may hold NaN garbage). As in BLAS,
// alpha == 0 or k == 0 only scales C by beta and does not read A or B. m == 1 and n == 1 run
// the matrix–vector kernel (see Sgemv). C must not overlap A or B. Slices that are too short
// for the sizes and strides given panic.
//
// The work is split over the worker pool; steady-state calls do not allocate.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernel: Sgemm with negative size m=%d n=%d k=%d", m, n, k))
	}
	if transA {
		checkMatrix("Sgemm", "A", k, m, a, lda)
	} else {
		checkMatrix("Sgemm", "A", m, k, a, lda)
	}
	if transB {
		checkMatrix("Sgemm", "B", n, k, b, ldb)
	} else {
		checkMatrix("Sgemm", "B", k, n, b, ldb)
	}
	checkMatrix("Sgemm", "C", m, n, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scaleMatrix(m, n, beta, c, ldc)
		return
	}
	switch {
	case m == 1:
		gemmRow(transA, transB, n, k, alpha, a, lda, b, ldb, beta, c[:n])
	case n == 1:
		gemmColumn(transA, transB, m, k, alpha, a, lda, b, ldb, beta, c, ldc)
	default:
		g := gemmCalls.get()
		g.run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
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
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int

	threads int  // threads this call uses
	mc      int  // rows per A block, a multiple of MR
	mBlocks int  // A blocks: ceil(m / mc)
	nSplit  int  // column chunks each B panel is split into across threads
	localB  bool // each task packs the B micro-panels it uses (threads split columns only)

	// The current (jc, pc) block.
	jc, nc, pc, kc int
	betaK          float32 // beta for the first depth block, then 1
	panels         int     // NR micro-panels in the B panel: ceil(nc / NR)
	chunk          int     // micro-panels per column chunk

	bp []float32 // packed B panel, (KC, NC) as NC/NR micro-panels

	packFn, computeFn func(lo, hi int) // bound methods, made once per pooled call
}

// gemmWorker is the private workspace of one thread: its packed A block and an edge tile.
type gemmWorker struct {
	ap   []float32 // packed A block, (MC, KC) as MC/MR micro-panels
	tile [gemmMR * gemmNR]float32
}

var (
	gemmCalls = freeList[gemmCall]{init: func(g *gemmCall) {
		g.bp = alignedFloats(gemmKC * gemmNC)
		g.packFn = g.packB
		g.computeFn = g.compute
	}}
	gemmWorkers = freeList[gemmWorker]{init: func(w *gemmWorker) {
		w.ap = alignedFloats(gemmMC * gemmKC)
	}}
)

func (g *gemmCall) run(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g.transA, g.transB, g.m, g.n, g.k = transA, transB, m, n, k
	g.alpha, g.beta = alpha, beta
	g.a, g.b, g.c, g.lda, g.ldb, g.ldc = a, b, c, lda, ldb, ldc
	g.partition()
	// Even depth blocks of at most KC: as few passes over C as KC allows, and no thin remnant.
	kBlocks := (k + gemmKC - 1) / gemmKC
	kc := (k + kBlocks - 1) / kBlocks
	for jc := 0; jc < n; jc += gemmNC {
		g.jc, g.nc = jc, min(gemmNC, n-jc)
		g.panels = (g.nc + gemmNR - 1) / gemmNR
		g.chunk = (g.panels + g.nSplit - 1) / g.nSplit
		for pc := 0; pc < k; pc += kc {
			g.pc, g.kc = pc, min(kc, k-pc)
			g.betaK = beta
			if pc > 0 {
				g.betaK = 1
			}
			tasks := g.mBlocks * g.nSplit
			switch {
			case g.threads == 1:
				g.packB(0, g.panels)
				g.compute(0, tasks)
			case g.localB:
				Parallel(tasks, 1, g.computeFn)
			default:
				// Pack the B panel together, then share it.
				Parallel(g.panels, 8, g.packFn)
				Parallel(tasks, 1, g.computeFn)
			}
		}
	}
	g.a, g.b, g.c = nil, nil, nil // do not keep the caller's matrices alive
}

// partition chooses the A block height and how the work of one (jc, pc) block is split: over
// row blocks when there are at least as many as threads, else also over column chunks.
func (g *gemmCall) partition() {
	g.threads = Threads()
	if g.m*g.n*g.k < gemmSerialWork {
		g.threads = 1
	}
	blocks := (g.m + gemmMC - 1) / gemmMC
	g.nSplit = 1
	if g.threads > 1 {
		if blocks >= g.threads {
			blocks = (blocks + g.threads - 1) / g.threads * g.threads
		} else {
			g.nSplit = (g.threads + blocks - 1) / blocks
		}
	}
	// Even blocks, rounded up to whole micro-panels.
	g.mc = ((g.m+blocks-1)/blocks + gemmMR - 1) / gemmMR * gemmMR
	g.mBlocks = (g.m + g.mc - 1) / g.mc
	// When threads split only the columns, no B micro-panel is used by two tasks: each task
	// packs its own, and no packed data crosses between cores.
	g.localB = g.threads > 1 && g.mBlocks == 1
}

// packB packs B micro-panels [lo, hi) of the current block.
func (g *gemmCall) packB(lo, hi int) {
	packB(g.bp, g.transB, g.b, g.ldb, g.pc, g.kc, g.jc, g.nc, lo, hi)
}

// compute runs tasks [lo, hi) of the current block; task t is row block t / nSplit against
// column chunk t % nSplit.
func (g *gemmCall) compute(lo, hi int) {
	w := gemmWorkers.get()
	packed := -1 // the row block now in w.ap
	for t := lo; t < hi; t++ {
		ib, jb := t/g.nSplit, t%g.nSplit
		i0 := ib * g.mc
		mb := min(g.mc, g.m-i0)
		if ib != packed {
			packA(w.ap, g.transA, g.a, g.lda, i0, mb, g.pc, g.kc)
			packed = ib
		}
		jp0 := jb * g.chunk
		jp1 := min(jp0+g.chunk, g.panels)
		if g.localB {
			g.packB(jp0, jp1)
		}
		g.macroKernel(w, w.ap, i0, mb, jp0, jp1)
	}
	gemmWorkers.put(w)
}

// macroKernel multiplies the packed A block ap (rows [i0, i0+mb) of C) by B micro-panels
// [jp0, jp1) of the packed panel, one MR×NR tile at a time; w gives the edge-tile scratch.
func (g *gemmCall) macroKernel(w *gemmWorker, ap []float32, i0, mb, jp0, jp1 int) {
	kc, ldc := g.kc, g.ldc
	for jp := jp0; jp < jp1; jp++ {
		j := g.jc + jp*gemmNR
		nr := min(gemmNR, g.jc+g.nc-j)
		bp := &g.bp[jp*gemmNR*kc]
		for ip := 0; ip*gemmMR < mb; ip++ {
			i := i0 + ip*gemmMR
			mr := min(gemmMR, i0+mb-i)
			a := &ap[ip*gemmMR*kc]
			if mr == gemmMR && nr == gemmNR {
				sgemmKernel(kc, a, bp, &g.c[i*ldc+j], ldc, g.alpha, g.betaK)
				continue
			}
			// Edge tile: compute the full tile aside, keep the part inside C.
			sgemmKernel(kc, a, bp, &w.tile[0], gemmNR, 1, 0)
			for r := range mr {
				crow := g.c[(i+r)*ldc+j : (i+r)*ldc+j+nr]
				trow := w.tile[r*gemmNR : r*gemmNR+nr]
				if g.betaK == 0 {
					for x, v := range trow {
						crow[x] = g.alpha * v
					}
				} else {
					for x, v := range trow {
						crow[x] = g.alpha*v + g.betaK*crow[x]
					}
				}
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
