// Package transformer is the Transformer encoder–decoder of "Attention Is All You Need"
// (Vaswani et al., 2017) in HuggingFace's MarianMTModel layout: token embeddings scaled by √C
// plus fixed sinusoidal positions, a stack of encoder layers (self-attention, feed-forward), a
// stack of decoder layers (masked self-attention, cross-attention to the encoder output,
// feed-forward), post-LayerNorm residuals as in the paper (pre-LN as an option), and logits
// from the target embedding plus final_logits_bias. Parameters carry HuggingFace's names, so
// opus-mt checkpoints load, and saved models load in transformers, without renaming.
//
// Notation: B batch size, S source length, T target length, C = d_model, V target vocabulary,
// nh heads, hs = C/nh, F the feed-forward width, P = max_position_embeddings.
package transformer

import (
	"fmt"
	"math"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
)

// Model is MarianMTModel: the encoder–decoder and its output layer.
type Model struct {
	Config Config
	Params nn.Params

	SrcEmbed, TgtEmbed *nn.Embedding // (V_src, C), (V, C); one table when shared
	LMHead             *autograd.Var // (V, C): TgtEmbed.Weight when tied, else lm_head.weight
	// FinalLogitsBias (1, V) is added to the logits. HuggingFace stores it as a buffer: it is
	// saved and loaded with the weights but never trained (it requires no gradient).
	FinalLogitsBias *autograd.Var
	Positions       *nn.PositionalEncoding // (P, C), fixed
	Encoder         []*nn.TransformerEncoderLayer
	Decoder         []*nn.TransformerDecoderLayer
	EncoderLN       *nn.LayerNorm // pre-LN only: model.encoder.layer_norm
	DecoderLN       *nn.LayerNorm // pre-LN only: model.decoder.layer_norm

	embedScale float32 // √C with scale_embedding, else 1
}

// New builds a model with Marian's initialisation drawn from seed: weights and embeddings
// N(0, init_std), the pad token's embedding row 0, biases 0, LayerNorm weights 1,
// final_logits_bias 0.
func New(cfg Config, seed uint64) (*Model, error) {
	m, err := build(cfg)
	if err != nil {
		return nil, err
	}
	rng := tensor.NewRNG(seed)
	for _, p := range m.Params.List() {
		if v := p.Var.Value; v.Dims() >= 2 && p.Var != m.FinalLogitsBias {
			tensor.Normal(v, 0, float64(cfg.InitStd), rng)
		}
	}
	for _, e := range []*nn.Embedding{m.SrcEmbed, m.TgtEmbed} {
		c := e.Weight.Value.Dim(1)
		clear(e.Weight.Value.Data()[cfg.PadTokenID*c : (cfg.PadTokenID+1)*c])
	}
	return m, nil
}

// build allocates the layers (zero weights, LayerNorm ones) of a validated config.
func build(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	act, _ := nn.ParseActivation(cfg.ActivationFunction)
	m := &Model{Config: cfg, embedScale: 1}
	if cfg.ScaleEmbedding {
		m.embedScale = float32(math.Sqrt(float64(cfg.DModel)))
	}
	ps := &m.Params
	C, V := cfg.DModel, cfg.TargetVocab()
	if cfg.ShareEncoderDecoderEmbeddings {
		m.SrcEmbed = nn.NewEmbedding(ps, "model.shared", cfg.VocabSize, C)
		m.TgtEmbed = m.SrcEmbed
	} else {
		m.SrcEmbed = nn.NewEmbedding(ps, "model.encoder.embed_tokens", cfg.VocabSize, C)
		m.TgtEmbed = nn.NewEmbedding(ps, "model.decoder.embed_tokens", V, C)
	}
	m.Positions = nn.NewPositionalEncoding(cfg.MaxPositionEmbeddings, C, false)
	layer := func(nh, ffn int) nn.LayerConfig {
		return nn.LayerConfig{C: C, NHead: nh, FFN: ffn, Act: act, PreLN: cfg.PreLayerNorm, Eps: LayerNormEps,
			Dropout: cfg.Dropout, AttentionDropout: cfg.AttentionDropout, ActivationDropout: cfg.ActivationDropout}
	}
	for l := 0; l < cfg.EncoderLayers; l++ {
		m.Encoder = append(m.Encoder, nn.NewTransformerEncoderLayer(ps, fmt.Sprintf("model.encoder.layers.%d", l), layer(cfg.EncoderAttentionHeads, cfg.EncoderFFNDim)))
	}
	for l := 0; l < cfg.DecoderLayers; l++ {
		m.Decoder = append(m.Decoder, nn.NewTransformerDecoderLayer(ps, fmt.Sprintf("model.decoder.layers.%d", l), layer(cfg.DecoderAttentionHeads, cfg.DecoderFFNDim)))
	}
	if cfg.PreLayerNorm {
		m.EncoderLN = nn.NewLayerNorm(ps, "model.encoder.layer_norm", C, LayerNormEps)
		m.DecoderLN = nn.NewLayerNorm(ps, "model.decoder.layer_norm", C, LayerNormEps)
	}
	m.LMHead = m.TgtEmbed.Weight
	if !cfg.TieWordEmbeddings {
		m.LMHead = ps.Add("lm_head.weight", false, V, C)
	}
	m.FinalLogitsBias = ps.Add("final_logits_bias", false, 1, V)
	m.FinalLogitsBias.SetRequiresGrad(false)
	return m, nil
}

