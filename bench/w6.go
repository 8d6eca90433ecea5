package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/model/transformer"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/optim"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
	"github.com/qkvdev/qkv/tokenizer"
	"github.com/qkvdev/qkv/translate"
)

// W6 is an encoder–decoder training step at translation shapes, as
// ../shared/bench/torch/w6_seq2seq_train.py defines it: source and target vocabularies of
// 8000, sources and targets of 32 tokens, batches of 64, the last 8 positions of every other
// row padded (id 1), label smoothing 0.1, Adam (lr 5e-4, betas (0.9, 0.98)), gradients
// clipped to norm 1.0. tokens_per_s counts target tokens: 64·32 per step.
const (
	w6Vocab, w6Len, w6Batch, w6Pad = 8000, 32, 64, 1
	w6Warmup, w6Steps              = 3, 10
	w6Smoothing                    = 0.1
)

// W6Cases are the cases of W6: the two training steps, and beam-search translation.
var W6Cases = []string{"transformer", "gru-attn", "transformer-beam"}

// w6Fill draws one batch as the baseline does: ids uniform in [4, V), then padding at the end
// of every other row of the source (8 positions) and of the target (its last 8 of 33, so the
// decoder inputs hold 7 and the labels 8).
func w6Fill(rng *tensor.RNG, src, tgtIn, tgtOut []int) {
	B, L := w6Batch, w6Len
	tgt := make([]int, L+1)
	for r := range B {
		for t := range L {
			src[r*L+t] = 4 + rng.IntN(w6Vocab-4)
			if r%2 == 1 && t >= L-8 {
				src[r*L+t] = w6Pad
			}
		}
		for t := range tgt {
			tgt[t] = 4 + rng.IntN(w6Vocab-4)
			if r%2 == 1 && t >= L+1-8 {
				tgt[t] = w6Pad
			}
		}
		for t := range L {
			tgtIn[r*L+t], tgtOut[r*L+t] = tgt[t], tgt[t+1]
			if tgtOut[r*L+t] == w6Pad {
				tgtOut[r*L+t] = tensor.IgnoreIndex
			}
		}
	}
}

// w6Transformer is the baseline's Transformer: post-LN, d 256, 8 heads, 3 + 3 layers, FFN
// 1024, ReLU, dropout 0, separate source and target embeddings scaled by √d plus sinusoidal
// positions, the output projection tied to the target embedding.
func w6Transformer() (*transformer.Model, error) {
	return transformer.New(transformer.Config{
		VocabSize: w6Vocab, DModel: 256, EncoderLayers: 3, DecoderLayers: 3, EncoderAttentionHeads: 8, DecoderAttentionHeads: 8,
		EncoderFFNDim: 1024, DecoderFFNDim: 1024, MaxPositionEmbeddings: 512, ActivationFunction: "relu", ScaleEmbedding: true,
		PadTokenID: w6Pad, EOSTokenID: 2, DecoderStartTokenID: 0, TieWordEmbeddings: true, InitStd: 1 / 16.0,
	}, 1337)
}

// gruAttn is the baseline's GRU encoder–decoder (Bahdanau et al., 2015): embeddings 256, a
// bidirectional GRU encoder of 256 per direction, a tanh bridge from its final states to the
// decoder's 512, and a GRU cell over [emb(y_{t−1}); c_t] stepped with teacher forcing, where
// c_t attends (additive, masked at padding) from the previous decoder state over the encoder
// states; logits from [h_t; c_t; emb(y_{t−1})].
type gruAttn struct {
	ps               nn.Params
	srcEmb, tgtEmb   *nn.Embedding
	encoder          *nn.RNN
	bridge           *nn.Linear
	att              *nn.RNNAttention
	cell             *nn.RNNCell
	out              *nn.Linear
	mask             tensor.AttentionMask
	steps            []*autograd.Var
	emb, enc, dec, v int
}

func newGRUAttn(seed uint64) *gruAttn {
	const emb, enc, dec = 256, 256, 512
	m := &gruAttn{emb: emb, enc: enc, dec: dec, v: w6Vocab}
	ps := &m.ps
	m.srcEmb = nn.NewEmbedding(ps, "src_emb", w6Vocab, emb)
	m.tgtEmb = nn.NewEmbedding(ps, "tgt_emb", w6Vocab, emb)
	m.encoder = nn.NewRNN(ps, "encoder", nn.GRU, emb, enc, 1, true)
	m.bridge = nn.NewLinear(ps, "bridge", 2*enc, dec, true, true)
	m.att = nn.NewRNNAttention(ps, "att", nn.ScoreAdditive, dec, 2*enc, dec)
	m.cell = nn.NewRNNCell(ps, "cell", "l0", nn.GRU, emb+2*enc, dec)
	m.out = nn.NewLinear(ps, "out", dec+2*enc+emb, w6Vocab, true, true)
	rng := tensor.NewRNG(seed)
	for _, p := range ps.List() {
		tensor.Uniform(p.Var.Value, -0.05, 0.05, rng)
	}
	return m
}

