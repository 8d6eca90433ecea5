package nn

import (
	"fmt"
	"math"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// Notation: B batch, T query positions, S key positions, nh heads, hs head size, C = nh·hs.

// AttentionOptions are the variations of scaled dot-product attention.
type AttentionOptions struct {
	// Causal: query t sees keys j ≤ t + S − T only (so a block of queries at the end of a
	// longer key sequence, as in cached decoding, is masked correctly).
	Causal bool
	// Mask, if set, is added to the scores before the softmax; it broadcasts to (B, nh, T, S)
	// (for example (B, 1, 1, S) with 0 for real keys and a large negative value for padding).
	Mask *tensor.Tensor
	// Dropout on the attention weights, drawn from RNG (training only).
	Dropout float32
	RNG     *tensor.RNG
	// Weights, if non-nil, receives the attention weights (B, nh, T, S) for inspection.
	Weights **autograd.Var
}

// ScaledDotProductAttention is softmax(q·kᵀ/√hs + mask)·v (Vaswani et al., 2017) for
// q (B, nh, T, hs) and k, v (B, nh, S, hs) — any strided views. It returns (B, nh, T, hs).
func ScaledDotProductAttention(g *autograd.Graph, q, k, v *autograd.Var, o AttentionOptions) *autograd.Var {
	hs := q.Value.Dim(-1)
	scores := g.Scale(g.MatMul(q, g.Transpose(k, -2, -1)), float32(1/math.Sqrt(float64(hs)))) // (B, nh, T, S)
	if o.Mask != nil {
		scores = g.Add(scores, g.Const(o.Mask))
	}
	att := g.Softmax(scores, o.Causal) // (B, nh, T, S)
	if o.Weights != nil {
		*o.Weights = att
	}
	att = g.Dropout(att, o.Dropout, o.RNG)
	return g.MatMul(att, v) // (B, nh, T, hs)
}

// SplitHeads views x (B, T, C) as (B, nh, T, hs) without copying; x may be a column slice of a
// wider tensor (such as q, k or v inside a fused (B, T, 3C) projection).
func SplitHeads(g *autograd.Graph, x *autograd.Var, nh int) *autograd.Var {
	return g.Transpose(g.SplitDim(x, 2, nh), 1, 2) // (B, T, nh, hs) → (B, nh, T, hs)
}

// MergeHeads turns y (B, nh, T, hs) back into (B, T, C) (one copy).
func MergeHeads(g *autograd.Graph, y *autograd.Var) *autograd.Var {
	b, nh, t, hs := y.Value.Dim(0), y.Value.Dim(1), y.Value.Dim(2), y.Value.Dim(3)
	return g.Reshape(g.Contiguous(g.Transpose(y, 1, 2)), b, t, nh*hs)
}

// KVCache holds the keys and values of past positions for one attention layer, so that decoding
// a new token costs one position rather than the whole prefix.
type KVCache struct {
	K, V *tensor.Tensor // (B, nh, ctx, hs)
	Len  int            // positions filled
}

// NewKVCache allocates a cache for batch b, nh heads, ctx positions, head size hs.
func NewKVCache(b, nh, ctx, hs int) *KVCache {
	return &KVCache{K: tensor.New(b, nh, ctx, hs), V: tensor.New(b, nh, ctx, hs)}
}

// Append writes k and v (B, nh, T, hs) at the cache's current length and returns views of all
// cached keys and values so far, (B, nh, S, hs) with S = Len + T. The caller advances Len once
// every layer has appended.
func (c *KVCache) Append(g *autograd.Graph, k, v *autograd.Var) (*autograd.Var, *autograd.Var) {
	t := k.Value.Dim(2)
	if c.Len+t > c.K.Dim(2) {
		panic(fmt.Sprintf("nn.KVCache: %d cached + %d new positions exceed the cache's %d", c.Len, t, c.K.Dim(2)))
	}
	a := g.Arena()
	tensor.CopyInto(a.Narrow(c.K, 2, c.Len, t), k.Value)
	tensor.CopyInto(a.Narrow(c.V, 2, c.Len, t), v.Value)
	return g.Const(a.Narrow(c.K, 2, 0, c.Len+t)), g.Const(a.Narrow(c.V, 2, 0, c.Len+t))
}

// Reset empties the cache.
func (c *KVCache) Reset() { c.Len = 0 }
