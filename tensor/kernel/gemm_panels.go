package kernel

import (
	"errors"
	"fmt"
	"math"
)

// PanelMatrix is a weight matrix W (N outputs × K inputs) packed once, for y = x·Wᵀ, into the
// B micro-panels of one of Sgemm's kernels. Sgemm packs op(B) on every call; inference
// multiplies the same weights again and again, so packing them once leaves only the
// arithmetic.
//
// NewPanelMatrix packs for bfloat16 compute, as the micro-panels of bfloat16 pairs that
// Sgemm's bfloat16 kernel reads (see packPairsA), 2 bytes a weight: on a 64-token GPT-2
// prefill, packing was a quarter of the time. A GEMM of two rows or more on them gives the
// same bits as Sgemm in bfloat16 compute on the float32 W it was made from: same rounding,
// same blocks, same order of the sums.
//
// NewFloatPanelMatrix packs for float32 compute, as the float32 kernel's micro-panels, 4
// bytes a weight: a GEMM of two rows or more on them gives the bits of Sgemm in float32
// compute where Sgemm packs B (always for W (N, K), read as a transposed B). Where Sgemm
// would read a (K, N) weight in place instead (a few rows against GPT-2's Conv1D layout) it
// sums in other depth blocks, so the last bits may differ; the panels are read as one
// stream each, where a B read in place fetches a row of 128 bytes every row stride (a 64-token
// GPT-2 prefill's products, one thread: about 15% faster).
//
// Layout: depth block b (the k blocks Sgemm would use) holds ceil(N/NR) micro-panels one after
// another, each NR·panelRows(kc_b) words (pair words or floats), the last zero-padded past N.
type PanelMatrix struct {
	N, K   int
	kern   *gemmKernel
	kcStep int         // depth of the k blocks, all but the last full
	blocks [][]float32 // per depth block, the micro-panels
}

// PanelsAvailable reports whether NewPanelMatrix can pack for this CPU: bfloat16 compute is
// set (SetCompute) and the CPU runs it.
func PanelsAvailable() bool { return activeGemmKernel().pairs }

// NewPanelMatrix packs the float32 weight w: (N, K) row-major, or (K, N) when kn (GPT-2's
// Conv1D layout). It fails unless PanelsAvailable.
func NewPanelMatrix(w []float32, n, k int, kn bool) (*PanelMatrix, error) {
	checkQuantSource("NewPanelMatrix", w, n, k)
	loadTuningOnce()
	K := gemmKernelFor(k)
	if !K.pairs {
		return nil, errNoBF16
	}
	return newPanelMatrix(K, w, n, k, kn), nil
}

// FloatPanelsAvailable reports whether NewFloatPanelMatrix can pack for this CPU: its
// float32 kernel has a matrix–vector kernel on its micro-panels (AVX-512 or AVX2; not the
// pure-Go kernel).
func FloatPanelsAvailable() bool { return floatGemmKernel().gemv != nil }

var errNoFloatPanels = errors.New("float32 panels need AVX2 or AVX-512 (or QKV_CPU turned them off)")

// NewFloatPanelMatrix packs the float32 weight w, (N, K) row-major or (K, N) when kn, as the
// float32 kernel's micro-panels. It fails unless FloatPanelsAvailable.
func NewFloatPanelMatrix(w []float32, n, k int, kn bool) (*PanelMatrix, error) {
	checkQuantSource("NewFloatPanelMatrix", w, n, k)
	loadTuningOnce()
	if !FloatPanelsAvailable() {
		return nil, errNoFloatPanels
	}
	return newPanelMatrix(floatGemmKernel(), w, n, k, kn), nil
}

// Float reports whether the panels hold float32 weights (NewFloatPanelMatrix), not bfloat16
// pairs.
func (p *PanelMatrix) Float() bool { return !p.kern.pairs }

