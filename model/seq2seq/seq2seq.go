// Package seq2seq is the recurrent encoder–decoder of neural machine translation: without
// attention as in Sutskever et al. (2014), and with attention as in Bahdanau et al. (2015)
// and Luong et al. (2015).
//
// Notation: B batch size, S source length, T target length (EOS included), E embedding size,
// H hidden size, L layers, V_s and V_t the source and target vocabulary sizes, x_1…x_S the
// source tokens, y_1…y_T the target tokens (y_T = EOS), y_0 = BOS.
//
// The encoder embeds the source and reads it with an L-layer GRU or LSTM, bidirectional by
// default (H/2 units each way), giving one state h̄_s (H) per source position: the forward
// and backward states concatenated. The decoder is an L-layer unidirectional RNN of H units
// over the embedded previous target tokens; each of its layers starts from
//
//	h_0 = tanh(W_b·[h→_S; h←_1] + b_b)
//
// — the final encoder states of the same layer, both directions (for the LSTM, the cell
// starts from the encoder's final cells concatenated, as they are). This is all the decoder
// knows of the source when attention is off (Sutskever et al.): p(y_t | y_<t, x) =
// softmax(W_s·h_t + b_s).
//
// With attention, the decoder's state h_t attends over the encoder states (additive,
// Bahdanau's vᵀtanh(W_q·h_t + W_k·h̄_s); or Luong's dot h_tᵀh̄_s or general h_tᵀW_a·h̄_s), the
// context c_t = Σ_s α_ts·h̄_s is concatenated with h_t, and
//
//	h̃_t = tanh(W_c·[c_t; h_t]),   p(y_t | y_<t, x) = softmax(W_s·h̃_t + b_s),
//
// Luong et al.'s global attention with context concatenation. Without input feeding the
// decoder's recurrence does not depend on the attention, so teacher-forced training runs it
// over all T positions at once and attends with T queries in one step; greedy decoding
// steps one token at a time with the same parameters.
//
// With input feeding (Luong et al., section 3.3) the decoder also reads the previous
// attentional state, its input at step t being [emb(y_{t−1}); h̃_{t−1}] with h̃_0 = 0, so
// that it knows what it attended to before — as Bahdanau et al.'s decoder, whose state
// depends on the previous context. Training then steps through the T positions one at a
// time.
package seq2seq

import (
	"fmt"
	"math"
	"strings"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
)

// Model is a recurrent encoder–decoder, with or without attention. It keeps scratch buffers
// between calls, so one Model is not safe for concurrent use.
type Model struct {
	Config Config
	Params nn.Params

	SrcEmbed  *nn.Embedding    // encoder.embed (V_s, E)
	Encoder   *nn.RNN          // encoder.rnn: E → H (bidirectional: H/2 each way), L layers
	Bridge    *nn.Linear       // bridge: encoder final states (H) → decoder initial states (H)
	TgtEmbed  *nn.Embedding    // decoder.embed (V_t, E)
	Decoder   *nn.RNN          // decoder.rnn: E → H (E + H with input feeding), L layers
	Attention *nn.RNNAttention // decoder.attention; nil without attention
	Combine   *nn.Linear       // decoder.combine W_c: [c_t; h_t] (2H) → H; nil without attention
	Out       *nn.Linear       // decoder.out W_s: H → V_t

	mask   tensor.AttentionMask // scratch: the source padding mask of the last Encode
	states []*autograd.Var      // scratch: the decoder's initial states of the last Encode
	steps  []*autograd.Var      // scratch: per-step outputs of an input-feeding decoder
}

// New builds a model with weights drawn from seed: embeddings N(0, 1), every other weight and
// bias U(−1/√H, 1/√H) (PyTorch's defaults for its RNNs).
func New(cfg Config, seed uint64) (*Model, error) {
	m, err := build(cfg)
	if err != nil {
		return nil, err
	}
	rng := tensor.NewRNG(seed)
	k := 1 / math.Sqrt(float64(cfg.HiddenSize))
	for _, p := range m.Params.List() {
		if strings.HasSuffix(p.Name, "embed.weight") {
			tensor.Normal(p.Var.Value, 0, 1, rng)
		} else {
			tensor.Uniform(p.Var.Value, -k, k, rng)
		}
	}
	return m, nil
}

