package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/data"
	"github.com/qkvdev/qkv/model/seq2seq"
	"github.com/qkvdev/qkv/model/transformer"
	"github.com/qkvdev/qkv/tensor/kernel"
	"github.com/qkvdev/qkv/tokenizer"
	"github.com/qkvdev/qkv/train"
	"github.com/qkvdev/qkv/translate"
)

// Translation training: qkv train --arch seq2seq|transformer --src … --tgt … --valid-src …
// --valid-tgt …. The run folder, metrics, checkpoints, resume and Ctrl-C are the GPT run's.

// isTranslationArch reports an encoder–decoder architecture.
func isTranslationArch(arch string) bool { return arch == "seq2seq" || arch == "transformer" }

// mtOptions are the translation settings of trainOptions (run.json stores them too).
type mtOptions struct {
	Src          string  `json:"src,omitempty"`
	Tgt          string  `json:"tgt,omitempty"`
	ValidSrc     string  `json:"valid_src,omitempty"`
	ValidTgt     string  `json:"valid_tgt,omitempty"`
	VocabSize    int     `json:"vocab_size,omitempty"`
	Attention    string  `json:"attention,omitempty"`
	Cell         string  `json:"cell,omitempty"`
	InputFeeding bool    `json:"input_feeding,omitempty"`
	Smoothing    float64 `json:"label_smoothing,omitempty"`
	BatchTokens  int     `json:"batch_tokens,omitempty"`
	MaxLen       int     `json:"max_len,omitempty"`
	EvalPairs    int     `json:"eval_pairs,omitempty"`
}

func addTranslationFlags(f *pflag.FlagSet, o *mtOptions) {
	f.StringVar(&o.Src, "src", "", "translation: training sources, one sentence a line (.gz read as gzip)")
	f.StringVar(&o.Tgt, "tgt", "", "translation: training targets, line i translating line i of --src")
	f.StringVar(&o.ValidSrc, "valid-src", "", "translation: validation sources (loss and BLEU at each evaluation)")
	f.StringVar(&o.ValidTgt, "valid-tgt", "", "translation: validation references")
	f.IntVar(&o.VocabSize, "vocab-size", 8000, "translation: tokens of the joint BPE vocabulary learned from both training sides")
	f.StringVar(&o.Attention, "attention", "bahdanau", "seq2seq: bahdanau (additive), luong-dot, luong-general or none")
	f.StringVar(&o.Cell, "cell", "gru", "seq2seq: recurrent cell, gru or lstm")
	f.BoolVar(&o.InputFeeding, "input-feeding", false, "seq2seq: the decoder also reads its previous attentional state (slower: steps one target position at a time)")
	f.Float64Var(&o.Smoothing, "label-smoothing", 0.1, "translation: label smoothing ε of the cross-entropy")
	f.IntVar(&o.BatchTokens, "batch-tokens", 4096, "translation: padded tokens per batch (sentences of similar length are batched together)")
	f.IntVar(&o.MaxLen, "max-len", 128, "translation: longest sentence in tokens (end token included); longer training pairs are left out")
	f.IntVar(&o.EvalPairs, "eval-pairs", 256, "translation: validation pairs read at each periodic evaluation (all of them at the end)")
}

// mtPresets are the translation model sizes.
var mtPresets = map[string]string{
	"tiny":  "transformer d 64, 2+2 layers; seq2seq embeddings 64, hidden 128",
	"small": "transformer d 256, 3+3 layers, 4 heads, FFN 1024; seq2seq embeddings 256, hidden 512",
	"base":  "transformer d 512, 6+6 layers, 8 heads, FFN 2048 (the paper's base); seq2seq embeddings 512, hidden 1024",
}

// seq2seqSizes are (E, H) per preset.
var seq2seqSizes = map[string][2]int{"tiny": {64, 128}, "small": {256, 512}, "base": {512, 1024}}

// attentionScores maps --attention to the seq2seq config's attention.
var attentionScores = map[string]string{"bahdanau": "additive", "luong-dot": "dot", "luong-general": "general", "none": "none"}

// gptOnlyFlags are the flags that mean nothing to an encoder–decoder.
var gptOnlyFlags = []string{"data", "n-layer", "n-head", "n-embd", "block", "batch", "activation", "val-fraction", "sample-tokens", "prompt"}

