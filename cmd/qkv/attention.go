package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/plot"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
	"github.com/qkvdev/qkv/translate"
)

type attentionOptions struct {
	Model       string
	Target      string
	Out         string
	Kind        string
	Layer, Head int
	Beam        int
}

func newAttentionCmd() *cobra.Command {
	o := &attentionOptions{}
	cmd := &cobra.Command{
		Use:   "attention --model DIR SENTENCE --out FILE.png|.svg|.json",
		Short: "Draw a model's attention weights on a sentence as a heatmap, or write them as JSON",
		Long: `Show where a model looks: the attention weights of one layer and head as a heatmap with
the tokens on both axes (.png or .svg), or every layer and head as JSON (.json).

For a translation model (qkv train --arch transformer or seq2seq) the default is the
decoder's attention to the source (--kind cross) while it writes --target, or its own
translation of the sentence (beam search) when --target is not given: row t is where it
looks as it writes target token t, the last row its end token. A Transformer also has
--kind self (the decoder's masked self-attention) and --kind encoder (the encoder's
self-attention); a recurrent model has one layer and one head. For GPT and BERT models the
sentence attends to itself (GPT causally: each token sees only those before it).

The JSON is {"kind": "cross"|"self", "model": MODEL_TYPE, "tokens_src": [...],
"tokens_tgt": [...], "layers": [{"layer": L, "heads": [[[w, ...], ...], ...]}]}:
heads[h][i][j] is the weight of row token i (tokens_tgt) on column token j (tokens_src),
each row summing to 1; for self-attention both token lists are the sentence's tokens.`,
		Example: `  qkv attention --model runs/seq2seq-RUN "A dog runs in the snow." --out align.png
  qkv attention --model runs/transformer-RUN "A dog runs." --target "Ein Hund rennt." --layer 2 --head 3 --out cross.svg
  qkv attention --model runs/gpt-RUN "func main() {" --out self.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runAttention(cmd, o, args[0]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Model, "model", "", "model folder, checkpoint or training run (required)")
	f.StringVar(&o.Target, "target", "", "translation models: the target sentence (default: the model's own translation)")
	f.StringVar(&o.Out, "out", "", "output file: .png or .svg (one layer and head), .json (all of them) (required)")
	f.StringVar(&o.Kind, "kind", "", "cross, self or encoder (default: cross for translation models, self otherwise)")
	f.IntVar(&o.Layer, "layer", -1, "layer to draw, from 0 (default: the last)")
	f.IntVar(&o.Head, "head", 0, "head to draw, from 0")
	f.IntVar(&o.Beam, "beam", 5, "translation models without --target: beams of the translation")
	_ = cmd.MarkFlagRequired("model")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func runAttention(cmd *cobra.Command, o *attentionOptions, sentence string) error {
	if o.Beam < 1 {
		return fmt.Errorf("--beam %d: want at least 1", o.Beam)
	}
	m, err := auto.Load(o.Model)
	if err != nil {
		return err
	}
	dir, _, err := checkpoint.ResolveModel(o.Model)
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	var a *plot.Attention
	switch fm := auto.Family(m).(type) {
	case *gpt.Model:
		a, err = gptAttention(fm, tok, sentence, o)
	case *bert.Model:
		a, err = bertAttention(fm, tok, sentence, o)
	default:
		tr, terr := translate.New(fm, tok)
		if terr != nil {
			return terr
		}
		kind := o.Kind
		if kind == "" {
			kind = translate.Cross
		}
		opt := translate.DefaultOptions
		opt.Beams = o.Beam
		a, err = tr.Attention(cmd.Context(), sentence, o.Target, kind, opt)
	}
	if err != nil {
		return err
	}
	layer := o.Layer
	if layer < 0 {
		layer = a.Layers[len(a.Layers)-1].Layer
	}
	if err := a.Save(o.Out, layer, o.Head); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s attention, %d layers × %d heads, %d × %d tokens)\n", o.Out, a.Kind, len(a.Layers), len(a.Layers[0].Heads), len(a.TokensTgt), len(a.TokensSrc))
	return nil
}

// selfOnly refuses the flags that only translation models take.
func selfOnly(o *attentionOptions, family string) error {
	if o.Target != "" {
		return fmt.Errorf("--target: a %s model reads one sentence; --target is for translation models", family)
	}
	if o.Kind != "" && o.Kind != "self" {
		return fmt.Errorf("--kind %s: a %s model has self-attention only", o.Kind, family)
	}
	return nil
}

// gptAttention is the causal self-attention of every layer of a GPT on the sentence (cut to
// the model's context).
func gptAttention(m *gpt.Model, tok tokenizer.Tokenizer, sentence string, o *attentionOptions) (*plot.Attention, error) {
	if err := selfOnly(o, "GPT"); err != nil {
		return nil, err
	}
	ids := tok.Encode(sentence)
	if len(ids) == 0 {
		return nil, fmt.Errorf("the sentence has no tokens")
	}
	ids = ids[:min(len(ids), m.Config.NPositions)]
	weights := make([]*tensor.Tensor, len(m.H))
	for l, blk := range m.H {
		blk.Attn.Inspect = &weights[l]
	}
	defer func() {
		for _, blk := range m.H {
			blk.Attn.Inspect = nil
		}
	}()
	g := autograd.NewGraph()
	g.SetGrad(false)
	m.Forward(g, ids, 1, len(ids), nil)
	labels := plot.TokenLabels(tok, ids)
	return selfAttention("gpt2", labels, weights)
}

// bertAttention is the self-attention of every layer of a BERT on [CLS] sentence [SEP].
func bertAttention(m *bert.Model, tok tokenizer.Tokenizer, sentence string, o *attentionOptions) (*plot.Attention, error) {
	if err := selfOnly(o, "BERT"); err != nil {
		return nil, err
	}
	wp, ok := tok.(*tokenizer.WordPiece)
	if !ok {
		return nil, fmt.Errorf("a BERT model needs a WordPiece tokenizer, found %s", tok.Kind())
	}
	enc, err := wp.EncodeSingle(sentence, tokenizer.EncodeOptions{MaxLength: m.Config.MaxPositionEmbeddings, Truncation: tokenizer.LongestFirst})
	if err != nil {
		return nil, err
	}
	weights := make([]*tensor.Tensor, len(m.Layers))
	g := autograd.NewGraph()
	g.SetGrad(false)
	b := &bert.Batch{B: 1, T: len(enc.IDs), InputIDs: enc.IDs, TokenTypeIDs: enc.TypeIDs}
	if err := m.Check(b); err != nil {
		return nil, err
	}
	m.Encode(g, b, nil, weights)
	return selfAttention("bert", plot.TokenLabels(tok, enc.IDs), weights)
}

func selfAttention(model string, labels []string, weights []*tensor.Tensor) (*plot.Attention, error) {
	a := &plot.Attention{Kind: "self", Model: model, TokensSrc: labels, TokensTgt: labels}
	for l, w := range weights {
		if w == nil {
			return nil, fmt.Errorf("layer %d recorded no attention weights", l)
		}
		a.Layers = append(a.Layers, plot.Layer{Layer: l, Heads: plot.Heads(w)})
	}
	return a, nil
}