// Batch is the input of a forward pass: B source rows of S tokens and B target rows of T
// tokens, row-major.
type Batch struct {
	B, S, T       int
	InputIDs      []int // (B·S) source tokens
	AttentionMask []int // (B·S) 1 for real source tokens, 0 for padding; nil: all real
	// DecoderInputIDs (B·T) are the decoder's inputs, the targets shifted right
	// (ShiftTokensRight); nil means shift Labels.
	DecoderInputIDs []int
	Labels          []int // (B·T) next-token targets; tensor.IgnoreIndex (−100) skips a position
}

// Check validates the batch against the model: sizes, lengths within max_position_embeddings,
// token ids within the vocabularies. Encode and Decode panic on a batch it refuses.
func (m *Model) Check(b *Batch) error {
	c := m.Config
	n := len(b.InputIDs)
	if b.B <= 0 || b.S <= 0 || b.B > n || b.S > n || n != b.B*b.S { // B, S ≤ n: no overflow in B·S
		return fmt.Errorf("transformer: %d source ids for (B, S) = (%d, %d)", len(b.InputIDs), b.B, b.S)
	}
	if b.AttentionMask != nil && len(b.AttentionMask) != b.B*b.S {
		return fmt.Errorf("transformer: attention_mask has %d entries, want B·S = %d", len(b.AttentionMask), b.B*b.S)
	}
	if b.S > c.MaxPositionEmbeddings || b.T > c.MaxPositionEmbeddings {
		return fmt.Errorf("transformer: source of %d or target of %d tokens exceeds max_position_embeddings = %d", b.S, b.T, c.MaxPositionEmbeddings)
	}
	if err := checkIDs("source id", b.InputIDs, c.VocabSize); err != nil {
		return err
	}
	for i, v := range b.AttentionMask {
		if v != 0 && v != 1 {
			return fmt.Errorf("transformer: attention_mask[%d] = %d, want 0 (padding) or 1", i, v)
		}
	}
	if b.DecoderInputIDs == nil && b.Labels == nil {
		return nil // encoder only
	}
	if b.T <= 0 || b.T > c.MaxPositionEmbeddings || (b.DecoderInputIDs != nil && len(b.DecoderInputIDs) != b.B*b.T) || (b.Labels != nil && len(b.Labels) != b.B*b.T) {
		return fmt.Errorf("transformer: decoder inputs (%d) and labels (%d) must have B·T = %d·%d entries", len(b.DecoderInputIDs), len(b.Labels), b.B, b.T)
	}
	if err := checkIDs("decoder input id", b.DecoderInputIDs, c.TargetVocab()); err != nil {
		return err
	}
	for i, id := range b.Labels {
		if id != tensor.IgnoreIndex && (id < 0 || id >= c.TargetVocab()) {
			return fmt.Errorf("transformer: label %d at position %d is neither -100 (ignored) nor in the vocabulary [0, %d)", id, i, c.TargetVocab())
		}
	}
	return nil
}

func checkIDs(what string, ids []int, vocab int) error {
	for i, id := range ids {
		if id < 0 || id >= vocab {
			return fmt.Errorf("transformer: %s %d at position %d is outside the vocabulary [0, %d)", what, id, i, vocab)
		}
	}
	return nil
}