// newPanelMatrix packs w, as NewPanelMatrix describes, into K's micro-panels.
func newPanelMatrix(K *gemmKernel, w []float32, n, k int, kn bool) *PanelMatrix {
	p := &PanelMatrix{N: n, K: k, kern: K}
	p.kcStep = depthStep(k, K.kc) // the blocks gemmCall.plan would use
	transB, ldb := true, k        // op(B) = Wᵀ: W (N, K) read as Bᵀ
	if kn {
		transB, ldb = false, n
	}
	panels := (n + K.nr - 1) / K.nr
	// Pack a group of micro-panels at a time into slots of full float32 size (the packers use
	// the second half of a slot), then keep the first half of each.
	const group = 16
	tmp := alignedFloats(group * K.nr * p.kcStep)
	for pc := 0; pc < k; pc += p.kcStep {
		kc := min(p.kcStep, k-pc)
		size := K.panelRows(kc) * K.nr
		blk := alignedFloats(panels * size)
		for jp0 := 0; jp0 < panels; jp0 += group {
			jp1 := min(jp0+group, panels)
			j0 := jp0 * K.nr
			packB(K, tmp, transB, w, ldb, pc, kc, j0, min(n-j0, (jp1-jp0)*K.nr), 0, jp1-jp0)
			for jp := jp0; jp < jp1; jp++ {
				copy(blk[jp*size:(jp+1)*size], tmp[(jp-jp0)*K.nr*kc:])
			}
		}
		p.blocks = append(p.blocks, blk)
	}
	return p
}

// Bytes is the memory the panels take.
func (p *PanelMatrix) Bytes() int64 {
	var b int64
	for _, blk := range p.blocks {
		b += 4 * int64(len(blk))
	}
	return b
}

// panels returns the micro-panels of the depth block at pc, from the one holding column j,
// and the distance between micro-panels.
func (p *PanelMatrix) panels(pc, j int) ([]float32, int) {
	kc := min(p.kcStep, p.K-pc)
	size := p.kern.panelRows(kc) * p.kern.nr
	return p.blocks[pc/p.kcStep][j/p.kern.nr*size:], size
}

// Row writes row i of W (the K weights of output i) into dst: bfloat16 values widened, or
// the float32 weights.
func (p *PanelMatrix) Row(i int, dst []float32) {
	if i < 0 || i >= p.N || len(dst) < p.K {
		panic(fmt.Sprintf("kernel: PanelMatrix.Row(%d) of a %d×%d matrix into %d floats", i, p.N, p.K, len(dst)))
	}
	nr := p.kern.nr
	for pc := 0; pc < p.K; pc += p.kcStep {
		kc := min(p.kcStep, p.K-pc)
		panel, _ := p.panels(pc, i)
		if p.Float() {
			for q := range kc {
				dst[pc+q] = panel[q*nr+i%nr]
			}
			continue
		}
		for q := range kc {
			word := math.Float32bits(panel[q/2*nr+i%nr])
			dst[pc+q] = bf16Widen(uint16(word >> (16 * (q % 2))))
		}
	}
}

// GemmPanels computes Y = alpha·X·Wᵀ + beta·Y for the packed W (N, K) and M input rows: X is
// (M, K) with row stride ldx and Y is (M, N) with row stride ldy. On bfloat16 panels the
// inputs are rounded to bfloat16 and the products summed in float32, as Sgemm does in
// bfloat16 compute, whatever the compute set now; on float32 panels it is float32 throughout,
// as Sgemm in float32 compute. M == 1 (a decoding step) runs a matrix–vector kernel that
// streams the panels once, with its own order of the sums. beta == 0 overwrites Y without
// reading it. Y must not overlap X. The work is split over the worker pool; steady-state calls
// do not allocate.
func GemmPanels(p *PanelMatrix, M int, alpha float32, x []float32, ldx int, beta float32, y []float32, ldy int) {
	gemmPanels("GemmPanels", p, M, alpha, x, ldx, beta, nil, nil, y, ldy)
}

// An Activation applies an element-wise function in place to rows rows of n values, ld apart
// from c[0], such as GELUErfRows: GemmPanelsBias applies it to each tile of its output as the
// tile is stored, one call a tile.
type Activation func(c []float32, ld, rows, n int)

