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
	// Mask, if set, is added to the scores of each batch entry's keys: (B·S) values, 0 for real
	// keys and a large negative value for padding.
	Mask tensor.AttentionMask
	// Dropout on the attention weights, drawn from RNG (training only).
	Dropout float32
	RNG     *tensor.RNG
	// Weights, if non-nil, receives the attention weights (B, nh, T, S) for inspection.
	Weights **tensor.Tensor
}

// AttentionScale is the factor of the scaled dot-product scores, 1/√hs for heads of size hs.
func AttentionScale(hs int) float32 { return float32(1 / math.Sqrt(float64(hs))) }

// Attention is multi-head scaled dot-product attention (Vaswani et al., 2017),
//
//	softmax(q·kᵀ/√hs + mask)·v,
//
// for q (B, nh, T, hs) and k, v (B, nh, S, hs) — any strided views, read in place. It returns
// the heads merged back, (B, T, C) with C = nh·hs. It runs as one fused primitive, except with
// dropout on the attention weights, which takes the composed path.
func Attention(g *autograd.Graph, q, k, v *autograd.Var, o AttentionOptions) *autograd.Var {
	b, nh, t, hs := q.Value.Dim(0), q.Value.Dim(1), q.Value.Dim(2), q.Value.Dim(3)
	scale := AttentionScale(hs)
	if o.Dropout > 0 && o.RNG != nil {
		return MergeHeads(g, composedAttention(g, q, k, v, scale, o))
	}
	y := g.Attention(q, k, v, scale, o.Causal, o.Mask, o.Weights) // (B, T, nh, hs)
	return g.Reshape(y, b, t, nh*hs)
}

// composedAttention is attention spelled out in primitives — matmul, scale, mask, softmax,
// dropout, matmul — returning (B, nh, T, hs).
func composedAttention(g *autograd.Graph, q, k, v *autograd.Var, scale float32, o AttentionOptions) *autograd.Var {
	scores := g.Scale(g.MatMul(q, g.Transpose(k, -2, -1)), scale) // (B, nh, T, S)
	if o.Mask != nil {
		b, s := k.Value.Dim(0), k.Value.Dim(2)
		scores = g.Add(scores, g.Const(g.Arena().Wrap(o.Mask, b, 1, 1, s)))
	}
	att := g.Softmax(scores, o.Causal) // (B, nh, T, S)
	if o.Weights != nil {
		*o.Weights = att.Value
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

// Put writes the key k and value v (hs values each) of head h of batch entry b at position pos,
// for a caller that appends outside the graph (a fused decoding step); it advances nothing.
func (c *KVCache) Put(b, h, pos int, k, v []float32) {
	nh, ctx, hs := c.K.Dim(1), c.K.Dim(2), c.K.Dim(3)
	at := ((b*nh+h)*ctx + pos) * hs
	copy(c.K.Data()[at:at+hs], k[:hs])
	copy(c.V.Data()[at:at+hs], v[:hs])
}

// Reset empties the cache.
func (c *KVCache) Reset() { c.Len = 0 }
