package kernel

import (
	"fmt"
	"sync/atomic"
)

const (
	// gemvSplitCols is the widest output that y = x·W (W (k, n)) splits by rows of W: each
	// thread accumulates all n outputs of its rows in a private buffer and streams contiguous
	// stretches of W, which the prefetchers follow best when W comes from DRAM; the caller
	// then sums the buffers. Wider outputs are split by columns instead.
	gemvSplitCols = 4096
	// gemvCols is the widest stretch of y that rows of W are added into at a time: the
	// accumulator (4 KiB) stays in L1 while the rows stream past.
	gemvCols = 1024
	// gemvRows is the most rows of W (n, k) one task of y = x·Wᵀ dots with x.
	gemvRows = 256
	// gemvSerialWork is the size k·n under which Sgemv runs on the calling goroutine only.
	gemvSerialWork = 1 << 16
)

// Sgemv computes the row vector y = alpha·x·op(W) + beta·y, the m == 1 case of Sgemm that
// decoding runs on (one token times a weight matrix):
//
//	x is (k) and y is (n)
//	op(W) is (k, n): W is (k, n) with row stride ldw (GPT-2 Conv1D layout: y = x·W),
//	or (n, k) when transW (nn.Linear and tied LM-head layout: y = x·Wᵀ)
//
// beta == 0 overwrites y without reading it; alpha == 0 or k == 0 only scales y by beta.
// y must not overlap x or W. The work is split over the worker pool into contiguous stretches
// of W; the weights are streamed once, so large W run at memory bandwidth. Steady-state calls
// do not allocate.
func Sgemv(transW bool, k, n int, alpha float32, x, w []float32, ldw int, beta float32, y []float32) {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("kernel: Sgemv with negative size k=%d n=%d", k, n))
	}
	if len(x) < k || len(y) < n {
		panic(fmt.Sprintf("kernel: Sgemv: len(x)=%d, len(y)=%d, too short for k=%d n=%d", len(x), len(y), k, n))
	}
	if transW {
		checkMatrix("Sgemv", "W", n, k, w, ldw)
	} else {
		checkMatrix("Sgemv", "W", k, n, w, ldw)
	}
	if n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scaleMatrix(1, n, beta, y, n)
		return
	}
	if k*n < gemvSerialWork && sgemvSmall(transW, k, n, alpha, x, w, ldw, beta, y) {
		return
	}
	g := gemvCalls.get()
	g.transW, g.k, g.n, g.alpha, g.beta = transW, k, n, alpha, beta
	g.x, g.w, g.ldw, g.y = x[:k], w, ldw, y[:n]
	threads := Threads()
	if k*n < gemvSerialWork {
		threads = 1
	}
	switch {
	case !transW && n <= gemvSplitCols:
		g.runRows(threads)
	case threads == 1:
		g.chunk = n
		g.run(0, 1)
	default:
		// Split the outputs into chunks, a multiple of threads so the split is even.
		size := gemvCols
		if transW {
			size = gemvRows
		}
		chunks := (max((n+size-1)/size, 2*threads) + threads - 1) / threads * threads
		g.chunk = ((n+chunks-1)/chunks + 15) &^ 15
		Parallel((n+g.chunk-1)/g.chunk, 1, g.runFn)
	}
	g.x, g.w, g.y = nil, nil, nil
	gemvCalls.put(g)
}

// sgemvSmall runs a small Sgemv on the calling goroutine without a workspace, when the output
// can be formed in y itself: y = alpha·x·op(W), or y += x·W. Decoding's attention runs many
// such products (a query against the keys of one head) from every thread at once, and taking
// a shared workspace for each would serialise them. It reports false for the other cases.
func sgemvSmall(transW bool, k, n int, alpha float32, x, w []float32, ldw int, beta float32, y []float32) bool {
	x, y = x[:k], y[:n]
	switch {
	case beta == 0 && transW:
		gemvT(x, w, ldw, y)
	case beta == 0:
		clear(y)
		gemvNBlocks(x, w, ldw, y)
	case beta == 1 && alpha == 1 && !transW:
		gemvNBlocks(x, w, ldw, y)
		return true
	default:
		return false
	}
	if alpha != 1 {
		scaleMatrix(1, n, alpha, y, n)
	}
	return true
}

// gemvCall holds the arguments of one Sgemv call, shared by the threads working on it.
type gemvCall struct {
	transW      bool
	k, n        int
	alpha, beta float32
	x, w, y     []float32
	ldw         int
	chunk       int          // outputs (or, in runRows, rows of W) per task
	part        []float32    // runRows: one n-float partial sum per chunk of rows, in order
	next        atomic.Int64 // runRows: the next chunk of rows
	runFn       func(lo, hi int)
	rowsFn      func(lo, hi int)
}

var gemvCalls = freeList[gemvCall]{init: func(g *gemvCall) {
	g.runFn = g.run
	g.rowsFn = g.sumRows
}}

