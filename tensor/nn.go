package tensor

import (
	"fmt"
	"sync"

	"github.com/qkvdev/qkv/tensor/kernel"
)

// Notation for this file: rows are the flattened leading dimensions of x (B·T for a sequence
// batch), C is the last (feature) dimension. Forward kernels write their outputs; backward
// kernels accumulate (+=) into the gradients they are given.

// rowsOf returns the number of rows and the row length of a contiguous tensor.
func rowsOf(op string, t *Tensor) (rows, c int) {
	if t.ndim == 0 {
		panic(fmt.Sprintf("tensor.%s: needs at least one dimension", op))
	}
	c = t.shape[t.ndim-1]
	if c == 0 {
		return 0, 0
	}
	return t.Len() / c, c
}

func mustContiguous(op string, ts ...*Tensor) {
	for _, t := range ts {
		if t != nil && !t.IsContiguous() {
			panic(fmt.Sprintf("tensor.%s: operand of shape %v strides %v must be contiguous", op, t.Shape(), t.Strides()))
		}
	}
}

func mustLen(op, what string, t *Tensor, n int) {
	if t.Len() != n {
		panic(fmt.Sprintf("tensor.%s: %s has shape %v, want %d elements", op, what, t.Shape(), n))
	}
}

// rowGrain is how many rows of length c make a parallel chunk worth a thread hand-off.
func rowGrain(c int) int { return max(1, 8192/max(c, 1)) }

// The kernels of this file run their parallel loops as pooled tasks (kernel.ParallelPooled), one
// task type per loop, so that a training step allocates nothing.

// LayerNormInto normalises each row of x over its last dimension (size C) and applies the
// affine map: out = (x - mean)/sqrt(var + eps) * w + b. mean and rstd (one per row) are saved
// for the backward pass; either may be nil. b may be nil (no bias).
func LayerNormInto(out, mean, rstd, x, w, b *Tensor, eps float32) {
	mustContiguous("LayerNorm", out, x, w, b, mean, rstd)
	rows, c := rowsOf("LayerNorm", x)
	mustLen("LayerNorm", "out", out, rows*c)
	mustLen("LayerNorm", "weight", w, c)
	if b != nil {
		mustLen("LayerNorm", "bias", b, c)
	}
	xd, od, wd := x.Data(), out.Data(), w.Data()
	var bd, md, rd []float32
	if b != nil {
		bd = b.Data()
	}
	if mean != nil {
		mustLen("LayerNorm", "mean", mean, rows)
		md = mean.Data()
	}
	if rstd != nil {
		mustLen("LayerNorm", "rstd", rstd, rows)
		rd = rstd.Data()
	}
	kernel.ParallelPooled(&layerNormTasks, rows, rowGrain(c), layerNormTask{od, xd, wd, bd, md, rd, c, eps})
}

type layerNormTask struct {
	od, xd, wd, bd, md, rd []float32
	c                      int
	eps                    float32
}

var layerNormTasks sync.Pool

func (t *layerNormTask) Run(lo, hi int) {
	c := t.c
	for r := lo; r < hi; r++ {
		mu, rs := kernel.LayerNormRow(t.od[r*c:r*c+c], t.xd[r*c:r*c+c], t.wd, t.bd, t.eps)
		if t.md != nil {
			t.md[r] = mu
		}
		if t.rd != nil {
			t.rd[r] = rs
		}
	}
}

// LayerNormBackward computes the gradients of LayerNorm given dout, using the mean and rstd
// saved by the forward pass: dx (may be nil) is written, or accumulated into when accDx; dw and
// db (either may be nil) are accumulated into.
func LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd *Tensor, accDx bool) {
	mustContiguous("LayerNormBackward", dx, dw, db, dout, x, w, mean, rstd)
	rows, c := rowsOf("LayerNormBackward", x)
	task := layerNormBackwardTask{xd: x.Data(), gd: dout.Data(), wd: w.Data(), md: mean.Data(), rd: rstd.Data(), rows: rows, c: c, acc: accDx}
	if dx != nil {
		task.dxd = dx.Data()
		kernel.ParallelPooled(&layerNormBackwardTasks, rows, rowGrain(c), task)
	}
	if dw == nil && db == nil {
		return
	}
	// Parameter gradients sum over rows: each thread sums a block of rows into its own partial
	// (dw, db), then the partials are added in a fixed order (deterministic).
	nt := kernel.Threads()
	parts := getScratch(nt * 2 * c)
	defer putScratch(parts)
	pd := *parts
	clear(pd)
	kernel.ParallelPooled(&layerNormParamGradTasks, nt, 1, layerNormParamGradTask{task, pd, (rows + nt - 1) / nt})
	for t := 0; t < nt; t++ {
		if dw != nil {
			kernel.AddTo(dw.Data(), pd[2*t*c:2*t*c+c])
		}
		if db != nil {
			kernel.AddTo(db.Data(), pd[2*t*c+c:2*t*c+2*c])
		}
	}
}

