package nn

// The layers of the Transformer encoder–decoder (Vaswani et al., 2017), with parameters under
// HuggingFace's Bart/Marian names: self_attn.{q,k,v,out}_proj, self_attn_layer_norm,
// encoder_attn.* (cross-attention), encoder_attn_layer_norm, fc1, fc2, final_layer_norm.
//
// Notation: B batch, T target (query) positions, S source (key) positions, C = d_model,
// nh heads, hs = C/nh, F the feed-forward width.
//
// Each sub-layer (attention or feed-forward) is wrapped in a residual connection and a
// LayerNorm. Post-LN, the paper's and Marian's order: y = LN(x + dropout(sublayer(x))).
// Pre-LN (Xiong et al., 2020; GPT-2, mBART), which trains deep stacks without warm-up tricks:
// y = x + dropout(sublayer(LN(x))), and the stack then needs one final LayerNorm.

import (
	"fmt"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// Activation is the nonlinearity of the position-wise feed-forward network.
type Activation int

// The activations HuggingFace's activation_function names.
const (
	ReLU     Activation = iota // "relu": max(0, x), the paper's
	SiLU                       // "swish" or "silu": x·σ(x), the opus-mt models'
	GELU                       // "gelu": x·Φ(x), exact (erf)
	GELUTanh                   // "gelu_new", "gelu_pytorch_tanh": the tanh approximation
)

// ParseActivation maps an activation_function name to an Activation.
func ParseActivation(name string) (Activation, error) {
	switch name {
	case "relu":
		return ReLU, nil
	case "swish", "silu":
		return SiLU, nil
	case "gelu":
		return GELU, nil
	case "gelu_new", "gelu_pytorch_tanh":
		return GELUTanh, nil
	}
	return 0, fmt.Errorf("activation_function %q is not supported (want relu, swish, silu, gelu or gelu_new)", name)
}

// Apply computes the activation of x element-wise.
func (a Activation) Apply(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	switch a {
	case ReLU:
		return g.ReLU(x)
	case SiLU:
		return g.SiLU(x)
	case GELU:
		return g.GELU(x, tensor.GELUErf)
	case GELUTanh:
		return g.GELU(x, tensor.GELUTanh)
	}
	panic(fmt.Sprintf("nn: unknown activation %d", a))
}

// Dropout is g.Dropout(x, p, rng) when rng is non-nil (training) and x otherwise.
func Dropout(g *autograd.Graph, x *autograd.Var, p float32, rng *tensor.RNG) *autograd.Var {
	if rng == nil {
		return x
	}
	return g.Dropout(x, p, rng)
}

// MultiHeadAttention projects queries, keys and values, attends per head and projects the
// merged heads back: out_proj(Attention(q_proj(x), k_proj(m), v_proj(m))). For self-attention
// m = x; for cross-attention m is the encoder's output (the memory).
type MultiHeadAttention struct {
	QProj, KProj, VProj, OutProj *Linear // C → C each, torch layout
	NHead                        int
	Dropout                      float32 // on the attention weights (training)
	// Inspect, if non-nil, receives the attention weights (B, nh, T, S) of every Forward, as
	// AttentionOptions.Weights does; they live in the graph's arena until its next Reset.
	Inspect **tensor.Tensor
}

// NewMultiHeadAttention registers prefix.{q,k,v,out}_proj.{weight,bias} in ps.
func NewMultiHeadAttention(ps *Params, prefix string, c, nh int) *MultiHeadAttention {
	return &MultiHeadAttention{
		QProj:   NewLinear(ps, join(prefix, "q_proj"), c, c, true, true),
		KProj:   NewLinear(ps, join(prefix, "k_proj"), c, c, true, true),
		VProj:   NewLinear(ps, join(prefix, "v_proj"), c, c, true, true),
		OutProj: NewLinear(ps, join(prefix, "out_proj"), c, c, true, true),
		NHead:   nh,
	}
}

// KV projects the memory m (B, S, C) to keys and values (B, nh, S, hs) each.
func (a *MultiHeadAttention) KV(g *autograd.Graph, m *autograd.Var) (k, v *autograd.Var) {
	return SplitHeads(g, a.KProj.Forward(g, m), a.NHead), SplitHeads(g, a.VProj.Forward(g, m), a.NHead)
}

// Forward attends from x (B, T, C) to keys and values k, v (B, nh, S, hs) and returns (B, T, C).
// o carries the causal flag, the key padding mask and the weights to inspect; rng non-nil turns
// attention dropout on.
func (a *MultiHeadAttention) Forward(g *autograd.Graph, x, k, v *autograd.Var, o AttentionOptions, rng *tensor.RNG) *autograd.Var {
	q := SplitHeads(g, a.QProj.Forward(g, x), a.NHead) // (B, nh, T, hs)
	if rng != nil {
		o.Dropout, o.RNG = a.Dropout, rng
	}
	if o.Weights == nil {
		o.Weights = a.Inspect
	}
	return a.OutProj.Forward(g, Attention(g, q, k, v, o)) // (B, T, C)
}

// FeedForward is the position-wise feed-forward network fc2(act(fc1(x))), C → F → C.
type FeedForward struct {
	FC1, FC2 *Linear
	Act      Activation
	Dropout  float32 // on the activations (HF's activation_dropout; training)
}

// NewFeedForward registers prefix.fc1 (C → F) and prefix.fc2 (F → C) in ps.
func NewFeedForward(ps *Params, prefix string, c, f int, act Activation) *FeedForward {
	return &FeedForward{
		FC1: NewLinear(ps, join(prefix, "fc1"), c, f, true, true),
		FC2: NewLinear(ps, join(prefix, "fc2"), f, c, true, true),
		Act: act,
	}
}

// Forward maps x (B, T, C) to (B, T, C).
func (f *FeedForward) Forward(g *autograd.Graph, x *autograd.Var, rng *tensor.RNG) *autograd.Var {
	h := Dropout(g, f.Act.Apply(g, f.FC1.Forward(g, x)), f.Dropout, rng) // (B, T, F)
	return f.FC2.Forward(g, h)
}

// LayerConfig holds what every encoder and decoder layer of a stack shares.
type LayerConfig struct {
	C, NHead, FFN int        // d_model, heads, feed-forward width
	Act           Activation // of the feed-forward network
	PreLN         bool       // pre-LayerNorm residuals instead of the paper's post-LN
	Eps           float32    // LayerNorm ε (Marian: 1e-5)
	// Dropout probabilities (training only): on each sub-layer's output, on the attention
	// weights, and on the feed-forward activations (HF: dropout, attention_dropout,
	// activation_dropout).
	Dropout, AttentionDropout, ActivationDropout float32
}

// residual is one sub-layer connection: its LayerNorm and the order it is applied in.
type residual struct {
	LN      *LayerNorm
	PreLN   bool
	Dropout float32
}

// apply returns LN(x + dropout(f(x))) (post-LN) or x + dropout(f(LN(x))) (pre-LN).
func (r residual) apply(g *autograd.Graph, x *autograd.Var, rng *tensor.RNG, f func(h *autograd.Var) *autograd.Var) *autograd.Var {
	if r.PreLN {
		return g.Add(x, Dropout(g, f(r.LN.Forward(g, x)), r.Dropout, rng))
	}
	return r.LN.Forward(g, g.Add(x, Dropout(g, f(x), r.Dropout, rng)))
}

func newResidual(ps *Params, name string, cfg LayerConfig) residual {
	return residual{LN: NewLayerNorm(ps, name, cfg.C, cfg.Eps), PreLN: cfg.PreLN, Dropout: cfg.Dropout}
}

// TransformerEncoderLayer is self-attention over the source, then the feed-forward network:
//
//	h = LN(x + SelfAttn(x))          (post-LN; pre-LN: h = x + SelfAttn(LN(x)))
//	y = LN(h + FFN(h))
type TransformerEncoderLayer struct {
	SelfAttn *MultiHeadAttention
	FFN      *FeedForward
	attnRes  residual // self_attn_layer_norm
	ffnRes   residual // final_layer_norm
}

// NewTransformerEncoderLayer registers the layer's parameters under prefix in ps.
func NewTransformerEncoderLayer(ps *Params, prefix string, cfg LayerConfig) *TransformerEncoderLayer {
	l := &TransformerEncoderLayer{}
	l.SelfAttn, l.attnRes = newAttentionSublayer(ps, prefix, "self_attn", cfg)
	l.FFN, l.ffnRes = newFeedForwardSublayer(ps, prefix, cfg)
	return l
}

// newAttentionSublayer registers prefix.name (the attention) and prefix.name_layer_norm.
func newAttentionSublayer(ps *Params, prefix, name string, cfg LayerConfig) (*MultiHeadAttention, residual) {
	a := NewMultiHeadAttention(ps, join(prefix, name), cfg.C, cfg.NHead)
	a.Dropout = cfg.AttentionDropout
	return a, newResidual(ps, join(prefix, name+"_layer_norm"), cfg)
}

// newFeedForwardSublayer registers prefix.fc1, prefix.fc2 and prefix.final_layer_norm.
func newFeedForwardSublayer(ps *Params, prefix string, cfg LayerConfig) (*FeedForward, residual) {
	f := NewFeedForward(ps, prefix, cfg.C, cfg.FFN, cfg.Act)
	f.Dropout = cfg.ActivationDropout
	return f, newResidual(ps, join(prefix, "final_layer_norm"), cfg)
}

// Forward maps x (B, S, C) to (B, S, C); mask (B·S, additive) hides padded source keys.
// rng non-nil turns dropout on.
func (l *TransformerEncoderLayer) Forward(g *autograd.Graph, x *autograd.Var, mask tensor.AttentionMask, rng *tensor.RNG) *autograd.Var {
	x = l.attnRes.apply(g, x, rng, func(h *autograd.Var) *autograd.Var {
		k, v := l.SelfAttn.KV(g, h) // (B, nh, S, hs)
		return l.SelfAttn.Forward(g, h, k, v, AttentionOptions{Mask: mask}, rng)
	})
	return l.ffnRes.apply(g, x, rng, func(h *autograd.Var) *autograd.Var { return l.FFN.Forward(g, h, rng) })
}

// Memory is what a decoder layer's cross-attention reads from the encoder: the projected keys
// and values of the source and its padding mask. It is computed once per source (Memory) and
// reused at every decoding step.
type Memory struct {
	K, V *autograd.Var        // (B, nh, S, hs)
	Mask tensor.AttentionMask // (B·S) additive; nil when nothing is padded
}

// TransformerDecoderLayer is masked (causal) self-attention over the target prefix,
// cross-attention to the encoder's output, then the feed-forward network:
//
//	h = LN(x + SelfAttn(x, causal))
//	c = LN(h + CrossAttn(h, memory))
//	y = LN(c + FFN(c))
type TransformerDecoderLayer struct {
	SelfAttn  *MultiHeadAttention
	CrossAttn *MultiHeadAttention // encoder_attn
	FFN       *FeedForward
	attnRes   residual // self_attn_layer_norm
	crossRes  residual // encoder_attn_layer_norm
	ffnRes    residual // final_layer_norm
}

// NewTransformerDecoderLayer registers the layer's parameters under prefix in ps.
func NewTransformerDecoderLayer(ps *Params, prefix string, cfg LayerConfig) *TransformerDecoderLayer {
	l := &TransformerDecoderLayer{}
	l.SelfAttn, l.attnRes = newAttentionSublayer(ps, prefix, "self_attn", cfg)
	l.CrossAttn, l.crossRes = newAttentionSublayer(ps, prefix, "encoder_attn", cfg)
	l.FFN, l.ffnRes = newFeedForwardSublayer(ps, prefix, cfg)
	return l
}

// Memory projects the encoder output enc (B, S, C) to this layer's cross-attention keys and
// values; mask (B·S) hides the padded source positions.
func (l *TransformerDecoderLayer) Memory(g *autograd.Graph, enc *autograd.Var, mask tensor.AttentionMask) Memory {
	k, v := l.CrossAttn.KV(g, enc)
	return Memory{K: k, V: v, Mask: mask}
}

// Forward maps x (B, T, C) to (B, T, C). With cache non-nil, the T positions continue the
// cached ones: their self-attention keys and values are appended to it (inference only; the
// caller advances cache.Len). rng non-nil turns dropout on.
func (l *TransformerDecoderLayer) Forward(g *autograd.Graph, x *autograd.Var, mem Memory, cache *KVCache, rng *tensor.RNG) *autograd.Var {
	x = l.attnRes.apply(g, x, rng, func(h *autograd.Var) *autograd.Var {
		k, v := l.SelfAttn.KV(g, h) // (B, nh, T, hs)
		if cache != nil {
			k, v = cache.Append(g, k, v) // (B, nh, S', hs), S' = cached + T
		}
		return l.SelfAttn.Forward(g, h, k, v, AttentionOptions{Causal: true}, rng)
	})
	x = l.crossRes.apply(g, x, rng, func(h *autograd.Var) *autograd.Var {
		return l.CrossAttn.Forward(g, h, mem.K, mem.V, AttentionOptions{Mask: mem.Mask}, rng)
	})
	return l.ffnRes.apply(g, x, rng, func(h *autograd.Var) *autograd.Var { return l.FFN.Forward(g, h, rng) })
}
