package gpt

import (
	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// decoder runs a decoding step, one new token of one sequence (B = T = 1), in a single
// parallel region (kernel.RunSteps) instead of a graph of separate operations: the threads
// are woken once per token and go through the layers together, each step a LayerNorm, a
// slice of a matrix–vector product with its bias, GELU or residual fused in, or the
// attention of a few heads. A thread that waits for a serial step (a LayerNorm, quantising
// a row) meanwhile prefetches the weights of the next product. The outputs are those of
// Model.Forward on the same weights: the same kernels on the same rows, in the same order
// (tested bit for bit on packed weights).
//
// Per layer (C = n_embd, x the residual stream):
//
//	ln1    x̂ = LN₁(x), prepared as the c_attn input          (serial)
//	qkv    [q k v] = x̂·W_attn + b                            (3C outputs, in slices)
//	attn   k, v appended to the cache; y = softmax(q·Kᵀ/√hs)·V (by head)
//	proj   x += y·W_proj + b                                  (C outputs, in slices)
//	ln2    x̂ = LN₂(x)                                         (serial)
//	fc     h = gelu(x̂·W_fc + b)                               (4C outputs, in slices)
//	mlp    x += h·W_mlp + b                                   (C outputs, in slices)
//
// then LN_f and the LM head. Inputs of the products are prepared (quantised, rounded) in a
// serial step before each.
type decoder struct {
	m      *Model
	caches []*nn.KVCache
	pos    int // the new token's position
	id     int

	x, xn, qkv, y, h, logits []float32 // (C), (C), (3C), (C), (4C), (V): logits only during step
	t                        []float32 // (C): a residual product before it is added to x

	layers []decoderLayer
	head   kernel.MatVec
	steps  []kernel.Step
	arena  tensor.Arena // attention operand headers, reset every token

	headPacked *tensor.PackedMatrix // the LM head bound, to notice a repack
}

// decoderLayer is one block's products and attention.
type decoderLayer struct {
	blk                 *Block
	packed              [4]*tensor.PackedMatrix // the weights bound, as blk.linears() lists them
	attn, proj, fc, mlp kernel.MatVec
	loop                tensor.AttentionLoop
}

// decoderTask is one step of the region: what it does is kind, on layer l; a product's step
// computes v's outputs in slices of chunk.
type decoderTask struct {
	d     *decoder
	l     int
	kind  int
	v     *kernel.MatVec
	chunk int
}

// Kinds of decoderTask.
const (
	taskEmbed = iota
	taskLN1
	taskQKV
	taskAttn
	taskProjIn
	taskProj
	taskLN2
	taskFC
	taskMLPIn
	taskMLP
	taskLNF
	taskHead
)

// newDecoder returns the fused decoder for m with caches, or nil when m cannot run it: its
// weights are float32 in their own layout (not packed, or with bfloat16 panels beside them
// for prompts only: one row's products stream best through Sgemv, split by inputs, which a
// split by outputs cannot match; see kernel.MatVec), or a layer records its attention weights
// for inspection.
func newDecoder(m *Model, caches []*nn.KVCache) *decoder {
	if m.head == nil || !m.head.HoldsWeights() {
		return nil
	}
	for _, b := range m.H {
		if b.Attn.Inspect != nil {
			return nil
		}
		for _, l := range b.linears() {
			if l.Packed == nil || !l.Packed.HoldsWeights() {
				return nil
			}
		}
	}
	cfg := m.Config
	C := cfg.NEmbd
	d := &decoder{m: m, caches: caches}
	d.x, d.xn, d.qkv, d.y, d.t = make([]float32, C), make([]float32, C), make([]float32, 3*C), make([]float32, C), make([]float32, C)
	d.h = make([]float32, cfg.Inner())
	d.layers = make([]decoderLayer, len(m.H))
	for l, b := range m.H {
		L := &d.layers[l]
		L.blk = b
		for i, lin := range b.linears() {
			L.packed[i] = lin.Packed
		}
		for i, v := range []*kernel.MatVec{&L.attn, &L.proj, &L.fc, &L.mlp} {
			L.packed[i].BindMatVec(v)
		}
	}
	d.headPacked = m.head
	m.head.BindMatVec(&d.head)

	threads := kernel.Threads()
	serial := func(l, kind int) {
		d.steps = append(d.steps, kernel.Step{N: 1, Grain: 1, Task: &decoderTask{d: d, l: l, kind: kind}})
	}
	// product adds the step that prepares v's input and the step of v's outputs, in slices
	// of Chunk's size rounded to whole vectors of 16 (for the fused GELU).
	product := func(l, in, kind int, v *kernel.MatVec) {
		serial(l, in)
		chunk := (v.Chunk(threads) + 15) &^ 15
		d.steps = append(d.steps, kernel.Step{N: (v.N() + chunk - 1) / chunk, Grain: 1,
			Task:     &decoderTask{d: d, l: l, kind: kind, v: v, chunk: chunk},
			Prefetch: func(lo, hi int) { v.Prefetch(lo*chunk, min(hi*chunk, v.N())) }})
	}
	serial(0, taskEmbed)
	for l := range d.layers {
		L := &d.layers[l]
		product(l, taskLN1, taskQKV, &L.attn)
		d.steps = append(d.steps, kernel.Step{N: cfg.NHead, Grain: 1, Task: &decoderTask{d: d, l: l, kind: taskAttn}})
		product(l, taskProjIn, taskProj, &L.proj)
		product(l, taskLN2, taskFC, &L.fc)
		product(l, taskMLPIn, taskMLP, &L.mlp)
	}
	product(len(d.layers), taskLNF, taskHead, &d.head)
	return d
}

// current reports whether the weights d was built on are still the model's (Pack, Load or
// PackForInference since would leave it reading stale ones).
func (d *decoder) current() bool {
	for l := range d.layers {
		L := &d.layers[l]
		if L.blk.Attn.Inspect != nil {
			return false
		}
		for i, lin := range L.blk.linears() {
			if lin.Packed != L.packed[i] {
				return false
			}
		}
	}
	return d.m.head == d.headPacked
}

// step decodes token id at the caches' length into logits (V), the next-token logits. The
// caches advance by one.
func (d *decoder) step(id int, logits []float32) {
	d.id, d.pos, d.logits = id, d.caches[0].Len, logits[:d.m.Config.VocabSize]
	d.arena.Reset()
	kernel.RunSteps(d.steps)
	for _, c := range d.caches {
		c.Len++
	}
	d.logits = nil
}

// Run runs items [lo, hi) of the task's step.
func (t *decoderTask) Run(lo, hi int) {
	d := t.d
	m, C := d.m, d.m.Config.NEmbd
	var L *decoderLayer
	if t.l < len(d.layers) {
		L = &d.layers[t.l]
	}
	switch t.kind {
	case taskEmbed:
		// x = wte[id] + wpe[pos], as Forward adds them.
		if m.packedOnly {
			m.head.Row(d.id, d.xn)
		} else {
			copy(d.xn, m.Wte.Weight.Value.Data()[d.id*C:(d.id+1)*C])
		}
		kernel.Add(d.x, d.xn, m.Wpe.Weight.Value.Data()[d.pos*C:(d.pos+1)*C])
	case taskLN1:
		d.layerNorm(L.blk.Ln1)
		L.attn.Input(d.xn)
		d.setAttention(t.l)
	case taskQKV:
		for j0, j1 := range t.slices(lo, hi) {
			t.affine(j0, j1, d.qkv, L.blk.Attn.CAttn.Bias)
		}
	case taskAttn:
		// Append this token's keys and values of heads [lo, hi) to the cache, then attend.
		hs := m.Config.HeadSize()
		for h := lo; h < hi; h++ {
			d.caches[t.l].Put(0, h, d.pos, d.qkv[C+h*hs:], d.qkv[2*C+h*hs:])
		}
		L.loop.Run(lo, hi)
	case taskProjIn:
		L.proj.Input(d.y)
	case taskProj:
		t.residual(lo, hi, L.blk.Attn.CProj.Bias)
	case taskLN2:
		d.layerNorm(L.blk.Ln2)
		L.fc.Input(d.xn)
	case taskFC:
		for j0, j1 := range t.slices(lo, hi) {
			h := t.affine(j0, j1, d.h, L.blk.MLP.CFc.Bias)
			if L.blk.MLP.Act == tensor.GELUErf {
				kernel.GELUErf(h, h)
			} else {
				kernel.GELUTanh(h, h)
			}
		}
	case taskMLPIn:
		L.mlp.Input(d.h)
	case taskMLP:
		t.residual(lo, hi, L.blk.MLP.CProj.Bias)
	case taskLNF:
		d.layerNorm(m.LnF)
		d.head.Input(d.xn)
	case taskHead:
		for j0, j1 := range t.slices(lo, hi) {
			t.v.Rows(j0, j1, d.logits[j0:j1])
		}
	}
}

// layerNorm sets xn = ln(x).
func (d *decoder) layerNorm(ln *nn.LayerNorm) {
	kernel.LayerNormRow(d.xn, d.x, ln.Weight.Value.Data(), ln.Bias.Value.Data(), ln.Eps)
}

// slices yields the output ranges of slices [lo, hi) of the task's product.
func (t *decoderTask) slices(lo, hi int) func(yield func(j0, j1 int) bool) {
	return func(yield func(j0, j1 int) bool) {
		for c := lo; c < hi; c++ {
			if !yield(c*t.chunk, min((c+1)*t.chunk, t.v.N())) {
				return
			}
		}
	}
}

// residual adds slices [lo, hi) of the product plus the bias b to the residual stream,
// x += (h·W + b), rounded as Forward rounds it: the bias is added to the product first.
func (t *decoderTask) residual(lo, hi int, b *autograd.Var) {
	for j0, j1 := range t.slices(lo, hi) {
		kernel.AddTo(t.d.x[j0:j1], t.affine(j0, j1, t.d.t, b))
	}
}

// affine sets out[j0:j1] to outputs [j0, j1) of the product plus the bias b, and returns it.
func (t *decoderTask) affine(j0, j1 int, out []float32, b *autograd.Var) []float32 {
	y := out[j0:j1]
	t.v.Rows(j0, j1, y)
	kernel.Add(y, y, b.Value.Data()[j0:j1])
	return y
}

// setAttention prepares layer l's attention for the new token: q from the qkv row, keys and
// values the cache's first pos+1 positions (the new one is written by the attention step).
func (d *decoder) setAttention(l int) {
	cfg, a := d.m.Config, &d.arena
	nh, hs, S := cfg.NHead, cfg.HeadSize(), d.pos+1
	c := d.caches[l]
	q := a.Permute(a.Wrap(d.qkv[:cfg.NEmbd], 1, 1, nh, hs), 0, 2, 1, 3) // (1, nh, 1, hs)
	d.layers[l].loop.Set(&tensor.AttentionArgs{
		Q: q, K: a.Narrow(c.K, 2, 0, S), V: a.Narrow(c.V, 2, 0, S),
		Out:   a.Wrap(d.y, 1, 1, nh, hs),
		Scale: nn.AttentionScale(hs), Causal: true,
	})
}
