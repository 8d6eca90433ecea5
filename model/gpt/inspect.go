package gpt

import (
	"fmt"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
)

// AttentionMaps runs ids (one sequence) through the model and returns every layer's attention
// probabilities, (L) tensors of (nh, T, T): row t of head h is how position t spread its
// attention over positions 0..t. It is for inspection (attention views), not for decoding.
func (m *Model) AttentionMaps(ids []int) ([]*tensor.Tensor, error) {
	t := len(ids)
	if t == 0 || t > m.Config.NPositions {
		return nil, fmt.Errorf("gpt: %d tokens: want 1..%d (the context)", t, m.Config.NPositions)
	}
	for i, id := range ids {
		if id < 0 || id >= m.Config.VocabSize {
			return nil, fmt.Errorf("gpt: token %d at position %d is outside the vocabulary [0, %d)", id, i, m.Config.VocabSize)
		}
	}
	g := autograd.NewGraph()
	g.SetGrad(false)
	C := m.Config.NEmbd
	x := g.Add(g.Reshape(m.embed(g, ids), 1, t, C), g.Narrow(m.Wpe.Weight, 0, 0, t)) // (1, T, C)
	maps := make([]*tensor.Tensor, len(m.H))
	for l, blk := range m.H {
		a := blk.Attn
		h := blk.Ln1.Forward(g, x)
		qkv := a.CAttn.Forward(g, h)                             // (1, T, 3C)
		q := nn.SplitHeads(g, g.Narrow(qkv, 2, 0, C), a.NHead)   // (1, nh, T, hs)
		k := nn.SplitHeads(g, g.Narrow(qkv, 2, C, C), a.NHead)   // (1, nh, T, hs)
		v := nn.SplitHeads(g, g.Narrow(qkv, 2, 2*C, C), a.NHead) // (1, nh, T, hs)
		var w *tensor.Tensor
		y := nn.Attention(g, q, k, v, nn.AttentionOptions{Causal: true, Weights: &w}) // (1, T, C)
		maps[l] = w.Contiguous().Reshape(a.NHead, t, t).Clone()                       // (nh, T, T)
		x = g.Add(x, a.CProj.Forward(g, y))
		x = g.Add(x, blk.MLP.Forward(g, blk.Ln2.Forward(g, x), nil))
	}
	return maps, nil
}