type layerNormBackwardTask struct {
	dxd, xd, gd, wd, md, rd []float32
	rows, c                 int
	acc                     bool
}

var layerNormBackwardTasks sync.Pool

func (t *layerNormBackwardTask) Run(lo, hi int) {
	c := t.c
	for r := lo; r < hi; r++ {
		dr := t.dxd[r*c : r*c+c]
		if !t.acc {
			clear(dr)
		}
		kernel.LayerNormBackwardRow(dr, t.gd[r*c:r*c+c], t.xd[r*c:r*c+c], t.wd, t.md[r], t.rd[r])
	}
}

// layerNormParamGradTask sums the rows of block i into partial i of pd: (dw, db), 2·C each.
type layerNormParamGradTask struct {
	layerNormBackwardTask
	pd    []float32
	chunk int
}

var layerNormParamGradTasks sync.Pool

func (t *layerNormParamGradTask) Run(lo, hi int) {
	c := t.c
	for i := lo; i < hi; i++ {
		pdw, pdb := t.pd[2*i*c:2*i*c+c], t.pd[2*i*c+c:2*i*c+2*c]
		for r := i * t.chunk; r < min(t.rows, (i+1)*t.chunk); r++ {
			kernel.LayerNormParamGradRow(pdw, pdb, t.gd[r*c:r*c+c], t.xd[r*c:r*c+c], t.md[r], t.rd[r])
		}
	}
}

// GELU approximations. GELUTanh is GPT-2's "gelu_new":
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). GELUErf is the exact form x·Φ(x) used by BERT.
type GELUKind int

const (
	GELUTanh GELUKind = iota
	GELUErf
)

// GELUInto computes out = gelu(x) element-wise.
func GELUInto(out, x *Tensor, kind GELUKind) {
	mustContiguous("GELU", out, x)
	mustLen("GELU", "out", out, x.Len())
	kernel.ParallelPooled(&geluTasks, x.Len(), 8192, geluTask{dd: out.Data(), xd: x.Data(), kind: kind})
}

// geluKernel returns the kernel of the GELU of kind.
func geluKernel(kind GELUKind) func(dst, src []float32) {
	if kind == GELUErf {
		return kernel.GELUErf
	}
	return kernel.GELUTanh
}

// geluRows is the kernel of a GELU kind on the rows of a tile.
func geluRows(kind GELUKind) kernel.Activation {
	if kind == GELUErf {
		return kernel.GELUErfRows
	}
	return kernel.GELUTanhRows
}

// geluTask computes GELU (dd = gelu(x)) or, with backward set, its gradient (dd = or += gelu'(x)·g).
type geluTask struct {
	dd, xd, gd    []float32
	kind          GELUKind
	backward, acc bool
}

var geluTasks sync.Pool

func (t *geluTask) Run(lo, hi int) {
	dd, xd := t.dd[lo:hi], t.xd[lo:hi]
	if !t.backward {
		geluKernel(t.kind)(dd, xd)
		return
	}
	gd := t.gd[lo:hi]
	bwd := kernel.GELUTanhBackward
	if t.kind == GELUErf {
		bwd = kernel.GELUErfBackward
	}
	if t.acc {
		bwd(dd, gd, xd)
		return
	}
	// The kernels add into dd: zero it a chunk at a time, just before the kernel reads it, so
	// that the zeros are read from L1 rather than written out and read back.
	const chunk = 1024
	for i := 0; i < len(dd); i += chunk {
		j := min(i+chunk, len(dd))
		clear(dd[i:j])
		bwd(dd[i:j], gd[i:j], xd[i:j])
	}
}

// GELUBackward computes dx = gelu'(x)·dout, or dx += gelu'(x)·dout when acc.
func GELUBackward(dx, dout, x *Tensor, kind GELUKind, acc bool) {
	mustContiguous("GELUBackward", dx, dout, x)
	kernel.ParallelPooled(&geluTasks, x.Len(), 8192, geluTask{dd: dx.Data(), xd: x.Data(), gd: dout.Data(), kind: kind, backward: true, acc: acc})
}

