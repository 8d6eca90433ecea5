package autograd

// Primitives of the Transformer encoder–decoder (Vaswani et al., 2017) and its descendants:
// the ReLU and SiLU (swish) activations of the position-wise feed-forward network, and
// cross-entropy with label smoothing (Szegedy et al., 2016), the training loss of the paper.
//
// Notation: N rows of logits, V classes, z a row of logits, t its target, ε the smoothing.

import (
	"fmt"
	"math"

	"github.com/qkvdev/qkv/tensor"
)

// ReLU returns max(0, x) element-wise.
func (g *Graph) ReLU(x *Var) *Var {
	return g.activation(x, func(y, x []float32) {
		for i, v := range x[:len(y)] {
			y[i] = max(v, 0)
		}
	}, reluBackward)
}

// reluBackward: y = max(0, x) ⇒ dx += dy·[x > 0] (0 at x = 0, as PyTorch).
func reluBackward(g *Graph, n *node) {
	xd, dy := n.saved[0].Data(), n.out.grad.Data()
	activationBackward(g, n, func(d []float32, acc bool) {
		xd, dy := xd[:len(d)], dy[:len(d)]
		if acc {
			for i, v := range xd {
				if v > 0 {
					d[i] += dy[i]
				}
			}
			return
		}
		for i, v := range xd {
			d[i] = 0
			if v > 0 {
				d[i] = dy[i]
			}
		}
	})
}

// SiLU returns x·σ(x) element-wise: the sigmoid-weighted linear unit, which HuggingFace calls
// "swish" (Ramachandran et al., 2017) and the opus-mt Marian models use.
func (g *Graph) SiLU(x *Var) *Var {
	return g.activation(x, func(y, x []float32) {
		for i, v := range x[:len(y)] {
			y[i] = v * logistic(v)
		}
	}, siluBackward)
}

// activation applies an element-wise function to x — f(y, x) writes y[i] = f(x[i]) for every
// i, one call for the whole tensor — and records backward, which reads x from saved[0].
func (g *Graph) activation(x *Var, f func(y, x []float32), backward func(*Graph, *node)) *Var {
	X := contiguous(g, x.Value)
	out := g.arena.New(X.Shape()...)
	f(out.Data(), X.Data())
	v, n := g.result(out, g.tracking(x), backward, x)
	if n != nil {
		n.saved[0] = X
	}
	return v
}

// siluBackward: y = x·σ(x) ⇒ dx += dy·σ(x)·(1 + x·(1 − σ(x))).
func siluBackward(g *Graph, n *node) {
	xd, dy := n.saved[0].Data(), n.out.grad.Data()
	activationBackward(g, n, func(d []float32, acc bool) {
		for i := range d {
			s := logistic(xd[i])
			v := dy[i] * s * (1 + xd[i]*(1-s))
			if acc {
				v += d[i]
			}
			d[i] = v
		}
	})
}

// logistic is σ(x) = 1/(1 + e^−x), computed without overflow for large |x|.
func logistic(x float32) float32 {
	if x >= 0 {
		return float32(1 / (1 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1 + e))
}

// activationBackward has local(d, acc) put the gradient of an element-wise op's input — for
// every element, in order — into d, adding to it when acc is set and writing it otherwise;
// d is that input's gradient, or, when the gradient is a view, a contiguous buffer then added
// through its strides.
func activationBackward(g *Graph, n *node, local func(d []float32, acc bool)) {
	dx, acc := g.gradFor(n.in[0])
	if !dx.IsContiguous() {
		tmp := g.arena.New(dx.Shape()...)
		local(tmp.Data(), false)
		tensor.BinaryInto(dx, tensor.OpAdd, dx, tmp, false)
		return
	}
	local(dx.Data(), acc)
}

// LabelSmoothedCrossEntropy returns the mean over rows of cross-entropy against targets smoothed
// by eps, as PyTorch's CrossEntropyLoss(label_smoothing=eps): the target distribution puts
// 1 − ε + ε/V on the target and ε/V on every other class, so that per row
//
//	loss = (1 − ε)·(lse(z) − z_t) + ε·(lse(z) − mean_j z_j).
//
// Rows whose target is negative (tensor.IgnoreIndex, the padding) are skipped and not counted.
// With eps = 0 it is CrossEntropy. logits are (…, V); targets (one per row) must stay unchanged
// until Backward.
func (g *Graph) LabelSmoothedCrossEntropy(logits *Var, targets []int, eps float32) *Var {
	if !(eps >= 0 && eps < 1) {
		panic(fmt.Sprintf("autograd.LabelSmoothedCrossEntropy: smoothing %g outside [0, 1)", eps))
	}
	L := contiguous(g, logits.Value)
	v := L.Dim(-1)
	rows := L.Len() / max(v, 1)
	if len(targets) != rows {
		panic(fmt.Sprintf("autograd.LabelSmoothedCrossEntropy: logits %v have %d rows, got %d targets", L.Shape(), rows, len(targets)))
	}
	lse := g.arena.New(rows)
	nll, count := tensor.CrossEntropy(lse, L, targets)
	loss := float64(nll)
	if eps > 0 && count > 0 {
		ld, sd := L.Data(), lse.Data()
		var smooth float64 // Σ over counted rows of lse − mean_j z_j = −mean_j log p_j
		for r, t := range targets {
			if t < 0 {
				continue
			}
			var sum float64
			for _, z := range ld[r*v : r*v+v] {
				sum += float64(z)
			}
			smooth += float64(sd[r]) - sum/float64(v)
		}
		loss = (1-float64(eps))*loss + float64(eps)*smooth/float64(count)
	}
	out := g.arena.New()
	out.Set(float32(loss))
	y, n := g.result(out, g.tracking(logits), labelSmoothedCrossEntropyBackward, logits)
	if n != nil {
		n.saved[0], n.saved[1] = L, lse
		n.ids = targets
		n.i = count
		n.f = eps
	}
	return y
}

// labelSmoothedCrossEntropyBackward: for each counted row,
//
//	dz += (softmax(z) − (1 − ε)·onehot(t) − ε/V)·dloss/count
//	    = (softmax(z) − onehot(t))·s + ε·(onehot(t) − 1/V)·s,   s = dloss/count,
//
// the plain cross-entropy gradient plus the smoothing term; skipped rows get nothing.
func labelSmoothedCrossEntropyBackward(g *Graph, n *node) {
	if n.i == 0 {
		return
	}
	L, lse, targets, eps := n.saved[0], n.saved[1], n.ids, n.f
	scale := n.out.grad.Item() / float32(n.i)
	dz, acc := g.gradFor(n.in[0])
	dst := dz
	if !dz.IsContiguous() {
		dst, acc = g.arena.New(dz.Shape()...), false
	}
	tensor.CrossEntropyBackward(dst, L, lse, targets, scale, acc)
	if eps > 0 {
		v := L.Dim(-1)
		d := dst.Data()
		uniform := eps * scale / float32(v)
		for r, t := range targets {
			if t < 0 {
				continue
			}
			row := d[r*v : r*v+v]
			for j := range row {
				row[j] -= uniform
			}
			row[t] += eps * scale
		}
	}
	if dst != dz {
		tensor.BinaryInto(dz, tensor.OpAdd, dz, dst, false)
	}
}
