package kernel

import (
	"fmt"
	"slices"
	"unsafe"
)

// MatVec is one matrix–vector product y = x·Wᵀ (an input row x of K values, N outputs) on
// packed weights (int8, bfloat16 rows, panels of bfloat16 pairs or of float32), split by
// outputs for a caller that runs its own parallel loop: a decoding step that runs a whole
// layer in one parallel region (RunSteps). A Bind method sets the weights; Input prepares an
// input row once (quantised for the VNNI kernels, regrouped for the bfloat16 ones, rounded to
// bfloat16 pairs for bfloat16 panels); Rows then computes any range of outputs, and ranges
// may run concurrently. Each output is computed as the format's own GEMV computes it
// (GemvQ8, GemvBF16, GemmPanels on one row, which run on MatVec themselves). Float32 weights
// in their own layout are left to Sgemv: GPT-2's (K, N) layout streams best split by inputs,
// each thread summing its own partial outputs, which a split by outputs cannot do (on a Zen
// 5, decoding float32 weights that way ran 15% slower); packed as float32 panels, each
// micro-panel is one stream of its own and a split by outputs reads them as fast.
//
// Ranges that start at multiples of Unit give the GEMV's bits (the kernels sum four rows at a
// time in another order than one); Chunk gives a good size. x must not change between Input
// and the last Rows. A MatVec keeps its buffers from one Input to the next, so a decoding
// loop allocates nothing. Prefetch reads only what Bind set, so it may run while another
// thread calls Input.
type MatVec struct {
	n, k int
	bf   *BF16Matrix
	q8   *Q8Matrix
	pm   *PanelMatrix

	x      []float32
	xp     []float32 // bfloat16 rows: x regrouped (bf16PermuteX); panels: its pair words
	act    q8Act     // int8: x quantised for the VNNI kernels, when useAct
	useAct bool
}

// BindQ8 sets the weights to the int8 matrix m.
func (v *MatVec) BindQ8(m *Q8Matrix) {
	m.check("MatVec")
	v.bind(m.N, m.K)
	v.q8 = m
}

// BindBF16 sets the weights to the bfloat16 matrix m.
func (v *MatVec) BindBF16(m *BF16Matrix) {
	m.check("MatVec")
	v.bind(m.N, m.K)
	v.bf = m
}

// BindPanels sets the weights to the packed panels p; on bfloat16 panels the input is then
// rounded to bfloat16 pairs, as GemmPanels rounds it.
func (v *MatVec) BindPanels(p *PanelMatrix) {
	if p.kern.gemv == nil {
		panic("kernel: MatVec on panels without the panel GEMV kernels") // panels exist only with them
	}
	v.bind(p.N, p.K)
	v.pm = p
}

func (v *MatVec) bind(n, k int) {
	v.n, v.k = n, k
	v.bf, v.q8, v.pm = nil, nil, nil
	v.x, v.useAct = nil, false
}

// Input prepares the input row x (K values) for Rows: quantised for the VNNI kernels (int8),
// regrouped for the bfloat16 kernels, or rounded to bfloat16 pairs (panels).
func (v *MatVec) Input(x []float32) {
	if len(x) < v.k {
		panic(fmt.Sprintf("kernel: MatVec.Input: len(x)=%d, too short for k=%d", len(x), v.k))
	}
	v.x = x[:v.k]
	switch {
	case v.q8 != nil:
		v.useAct = q8UsesAct() && v.act.quantize(v.x)
	case v.bf != nil:
		v.xp = bf16PermuteX(v.xp[:0], v.x)
	case v.pm != nil && !v.pm.Float():
		// Depth block after depth block, as panelRows reads them.
		v.xp = v.xp[:0]
		for pc := 0; pc < v.k; pc += v.pm.kcStep {
			kc := min(v.pm.kcStep, v.k-pc)
			off := len(v.xp)
			v.xp = slices.Grow(v.xp, (kc+1)/2)[:off+(kc+1)/2]
			packRowPairs(v.xp[off:], v.x[pc:pc+kc], 0)
		}
	}
}

// Release drops the references to the weights and the input.
func (v *MatVec) Release() { v.bind(0, 0) }

// N is the number of outputs.
func (v *MatVec) N() int { return v.n }

// Unit is the granularity of the ranges Rows runs best on: the rows its kernels take at once.
func (v *MatVec) Unit() int {
	if v.pm != nil {
		return 4 * v.pm.kern.nr // four micro-panels
	}
	return 4
}