// SoftmaxInto computes the softmax of each row of x (last dimension, size S) into out. With
// causal set, x is (…, T, S) and row t (query t) sees only keys j <= t + S - T; the others get
// probability 0. A row with every key masked is all zeros.
func SoftmaxInto(out, x *Tensor, causal bool) {
	mustContiguous("Softmax", out, x)
	mustLen("Softmax", "out", out, x.Len())
	rows, s := rowsOf("Softmax", x)
	t := 1
	if causal {
		if x.ndim < 2 {
			panic(fmt.Sprintf("tensor.Softmax: causal mask needs (…, T, S), got %v", x.Shape()))
		}
		t = x.Dim(-2)
	}
	kernel.ParallelPooled(&softmaxTasks, rows, rowGrain(s), softmaxTask{od: out.Data(), xd: x.Data(), s: s, t: t, causal: causal})
}

// softmaxTask computes the softmax of rows of S elements (forward), or with backward set its
// gradient dd = (or +=) y·(g - Σ g·y) from the output y in xd.
type softmaxTask struct {
	od, xd, gd    []float32
	s, t          int
	causal        bool
	backward, acc bool
}

var softmaxTasks sync.Pool

func (t *softmaxTask) Run(lo, hi int) {
	s := t.s
	for r := lo; r < hi; r++ {
		or, xr := t.od[r*s:r*s+s], t.xd[r*s:r*s+s]
		if t.backward {
			if !t.acc {
				clear(or)
			}
			kernel.SoftmaxBackwardRow(or, xr, t.gd[r*s:r*s+s])
			continue
		}
		n := s
		if t.causal {
			n = min(s, r%t.t+s-t.t+1)
			clear(or[max(n, 0):])
		}
		if n > 0 {
			kernel.SoftmaxRow(or[:n], xr[:n]) // an all −Inf row gives zeros
		}
	}
}

// SoftmaxBackward computes dx = y·(dy - Σ dy·y) per row, where y is the softmax output, or
// adds it to dx when acc.
func SoftmaxBackward(dx, dy, y *Tensor, acc bool) {
	mustContiguous("SoftmaxBackward", dx, dy, y)
	rows, s := rowsOf("SoftmaxBackward", y)
	kernel.ParallelPooled(&softmaxTasks, rows, rowGrain(s), softmaxTask{od: dx.Data(), xd: y.Data(), gd: dy.Data(), s: s, backward: true, acc: acc})
}

// IgnoreIndex is the target value that cross-entropy skips (as PyTorch's ignore_index).
const IgnoreIndex = -100

// CrossEntropy computes the mean over rows of -log softmax(logits[r])[targets[r]] for logits
// (N, V), skipping rows whose target is IgnoreIndex (or negative). It saves, per row, the
// log-sum-exp into lse (N), which CrossEntropyBackward needs. It returns the mean loss and
// the number of rows counted. A target ≥ V panics.
func CrossEntropy(lse, logits *Tensor, targets []int) (loss float32, count int) {
	mustContiguous("CrossEntropy", lse, logits)
	rows, v := rowsOf("CrossEntropy", logits)
	if len(targets) != rows || lse.Len() != rows {
		panic(fmt.Sprintf("tensor.CrossEntropy: logits %v with %d targets and lse %v", logits.Shape(), len(targets), lse.Shape()))
	}
	for _, t := range targets {
		if t >= v {
			panic(fmt.Sprintf("tensor.CrossEntropy: target %d out of range for %d classes", t, v))
		}
	}
	// Each row's loss goes to a scratch row; they are summed in order afterwards (deterministic).
	losses := getScratch(rows)
	defer putScratch(losses)
	kernel.ParallelPooled(&crossEntropyTasks, rows, rowGrain(v), crossEntropyTask{ld: logits.Data(), sd: lse.Data(), dd: *losses, targets: targets, v: v})
	var total float64
	for r, t := range targets {
		if t >= 0 {
			total += float64((*losses)[r])
			count++
		}
	}
	if count == 0 {
		return 0, 0
	}
	return float32(total / float64(count)), count
}

// crossEntropyTask computes, per row r of logits ld (rows of V), the log-sum-exp into sd[r] and
// the loss into dd[r]; with backward set it writes (or adds) the gradient
// (softmax(row) - onehot(target))·scale into dd instead, from the saved sd.
type crossEntropyTask struct {
	ld, sd, dd    []float32
	targets       []int
	v             int
	scale         float32
	backward, acc bool
}

