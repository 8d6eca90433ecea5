// Package embed turns texts into sentence embeddings with a BERT or GPT model: the hidden states
// of the last layer pooled over each text's tokens — their mean under the attention mask, the
// first token's ([CLS]) or, for a causal model, the last real token's — optionally scaled to
// unit length, as sentence-transformers does.
//
// Notation: B texts in a batch, T the longest one's tokens, C the hidden size.
package embed

import (
	"context"
	"fmt"
	"math"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

// Pooling names how a text's hidden states (T, C) become one vector (C).
type Pooling string

const (
	Mean Pooling = "mean" // the mean over the text's tokens (padding excluded)
	CLS  Pooling = "cls"  // the first token's: [CLS] for BERT
	Last Pooling = "last" // the last real token's: what a causal model (GPT) has read the whole text at
)

// Options control an Embedder.
type Options struct {
	Pooling   Pooling // "" means Mean
	Normalize bool    // scale every embedding to unit L2 norm
	BatchSize int     // texts per forward pass; 0 means 32
}

// Embedder embeds texts with one model. It is not safe for concurrent use.
type Embedder struct {
	o      Options
	tok    tokenizer.Tokenizer
	bert   *bert.Model
	gpt    *gpt.Model
	maxLen int // longest sequence the model takes, special tokens included
	dim    int
	g      *autograd.Graph
}

// New returns an Embedder for m (a BERT or GPT model) with its tokenizer tok (nil to embed
// token ids only, with EmbedIDs).
func New(m auto.Model, tok tokenizer.Tokenizer, o Options) (*Embedder, error) {
	if o.Pooling == "" {
		o.Pooling = Mean
	}
	if o.BatchSize == 0 {
		o.BatchSize = 32
	}
	if o.BatchSize < 0 {
		return nil, fmt.Errorf("embed: batch size %d, want at least 1", o.BatchSize)
	}
	e := &Embedder{o: o, tok: tok, g: autograd.NewGraph()}
	e.g.SetGrad(false)
	switch f := auto.Family(m).(type) {
	case *bert.Model:
		e.bert, e.maxLen, e.dim = f, f.Config.MaxPositionEmbeddings, f.Config.HiddenSize
		if o.Pooling != Mean && o.Pooling != CLS {
			return nil, fmt.Errorf("embed: pooling %q does not suit BERT (want mean or cls)", o.Pooling)
		}
	case *gpt.Model:
		e.gpt, e.maxLen, e.dim = f, f.Config.NPositions, f.Config.NEmbd
		if o.Pooling != Mean && o.Pooling != Last {
			return nil, fmt.Errorf("embed: pooling %q does not suit a causal model such as GPT (want mean or last: a GPT's first token has seen nothing else)", o.Pooling)
		}
	default:
		return nil, fmt.Errorf("embed: %s models have no sentence embeddings here (want bert or gpt2)", m.Type())
	}
	if e.bert != nil {
		if err := e.bert.PackForCompute(); err != nil {
			return nil, err
		}
	}
	if tok != nil && tok.VocabSize() > e.vocab() {
		return nil, fmt.Errorf("embed: the tokenizer has %d tokens but the model only %d: they do not belong together", tok.VocabSize(), e.vocab())
	}
	return e, nil
}

// Dim is the length of an embedding.
func (e *Embedder) Dim() int { return e.dim }

func (e *Embedder) vocab() int {
	if e.bert != nil {
		return e.bert.Config.VocabSize
	}
	return e.gpt.Config.VocabSize
}

// Tokenize returns the ids the model reads for text: for BERT [CLS] text [SEP] (with a WordPiece
// tokenizer), cut to the model's longest sequence.
func (e *Embedder) Tokenize(text string) ([]int, error) {
	if e.tok == nil {
		return nil, fmt.Errorf("embed: no tokenizer: embed token ids with EmbedIDs")
	}
	if wp, ok := e.tok.(*tokenizer.WordPiece); ok && e.bert != nil {
		enc, err := wp.EncodeSingle(text, tokenizer.EncodeOptions{MaxLength: e.maxLen, Truncation: tokenizer.LongestFirst})
		if err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		return enc.IDs, nil
	}
	ids := e.tok.Encode(text)
	return ids[:min(len(ids), e.maxLen)], nil
}

// Embed returns one embedding per text, in order.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	seqs := make([][]int, len(texts))
	for i, t := range texts {
		ids, err := e.Tokenize(t)
		if err != nil {
			return nil, err
		}
		seqs[i] = ids
	}
	return e.EmbedIDs(ctx, seqs)
}

