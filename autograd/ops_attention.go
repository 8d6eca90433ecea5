package autograd

import (
	"github.com/qkvdev/qkv/tensor"
)

// Attention is fused scaled dot-product attention: softmax(scale·q·kᵀ + mask)·v for
// q (B, nh, T, hs) and k, v (B, nh, S, hs), read in place from any strided views whose last
// dimension is contiguous. It returns (B, T, nh, hs) — merged heads, ready to reshape to
// (B, T, C). When recording, the attention probabilities are kept for the backward pass;
// otherwise the output is computed with an online softmax that never forms the (T, S) matrix.
// probs, if non-nil, receives the probabilities (B, nh, T, S) (computing them if needed).
func (g *Graph) Attention(q, k, v *Var, scale float32, causal bool, mask tensor.AttentionMask, probs **tensor.Tensor) *Var {
	Q, K, V := q.Value, k.Value, v.Value
	b, nh, t, hs := Q.Dim(0), Q.Dim(1), Q.Dim(2), Q.Dim(3)
	s := K.Dim(2)
	out := g.arena.New(b, t, nh, hs)
	args := tensor.AttentionArgs{Q: Q, K: K, V: V, Out: out, Scale: scale, Causal: causal, Mask: mask}
	track := g.tracking(q, k, v)
	var p *tensor.Tensor
	if track || probs != nil {
		p = g.arena.New(b, nh, t, s)
		tensor.AttentionForward(&args, p)
		if probs != nil {
			*probs = p
		}
	} else {
		tensor.AttentionInfer(&args)
	}
	y, n := g.result(out, track, attentionBackward, q, k, v)
	if n != nil {
		n.saved[0] = p
		n.f = scale
		if causal {
			n.i = 1
		}
		if mask != nil {
			n.saved[1] = g.arena.Wrap(mask, len(mask))
		}
	}
	return y
}

// attentionBackward: the fused gradient (tensor.AttentionBackward) from the saved probabilities.
func attentionBackward(g *Graph, n *node) {
	var mask tensor.AttentionMask
	if n.saved[1] != nil {
		mask = n.saved[1].Data()
	}
	args := tensor.AttentionArgs{Q: n.in[0].Value, K: n.in[1].Value, V: n.in[2].Value, Out: n.out.Value, Scale: n.f, Causal: n.i == 1, Mask: mask}
	var dq, dk, dv *tensor.Tensor
	if n.needs(0) {
		dq = g.gradOf(n.in[0])
	}
	if n.needs(1) {
		dk = g.gradOf(n.in[1])
	}
	if n.needs(2) {
		dv = g.gradOf(n.in[2])
	}
	tensor.AttentionBackward(&args, n.saved[0], n.out.grad, dq, dk, dv)
}