var crossEntropyTasks sync.Pool

func (t *crossEntropyTask) Run(lo, hi int) {
	v := t.v
	for r := lo; r < hi; r++ {
		row, target := t.ld[r*v:r*v+v], t.targets[r]
		if !t.backward {
			l := kernel.LogSumExp(row)
			t.sd[r] = l
			if target >= 0 {
				t.dd[r] = float32(float64(l) - float64(row[target]))
			}
			continue
		}
		dr := t.dd[r*v : r*v+v]
		if !t.acc {
			clear(dr)
		}
		if target >= 0 {
			kernel.SoftmaxCrossEntropyBackwardRow(dr, row, t.sd[r], t.scale)
			dr[target] -= t.scale
		}
	}
}

// CrossEntropyBackward computes into dlogits (adding to it when acc) the gradient of scale ×
// (sum over counted rows of the per-row loss): (softmax(logits[r]) - onehot(targets[r]))·scale,
// and 0 for skipped rows. For the mean loss, scale = dloss / count.
func CrossEntropyBackward(dlogits, logits, lse *Tensor, targets []int, scale float32, acc bool) {
	mustContiguous("CrossEntropyBackward", dlogits, logits, lse)
	rows, v := rowsOf("CrossEntropyBackward", logits)
	kernel.ParallelPooled(&crossEntropyTasks, rows, rowGrain(v), crossEntropyTask{
		ld: logits.Data(), sd: lse.Data(), dd: dlogits.Data(), targets: targets, v: v, scale: scale, backward: true, acc: acc})
}

// EmbeddingInto gathers rows of table (V, C) into out (N, C): out[i] = table[ids[i]].
// An id outside [0, V) panics.
func EmbeddingInto(out, table *Tensor, ids []int) {
	mustContiguous("Embedding", out, table)
	v, c := table.Dim(0), table.Dim(-1)
	mustLen("Embedding", "out", out, len(ids)*c)
	td, od := table.Data(), out.Data()
	for i, id := range ids {
		if id < 0 || id >= v {
			panic(fmt.Sprintf("tensor.Embedding: id %d at position %d out of range [0, %d)", id, i, v))
		}
		copy(od[i*c:i*c+c], td[id*c:id*c+c])
	}
}

// EmbeddingBackward accumulates dtable[ids[i]] += dout[i].
func EmbeddingBackward(dtable, dout *Tensor, ids []int) {
	mustContiguous("EmbeddingBackward", dtable, dout)
	c := dtable.Dim(-1)
	// Parallel over column blocks: rows with the same id never race.
	kernel.ParallelPooled(&embeddingBackwardTasks, c, 64, embeddingBackwardTask{dtable.Data(), dout.Data(), ids, c})
}

// embeddingBackwardTask adds columns [lo, hi) of each row of gd into row ids[i] of td.
type embeddingBackwardTask struct {
	td, gd []float32
	ids    []int
	c      int
}

var embeddingBackwardTasks sync.Pool

func (t *embeddingBackwardTask) Run(lo, hi int) {
	c := t.c
	for i, id := range t.ids {
		kernel.AddTo(t.td[id*c+lo:id*c+hi], t.gd[i*c+lo:i*c+hi])
	}
}

// DropoutMask fills mask with 0 (probability p) or 1/(1-p), drawing from rng.
func DropoutMask(mask *Tensor, p float32, rng *RNG) {
	mustContiguous("DropoutMask", mask)
	md := mask.Data()
	keep := 1 / (1 - p)
	for i := range md {
		if rng.Float32() < p {
			md[i] = 0
		} else {
			md[i] = keep
		}
	}
}

// TanhInto computes out = tanh(x) element-wise.
func TanhInto(out, x *Tensor) {
	mustContiguous("Tanh", out, x)
	mustLen("Tanh", "out", out, x.Len())
	kernel.ParallelPooled(&tanhTasks, x.Len(), 8192, tanhTask{out.Data(), x.Data()})
}

type tanhTask struct{ od, xd []float32 }

var tanhTasks sync.Pool

func (t *tanhTask) Run(lo, hi int) { kernel.Tanh(t.od[lo:hi], t.xd[lo:hi]) }

// TanhBackwardInto computes out = (1 - y²)·dy from the forward output y.
func TanhBackwardInto(out, dy, y *Tensor) {
	mustContiguous("TanhBackward", out, dy, y)
	yd, gd, od := y.Data(), dy.Data(), out.Data()
	for i, v := range yd {
		od[i] = (1 - v*v) * gd[i]
	}
}