// EmbedIDs returns one embedding per token sequence, in order, the sequences taken as they are
// (no special tokens added). Batches are padded to their longest sequence; padding never
// changes an embedding beyond rounding.
func (e *Embedder) EmbedIDs(ctx context.Context, seqs [][]int) ([][]float32, error) {
	V := e.vocab()
	for i, s := range seqs {
		if len(s) == 0 {
			return nil, fmt.Errorf("embed: text %d has no tokens", i)
		}
		if len(s) > e.maxLen {
			return nil, fmt.Errorf("embed: text %d has %d tokens; the model takes at most %d", i, len(s), e.maxLen)
		}
		for _, id := range s {
			if id < 0 || id >= V {
				return nil, fmt.Errorf("embed: text %d has token id %d outside the vocabulary [0, %d)", i, id, V)
			}
		}
	}
	out := make([][]float32, 0, len(seqs))
	for lo := 0; lo < len(seqs); lo += e.o.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out = append(out, e.batch(seqs[lo:min(lo+e.o.BatchSize, len(seqs))])...)
	}
	return out, nil
}

// batch embeds sequences that the caller checked: right-padded to the longest, run, pooled.
func (e *Embedder) batch(seqs [][]int) [][]float32 {
	B, T := len(seqs), 0
	for _, s := range seqs {
		T = max(T, len(s))
	}
	pad := 0
	if e.bert != nil {
		pad = e.bert.Config.PadTokenID
	}
	ids, mask := make([]int, B*T), make([]int, B*T)
	for r, s := range seqs {
		for t := range T {
			ids[r*T+t] = pad
			if t < len(s) {
				ids[r*T+t], mask[r*T+t] = s[t], 1
			}
		}
	}
	e.g.Reset()
	h := e.hidden(ids, mask, B, T).Contiguous().Data() // (B, T, C)
	C := e.dim
	out := make([][]float32, B)
	for r, s := range seqs {
		v := make([]float32, C)
		rows := h[r*T*C : (r+1)*T*C]
		switch e.o.Pooling {
		case CLS:
			copy(v, rows[:C])
		case Last:
			copy(v, rows[(len(s)-1)*C:len(s)*C])
		default:
			sum := make([]float64, C)
			for t := range len(s) {
				for c, x := range rows[t*C : (t+1)*C] {
					sum[c] += float64(x)
				}
			}
			for c := range v {
				v[c] = float32(sum[c] / float64(len(s)))
			}
		}
		if e.o.Normalize {
			normalize(v)
		}
		out[r] = v
	}
	return out
}

// hidden runs the model and returns the last layer's hidden states (B, T, C): BERT's
// last_hidden_state under the attention mask, GPT's after the final LayerNorm (a causal model
// never looks at the padding after a text, so it needs no mask).
func (e *Embedder) hidden(ids, mask []int, B, T int) *tensor.Tensor {
	g := e.g
	if e.bert != nil {
		return e.bert.Encode(g, &bert.Batch{B: B, T: T, InputIDs: ids, AttentionMask: mask}, nil, nil).Hidden.Value
	}
	return e.gpt.Hidden(g, ids, B, T, nil).Value
}

// normalize scales v to unit L2 norm (a zero vector stays zero).
func normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := 1 / math.Sqrt(ss)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
}

// Cosine is the cosine similarity of a and b (0 when either is zero).
func Cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}
