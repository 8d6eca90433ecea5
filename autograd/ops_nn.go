package autograd

import (
	"fmt"

	"github.com/qkvdev/qkv/tensor"
)

// LayerNorm normalises x over its last dimension and applies weight w and bias b (b may be nil).
func (g *Graph) LayerNorm(x, w, b *Var, eps float32) *Var {
	X := contiguous(g, x.Value)
	rows := X.Len() / max(X.Dim(-1), 1)
	out := g.arena.New(X.Shape()...)
	mean, rstd := g.arena.New(rows), g.arena.New(rows)
	var bv *tensor.Tensor
	if b != nil {
		bv = b.Value
	}
	tensor.LayerNormInto(out, mean, rstd, X, w.Value, bv, eps)
	v, n := g.result(out, g.tracking(x, w, b), layerNormBackward, x, w, b)
	if n != nil {
		n.saved = [3]*tensor.Tensor{X, mean, rstd}
	}
	return v
}

// layerNormBackward: the fused LayerNorm gradient (tensor.LayerNormBackward).
func layerNormBackward(g *Graph, n *node) {
	X, mean, rstd := n.saved[0], n.saved[1], n.saved[2]
	var dx, dw, db *tensor.Tensor
	acc := false
	if n.needs(0) {
		dx, acc = g.gradFor(n.in[0])
	}
	if n.needs(1) {
		dw = g.gradOf(n.in[1])
	}
	if n.needs(2) {
		db = g.gradOf(n.in[2])
	}
	if dx != nil && !dx.IsContiguous() {
		tmp := g.arena.New(X.Shape()...)
		tensor.LayerNormBackward(tmp, dw, db, n.out.grad, X, n.in[1].Value, mean, rstd, false)
		tensor.BinaryInto(dx, tensor.OpAdd, dx, tmp, false)
		return
	}
	tensor.LayerNormBackward(dx, dw, db, n.out.grad, X, n.in[1].Value, mean, rstd, acc)
}

// GELU applies the Gaussian error linear unit element-wise (tanh approximation or exact erf).
func (g *Graph) GELU(x *Var, kind tensor.GELUKind) *Var {
	X := contiguous(g, x.Value)
	out := g.arena.New(X.Shape()...)
	tensor.GELUInto(out, X, kind)
	v, n := g.result(out, g.tracking(x), geluBackward, x)
	if n != nil {
		n.saved[0] = X
		n.i = int(kind)
	}
	return v
}

// geluBackward: y = gelu(x) ⇒ dx += gelu'(x)·dy.
func geluBackward(g *Graph, n *node) {
	dx, acc := g.gradFor(n.in[0])
	if dx.IsContiguous() {
		tensor.GELUBackward(dx, n.out.grad, n.saved[0], tensor.GELUKind(n.i), acc)
		return
	}
	tmp := g.arena.New(dx.Shape()...)
	tensor.GELUBackward(tmp, n.out.grad, n.saved[0], tensor.GELUKind(n.i), false)
	tensor.BinaryInto(dx, tensor.OpAdd, dx, tmp, false)
}

// Softmax normalises x over its last dimension. With causal set, x is (…, T, S) and query t
// attends only to keys j ≤ t + S - T (the autoregressive mask).
func (g *Graph) Softmax(x *Var, causal bool) *Var {
	X := contiguous(g, x.Value)
	out := g.arena.New(X.Shape()...)
	tensor.SoftmaxInto(out, X, causal)
	v, _ := g.result(out, g.tracking(x), softmaxBackward, x)
	return v
}

// softmaxBackward: y = softmax(x) ⇒ dx += y·(dy − Σ dy·y). Masked positions have y = 0 and so
// receive no gradient.
func softmaxBackward(g *Graph, n *node) {
	dx, acc := g.gradFor(n.in[0])
	if dx.IsContiguous() {
		tensor.SoftmaxBackward(dx, n.out.grad, n.out.Value, acc)
		return
	}
	tmp := g.arena.New(dx.Shape()...)
	tensor.SoftmaxBackward(tmp, n.out.grad, n.out.Value, false)
	tensor.BinaryInto(dx, tensor.OpAdd, dx, tmp, false)
}