// GemmPanelsBias computes Y = act(X·Wᵀ + bias) for the packed W (N, K), M input rows X (M, K)
// with row stride ldx and Y (M, N) with row stride ldy: GemmPanels with alpha 1 on a Y whose
// rows were first set to bias (N values), then act applied to Y, with the same bits, but
// without the passes over Y that these would take: each tile of Y takes the bias right after
// the kernel stores its first depth block, and act right after its last, while the tile is
// in L1. act is nil (none) or an element-wise function such as GELUErfRows, called on the
// rows of a tile. A linear layer's forward pass (x·Wᵀ + b), and with GELU the
// first half of a transformer's MLP, is this product.
func GemmPanelsBias(p *PanelMatrix, M int, x []float32, ldx int, bias []float32, act Activation, y []float32, ldy int) {
	if len(bias) < p.N {
		panic(fmt.Sprintf("kernel: GemmPanelsBias: %d bias values for N=%d", len(bias), p.N))
	}
	gemmPanels("GemmPanelsBias", p, M, 1, x, ldx, 0, bias[:p.N], act, y, ldy)
}

// gemmPanels is GemmPanels and, with bias set (and beta 0), GemmPanelsBias.
func gemmPanels(op string, p *PanelMatrix, M int, alpha float32, x []float32, ldx int, beta float32, bias []float32, act Activation, y []float32, ldy int) {
	if M < 0 {
		panic(fmt.Sprintf("kernel: %s with negative M=%d", op, M))
	}
	checkMatrix(op, "X", M, p.K, x, ldx)
	checkMatrix(op, "Y", M, p.N, y, ldy)
	if M == 0 || p.N == 0 {
		return
	}
	tiles := alpha != 0 && p.K != 0 && !(M == 1 && p.kern.gemv != nil)
	if tiles {
		g := gemmCalls.get()
		g.pre, g.bias, g.act = p, bias, act
		g.run(p.kern, false, true, M, p.N, p.K, alpha, x, ldx, nil, p.K, beta, y, ldy)
		g.pre, g.bias, g.act = nil, nil, nil
		gemmCalls.put(g)
		return
	}
	// Where the tiles do not run, set the rows to the bias, add the product to them, then
	// apply act to them.
	if bias != nil {
		setRows(M, p.N, bias, y, ldy)
		beta = 1
	}
	if alpha == 0 || p.K == 0 {
		scaleMatrix(M, p.N, beta, y, ldy)
	} else {
		gemvPanels(p, alpha, x[:p.K], beta, y[:p.N])
	}
	if act != nil {
		act(y, ldy, M, p.N)
	}
}

// panelGemvCall is one matrix–vector product on a PanelMatrix, shared by the threads.
type panelGemvCall struct {
	v           MatVec
	alpha, beta float32
	y           []float32
	runFn       func(lo, hi int)
}

var (
	panelGemvCalls = freeList[panelGemvCall]{init: func(g *panelGemvCall) { g.runFn = g.run }}
	// panelGemvSums are the threads' output sums: they pass through the kernels' function
	// values, so on the stack they would escape, one allocation a task.
	panelGemvSums freeList[[2][4 * 32]float32]
)

// gemvPanels computes y (N) = alpha·x·Wᵀ + beta·y for one row x (K): on bfloat16 panels x is
// rounded to pairs of bfloat16 once; then each micro-panel is streamed once through a kernel
// that multiplies one row only (the tile kernel would compute MR rows for it). Threads share
// the micro-panels, four at a time.
func gemvPanels(p *PanelMatrix, alpha float32, x []float32, beta float32, y []float32) {
	g := panelGemvCalls.get()
	g.alpha, g.beta, g.y = alpha, beta, y
	g.v.BindPanels(p)
	g.v.Input(x)
	panels := (p.N + p.kern.nr - 1) / p.kern.nr
	if Threads() == 1 || panels < 8 {
		g.run(0, (panels+3)/4)
	} else {
		Parallel((panels+3)/4, 1, g.runFn)
	}
	g.v.Release()
	g.y = nil
	panelGemvCalls.put(g)
}

// run computes the outputs of groups [lo, hi) of four micro-panels.
func (g *panelGemvCall) run(lo, hi int) {
	var acc [4 * 32]float32
	unit := g.v.Unit() // four micro-panels
	for c := lo; c < hi; c++ {
		j0, j1 := c*unit, min((c+1)*unit, g.v.n)
		t := acc[:j1-j0]
		g.v.Rows(j0, j1, t)
		storeScaled(g.alpha, g.beta, t, g.y[j0:j1])
	}
}