// ShiftTokensRight makes decoder inputs from labels (B rows of T): each row starts with start
// and continues with its labels but the last, −100 turned into pad — as HuggingFace's
// shift_tokens_right, so position t is trained to predict labels[t] from labels[:t].
func ShiftTokensRight(labels []int, b, t, start, pad int) []int {
	out := make([]int, b*t)
	for r := 0; r < b; r++ {
		out[r*t] = start
		for i := 1; i < t; i++ {
			out[r*t+i] = labels[r*t+i-1]
			if out[r*t+i] == tensor.IgnoreIndex {
				out[r*t+i] = pad
			}
		}
	}
	return out
}

// decoderInputs returns the batch's decoder inputs, shifting its labels when it has none.
func (m *Model) decoderInputs(b *Batch) []int {
	if b.DecoderInputIDs != nil {
		return b.DecoderInputIDs
	}
	return ShiftTokensRight(b.Labels, b.B, b.T, m.Config.DecoderStartTokenID, m.Config.PadTokenID)
}

// embed returns scale·E[ids] + PE[start : start+n] for B rows of n ids: (B, n, C).
func (m *Model) embed(g *autograd.Graph, e *nn.Embedding, ids []int, b, n, start int) *autograd.Var {
	x := g.Reshape(e.Forward(g, ids), b, n, m.Config.DModel) // (B, n, C)
	if m.embedScale != 1 {
		x = g.Scale(x, m.embedScale)
	}
	return m.Positions.Forward(g, x, start)
}

// Encode runs the encoder over the batch's source: encoder_last_hidden_state (B, S, C).
// rng non-nil turns dropout on.
func (m *Model) Encode(g *autograd.Graph, b *Batch, rng *tensor.RNG) *autograd.Var {
	if err := m.Check(b); err != nil {
		panic(err.Error())
	}
	x := nn.Dropout(g, m.embed(g, m.SrcEmbed, b.InputIDs, b.B, b.S, 0), m.Config.Dropout, rng) // (B, S, C)
	mask := keyMask(g, b.AttentionMask)
	for _, l := range m.Encoder {
		x = l.Forward(g, x, mask, rng)
	}
	if m.EncoderLN != nil {
		x = m.EncoderLN.Forward(g, x)
	}
	return x
}

// Decode runs the decoder over the batch's decoder inputs (teacher forcing), attending to enc
// (B, S, C) from Encode, and returns the logits (B, T, V). rng non-nil turns dropout on.
func (m *Model) Decode(g *autograd.Graph, enc *autograd.Var, b *Batch, rng *tensor.RNG) *autograd.Var {
	if err := m.Check(b); err != nil {
		panic(err.Error())
	}
	if b.DecoderInputIDs == nil && b.Labels == nil {
		panic("transformer.Decode: the batch has neither decoder inputs nor labels")
	}
	mask := keyMask(g, b.AttentionMask)
	x := nn.Dropout(g, m.embed(g, m.TgtEmbed, m.decoderInputs(b), b.B, b.T, 0), m.Config.Dropout, rng) // (B, T, C)
	for _, l := range m.Decoder {
		x = l.Forward(g, x, l.Memory(g, enc, mask), nil, rng)
	}
	return m.logits(g, x)
}

// logits maps decoder states x (B, T, C) to (B, T, V): x·LMHeadᵀ + final_logits_bias.
func (m *Model) logits(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	if m.DecoderLN != nil {
		x = m.DecoderLN.Forward(g, x)
	}
	return g.Linear(x, m.LMHead, m.FinalLogitsBias, true)
}

// Loss is the mean cross-entropy of logits (B, T, V) against labels (B·T; −100 skips a
// position), with label smoothing eps (0: none; the paper trains with 0.1).
func (m *Model) Loss(g *autograd.Graph, logits *autograd.Var, labels []int, eps float32) *autograd.Var {
	return g.LabelSmoothedCrossEntropy(logits, labels, eps)
}

// keyMask is the additive attention mask of a 0/1 attention mask: 0 for real keys, the float32
// minimum for padding (as HuggingFace does); nil when nothing is padded. It lives in g's arena.
func keyMask(g *autograd.Graph, attention []int) tensor.AttentionMask {
	padded := false
	for _, v := range attention {
		padded = padded || v == 0
	}
	if !padded {
		return nil
	}
	mask := g.Arena().New(len(attention)).Data()
	for i, v := range attention {
		mask[i] = 0
		if v == 0 {
			mask[i] = -math.MaxFloat32
		}
	}
	return mask
}