// CrossEntropy returns the mean cross-entropy of logits (…, V) against targets (one per row;
// tensor.IgnoreIndex or any negative value skips the row), fused with the log-softmax. targets
// must stay unchanged until Backward.
func (g *Graph) CrossEntropy(logits *Var, targets []int) *Var {
	L := contiguous(g, logits.Value)
	rows := L.Len() / max(L.Dim(-1), 1)
	if len(targets) != rows {
		panic(fmt.Sprintf("autograd.CrossEntropy: logits %v have %d rows, got %d targets", L.Shape(), rows, len(targets)))
	}
	lse := g.arena.New(rows)
	loss, count := tensor.CrossEntropy(lse, L, targets)
	out := g.arena.New()
	out.Set(loss)
	v, n := g.result(out, g.tracking(logits), crossEntropyBackward, logits)
	if n != nil {
		n.saved[0], n.saved[1] = L, lse
		n.ids = targets
		n.i = count
	}
	return v
}

// crossEntropyBackward: loss = mean_r(lse_r − z_r[t_r]) ⇒ dz_r += (softmax(z_r) − onehot(t_r))·dloss/count.
func crossEntropyBackward(g *Graph, n *node) {
	if n.i == 0 {
		return
	}
	scale := n.out.grad.Item() / float32(n.i)
	dz, acc := g.gradFor(n.in[0])
	if dz.IsContiguous() {
		tensor.CrossEntropyBackward(dz, n.saved[0], n.saved[1], n.ids, scale, acc)
		return
	}
	tmp := g.arena.New(dz.Shape()...)
	tensor.CrossEntropyBackward(tmp, n.saved[0], n.saved[1], n.ids, scale, false)
	tensor.BinaryInto(dz, tensor.OpAdd, dz, tmp, false)
}

// Embedding gathers rows of table (V, C) for ids: the result is (len(ids), C). ids must stay
// unchanged until Backward.
func (g *Graph) Embedding(table *Var, ids []int) *Var {
	c := table.Value.Dim(-1)
	out := g.arena.New(len(ids), c)
	tensor.EmbeddingInto(out, table.Value, ids)
	v, n := g.result(out, g.tracking(table), embeddingBackward, table)
	if n != nil {
		n.ids = ids
	}
	return v
}

// embeddingBackward: y_i = table[id_i] ⇒ dtable[id_i] += dy_i.
func embeddingBackward(g *Graph, n *node) {
	tensor.EmbeddingBackward(g.gradOf(n.in[0]), n.out.grad, n.ids)
}

// Dropout zeroes each element with probability p and scales the rest by 1/(1-p), drawing from
// rng. With p == 0 it returns x unchanged.
func (g *Graph) Dropout(x *Var, p float32, rng *tensor.RNG) *Var {
	if p == 0 {
		return x
	}
	if p < 0 || p >= 1 {
		panic(fmt.Sprintf("autograd.Dropout: probability %g outside [0, 1)", p))
	}
	X := contiguous(g, x.Value)
	mask := g.arena.New(X.Shape()...)
	tensor.DropoutMask(mask, p, rng)
	out := g.arena.New(X.Shape()...)
	tensor.BinaryInto(out, tensor.OpMul, X, mask, false)
	v, n := g.result(out, g.tracking(x), dropoutBackward, x)
	if n != nil {
		n.saved[0] = mask
	}
	return v
}

// dropoutBackward: y = x·mask ⇒ dx += dy·mask.
func dropoutBackward(g *Graph, n *node) {
	dx, acc := g.gradFor(n.in[0])
	if !acc {
		tensor.BinaryInto(dx, tensor.OpMul, n.out.grad, n.saved[0], false)
		return
	}
	tmp := g.arena.New(dx.Shape()...)
	tensor.BinaryInto(tmp, tensor.OpMul, n.out.grad, n.saved[0], false)
	tensor.BinaryInto(dx, tensor.OpAdd, dx, tmp, false)
}