// loss is the label-smoothed cross-entropy of a teacher-forced batch: src and tgtIn (B, L),
// labels (B·L) with −100 at padding.
func (m *gruAttn) loss(g *autograd.Graph, src, tgtIn, labels []int, b, l int) *autograd.Var {
	x := g.Reshape(m.srcEmb.Forward(g, src), b, l, m.emb) // (B, S, E)
	h, finals := m.encoder.Forward(g, x, nil, nil)        // (B, S, 2·enc); final [h→_S, h←_1]
	last := g.Concat(1, m.encoder.H(g, finals[0]), m.encoder.H(g, finals[1]))
	state := g.Tanh(m.bridge.Forward(g, last)) // (B, dec)
	keys := m.att.Keys(g, h)                   // (B, S, dec)
	m.mask = m.mask[:0]
	for _, id := range src {
		w := float32(0)
		if id == w6Pad {
			w = -1e9
		}
		m.mask = append(m.mask, w)
	}
	y := g.Contiguous(g.Transpose(g.Reshape(m.tgtEmb.Forward(g, tgtIn), b, l, m.emb), 0, 1)) // time-major (T, B, E)
	if cap(m.steps) < l {
		m.steps = make([]*autograd.Var, l)
	}
	outs := m.steps[:l]
	for t := range l {
		e := g.Reshape(g.Narrow(y, 0, t, 1), b, m.emb)                                      // (B, E)
		ctx, _ := m.att.Forward(g, g.SplitDim(state, 0, b), keys, h, m.mask)                // (B, 1, 2·enc)
		c := g.Reshape(ctx, b, 2*m.enc)                                                     // (B, 2·enc)
		state = m.cell.Step(g, m.cell.InputProjection(g, g.Concat(1, e, c)), state, nil, 0) // (B, dec)
		outs[t] = g.SplitDim(g.Concat(1, state, c, e), 0, b)                                // (B, 1, dec + 2·enc + E)
	}
	logits := m.out.Forward(g, g.Concat(1, outs...)) // (B, T, V)
	return g.LabelSmoothedCrossEntropy(logits, labels, w6Smoothing)
}

// runW6 measures one W6 case: tokens_per_s of a training step (median of 10 after 3 warm-up
// steps), or for transformer-beam the sentences_per_s of beam-search translation.
func runW6(ctx context.Context, cs, _ string, threads int) ([]Result, error) {
	kernel.SetThreads(threads)
	if cs == "transformer-beam" {
		return runW6Beam(ctx, threads)
	}
	B, L := w6Batch, w6Len
	src, tgtIn, tgtOut := make([]int, B*L), make([]int, B*L), make([]int, B*L)
	rng := tensor.NewRNG(1337)
	g := autograd.NewGraph()
	var params []*nn.Param
	var all *nn.Params // for ZeroGrad
	var forward func() *autograd.Var
	switch cs {
	case "transformer":
		m, err := w6Transformer()
		if err != nil {
			return nil, err
		}
		params, all = m.Trainable(), &m.Params
		mask := make([]int, B*L)
		b := &transformer.Batch{B: B, S: L, T: L, InputIDs: src, AttentionMask: mask, DecoderInputIDs: tgtIn, Labels: tgtOut}
		forward = func() *autograd.Var {
			for i, id := range src {
				mask[i] = 0
				if id != w6Pad {
					mask[i] = 1
				}
			}
			return m.Loss(g, m.Decode(g, m.Encode(g, b, nil), b, nil), tgtOut, w6Smoothing)
		}
	case "gru-attn":
		m := newGRUAttn(1337)
		params, all = m.ps.List(), &m.ps
		forward = func() *autograd.Var { return m.loss(g, src, tgtIn, tgtOut, B, L) }
	default:
		return nil, errCase("W6", cs)
	}
	opt := optim.NewAdamW(params, optim.AdamWConfig{Beta1: 0.9, Beta2: 0.98, Eps: 1e-8})
	step := func() float32 {
		g.Reset()
		all.ZeroGrad()
		loss := forward()
		g.Backward(loss)
		optim.ClipGradNorm(params, 1)
		opt.Step(5e-4)
		return loss.Value.Item()
	}
	return timeTraining(ctx, "W6", cs, threads, B*L, w6Warmup, w6Steps, g, func() { w6Fill(rng, src, tgtIn, tgtOut) }, step)
}

// W6 beam search: 32 sources of 32 random ids translated at once with beam 5 up to 32 target
// tokens by the W6 Transformer (untrained, so no hypothesis ends early: every source costs the
// full length). sentences_per_s = 32 / median time of 3 translations after 1 warm-up.
const w6BeamSources, w6Beams, w6BeamReps = 32, 5, 3

func runW6Beam(ctx context.Context, threads int) ([]Result, error) {
	m, err := w6Transformer()
	if err != nil {
		return nil, err
	}
	tr, err := translate.New(m, tokenizer.Byte{})
	if err != nil {
		return nil, err
	}
	rng := tensor.NewRNG(1337)
	src := make([][]int, w6BeamSources)
	for i := range src {
		src[i] = make([]int, w6Len)
		for t := range src[i] {
			src[i][t] = 4 + rng.IntN(w6Vocab-4)
		}
	}
	opt := translate.Options{Beams: w6Beams, LengthPenalty: 1, MaxLen: w6Len}
	var times []float64
	tokens := 0
	for i := range 1 + w6BeamReps {
		t0 := time.Now()
		ys, err := tr.IDs(ctx, src, opt)
		if err != nil {
			return nil, fmt.Errorf("W6 beam search: %w", err)
		}
		if i > 0 {
			times = append(times, time.Since(t0).Seconds())
		}
		tokens = 0
		for _, y := range ys {
			tokens += len(y)
		}
	}
	sec := median(times)
	extra := map[string]any{"sources": w6BeamSources, "beams": w6Beams, "max_len": w6Len, "target_tokens": tokens, "tokens_per_s": float64(tokens) / sec}
	return []Result{{Workload: "W6", Case: "transformer-beam", Threads: threads, Metric: "sentences_per_s", Value: w6BeamSources / sec, PeakRSSMB: PeakRSSMB(), Extra: extra}}, nil
}