// mtOnlyFlags are the flags that mean nothing to a GPT.
var mtOnlyFlags = []string{"src", "tgt", "valid-src", "valid-tgt", "vocab-size", "attention", "cell", "input-feeding", "label-smoothing", "batch-tokens", "max-len", "eval-pairs"}

// checkArchFlags refuses flags of the other kind of model.
func checkArchFlags(flags *pflag.FlagSet, arch string) error {
	other := mtOnlyFlags
	if isTranslationArch(arch) {
		other = gptOnlyFlags
	}
	for _, name := range other {
		if flags.Changed(name) {
			return fmt.Errorf("--%s does not apply to --arch %s", name, arch)
		}
	}
	return nil
}

// resolveMT fills the translation defaults that flags leave unset and checks every setting.
func (o *trainOptions) resolveMT(flags *pflag.FlagSet, resume bool, runDir string) (train.Config, error) {
	unset := func(name string) bool { return !resume && !flags.Changed(name) }
	if unset("preset") {
		o.Preset = "small"
	}
	if _, ok := mtPresets[o.Preset]; !ok {
		return train.Config{}, fmt.Errorf("unknown --preset %q for --arch %s (choose from tiny, small, base)", o.Preset, o.Arch)
	}
	if unset("tokenizer") {
		o.Tokenizer = "joint"
	}
	if unset("dropout") {
		o.Dropout = 0.1
	}
	if unset("lr") && o.Arch == "transformer" {
		o.LR = 5e-4 // post-LN Transformers diverge at GPT's 1e-3
	}
	if unset("beta2") {
		o.Beta2 = 0.98
	}
	if unset("weight-decay") {
		o.WeightDecay = 0
	}
	if unset("min-lr") {
		o.MinLR = o.LR / 10
	}
	if o.Time == "" && o.Iters == 0 {
		o.Time = "10m"
	}
	m := &o.mtOptions
	for _, f := range []struct{ flag, v string }{{"src", m.Src}, {"tgt", m.Tgt}, {"valid-src", m.ValidSrc}, {"valid-tgt", m.ValidTgt}} {
		if f.v == "" {
			return train.Config{}, fmt.Errorf("--arch %s needs --%s (and --src, --tgt, --valid-src, --valid-tgt: one sentence a line, aligned by line)", o.Arch, f.flag)
		}
	}
	if _, ok := attentionScores[m.Attention]; !ok {
		return train.Config{}, fmt.Errorf("--attention %q: want bahdanau, luong-dot, luong-general or none", m.Attention)
	}
	if m.Cell != "gru" && m.Cell != "lstm" {
		return train.Config{}, fmt.Errorf("--cell %q: want gru or lstm", m.Cell)
	}
	if m.InputFeeding && m.Attention == "none" {
		return train.Config{}, fmt.Errorf("--input-feeding feeds the attentional state back, so it needs --attention other than none")
	}
	for _, f := range []struct {
		name   string
		v      int
		lo, hi int
	}{
		{"vocab-size", m.VocabSize, 256 + len(translate.Specials), 1 << 20},
		{"batch-tokens", m.BatchTokens, 1, 1 << 24},
		{"max-len", m.MaxLen, 2, 4096},
		{"eval-pairs", m.EvalPairs, 1, math.MaxInt32},
		{"log-interval", o.LogInterval, 1, math.MaxInt},
		{"threads", o.Threads, 0, maxThreads},
	} {
		if f.v < f.lo || f.v > f.hi {
			return train.Config{}, fmt.Errorf("--%s %d: want %d..%d", f.name, f.v, f.lo, f.hi)
		}
	}
	if m.BatchTokens < m.MaxLen {
		return train.Config{}, fmt.Errorf("--batch-tokens %d is below --max-len %d: the longest pair would not fit in a batch", m.BatchTokens, m.MaxLen)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"dropout", o.Dropout}, {"label-smoothing", m.Smoothing}} {
		if !(f.v >= 0 && f.v < 1) {
			return train.Config{}, fmt.Errorf("--%s %g: want a probability in [0, 1)", f.name, f.v)
		}
	}
	budget, err := o.budget()
	if err != nil {
		return train.Config{}, err
	}
	return o.loopConfig(budget, runDir, resume)
}

