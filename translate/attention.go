package translate

import (
	"context"
	"fmt"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/model/seq2seq"
	"github.com/qkvdev/qkv/model/transformer"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/plot"
	"github.com/qkvdev/qkv/tensor"
)

// Attention kinds.
const (
	Cross   = "cross"   // the decoder attending to the source (both families)
	Self    = "self"    // the Transformer decoder's masked self-attention
	Encoder = "encoder" // the Transformer encoder's self-attention
)

// Attention returns the model's attention while it writes tgt as the translation of src —
// its own translation (made with o) when tgt is empty — teacher-forced: row t of the cross
// attention is where the decoder looks as it writes target token t (the last row: the end
// token). kind is Cross, Self or Encoder (the last two for the Transformer only).
func (t *Translator) Attention(ctx context.Context, src, tgt, kind string, o Options) (*plot.Attention, error) {
	s := t.Prepare(src)
	if len(s.IDs) == 0 {
		return nil, fmt.Errorf("attention: the source sentence is empty")
	}
	var y []int
	if tgt == "" {
		ys, err := t.IDs(ctx, [][]int{s.IDs}, o)
		if err != nil {
			return nil, err
		}
		y = ys[0]
	} else {
		y = t.Tok.Encode(tgt)
		if n := t.MaxTarget() - 1; len(y) > n {
			y = y[:n]
		}
	}
	bos, eos := t.family.bosEOS()
	srcLabels := plot.TokenLabels(t.Tok, s.IDs)
	out := plot.TokenLabels(t.Tok, append(append([]int(nil), y...), eos)) // written: y, then EOS
	in := plot.TokenLabels(t.Tok, append([]int{bos}, y...))               // read: BOS, then y
	a := &plot.Attention{Kind: "cross", TokensSrc: srcLabels, TokensTgt: out}
	var err error
	switch m := t.family.model().(type) {
	case *seq2seq.Model:
		if kind != Cross {
			return nil, fmt.Errorf("attention: a recurrent encoder–decoder has only cross attention (not %q)", kind)
		}
		a.Model = seq2seq.ModelType
		a.Layers, err = seq2seqAttention(m, s.IDs, y)
	case *transformer.Model:
		a.Model = "marian"
		switch kind {
		case Self:
			a.Kind, a.TokensSrc, a.TokensTgt = "self", in, in
		case Encoder:
			a.Kind, a.TokensTgt = "self", srcLabels
		case Cross:
		default:
			return nil, fmt.Errorf("attention: unknown kind %q (want cross, self or encoder)", kind)
		}
		a.Layers, err = transformerAttention(m, s.IDs, y, kind)
	}
	if err != nil {
		return nil, err
	}
	return a, a.Check()
}

func seq2seqAttention(m *seq2seq.Model, src, tgt []int) ([]plot.Layer, error) {
	if m.Attention == nil {
		return nil, fmt.Errorf("attention: the model has no attention (attention = none): its decoder sees the source only through the encoder's final state")
	}
	var bt seq2seq.Batch
	if err := m.MakeBatch(&bt, [][]int{src}, [][]int{tgt}); err != nil {
		return nil, err
	}
	g := autograd.NewGraph()
	g.SetGrad(false)
	_, alpha := m.Forward(g, &bt, nil) // (1, T, S)
	return []plot.Layer{{Layer: 0, Heads: plot.Heads(alpha.Value)}}, nil
}

func transformerAttention(m *transformer.Model, src, tgt []int, kind string) ([]plot.Layer, error) {
	b, err := m.MakeBatch([][]int{src}, [][]int{tgt})
	if err != nil {
		return nil, err
	}
	var mods []*nn.MultiHeadAttention
	switch kind {
	case Encoder:
		for _, l := range m.Encoder {
			mods = append(mods, l.SelfAttn)
		}
	case Self:
		for _, l := range m.Decoder {
			mods = append(mods, l.SelfAttn)
		}
	default:
		for _, l := range m.Decoder {
			mods = append(mods, l.CrossAttn)
		}
	}
	weights := make([]*tensor.Tensor, len(mods))
	for i, a := range mods {
		a.Inspect = &weights[i]
	}
	defer func() {
		for _, a := range mods {
			a.Inspect = nil
		}
	}()
	g := autograd.NewGraph()
	g.SetGrad(false)
	m.Decode(g, m.Encode(g, b, nil), b, nil)
	layers := make([]plot.Layer, len(weights))
	for i, w := range weights {
		if w == nil {
			return nil, fmt.Errorf("attention: layer %d recorded no weights", i)
		}
		layers[i] = plot.Layer{Layer: i, Heads: plot.Heads(w)}
	}
	return layers, nil
}
