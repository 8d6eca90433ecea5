// Package translate turns a trained encoder–decoder — the Transformer (model/transformer) or
// the recurrent encoder–decoder (model/seq2seq) — and its tokenizer into a translator:
// sentences in, sentences out, by batched beam search (package decode) over the Transformer's
// key/value cache or the RNN's recurrent state, or greedily. It also trains either family on a
// parallel corpus (Task, for the shared training loop) and reads their attention (Attention).
//
// Notation: B sources, K beams, S source length, T target length, V target vocabulary.
package translate

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/decode"
	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/model/seq2seq"
	"github.com/qkvdev/qkv/model/transformer"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

// Special tokens of the vocabularies qkv train builds for translation, in this order after the
// learned tokens.
const (
	Pad = "<pad>"
	EOS = "</s>"
	BOS = "<s>"
)

// Specials is the list TrainBPE is given.
var Specials = []string{Pad, EOS, BOS}

// Translator translates with one model and its tokenizer (source and target share it). It
// keeps scratch state, so one Translator is not safe for concurrent use.
type Translator struct {
	Tok    tokenizer.Tokenizer
	family family
}

// New returns a translator over m, a *transformer.Model or *seq2seq.Model, with tok its
// tokenizer.
func New(m any, tok tokenizer.Tokenizer) (*Translator, error) {
	f, err := familyOf(m)
	if err != nil {
		return nil, err
	}
	if tok.VocabSize() > f.srcVocab() {
		return nil, fmt.Errorf("translate: the tokenizer has %d tokens but the model's source vocabulary only %d", tok.VocabSize(), f.srcVocab())
	}
	return &Translator{Tok: tok, family: f}, nil
}

// Load reads a model folder (or a training run, or a checkpoint; see model/auto) holding a
// Transformer or a recurrent encoder–decoder and its tokenizer.
func Load(dir string) (*Translator, error) {
	m, err := auto.Load(dir)
	if err != nil {
		return nil, err
	}
	resolved, _, err := checkpoint.ResolveModel(dir)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(resolved)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Clean(resolved), err)
	}
	return New(auto.Family(m), tok)
}

// Model is the family's model: a *transformer.Model or *seq2seq.Model.
func (t *Translator) Model() any { return t.family.model() }

// MaxSource is the longest source, in tokens, the model takes.
func (t *Translator) MaxSource() int { return t.family.maxSource() }

// MaxTarget is the most tokens a translation may have, its end token included.
func (t *Translator) MaxTarget() int { return t.family.maxTarget() }

// Source is one sentence prepared for translation.
type Source struct {
	IDs       []int // token ids, at most MaxSource
	Truncated int   // tokens cut off the end (0: none)
	Unknown   int   // characters the tokenizer has no token for (dropped)
}

// Prepare tokenizes a source sentence and cuts it to MaxSource tokens. An empty sentence gives
// no ids (its translation is empty).
func (t *Translator) Prepare(line string) Source {
	ids := t.Tok.Encode(line)
	s := Source{IDs: ids}
	if dec, err := t.Tok.Decode(ids); err == nil && len([]rune(dec)) < len([]rune(line)) {
		s.Unknown = len([]rune(line)) - len([]rune(dec))
	}
	if n := t.MaxSource(); len(ids) > n {
		s.IDs, s.Truncated = ids[:n], len(ids)-n
	}
	return s
}

// Options control a translation.
type Options struct {
	Beams         int     // K; 1 is greedy search
	LengthPenalty float64 // α of log p(Y)/|Y|^α (HuggingFace's length_penalty; 1 by default)
	MaxLen        int     // most target tokens, end token included (0: MaxTarget)
}

// DefaultOptions are 5 beams, α = 1, the model's longest target.
var DefaultOptions = Options{Beams: 5, LengthPenalty: 1}

// IDs translates sources (token ids, none empty) at once and returns the target ids of each,
// without the end token.
func (t *Translator) IDs(ctx context.Context, src [][]int, o Options) ([][]int, error) {
	if len(src) == 0 {
		return nil, nil
	}
	maxLen := o.MaxLen
	if maxLen <= 0 || maxLen > t.MaxTarget() {
		maxLen = t.MaxTarget()
	}
	for i, s := range src {
		if len(s) == 0 {
			return nil, fmt.Errorf("translate: source %d is empty", i)
		}
		if len(s) > t.MaxSource() {
			return nil, fmt.Errorf("translate: source %d has %d tokens, more than the %d the model takes", i, len(s), t.MaxSource())
		}
	}
	st, err := t.family.stepper(src, maxLen)
	if err != nil {
		return nil, err
	}
	bos, eos := t.family.bosEOS()
	out := make([][]int, len(src))
	if o.Beams <= 1 {
		ys, err := decode.Greedy(ctx, st, len(src), maxLen, bos, eos)
		if err != nil {
			return nil, err
		}
		for i, y := range ys {
			out[i] = trimEOS(y, eos)
		}
		return out, nil
	}
	cfg := decode.DefaultConfig(bos, eos, maxLen)
	cfg.Beams = o.Beams
	cfg.LengthPenalty.Alpha = o.LengthPenalty
	hyps, err := decode.BeamSearch(ctx, st, len(src), cfg)
	if err != nil {
		return nil, err
	}
	for i, h := range hyps {
		out[i] = trimEOS(h[0].Tokens, eos)
	}
	return out, nil
}

// Lines translates sentences: each is prepared (see Prepare), the non-empty ones are translated
// together and decoded; an empty sentence translates to "".
func (t *Translator) Lines(ctx context.Context, lines []string, o Options) ([]string, error) {
	var src [][]int
	var at []int
	for i, l := range lines {
		if s := t.Prepare(l); len(s.IDs) > 0 {
			src, at = append(src, s.IDs), append(at, i)
		}
	}
	out := make([]string, len(lines))
	ys, err := t.IDs(ctx, src, o)
	if err != nil {
		return nil, err
	}
	for j, y := range ys {
		if out[at[j]], err = t.Text(y); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Text decodes a translation's ids to one line of valid UTF-8: byte-level tokens that do not
// make whole characters become U+FFFD, and line breaks spaces.
func (t *Translator) Text(ids []int) (string, error) {
	s, err := t.Tok.Decode(ids)
	if err != nil {
		return "", fmt.Errorf("translate: %w", err)
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\n", " "), nil
}

func trimEOS(y []int, eos int) []int {
	if i := slices.Index(y, eos); i >= 0 {
		y = y[:i]
	}
	return slices.Clone(y)
}

// family is what translation needs of a model family.
type family interface {
	model() any
	srcVocab() int
	maxSource() int
	maxTarget() int
	bosEOS() (bos, eos int)
	// stepper encodes the sources and returns a decoder over one row per source, for up to
	// maxLen steps.
	stepper(src [][]int, maxLen int) (decode.Stepper, error)
	params() *nn.Params
	// loss is the teacher-forced cross-entropy of a batch, with label smoothing eps and
	// dropout drawn from rng (nil: none), and the number of target tokens it averages over.
	loss(g *autograd.Graph, src, tgt [][]int, rng *tensor.RNG, eps float32) (*autograd.Var, int, error)
	save(dir string) error
}

func familyOf(m any) (family, error) {
	switch v := m.(type) {
	case *transformer.Model:
		return transformerFamily{v}, nil
	case *seq2seq.Model:
		return seq2seqFamily{v}, nil
	}
	return nil, fmt.Errorf("translate: a %T is not an encoder–decoder (want a marian or %s model)", m, seq2seq.ModelType)
}