// Chunk is the outputs per range that split the product evenly over threads, a few ranges
// each, in multiples of Unit and at most quantRows where Unit allows.
func (v *MatVec) Chunk(threads int) int {
	u := v.Unit()
	chunks := quantTasks(max((v.n+quantRows-1)/quantRows, 2*threads), threads)
	return max(u, min(quantRows, ((v.n+chunks-1)/chunks+u-1)/u*u))
}

// Rows sets y[i] = Σ_p W[j0+i][p]·x[p] for j0 ≤ j0+i < j1 (y has at least j1−j0 values).
func (v *MatVec) Rows(j0, j1 int, y []float32) {
	if v.x == nil && v.k > 0 {
		panic("kernel: MatVec.Rows before Input")
	}
	if j0 < 0 || j1 > v.n || j0 > j1 || len(y) < j1-j0 {
		panic(fmt.Sprintf("kernel: MatVec.Rows(%d, %d) of %d outputs into %d values", j0, j1, v.n, len(y)))
	}
	y = y[:j1-j0]
	if len(y) == 0 {
		return
	}
	if v.k == 0 {
		clear(y)
		return
	}
	switch {
	case v.q8 != nil && v.useAct:
		q8RowsAct(v.q8, j0, j1, &v.act, v.x, y)
	case v.q8 != nil:
		q8Rows(v.q8, j0, j1, v.x, y)
	case v.bf != nil:
		bf16Rows(v.bf, j0, j1, v.x, v.xp, y)
	default:
		v.panelRows(j0, j1, y)
	}
}

// panelRows is Rows on panels: the micro-panels from the one holding output j0 (a multiple of
// NR unless it is the only one) are streamed once, four at a time where they can be.
func (v *MatVec) panelRows(j0, j1 int, y []float32) {
	p, nr := v.pm, v.pm.kern.nr
	sums := panelGemvSums.get()
	defer panelGemvSums.put(sums)
	acc, part := &sums[0], &sums[1]
	gemv := p.kern.gemv
	in := v.xp // the input as the panels' rows take it: pair words of x, or x itself
	if p.Float() {
		in = v.x
	}
	for jp := j0 / nr; jp*nr < j1; {
		n := 1
		if (j1-jp*nr+nr-1)/nr >= 4 {
			n = 4
		}
		off := 0
		for pc := 0; pc < p.K; pc += p.kcStep {
			steps := min(p.kcStep, p.K-pc) // rows of the panel: depths, or pairs of them
			if !p.Float() {
				steps = (steps + 1) / 2
			}
			panel, size := p.panels(pc, jp*nr)
			dst := acc
			if pc > 0 {
				dst = part
			}
			if n == 4 {
				gemv.four(steps, in[off:], panel, size, dst)
			} else {
				gemv.one(steps, in[off:], panel, (*[32]float32)(dst[:32]))
			}
			if pc > 0 {
				addTo(acc[:n*nr], part[:n*nr])
			}
			off += steps
		}
		// Outputs [jp·nr, jp·nr + n·nr) ∩ [j0, j1).
		lo, hi := max(j0, jp*nr), min(j1, (jp+n)*nr)
		copy(y[lo-j0:hi-j0], acc[lo-jp*nr:hi-jp*nr])
		jp += n
	}
}

// Prefetch starts fetching the first weights of outputs [j0, j1) into the cache, up to
// matVecPrefetch bytes, for a thread that would otherwise wait: the next Rows on that range
// then starts on weights already on their way. It only reads.
func (v *MatVec) Prefetch(j0, j1 int) {
	if !useAsm || j0 >= j1 || j1 > v.n {
		return
	}
	switch {
	case v.q8 != nil:
		k := v.q8.K
		prefetchBytes(unsafe.Pointer(&v.q8.Q[j0*k]), min((j1-j0)*k, matVecPrefetch))
	case v.bf != nil:
		k := v.bf.K
		prefetchBytes(unsafe.Pointer(&v.bf.Data[j0*k]), min(2*(j1-j0)*k, matVecPrefetch))
	case v.pm != nil && v.pm.K > 0:
		panel, size := v.pm.panels(0, j0)
		n := (j1 - j0 + v.pm.kern.nr - 1) / v.pm.kern.nr * size
		prefetchBytes(unsafe.Pointer(&panel[0]), min(4*min(n, len(panel)), matVecPrefetch))
	}
}

// matVecPrefetch is the most bytes MatVec.Prefetch asks for: about what two cores fetch from
// memory in the few microseconds a serial step of a decoding layer (a LayerNorm, quantising
// the row) takes.
const matVecPrefetch = 64 << 10
