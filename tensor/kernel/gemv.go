package kernel

import "fmt"

const (
	// gemvCols is the widest column chunk of y = x·W (W (k, n)) one task accumulates: its
	// accumulator (4 KiB) stays in L1 while the chunk's rows of W stream past.
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
// y must not overlap x or W. The work is split over the worker pool by output columns (rows
// of W when transW); the weights are streamed once, so large W run at memory bandwidth.
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
	g := gemvCalls.get()
	g.transW, g.k, g.n, g.alpha, g.beta = transW, k, n, alpha, beta
	g.x, g.w, g.ldw, g.y = x[:k], w, ldw, y[:n]
	threads := Threads()
	if k*n < gemvSerialWork {
		threads = 1
	}
	// Split the outputs into chunks, a multiple of threads so the split is even.
	size := gemvCols
	if transW {
		size = gemvRows
	}
	chunks := (n + size - 1) / size
	if threads > 1 {
		chunks = (max(chunks, 2*threads) + threads - 1) / threads * threads
	}
	g.chunk = ((n+chunks-1)/chunks + 7) &^ 7
	chunks = (n + g.chunk - 1) / g.chunk
	if threads == 1 {
		g.run(0, chunks)
	} else {
		Parallel(chunks, 1, g.runFn)
	}
	g.x, g.w, g.y = nil, nil, nil
	gemvCalls.put(g)
}

// gemvCall holds the arguments of one Sgemv call, shared by the threads working on it.
type gemvCall struct {
	transW      bool
	k, n        int
	alpha, beta float32
	x, w, y     []float32
	ldw         int
	chunk       int // outputs per task, a multiple of 8
	runFn       func(lo, hi int)
}

var gemvCalls = freeList[gemvCall]{init: func(g *gemvCall) { g.runFn = g.run }}

// run computes output chunks [lo, hi).
func (g *gemvCall) run(lo, hi int) {
	var acc [max(gemvCols, gemvRows)]float32
	for c := lo; c < hi; c++ {
		j0 := c * g.chunk
		j1 := min(j0+g.chunk, g.n)
		t := acc[:j1-j0]
		if g.transW {
			gemvT(g.x, g.w[j0*g.ldw:], g.ldw, t)
		} else {
			clear(t)
			gemvN(g.x, g.w[j0:], g.ldw, t)
		}
		y := g.y[j0:j1]
		if g.beta == 0 {
			for j, v := range t {
				y[j] = g.alpha * v
			}
		} else {
			for j, v := range t {
				y[j] = g.alpha*v + g.beta*y[j]
			}
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
