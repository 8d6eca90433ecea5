package translate

import (
	"fmt"
	"math"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/decode"
	"github.com/qkvdev/qkv/model/seq2seq"
	"github.com/qkvdev/qkv/model/transformer"
	"github.com/qkvdev/qkv/tensor"
)

// transformerFamily decodes a Transformer through its key/value cache.
type transformerFamily struct{ m *transformer.Model }

func (f transformerFamily) model() any     { return f.m }
func (f transformerFamily) srcVocab() int  { return f.m.Config.VocabSize }
func (f transformerFamily) maxSource() int { return f.m.Config.MaxPositionEmbeddings }

// maxTarget: the cache holds max_position_embeddings positions, the start token in the first.
func (f transformerFamily) maxTarget() int { return f.m.Config.MaxPositionEmbeddings }
func (f transformerFamily) bosEOS() (int, int) {
	return f.m.Config.DecoderStartTokenID, f.m.Config.EOSTokenID
}

func (f transformerFamily) stepper(src [][]int, maxLen int) (decode.Stepper, error) {
	b, err := f.m.MakeBatch(src, nil)
	if err != nil {
		return nil, err
	}
	c, err := f.m.NewCache(b, maxLen)
	if err != nil {
		return nil, err
	}
	return &transformerStepper{m: f.m, c: c}, nil
}

type transformerStepper struct {
	m    *transformer.Model
	c    *transformer.Cache
	rows [][]float32
	err  error // of the last Reorder, reported by the next Step
}

// Step implements decode.Stepper.
func (s *transformerStepper) Step(tokens []int) ([][]float32, error) {
	if s.err != nil {
		return nil, s.err
	}
	logp, err := s.m.Step(s.c, tokens) // (H, V)
	if err != nil {
		return nil, err
	}
	c := s.m.Config
	s.rows = splitRows(s.rows, logp.Data(), logp.Dim(0), logp.Dim(1))
	forbid(s.rows, c.EOSTokenID, c.PadTokenID, c.DecoderStartTokenID)
	return s.rows, nil
}

// forbid gives the padding and start tokens log-probability −∞ in every row: a translation
// never contains them (the end token stays allowed, even if it shares an id with one).
func forbid(rows [][]float32, eos int, ids ...int) {
	inf := float32(math.Inf(-1))
	for _, row := range rows {
		for _, id := range ids {
			if id != eos && id >= 0 && id < len(row) {
				row[id] = inf
			}
		}
	}
}

// Reorder implements decode.Stepper.
func (s *transformerStepper) Reorder(rows []int) { s.err = s.c.Reorder(rows) }

// splitRows views data (h rows of v) as a slice of rows, reusing dst.
func splitRows(dst [][]float32, data []float32, h, v int) [][]float32 {
	dst = dst[:0]
	for r := range h {
		dst = append(dst, data[r*v:(r+1)*v:(r+1)*v])
	}
	return dst
}

// seq2seqFamily decodes a recurrent encoder–decoder step by step, carrying each row's
// recurrent state (and attentional state, with input feeding) and its source's encoding.
type seq2seqFamily struct{ m *seq2seq.Model }

func (f seq2seqFamily) model() any     { return f.m }
func (f seq2seqFamily) srcVocab() int  { return f.m.Config.SrcVocabSize }
func (f seq2seqFamily) maxSource() int { return f.m.Config.MaxLength }
func (f seq2seqFamily) maxTarget() int { return f.m.Config.MaxLength }
func (f seq2seqFamily) bosEOS() (int, int) {
	return f.m.Config.BOSTokenID, f.m.Config.EOSTokenID
}

func (f seq2seqFamily) stepper(src [][]int, _ int) (decode.Stepper, error) {
	return newSeq2seqStepper(f.m, src)
}

// seq2seqStepper holds, per row: the encoder states h̄ (S, H), their attention keys, the
// source padding mask, the decoder's L states, and the previous attentional state h̃ (with
// input feeding). Step rebuilds a small inference graph from them every call.
type seq2seqStepper struct {
	m      *seq2seq.Model
	g      *autograd.Graph
	b, s   int
	enc    *tensor.Tensor   // h̄ (B, S, H)
	keys   *tensor.Tensor   // (B, S, A) or nil without attention
	mask   []float32        // (B·S)
	states []*tensor.Tensor // L × (B, P·H)
	feed   *tensor.Tensor   // h̃_{t−1} (B, H), input feeding only
	alpha  *tensor.Tensor   // α (B, S) of the last step, nil without attention
	vars   []*autograd.Var  // scratch: the states as graph inputs
	logp   []float32
	rows   [][]float32
}