// build allocates the layers (zero weights) of a config after validating it.
func build(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	kind, _ := nn.ParseCellKind(cfg.Cell)
	m := &Model{Config: cfg}
	ps := &m.Params
	E, H, L := cfg.EmbedSize, cfg.HiddenSize, cfg.NumLayers
	m.SrcEmbed = nn.NewEmbedding(ps, "encoder.embed", cfg.SrcVocabSize, E)
	m.Encoder = nn.NewRNN(ps, "encoder.rnn", kind, E, cfg.EncoderHidden(), L, cfg.Bidirectional)
	m.Bridge = nn.NewLinear(ps, "bridge", H, H, true, true)
	m.TgtEmbed = nn.NewEmbedding(ps, "decoder.embed", cfg.TgtVocabSize, E)
	in := E
	if cfg.InputFeeding {
		in += H
	}
	m.Decoder = nn.NewRNN(ps, "decoder.rnn", kind, in, H, L, false)
	if cfg.HasAttention() {
		score, _ := nn.ParseScore(cfg.Attention)
		m.Attention = nn.NewRNNAttention(ps, "decoder.attention", score, H, H, cfg.attentionSize())
		m.Combine = nn.NewLinear(ps, "decoder.combine", 2*H, H, false, true)
	}
	m.Out = nn.NewLinear(ps, "decoder.out", H, cfg.TgtVocabSize, true, true)
	return m, nil
}

// Encoded is what the decoder reads of a batch of sources.
type Encoded struct {
	H      *autograd.Var        // h̄ (B, S, H), zero at padded positions
	Keys   *autograd.Var        // the attention's key projection of H (nil without attention)
	Mask   tensor.AttentionMask // B·S: 0 at real positions, −1e9 at padding
	States []*autograd.Var      // the decoder's L initial states, (B, P·H) each
}

// Encode reads the batch's sources (B, S), padded, of lengths 1..S. rng non-nil turns
// dropout on. The mask and the slice of states are the model's scratch, valid until the next
// Encode.
func (m *Model) Encode(g *autograd.Graph, bt *Batch, rng *tensor.RNG) Encoded {
	b, s, src, lengths := bt.B, bt.S, bt.Src, bt.SrcLen
	if len(src) != b*s || len(lengths) != b {
		panic(fmt.Sprintf("seq2seq.Encode: %d ids and %d lengths for (B, S) = (%d, %d)", len(src), len(lengths), b, s))
	}
	c := m.Config
	x := g.Reshape(m.SrcEmbed.Forward(g, src), b, s, c.EmbedSize) // (B, S, E)
	x = g.Dropout(x, on(rng, c.Dropout), rng)
	h, finals := m.Encoder.Forward(g, x, lengths, nil) // (B, S, H); L·D final states
	m.mask = nn.LengthMask(m.mask, lengths, s)
	if len(m.states) != c.NumLayers {
		m.states = make([]*autograd.Var, c.NumLayers)
	}
	enc := Encoded{H: h, Mask: m.mask, States: m.states}
	if m.Attention != nil {
		enc.Keys = m.Attention.Keys(g, h)
	}
	nd := m.Encoder.Directions()
	for l := range enc.States {
		last := finals[l*nd : (l+1)*nd] // [h→_S, h←_1] of layer l
		hs := last[0]
		if nd == 2 {
			hs = g.Concat(1, m.Encoder.H(g, last[0]), m.Encoder.H(g, last[1])) // (B, H)
		} else {
			hs = m.Encoder.H(g, hs)
		}
		h0 := g.Tanh(m.Bridge.Forward(g, hs)) // (B, H)
		if m.Encoder.Kind == nn.LSTM {
			cs := m.Encoder.C(g, last[0])
			if nd == 2 {
				cs = g.Concat(1, cs, m.Encoder.C(g, last[1]))
			}
			h0 = g.Concat(1, h0, cs) // [h_0 | c_0] (B, 2H)
		}
		enc.States[l] = h0
	}
	return enc
}