// run computes output chunks [lo, hi) of y, each from all k inputs.
func (g *gemvCall) run(lo, hi int) {
	s := scratch.get()
	for c := lo; c < hi; c++ {
		j0 := c * g.chunk
		j1 := min(j0+g.chunk, g.n)
		t := s.floats(j1 - j0)
		if g.transW {
			if g.beta == 0 {
				// Write y directly: it is not read.
				y := g.y[j0:j1]
				gemvT(g.x, g.w[j0*g.ldw:], g.ldw, y)
				if g.alpha != 1 {
					for j := range y {
						y[j] *= g.alpha
					}
				}
				continue
			}
			gemvT(g.x, g.w[j0*g.ldw:], g.ldw, t)
		} else {
			clear(t)
			gemvNBlocks(g.x, g.w[j0:], g.ldw, t)
		}
		g.store(t, g.y[j0:j1], false)
	}
	scratch.put(s)
}

// runRows computes y = alpha·x·W + beta·y with W split by rows: the rows go out in
// contiguous chunks, a few per thread, from a shared counter, so a thread that starts late
// (or not at all) takes fewer and nobody waits for it. Each chunk is summed into its own
// buffer, g.part[c·n:], and the buffers are added in the order of the chunks at the end, so
// the bits of y do not depend on which thread took which chunk: the same call gives the same
// result every time.
func (g *gemvCall) runRows(threads int) {
	g.chunk = ((g.k+4*threads-1)/(4*threads) + 3) &^ 3
	chunks := (g.k + g.chunk - 1) / g.chunk
	threads = min(threads, chunks)
	if threads == 1 {
		s := scratch.get()
		t := s.floats(g.n)
		clear(t)
		gemvNBlocks(g.x, g.w, g.ldw, t)
		g.store(t, g.y, false)
		scratch.put(s)
		return
	}
	if cap(g.part) < chunks*g.n {
		g.part = make([]float32, chunks*g.n)
	}
	g.part = g.part[:chunks*g.n]
	g.next.Store(0)
	Parallel(threads, 1, g.rowsFn)
	for c := range chunks {
		g.store(g.part[c*g.n:(c+1)*g.n], g.y, c > 0)
	}
}

// sumRows runs as threads [lo, hi) of runRows: each takes chunks of rows until none are left.
func (g *gemvCall) sumRows(lo, hi int) {
	chunks := int64((g.k + g.chunk - 1) / g.chunk)
	for range hi - lo {
		for {
			c := g.next.Add(1) - 1
			if c >= chunks {
				break
			}
			part := g.part[int(c)*g.n : int(c+1)*g.n]
			clear(part)
			p0 := int(c) * g.chunk
			p1 := min(p0+g.chunk, g.k)
			gemvNBlocks(g.x[p0:p1], g.w[p0*g.ldw:], g.ldw, part)
		}
	}
}

// gemvNBlocks adds x·W to y (see gemvNGo) one block of gemvCols columns at a time, so that
// the stretch of y the rows of W are added into stays in L1.
func gemvNBlocks(x, w []float32, ldw int, y []float32) {
	for j0 := 0; j0 < len(y); j0 += gemvCols {
		j1 := min(j0+gemvCols, len(y))
		gemvN(x, w[j0:], ldw, y[j0:j1])
	}
}

// store writes alpha·t + beta·y into y, or adds alpha·t to it when add is set.
func (g *gemvCall) store(t, y []float32, add bool) {
	if add {
		axpy(g.alpha, t, y)
		return
	}
	storeScaled(g.alpha, g.beta, t, y)
}

// storeScaled writes alpha·t + beta·y into y (beta == 0 does not read y); t is the caller's
// scratch and may be overwritten. The common cases run on the vector kernels, with the same
// rounding as the loop.
func storeScaled(alpha, beta float32, t, y []float32) {
	y = y[:len(t)]
	switch {
	case beta == 0 && alpha == 1:
		copy(y, t)
	case beta == 0:
		scalev(y, t, alpha)
	case beta == 1:
		if alpha != 1 {
			scalev(t, t, alpha)
		}
		addTo(y, t)
	default:
		for j, v := range t {
			y[j] = alpha*v + beta*y[j]
		}
	}
}

// gemvNGo adds x·W to y: y[j] += Σ_p x[p]·W[p][j] for j < len(y), p < len(x), where W has
// row stride ldw.
func gemvNGo(x, w []float32, ldw int, y []float32) {
	for p, xp := range x {
		axpyGo(xp, w[p*ldw:p*ldw+len(y)], y)
	}
}

// gemvTGo sets y[j] = Σ_p x[p]·W[j][p] for j < len(y), p < len(x), where W has row stride
// ldw.
func gemvTGo(x, w []float32, ldw int, y []float32) {
	for j := range y {
		y[j] = dotGo(x, w[j*ldw:j*ldw+len(x)])
	}
}