// absPathsMT makes the corpus paths absolute, so that run.json resumes from any folder.
func (m *mtOptions) absCorpusPaths() error {
	for _, p := range []*string{&m.Src, &m.Tgt, &m.ValidSrc, &m.ValidTgt} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("%s: %w", *p, err)
		}
		*p = abs
	}
	return nil
}

// runTrainMT trains a translation model; tcfg is resolved and runDir checked.
func runTrainMT(cmd *cobra.Command, o *trainOptions, tcfg train.Config, runDir string, resume bool) error {
	ctx, out, errOut := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	m := &o.mtOptions
	if o.Threads > 0 {
		kernel.SetThreads(o.Threads)
	}
	trainC, err := loadParallel(errOut, "training", m.Src, m.Tgt)
	if err != nil {
		return err
	}
	validC, err := loadParallel(errOut, "validation", m.ValidSrc, m.ValidTgt)
	if err != nil {
		return err
	}
	var tok tokenizer.Tokenizer
	if resume {
		dir, err := checkpoint.Latest(runDir)
		if err != nil {
			return err
		}
		if tok, err = tokenizer.Load(dir); err != nil {
			return err
		}
	} else if tok, err = translationTokenizer(ctx, out, o.Tokenizer, m.VocabSize, trainC); err != nil {
		return err
	}
	ids, err := specialIDs(tok)
	if err != nil {
		return err
	}
	filter := data.LengthFilter{MinTokens: 1, MaxTokens: m.MaxLen - 1}
	trainP, dropped, err := trainC.Encode(tok.Encode, tok.Encode, filter)
	if err != nil {
		return err
	}
	if dropped > 0 {
		fmt.Fprintf(errOut, "warning: %d training pairs longer than --max-len %d tokens are left out\n", dropped, m.MaxLen)
	}
	validP, vdropped, err := validC.Encode(tok.Encode, tok.Encode, filter)
	if err != nil {
		return err
	}
	if vdropped > 0 {
		fmt.Fprintf(errOut, "warning: %d validation pairs longer than --max-len %d tokens are left out of the loss and BLEU\n", vdropped, m.MaxLen)
	}
	validSrc, validRef := pairText(validC, validP)
	fmt.Fprintf(out, "corpus: %d training pairs (%s), %d validation pairs; tokenizer %s, %d tokens\n", len(trainP), filepath.Base(m.Src), len(validP), tok.Kind(), tok.VocabSize())

	model, desc, err := newTranslationModel(o, tok.VocabSize(), ids)
	if err != nil {
		return err
	}
	tr, err := translate.New(model, tok)
	if err != nil {
		return err
	}
	task, err := translate.NewTask(tr, trainP, validP, validSrc, validRef, m.BatchTokens, float32(m.Smoothing), o.Seed)
	if err != nil {
		return err
	}
	task.EvalPairs = m.EvalPairs
	fmt.Fprintf(out, "model: %s, %.2fM parameters; %d batches of ≤ %d tokens\n", desc, float64(task.Params().Count())/1e6, task.Batches(), m.BatchTokens)
	if err := startRun(out, o, runDir, resume); err != nil {
		return err
	}
	res, err := runLoop(ctx, out, task, tcfg, runDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "done: %d steps in %s, %s target tokens/s; val loss %.4f (whole split)\n", res.Steps, res.Elapsed.Round(time.Second), humanCount(res.TokensPerS), res.ValLoss)
	fmt.Fprintf(out, "saved %s\n\nexamples (greedy):\n", res.Checkpoint)
	n := min(3, len(validSrc))
	hyps, err := tr.Lines(ctx, validSrc[:n], translate.Options{Beams: 1})
	if err != nil {
		return err
	}
	for i := range n {
		fmt.Fprintf(out, "  src: %s\n  ref: %s\n  out: %s\n\n", validSrc[i], validRef[i], hyps[i])
	}
	fmt.Fprintf(out, "translate with: qkv translate --model %s < sources.txt\n", runDir)
	return nil
}

// loadParallel reads a parallel corpus and warns about the pairs with an empty side, naming
// the first line.
func loadParallel(w io.Writer, what, src, tgt string) (*data.ParallelCorpus, error) {
	c, err := data.LoadParallel(src, tgt, data.MaxParallelBytes)
	if err != nil {
		return nil, fmt.Errorf("%s corpus: %w", what, err)
	}
	if c.Empty > 0 {
		first := 1
		for _, l := range c.Line {
			if l != first {
				break
			}
			first++
		}
		fmt.Fprintf(w, "warning: %s corpus: %d pairs with an empty side are left out (the first on line %d of %s and %s)\n", what, c.Empty, first, src, tgt)
	}
	return c, nil
}

