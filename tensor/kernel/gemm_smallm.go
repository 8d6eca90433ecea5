package kernel

// The few-rows case of Sgemm: C (m, n) = alpha·A·op(B) + beta·C with m ≤ smallMRows and a
// large B — a decoding step of a few sequences at once (continuous batching), where A holds
// one activation row per sequence and B is a weight matrix read from memory. The blocked
// GEMM packs B and runs tiles taller than m; here B is read once, in the order it lies in
// memory, and each small block of it is used by all m rows while it is in L1: the m rows
// cost little more than one.
//
//	op(B) = B (k, n), GPT-2's Conv1D layout: a task owns a stripe of columns of C and walks
//	  down B in blocks of smallMDepth rows, adding each block into the m stripes of its L1
//	  accumulator with the matrix–vector kernel gemvN (which prefetches the rows ahead).
//	op(B) = Bᵀ, B (n, k), the nn.Linear and tied LM-head layout: a task owns a run of rows of
//	  B and dots each small group of them with the m rows of A (gemvT).

const (
	// smallMRows is the most rows of A that take this path.
	smallMRows = 8
	// smallMWork is the smallest k·n (the size of B) that takes it: below it B stays in the
	// caches and the blocked GEMM is as fast.
	smallMWork = 1 << 16
	// smallMAcc is the size in floats of a task's accumulator, (m, stripe): 16 KiB of L1.
	smallMAcc = 4096
	// smallMDepth is how many rows of B (k, n) all m rows use before the next block.
	smallMDepth = 8
	// smallMTBytes bounds the rows of Bᵀ (n, k) dotted with the m rows of A at a time.
	smallMTBytes = 16 << 10
)

// smallMCall holds the arguments of one few-rows Sgemm call, shared by its tasks.
type smallMCall struct {
	transB      bool
	m, n, k     int
	alpha, beta float32
	a, b, c     []float32
	lda, ldb    int
	ldc         int
	width       int // columns of C per task
	runFn       func(lo, hi int)
}

var smallMCalls = freeList[smallMCall]{init: func(g *smallMCall) { g.runFn = g.run }}

// smallMOn turns the path on; benchmarks turn it off to compare with the blocked GEMM.
var smallMOn = true

// useSmallM reports whether Sgemm runs (m, n, k) through gemmSmallM.
func useSmallM(transA bool, m, n, k int) bool {
	return smallMOn && !transA && m >= 2 && m <= smallMRows && k*n >= smallMWork
}

// gemmSmallM computes C = alpha·A·op(B) + beta·C for A (m, k) with row stride lda.
func gemmSmallM(transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g := smallMCalls.get()
	g.transB, g.m, g.n, g.k, g.alpha, g.beta = transB, m, n, k, alpha, beta
	g.a, g.b, g.c, g.lda, g.ldb, g.ldc = a, b, c, lda, ldb, ldc
	// Stripes as wide as the accumulator allows (a multiple of 16 columns), at least two per
	// thread so that uneven progress balances, and of even width.
	widest := max(16, smallMAcc/m&^15)
	threads := Threads()
	tasks := max((n+widest-1)/widest, 2*threads)
	g.width = min(widest, ((n+tasks-1)/tasks+15)&^15)
	Parallel((n+g.width-1)/g.width, 1, g.runFn)
	g.a, g.b, g.c = nil, nil, nil
	smallMCalls.put(g)
}

// run computes the column stripes [lo, hi) of C.
func (g *smallMCall) run(lo, hi int) {
	s := scratch.get()
	acc := s.floats(g.m * g.width)
	for t := lo; t < hi; t++ {
		j0 := t * g.width
		w := min(g.width, g.n-j0)
		if g.transB {
			g.stripeT(acc, j0, w)
		} else {
			g.stripeN(acc, j0, w)
		}
		for i := range g.m {
			storeScaled(g.alpha, g.beta, acc[i*w:(i+1)*w], g.c[i*g.ldc+j0:i*g.ldc+j0+w])
		}
	}
	scratch.put(s)
}

// stripeN sets acc (m, w) to A·B[:, j0:j0+w] for B (k, n).
func (g *smallMCall) stripeN(acc []float32, j0, w int) {
	acc = acc[:g.m*w]
	clear(acc)
	for p0 := 0; p0 < g.k; p0 += smallMDepth {
		p1 := min(p0+smallMDepth, g.k)
		blk := g.b[p0*g.ldb+j0:]
		for i := range g.m {
			gemvN(g.a[i*g.lda+p0:i*g.lda+p1], blk, g.ldb, acc[i*w:(i+1)*w])
		}
	}
}

// stripeT sets acc (m, w) to A·B[j0:j0+w, :]ᵀ for B (n, k).
func (g *smallMCall) stripeT(acc []float32, j0, w int) {
	rows := max(1, smallMTBytes/(4*g.k))
	for r0 := 0; r0 < w; r0 += rows {
		r1 := min(r0+rows, w)
		blk := g.b[(j0+r0)*g.ldb:]
		for i := range g.m {
			gemvT(g.a[i*g.lda:i*g.lda+g.k], blk, g.ldb, acc[i*w+r0:i*w+r1])
		}
	}
}