func newSeq2seqStepper(m *seq2seq.Model, src [][]int) (*seq2seqStepper, error) {
	var bt seq2seq.Batch
	if err := m.MakeBatch(&bt, src, nil); err != nil {
		return nil, err
	}
	g := autograd.NewGraph()
	g.SetGrad(false)
	enc := m.Encode(g, &bt, nil)
	s := &seq2seqStepper{m: m, g: g, b: bt.B, s: bt.S, enc: enc.H.Value.Contiguous().Clone(), mask: append([]float32(nil), enc.Mask...)}
	if enc.Keys != nil {
		s.keys = enc.Keys.Value.Contiguous().Clone()
	}
	for _, st := range enc.States {
		s.states = append(s.states, st.Value.Contiguous().Clone())
	}
	if m.Config.InputFeeding {
		s.feed = tensor.New(bt.B, m.Config.HiddenSize)
	}
	return s, nil
}

// Step implements decode.Stepper.
func (s *seq2seqStepper) Step(tokens []int) ([][]float32, error) {
	if len(tokens) != s.b {
		return nil, fmt.Errorf("seq2seq decoding: %d tokens for %d rows", len(tokens), s.b)
	}
	m, g, c := s.m, s.g, s.m.Config
	for _, id := range tokens {
		if id < 0 || id >= c.TgtVocabSize {
			return nil, fmt.Errorf("seq2seq decoding: token %d is outside the target vocabulary [0, %d)", id, c.TgtVocabSize)
		}
	}
	g.Reset()
	e := m.TgtEmbed.Forward(g, tokens) // (B, E)
	if s.feed != nil {
		e = g.Concat(1, e, g.Const(s.feed)) // (B, E + H)
	}
	s.vars = s.vars[:0]
	for _, st := range s.states {
		s.vars = append(s.vars, g.Const(st))
	}
	h := g.SplitDim(m.Decoder.Step(g, e, s.vars), 0, s.b) // (B, 1, H)
	ht := h
	if m.Attention != nil {
		ctx, alpha := m.Attention.Forward(g, h, g.Const(s.keys), g.Const(s.enc), s.mask) // (B, 1, H), (B, 1, S)
		ht = g.Tanh(m.Combine.Forward(g, g.Concat(2, ctx, h)))                           // h̃ (B, 1, H)
		s.alpha = copyInto(s.alpha, alpha.Value, s.b, s.s)
	}
	logits := m.Out.Forward(g, ht) // (B, 1, V)
	for l, v := range s.vars {
		s.states[l] = copyInto(s.states[l], v.Value, s.b, v.Value.Dim(1))
	}
	if s.feed != nil {
		s.feed = copyInto(s.feed, ht.Value, s.b, c.HiddenSize)
	}
	v := c.TgtVocabSize
	s.logp = resizeF(s.logp, s.b*v)
	decode.LogSoftmax(s.logp, logits.Value.Contiguous().Data(), v)
	s.rows = splitRows(s.rows, s.logp, s.b, v)
	forbid(s.rows, c.EOSTokenID, c.PadTokenID, c.BOSTokenID)
	return s.rows, nil
}

// Reorder implements decode.Stepper.
func (s *seq2seqStepper) Reorder(rows []int) {
	s.enc = gather(s.enc, rows)
	if s.keys != nil {
		s.keys = gather(s.keys, rows)
	}
	for l := range s.states {
		s.states[l] = gather(s.states[l], rows)
	}
	if s.feed != nil {
		s.feed = gather(s.feed, rows)
	}
	if s.alpha != nil {
		s.alpha = gather(s.alpha, rows)
	}
	mask := make([]float32, 0, len(rows)*s.s)
	for _, r := range rows {
		mask = append(mask, s.mask[r*s.s:(r+1)*s.s]...)
	}
	s.mask, s.b = mask, len(rows)
}

// gather returns a tensor whose row i (along dim 0) is row rows[i] of t.
func gather(t *tensor.Tensor, rows []int) *tensor.Tensor {
	shape := append([]int(nil), t.Shape()...)
	n := t.Len() / shape[0]
	shape[0] = len(rows)
	out := tensor.New(shape...)
	src, dst := t.Data(), out.Data()
	for i, r := range rows {
		copy(dst[i*n:(i+1)*n], src[r*n:(r+1)*n])
	}
	return out
}

// copyInto copies v, b rows of n values in any layout, into dst (b, n), reallocated when its
// size differs, and returns dst.
func copyInto(dst, v *tensor.Tensor, b, n int) *tensor.Tensor {
	if dst == nil || dst.Len() != b*n {
		dst = tensor.New(b, n)
	}
	copy(dst.Data(), v.Contiguous().Data())
	return dst
}

func resizeF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