// Forward returns the teacher-forced logits (B, T, V_t) of a batch — the decoder reads
// y_0…y_{T−1} and predicts y_1…y_T — and, with attention, the weights α (B, T, S) (nil
// without). rng non-nil turns dropout on.
func (m *Model) Forward(g *autograd.Graph, bt *Batch, rng *tensor.RNG) (logits, alpha *autograd.Var) {
	c := m.Config
	enc := m.Encode(g, bt, rng)
	y := g.Reshape(m.TgtEmbed.Forward(g, bt.DecIn), bt.B, bt.T, c.EmbedSize) // (B, T, E)
	y = g.Dropout(y, on(rng, c.Dropout), rng)
	var ht *autograd.Var // h̃ (B, T, H)
	if c.InputFeeding {
		ht, alpha = m.feedForward(g, y, enc)
	} else {
		h, _ := m.Decoder.Forward(g, y, nil, enc.States) // (B, T, H)
		ht, alpha = m.attend(g, h, enc)
	}
	return m.logits(g, ht, rng), alpha
}

// feedForward runs an input-feeding decoder over the embedded decoder inputs y (B, T, E) one
// step at a time, returning h̃ (B, T, H) and α (B, T, S).
func (m *Model) feedForward(g *autograd.Graph, y *autograd.Var, enc Encoded) (ht, alpha *autograd.Var) {
	b, t, e := y.Value.Dim(0), y.Value.Dim(1), y.Value.Dim(2)
	if cap(m.steps) < 2*t {
		m.steps = make([]*autograd.Var, 2*t)
	}
	hts, alphas := m.steps[:t], m.steps[t:2*t]
	yt := g.Contiguous(g.Transpose(y, 0, 1)) // time-major (T, B, E)
	feed := g.Const(g.Arena().Zeros(b, m.Config.HiddenSize))
	for i := 0; i < t; i++ {
		hts[i], alphas[i] = m.step(g, g.Reshape(g.Narrow(yt, 0, i, 1), b, e), feed, enc) // (B, 1, H), (B, 1, S)
		feed = g.Reshape(hts[i], b, m.Config.HiddenSize)
	}
	return g.Concat(1, hts...), g.Concat(1, alphas...)
}

// step is one decoder step from the embedded previous tokens e (B, E) and, with input
// feeding, the previous attentional state feed (B, H): it advances enc.States in place and
// returns h̃ (B, 1, H) and α (B, 1, S) (nil without attention).
func (m *Model) step(g *autograd.Graph, e, feed *autograd.Var, enc Encoded) (ht, alpha *autograd.Var) {
	if m.Config.InputFeeding {
		e = g.Concat(1, e, feed) // (B, E + H)
	}
	h := m.Decoder.Step(g, e, enc.States)                     // (B, H)
	return m.attend(g, g.SplitDim(h, 0, h.Value.Dim(0)), enc) // (B, 1, H)
}

// attend maps decoder states h (B, T, H) to the attentional states h̃ (B, T, H) and the
// attention weights α (B, T, S); without attention h̃ = h and α is nil.
func (m *Model) attend(g *autograd.Graph, h *autograd.Var, enc Encoded) (ht, alpha *autograd.Var) {
	if m.Attention == nil {
		return h, nil
	}
	ctx, alpha := m.Attention.Forward(g, h, enc.Keys, enc.H, enc.Mask) // (B, T, H), (B, T, S)
	return g.Tanh(m.Combine.Forward(g, g.Concat(2, ctx, h))), alpha    // h̃ = tanh(W_c·[c; h])
}

// logits maps h̃ (B, T, H) to (B, T, V_t), with dropout when rng is non-nil.
func (m *Model) logits(g *autograd.Graph, ht *autograd.Var, rng *tensor.RNG) *autograd.Var {
	return m.Out.Forward(g, g.Dropout(ht, on(rng, m.Config.Dropout), rng))
}

// Loss is the mean cross-entropy of the teacher-forced predictions of a batch's targets,
// padding excluded, without dropout (see LossDropout).
func (m *Model) Loss(g *autograd.Graph, bt *Batch) *autograd.Var { return m.LossDropout(g, bt, nil) }

// LossDropout is Loss with the config's dropout drawn from rng (nil: none), for training.
func (m *Model) LossDropout(g *autograd.Graph, bt *Batch, rng *tensor.RNG) *autograd.Var {
	logits, _ := m.Forward(g, bt, rng)
	return g.CrossEntropy(logits, bt.Targets)
}

// on returns p when dropout is on (rng non-nil), else 0.
func on(rng *tensor.RNG, p float32) float32 {
	if rng == nil {
		return 0
	}
	return p
}
