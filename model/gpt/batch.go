package gpt

import (
	"fmt"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
)

// Batched decoding for serving: several sequences of different lengths, each with its own KV
// cache, advance in one forward pass. Every position-wise part of the model (embeddings,
// LayerNorms, the q/k/v and output projections, the MLP, the LM head) runs once over the N new
// tokens of all sequences packed into one row (1, N, C), so the weights are read once per step
// for the whole batch; only attention runs per sequence, against that sequence's own cache.
// Sequences can join (a prompt of any length) and leave between steps.

// BatchSeq is one sequence's part of a batched step.
type BatchSeq struct {
	Caches []*nn.KVCache // the sequence's caches, one per layer (NewSeqCaches)
	IDs    []int         // the new tokens: the prompt when the sequence joins, then one per step
}

// NewSeqCaches allocates the KV caches of one sequence for up to n positions (at most the
// model's context).
func (m *Model) NewSeqCaches(n int) []*nn.KVCache {
	n = max(1, min(n, m.Config.NPositions))
	c := make([]*nn.KVCache, m.Config.NLayer)
	for i := range c {
		c[i] = nn.NewKVCache(1, m.Config.NHead, n, m.Config.HeadSize())
	}
	return c
}

// ForwardBatch runs one inference step over seqs and returns the next-token logits of each,
// (len(seqs), V): row i follows the last new token of seqs[i]. Each sequence's new keys and
// values are appended to its caches. g must not record gradients; the result lives in g's
// arena until g.Reset. A token outside the vocabulary, an empty sequence or a cache too small
// for its new tokens is an error, and then no cache has changed.
func (m *Model) ForwardBatch(g *autograd.Graph, seqs []BatchSeq) (*autograd.Var, error) {
	if g.GradEnabled() {
		return nil, fmt.Errorf("gpt.ForwardBatch: inference only: call SetGrad(false) on the graph")
	}
	if len(seqs) == 0 {
		return nil, fmt.Errorf("gpt.ForwardBatch: no sequences")
	}
	C, V := m.Config.NEmbd, m.Config.VocabSize
	n := 0
	for i, s := range seqs {
		if len(s.IDs) == 0 {
			return nil, fmt.Errorf("gpt.ForwardBatch: sequence %d has no new tokens", i)
		}
		if len(s.Caches) != m.Config.NLayer {
			return nil, fmt.Errorf("gpt.ForwardBatch: sequence %d has %d caches, want one per layer (%d)", i, len(s.Caches), m.Config.NLayer)
		}
		c := s.Caches[0]
		if c.Len+len(s.IDs) > c.K.Dim(2) || c.Len+len(s.IDs) > m.Config.NPositions {
			return nil, fmt.Errorf("gpt.ForwardBatch: sequence %d: %d cached + %d new positions exceed its cache of %d (context %d)", i, c.Len, len(s.IDs), c.K.Dim(2), m.Config.NPositions)
		}
		for j, id := range s.IDs {
			if id < 0 || id >= V {
				return nil, fmt.Errorf("gpt.ForwardBatch: sequence %d: token %d at position %d is outside the vocabulary [0, %d)", i, id, j, V)
			}
		}
		n += len(s.IDs)
	}
	ids := make([]int, 0, n)
	pos := make([]int, 0, n)
	for _, s := range seqs {
		ids = append(ids, s.IDs...)
		for j := range s.IDs {
			pos = append(pos, s.Caches[0].Len+j)
		}
	}
	x := g.Add(m.embed(g, ids), m.Wpe.Forward(g, pos)) // (N, C)
	x = g.Reshape(x, 1, n, C)                          // (1, N, C)
	for l, blk := range m.H {
		h := blk.Ln1.Forward(g, x)
		x = g.Add(x, blk.Attn.forwardPacked(g, h, seqs, l))
		x = g.Add(x, blk.MLP.Forward(g, blk.Ln2.Forward(g, x), nil))
	}
	for _, s := range seqs {
		for _, c := range s.Caches {
			c.Len += len(s.IDs)
		}
	}
	last := g.Arena().New(1, len(seqs), C) // (1, B, C): each sequence's last new position
	off := 0
	xd, ld := x.Value.Data(), last.Data()
	for i, s := range seqs {
		off += len(s.IDs)
		copy(ld[i*C:(i+1)*C], xd[(off-1)*C:off*C])
	}
	y := m.LnF.Forward(g, g.Const(last))
	var logits *autograd.Var
	if m.head != nil {
		logits = g.LinearPacked(y, m.head, nil)
	} else {
		logits = g.Linear(y, m.Wte.Weight, nil, true)
	}
	return g.Reshape(logits, len(seqs), V), nil // (B, V)
}

// forwardPacked is attention for the packed tokens x (1, N, C) of seqs: the fused projection
// runs over all of them, attention per sequence against its own cache of layer l.
func (a *CausalSelfAttention) forwardPacked(g *autograd.Graph, x *autograd.Var, seqs []BatchSeq, l int) *autograd.Var {
	C := x.Value.Dim(2)
	n := x.Value.Dim(1)
	qkv := a.CAttn.Forward(g, x) // (1, N, 3C)
	out := g.Arena().New(1, n, C)
	off := 0
	for _, s := range seqs {
		t := len(s.IDs)
		part := g.Narrow(qkv, 1, off, t)                                 // (1, t, 3C)
		q := nn.SplitHeads(g, g.Narrow(part, 2, 0, C), a.NHead)          // (1, nh, t, hs)
		k := nn.SplitHeads(g, g.Narrow(part, 2, C, C), a.NHead)          // (1, nh, t, hs)
		v := nn.SplitHeads(g, g.Narrow(part, 2, 2*C, C), a.NHead)        // (1, nh, t, hs)
		k, v = s.Caches[l].Append(g, k, v)                               // (1, nh, S, hs)
		y := nn.Attention(g, q, k, v, nn.AttentionOptions{Causal: true}) // (1, t, C)
		tensor.CopyInto(g.Arena().Narrow(out, 1, off, t), y.Value)
		off += t
	}
	return a.CProj.Forward(g, g.Const(out)) // (1, N, C)
}
