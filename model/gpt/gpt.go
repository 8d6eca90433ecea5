// Package gpt is the GPT-2 decoder-only language model (Radford et al., 2019): token and
// position embeddings, a stack of pre-LayerNorm Transformer blocks with causal self-attention,
// a final LayerNorm and an LM head tied to the token embedding. Parameters carry HuggingFace's
// GPT-2 names, so checkpoints load and save without renaming.
//
// Notation: B batch size, T sequence length (new positions), S key positions (T plus cached
// ones), C = n_embd, V = vocab_size, L = n_layer, nh = n_head, hs = C/nh.
package gpt

import (
	"errors"
	"fmt"
	"math"
	"runtime"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// Model is a GPT-2 language model.
type Model struct {
	Config Config
	Params nn.Params

	Wte *nn.Embedding // (V, C), also the LM head
	Wpe *nn.Embedding // (n_positions, C)
	H   []*Block
	LnF *nn.LayerNorm

	head       *tensor.PackedMatrix // compact copy of wte for the LM head at inference (see Pack)
	packedOnly bool                 // the float32 copies of packed weights were released
}

// Block is one Transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x)).
type Block struct {
	Ln1  *nn.LayerNorm
	Attn *CausalSelfAttention
	Ln2  *nn.LayerNorm
	MLP  *MLP
}

// CausalSelfAttention is multi-head self-attention with a fused q, k, v projection (c_attn)
// and an output projection (c_proj).
type CausalSelfAttention struct {
	CAttn      *nn.Linear // C → 3C
	CProj      *nn.Linear // C → C
	NHead      int
	AttnPdrop  float32 // dropout on the attention weights (training)
	ResidPdrop float32 // dropout on the output (training)
	// Inspect, if non-nil, receives the attention weights (B, nh, T, S) of every Forward.
	Inspect **tensor.Tensor
}

// MLP is the position-wise feed-forward network: c_proj(gelu(c_fc(x))).
type MLP struct {
	CFc        *nn.Linear // C → 4C
	CProj      *nn.Linear // 4C → C
	Act        tensor.GELUKind
	ResidPdrop float32 // dropout on the output (training)
}

// New builds a model with GPT-2's initialisation, drawn from seed: weights N(0, 0.02),
// residual projections N(0, 0.02/√(2L)), biases 0, LayerNorm weights 1.
func New(cfg Config, seed uint64) (*Model, error) {
	m, err := build(cfg)
	if err != nil {
		return nil, err
	}
	rng := tensor.NewRNG(seed)
	for _, p := range m.Params.List() {
		v := p.Var.Value
		switch {
		case v.Dims() < 2: // biases and LayerNorm keep their zeros and ones
		case isResidualProjection(p.Name):
			tensor.Normal(v, 0, 0.02/math.Sqrt(2*float64(cfg.NLayer)), rng)
		default:
			tensor.Normal(v, 0, 0.02, rng)
		}
	}
	return m, nil
}

func isResidualProjection(name string) bool {
	n := len(name)
	return n >= len("c_proj.weight") && name[n-len("c_proj.weight"):] == "c_proj.weight"
}

// build allocates the layers (zero weights, LayerNorm ones) of a validated config.
func build(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	act := tensor.GELUTanh
	if cfg.Activation == "gelu" {
		act = tensor.GELUErf
	}
	m := &Model{Config: cfg}
	ps := &m.Params
	C, eps := cfg.NEmbd, cfg.LayerNormEpsilon
	m.Wte = nn.NewEmbedding(ps, "wte", cfg.VocabSize, C)
	m.Wpe = nn.NewEmbedding(ps, "wpe", cfg.NPositions, C)
	for l := 0; l < cfg.NLayer; l++ {
		p := fmt.Sprintf("h.%d", l)
		m.H = append(m.H, &Block{
			Ln1: nn.NewLayerNorm(ps, p+".ln_1", C, eps),
			Attn: &CausalSelfAttention{
				CAttn:      nn.NewLinear(ps, p+".attn.c_attn", C, 3*C, true, false),
				CProj:      nn.NewLinear(ps, p+".attn.c_proj", C, C, true, false),
				NHead:      cfg.NHead,
				AttnPdrop:  cfg.AttnPdrop,
				ResidPdrop: cfg.ResidPdrop,
			},
			Ln2: nn.NewLayerNorm(ps, p+".ln_2", C, eps),
			MLP: &MLP{
				CFc:        nn.NewLinear(ps, p+".mlp.c_fc", C, cfg.Inner(), true, false),
				CProj:      nn.NewLinear(ps, p+".mlp.c_proj", cfg.Inner(), C, true, false),
				Act:        act,
				ResidPdrop: cfg.ResidPdrop,
			},
		})
	}
	m.LnF = nn.NewLayerNorm(ps, "ln_f", C, eps)
	return m, nil
}

// State carries what a forward pass needs besides its input: KV caches for incremental
// decoding, and a random source that turns dropout on (training).
type State struct {
	Caches   []*nn.KVCache // one per layer; nil for a plain forward pass
	Dropout  *tensor.RNG   // non-nil: apply the config's dropout
	LastOnly bool          // compute logits for the last position only
}

// NewCaches allocates KV caches for batch b and the model's full context.
func (m *Model) NewCaches(b int) []*nn.KVCache {
	c := make([]*nn.KVCache, m.Config.NLayer)
	for i := range c {
		c[i] = nn.NewKVCache(b, m.Config.NHead, m.Config.NPositions, m.Config.HeadSize())
	}
	return c
}

// Forward returns the logits (B, T, V) — (B, 1, V) with s.LastOnly — for ids, B rows of T
// token ids each (row-major). With caches in s, the T tokens continue the cached positions
// and their keys and values are appended to the caches.
func (m *Model) Forward(g *autograd.Graph, ids []int, b, t int, s *State) *autograd.Var {
	if s == nil {
		s = &State{}
	}
	pos := 0
	if s.Caches != nil {
		pos = s.Caches[0].Len
	}
	if len(ids) != b*t || pos+t > m.Config.NPositions {
		panic(fmt.Sprintf("gpt.Forward: %d ids for (B, T) = (%d, %d) at position %d with n_positions %d", len(ids), b, t, pos, m.Config.NPositions))
	}
	m.mustRecordable(g, "gpt.Forward")
	C := m.Config.NEmbd
	tok := g.Reshape(m.embed(g, ids), b, t, C)         // (B, T, C)
	x := g.Add(tok, g.Narrow(m.Wpe.Weight, 0, pos, t)) // + positions (T, C)
	x = g.Dropout(x, on(s.Dropout, m.Config.EmbdPdrop), s.Dropout)
	for l, blk := range m.H {
		var cache *nn.KVCache
		if s.Caches != nil {
			cache = s.Caches[l]
		}
		x = blk.Forward(g, x, cache, s.Dropout)
	}
	if s.Caches != nil {
		for _, c := range s.Caches {
			c.Len += t
		}
	}
	if s.LastOnly {
		x = g.Narrow(x, 1, t-1, 1) // (B, 1, C)
	}
	x = m.LnF.Forward(g, x)
	if m.head != nil && !g.GradEnabled() {
		return g.LinearPacked(x, m.head, nil)
	}
	return g.Linear(x, m.Wte.Weight, nil, true) // (B, T, V): x·wteᵀ, the tied LM head
}

// embed gathers the token embeddings of ids, from the packed LM head when the float32 table
// was released.
func (m *Model) embed(g *autograd.Graph, ids []int) *autograd.Var {
	if !m.packedOnly || m.head == nil {
		return m.Wte.Forward(g, ids)
	}
	C := m.Config.NEmbd
	out := g.Arena().New(len(ids), C)
	d := out.Data()
	for i, id := range ids {
		if id < 0 || id >= m.Config.VocabSize {
			panic(fmt.Sprintf("gpt: token id %d at position %d is outside the vocabulary [0, %d)", id, i, m.Config.VocabSize))
		}
		m.head.Row(id, d[i*C:(i+1)*C])
	}
	return g.Const(out)
}

// Pack converts the weights of every linear layer and the LM head to a compact format (bf16
// or int8) that inference then reads, or back to fp32. Decoding reads every weight once per
// token, so halving or quartering the bytes speeds it up nearly as much. Training and saving
// keep using the float32 weights. fp32 under bfloat16 compute (on a CPU that runs it) keeps
// the float32 weights for decoding and packs their bfloat16 panels beside them for the
// products of several rows (a prompt, a batch): those would otherwise round and pack every
// weight again in each product (see tensor.PackedMatrix).
func (m *Model) Pack(format tensor.WeightFormat) error {
	if m.packedOnly {
		return errReleased
	}
	panels := format == tensor.FP32 && kernel.PanelsAvailable()
	for _, b := range m.H {
		for _, l := range b.linears() {
			var err error
			if panels {
				err = l.PackPanels()
			} else {
				err = l.Pack(format)
			}
			if err != nil {
				return err
			}
		}
	}
	m.head = nil
	if format != tensor.FP32 || panels {
		p, err := tensor.Pack(m.Wte.Weight.Value, false, format)
		if err != nil {
			return err
		}
		m.head = p
	}
	return nil
}

// packFloatPanels is PackForInference(fp32) with float32 panels: one matrix at a time is
// packed and its float32 weight released, and each block's released weights are handed back
// before the next block is packed, so the model never holds two copies of more than a block
// (or the LM head).
func (m *Model) packFloatPanels() error {
	if m.packedOnly {
		return errReleased
	}
	m.packedOnly = true // from the first release on, the model runs inference only
	for _, b := range m.H {
		for _, l := range b.linears() {
			if err := l.PackPanels(); err != nil {
				return err
			}
			l.Weight.Value = nil
		}
		runtime.GC()
	}
	p, err := tensor.Pack(m.Wte.Weight.Value, false, tensor.FP32)
	if err != nil {
		return err
	}
	m.head = p
	m.Wte.Weight.Value = nil
	runtime.GC()
	return nil
}

// errReleased is the error of packing a model whose float32 weights are gone.
var errReleased = errors.New("gpt: the float32 weights were released; reload the model to pack it again")

// mustRecordable panics, naming op, when g records for training and the model's float32
// weights were released (PackForInference): it can then only run inference.
func (m *Model) mustRecordable(g *autograd.Graph, op string) {
	if m.packedOnly && g.GradEnabled() {
		panic(op + ": the model's float32 weights were released by PackForInference; it can only run inference (SetGrad(false))")
	}
}

// Loss is the mean cross-entropy of logits (B, T, V) against targets (B·T next-token ids;
// tensor.IgnoreIndex skips a position).
func (m *Model) Loss(g *autograd.Graph, logits *autograd.Var, targets []int) *autograd.Var {
	return g.CrossEntropy(logits, targets)
}

// linears are the block's linear layers, in order: attention c_attn and c_proj, MLP c_fc and
// c_proj.
func (blk *Block) linears() [4]*nn.Linear {
	return [4]*nn.Linear{blk.Attn.CAttn, blk.Attn.CProj, blk.MLP.CFc, blk.MLP.CProj}
}

// Forward applies the block to x (B, T, C). rng non-nil turns dropout on.
func (blk *Block) Forward(g *autograd.Graph, x *autograd.Var, cache *nn.KVCache, rng *tensor.RNG) *autograd.Var {
	x = g.Add(x, blk.Attn.Forward(g, blk.Ln1.Forward(g, x), cache, rng))
	return g.Add(x, blk.MLP.Forward(g, blk.Ln2.Forward(g, x), rng))
}

// Forward maps x (B, T, C) to the attention output (B, T, C).
func (a *CausalSelfAttention) Forward(g *autograd.Graph, x *autograd.Var, cache *nn.KVCache, rng *tensor.RNG) *autograd.Var {
	C := x.Value.Dim(2)
	qkv := a.CAttn.Forward(g, x)                             // (B, T, 3C)
	q := nn.SplitHeads(g, g.Narrow(qkv, 2, 0, C), a.NHead)   // (B, nh, T, hs)
	k := nn.SplitHeads(g, g.Narrow(qkv, 2, C, C), a.NHead)   // (B, nh, T, hs)
	v := nn.SplitHeads(g, g.Narrow(qkv, 2, 2*C, C), a.NHead) // (B, nh, T, hs)
	if cache != nil {
		k, v = cache.Append(g, k, v) // (B, nh, S, hs)
	}
	y := nn.Attention(g, q, k, v, nn.AttentionOptions{Causal: true, Dropout: on(rng, a.AttnPdrop), RNG: rng, Weights: a.Inspect}) // (B, T, C)
	return g.Dropout(a.CProj.Forward(g, y), on(rng, a.ResidPdrop), rng)
}

// Forward maps x (B, T, C) through the feed-forward network.
func (m *MLP) Forward(g *autograd.Graph, x *autograd.Var, rng *tensor.RNG) *autograd.Var {
	h := m.CFc.ForwardGELU(g, x, m.Act) // (B, T, 4C)
	return g.Dropout(m.CProj.Forward(g, h), on(rng, m.ResidPdrop), rng)
}

// on returns p when dropout is on (rng non-nil), else 0.
func on(rng *tensor.RNG, p float32) float32 {
	if rng == nil {
		return 0
	}
	return p
}

// PackForInference is Pack followed by releasing the float32 copies of the packed weights (the
// linear layers and the token embedding, which is then read from the packed LM head), so a
// bf16 or int8 model also takes half or a quarter of the memory. The model can then only run
// inference: no training, no Save, no other format. fp32 under float32 compute, on a CPU with
// float32 panels (kernel.FloatPanelsAvailable), packs each matrix as the float32 kernel's
// micro-panels and releases it at once, so the model holds each weight once, in the layout
// every product reads as a stream (see tensor.PackedMatrix); elsewhere fp32 is Pack(fp32).
func (m *Model) PackForInference(format tensor.WeightFormat) error {
	if format == tensor.FP32 {
		if tensor.FloatPanels() {
			return m.packFloatPanels()
		}
		return m.Pack(format)
	}
	if err := m.Pack(format); err != nil {
		return err
	}
	for _, b := range m.H {
		for _, l := range b.linears() {
			l.Weight.Value = nil
		}
	}
	m.Wte.Weight.Value = nil
	m.packedOnly = true
	return nil
}