// pairText returns the source and target text of the encoded pairs, by their line numbers.
func pairText(c *data.ParallelCorpus, pairs []data.Pair) (src, tgt []string) {
	for _, p := range pairs {
		j, _ := slices.BinarySearch(c.Line, p.Line)
		src, tgt = append(src, c.Src[j]), append(tgt, c.Tgt[j])
	}
	return src, tgt
}

// translationTokenizer learns a joint byte-level BPE vocabulary from both training sides, or
// loads a tokenizer folder that has the translation special tokens.
func translationTokenizer(ctx context.Context, out io.Writer, kind string, vocab int, c *data.ParallelCorpus) (tokenizer.Tokenizer, error) {
	if kind != "joint" {
		tok, err := tokenizer.Load(kind)
		if err != nil {
			return nil, fmt.Errorf("--tokenizer %s: %w (want joint, or a tokenizer folder)", kind, err)
		}
		return tok, nil
	}
	start := time.Now()
	text := strings.Join(c.Src, "\n") + "\n" + strings.Join(c.Tgt, "\n")
	tok, err := tokenizer.TrainBPE(ctx, strings.NewReader(text), vocab, &tokenizer.BPETrainOptions{SpecialTokens: translate.Specials})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "tokenizer: joint BPE of %d tokens learned in %s\n", tok.VocabSize(), time.Since(start).Round(time.Millisecond))
	return tok, nil
}

// mtSpecials are the ids of the padding, end and start tokens.
type mtSpecials struct{ pad, eos, bos int }

func specialIDs(tok tokenizer.Tokenizer) (mtSpecials, error) {
	bpe, ok := tok.(interface{ SpecialTokenID(string) (int, bool) })
	var ids [3]int
	for i, name := range translate.Specials {
		id, found := 0, false
		if ok {
			id, found = bpe.SpecialTokenID(name)
		}
		if !found {
			return mtSpecials{}, fmt.Errorf("the tokenizer (%s) has no %s token; translation needs %s: use --tokenizer joint", tok.Kind(), name, strings.Join(translate.Specials, ", "))
		}
		ids[i] = id
	}
	return mtSpecials{pad: ids[0], eos: ids[1], bos: ids[2]}, nil
}

// newTranslationModel builds the model the options describe, for a joint vocabulary.
func newTranslationModel(o *trainOptions, vocab int, ids mtSpecials) (any, string, error) {
	m := &o.mtOptions
	if o.Arch == "transformer" {
		c, err := transformer.Preset(o.Preset, vocab)
		if err != nil {
			return nil, "", err
		}
		c.PadTokenID, c.EOSTokenID, c.DecoderStartTokenID = ids.pad, ids.eos, ids.bos
		c.MaxPositionEmbeddings = m.MaxLen
		c.Dropout = float32(o.Dropout)
		model, err := transformer.New(c, o.Seed)
		desc := fmt.Sprintf("Transformer (%s), d %d, %d+%d layers, %d heads, FFN %d", o.Preset, c.DModel, c.EncoderLayers, c.DecoderLayers, c.EncoderAttentionHeads, c.EncoderFFNDim)
		return model, desc, err
	}
	es := seq2seqSizes[o.Preset]
	c := seq2seq.Config{
		SrcVocabSize: vocab, TgtVocabSize: vocab, EmbedSize: es[0], HiddenSize: es[1], NumLayers: 1,
		Cell: m.Cell, Bidirectional: true, Attention: attentionScores[m.Attention], InputFeeding: m.InputFeeding,
		MaxLength: m.MaxLen, Dropout: float32(o.Dropout), PadTokenID: ids.pad, BOSTokenID: ids.bos, EOSTokenID: ids.eos,
	}
	model, err := seq2seq.New(c, o.Seed)
	desc := fmt.Sprintf("seq2seq (%s), bidirectional %s encoder, embeddings %d, hidden %d, attention %s", o.Preset, strings.ToUpper(m.Cell), c.EmbedSize, c.HiddenSize, m.Attention)
	return model, desc, err
}
