package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/data"
	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/tensor/kernel"
	"github.com/qkvdev/qkv/tokenizer"
	"github.com/qkvdev/qkv/train"
)

// BERT pretraining: qkv train --arch bert. The run folder, metrics, checkpoints, resume and
// Ctrl-C are the GPT run's; the model is pretrained with masked language modelling and
// next-sentence prediction on sentence pairs cut from the documents of --data.

// bertPreset is a BERT size (Turc et al., 2019, name the small ones).
type bertPreset struct {
	layers, heads, hidden, batch int
	desc                         string
}

var bertPresets = map[string]bertPreset{
	"tiny":  {2, 2, 128, 32, "BERT-Tiny: 2 layers, 2 heads, 128 wide"},
	"mini":  {4, 4, 256, 32, "BERT-Mini: 4 layers, 4 heads, 256 wide"},
	"small": {4, 8, 512, 32, "BERT-Small: 4 layers, 8 heads, 512 wide"},
	"base":  {12, 12, 768, 32, "BERT-Base: 12 layers, 12 heads, 768 wide"},
}

// bertRunOptions are a BERT run's settings; run.json stores them so that --resume rebuilds
// the same run.
type bertRunOptions struct {
	Arch      string `json:"arch"` // "bert"
	Data      string `json:"data"`
	Tokenizer string `json:"tokenizer"`
	Preset    string `json:"preset"`

	Layers       int     `json:"num_hidden_layers"`
	Heads        int     `json:"num_attention_heads"`
	Hidden       int     `json:"hidden_size"`
	Intermediate int     `json:"intermediate_size"`
	Batch        int     `json:"batch_size"`
	Dropout      float64 `json:"dropout"`

	MaxSeqLength   int     `json:"max_seq_length"`
	ShortSeqProb   float64 `json:"short_seq_prob"`
	MaskProb       float64 `json:"masked_lm_prob"`
	MaxPredictions int     `json:"max_predictions_per_seq"`
	WholeWordMask  bool    `json:"whole_word_mask"`
	ValFraction    float64 `json:"val_fraction"`

	Iters        int     `json:"iters"`
	Time         string  `json:"time"`
	LR           float64 `json:"lr"`
	MinLR        float64 `json:"min_lr"`
	Warmup       int     `json:"warmup"`
	WeightDecay  float64 `json:"weight_decay"`
	Beta1        float64 `json:"beta1"`
	Beta2        float64 `json:"beta2"`
	Clip         float64 `json:"clip"`
	Seed         uint64  `json:"seed"`
	EvalInterval int     `json:"eval_interval"`
	LogInterval  int     `json:"log_interval"`
}

// bertFlags are the flags only --arch bert reads.
type bertFlags struct {
	intermediate, maxSeq, maxPred int
	shortSeq, maskProb            float64
	wholeWord                     bool
}

// withBertTraining adds --arch bert to the train command: its own flags, and a dispatch to
// runTrainBert for a new BERT run or a resumed one.
func withBertTraining(cmd *cobra.Command) *cobra.Command {
	bf := &bertFlags{}
	f := cmd.Flags()
	f.IntVar(&bf.maxSeq, "max-seq-length", 128, "--arch bert: longest pretraining instance in tokens, [CLS] and [SEP]s included")
	f.Float64Var(&bf.shortSeq, "short-seq-prob", 0.1, "--arch bert: share of instances cut to a random shorter length")
	f.Float64Var(&bf.maskProb, "mask-prob", 0.15, "--arch bert: share of tokens that become masked-LM targets")
	f.IntVar(&bf.maxPred, "max-predictions", 20, "--arch bert: most masked-LM targets per instance (0: no cap)")
	f.BoolVar(&bf.wholeWord, "whole-word-mask", false, "--arch bert: mask every piece of a word together")
	f.IntVar(&bf.intermediate, "intermediate-size", 0, "--arch bert: feed-forward width (default 4 × --n-embd)")
	if a := f.Lookup("arch"); a != nil {
		a.Usage += "; bert (pretraining with masked-LM and next-sentence prediction; presets tiny, mini, small, base)"
	}
	cmd.Long += `

With --arch bert, qkv pretrains a BERT with masked language modelling and next-sentence
prediction (see docs/bert.md): --data is text with one sentence a line and documents separated
by blank lines (or a folder of documents), --tokenizer a WordPiece vocabulary (default
bert-base-uncased), --preset tiny, mini (default), small or base, and --max-seq-length,
--short-seq-prob, --mask-prob, --max-predictions and --whole-word-mask shape the instances.
Fine-tune the result with qkv finetune.`
	cmd.Example += `
  qkv train --arch bert --tokenizer bert-base-uncased --data corpus.txt --preset mini --max-seq-length 64`
	runInstead(cmd, func(c *cobra.Command) bool {
		arch, _ := c.Flags().GetString("arch")
		if resume, _ := c.Flags().GetString("resume"); resume != "" {
			arch = savedArch(resume)
		}
		return arch == "bert"
	}, func(c *cobra.Command) error { return runTrainBert(c, bf) })
	return cmd
}

// runInstead has cmd run alt in place of its own RunE when pick says so.
func runInstead(cmd *cobra.Command, pick func(c *cobra.Command) bool, alt func(c *cobra.Command) error) {
	inner := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if pick(c) {
			return alt(c)
		}
		return inner(c, args)
	}
}

// readRunOptions decodes the JSON options file a run saved at path into v, reporting whether
// it could be read and decoded.
func readRunOptions(path string, v any) bool {
	b, err := fileutil.ReadFile(path, fileutil.SmallFileLimit, "a run's options")
	return err == nil && json.Unmarshal(b, v) == nil
}

// savedArch is the arch run.json of a run names ("" when it cannot be read).
func savedArch(run string) string {
	var o struct {
		Arch string `json:"arch"`
	}
	if !readRunOptions(filepath.Join(run, checkpoint.RunFile), &o) {
		return ""
	}
	return o.Arch
}

// bertOptionsFrom reads a new run's settings from the flags, with the BERT defaults where the
// shared flags' defaults are GPT's.
func bertOptionsFrom(f *pflag.FlagSet, bf *bertFlags) (*bertRunOptions, error) {
	str := func(n string) string { v, _ := f.GetString(n); return v }
	num := func(n string) int { v, _ := f.GetInt(n); return v }
	flt := func(n string) float64 { v, _ := f.GetFloat64(n); return v }
	seed, _ := f.GetUint64("seed")
	o := &bertRunOptions{
		Arch: "bert", Data: str("data"), Tokenizer: str("tokenizer"), Preset: str("preset"),
		Layers: num("n-layer"), Heads: num("n-head"), Hidden: num("n-embd"), Intermediate: bf.intermediate, Batch: num("batch"),
		Dropout: flt("dropout"), MaxSeqLength: bf.maxSeq, ShortSeqProb: bf.shortSeq, MaskProb: bf.maskProb,
		MaxPredictions: bf.maxPred, WholeWordMask: bf.wholeWord, ValFraction: flt("val-fraction"),
		Iters: num("iters"), Time: str("time"), LR: flt("lr"), MinLR: flt("min-lr"), Warmup: num("warmup"),
		WeightDecay: flt("weight-decay"), Beta1: flt("beta1"), Beta2: flt("beta2"), Clip: flt("clip"), Seed: seed,
		EvalInterval: num("eval-interval"), LogInterval: num("log-interval"),
	}
	if !f.Changed("tokenizer") {
		o.Tokenizer = "bert-base-uncased"
	}
	if !f.Changed("preset") {
		o.Preset = "mini"
	}
	if !f.Changed("dropout") {
		o.Dropout = 0.1 // BERT's
	}
	for _, name := range []string{"block", "activation", "sample-tokens", "prompt"} {
		if f.Changed(name) {
			return nil, fmt.Errorf("--%s does not apply to --arch bert (its sequence length is --max-seq-length)", name)
		}
	}
	if o.Data == "" {
		return nil, fmt.Errorf("--arch bert needs --data: a text file (documents separated by blank lines, a sentence a line) or a folder of them (a document each)")
	}
	p, ok := bertPresets[o.Preset]
	if !ok {
		return nil, fmt.Errorf("unknown --preset %q for --arch bert (choose from tiny, mini, small, base)", o.Preset)
	}
	for _, s := range []struct {
		name string
		v    *int
		d    int
	}{{"n-layer", &o.Layers, p.layers}, {"n-head", &o.Heads, p.heads}, {"n-embd", &o.Hidden, p.hidden}, {"batch", &o.Batch, p.batch}} {
		if !f.Changed(s.name) {
			*s.v = s.d
		}
	}
	if o.Intermediate == 0 {
		o.Intermediate = 4 * o.Hidden
	}
	if !f.Changed("min-lr") {
		o.MinLR = o.LR / 10
	}
	if o.Time == "" && o.Iters == 0 {
		o.Time = "4m"
	}
	if abs, err := filepath.Abs(o.Data); err == nil {
		o.Data = abs
	}
	switch _, named := namedTokenizers[o.Tokenizer]; {
	case o.Tokenizer == "char" || o.Tokenizer == "byte":
		return nil, fmt.Errorf("--tokenizer %s: BERT needs a WordPiece vocabulary (bert-base-uncased, or a folder from qkv tokenizer train --type wordpiece)", o.Tokenizer)
	case !named:
		if _, err := os.Stat(o.Tokenizer); err == nil {
			if abs, err := filepath.Abs(o.Tokenizer); err == nil {
				o.Tokenizer = abs
			}
		}
	}
	return o, nil
}

// modelConfig is the BERT the options describe, for a vocabulary of vocab tokens.
func (o *bertRunOptions) modelConfig(vocab, pad int) bert.Config {
	d := float32(o.Dropout)
	return bert.Config{
		VocabSize: vocab, HiddenSize: o.Hidden, NumHiddenLayers: o.Layers, NumAttentionHeads: o.Heads,
		IntermediateSize: o.Intermediate, HiddenAct: "gelu", MaxPositionEmbeddings: max(o.MaxSeqLength, 2), TypeVocabSize: 2,
		LayerNormEps: 1e-12, HiddenDropoutProb: d, AttentionDropoutProb: d, PadTokenID: pad, Head: bert.HeadPretraining,
	}
}

// trainConfig checks the options and returns the training loop's configuration.
func (o *bertRunOptions) trainConfig(runDir string, resume bool) (train.Config, error) {
	var budget time.Duration
	if o.Time != "" {
		d, err := time.ParseDuration(o.Time)
		if err != nil || d <= 0 {
			return train.Config{}, fmt.Errorf("--time %q: want a positive duration such as 90s, 4m or 2h", o.Time)
		}
		budget = d
	}
	if !(o.ValFraction > 0 && o.ValFraction < 1) {
		return train.Config{}, fmt.Errorf("--val-fraction %g: want a share in (0, 1)", o.ValFraction)
	}
	if !(o.Dropout >= 0 && o.Dropout < 1) {
		return train.Config{}, fmt.Errorf("--dropout %g: want a probability in [0, 1)", o.Dropout)
	}
	if o.Batch < 1 || o.Batch > maxBatch {
		return train.Config{}, fmt.Errorf("--batch %d: want 1..%d", o.Batch, maxBatch)
	}
	if err := o.modelConfig(8, 0).Validate(); err != nil {
		return train.Config{}, fmt.Errorf("model flags (--n-layer %d, --n-head %d, --n-embd %d, --intermediate-size %d, --max-seq-length %d): %w", o.Layers, o.Heads, o.Hidden, o.Intermediate, o.MaxSeqLength, err)
	}
	if o.MaxSeqLength < 5 || o.MaxSeqLength > 1<<16 {
		return train.Config{}, fmt.Errorf("--max-seq-length %d: want 5..%d ([CLS], two [SEP]s and a token of each segment)", o.MaxSeqLength, 1<<16)
	}
	tcfg := train.Config{
		Iters: o.Iters, Time: budget, LR: o.LR, MinLR: o.MinLR, Warmup: o.Warmup,
		Beta1: o.Beta1, Beta2: o.Beta2, Eps: 1e-6, WeightDecay: o.WeightDecay, Clip: o.Clip,
		EvalInterval: o.EvalInterval, LogInterval: o.LogInterval, Seed: o.Seed, RunDir: runDir, Resume: resume,
	}
	if err := tcfg.Validate(); err != nil {
		if ce, ok := errors.AsType[*train.ConfigError](err); ok {
			return train.Config{}, fmt.Errorf("--%s %v: want %s", strings.ReplaceAll(ce.Field, "_", "-"), ce.Value, ce.Want)
		}
		return train.Config{}, err
	}
	return tcfg, nil
}

func (o *bertRunOptions) pretrainOptions() data.PretrainOptions {
	p := data.DefaultPretrainOptions()
	p.MaxSeqLength, p.ShortSeqProb, p.MaskProb, p.MaxPredictions, p.WholeWordMask, p.Seed = o.MaxSeqLength, o.ShortSeqProb, o.MaskProb, o.MaxPredictions, o.WholeWordMask, o.Seed
	return p
}

func runTrainBert(cmd *cobra.Command, bf *bertFlags) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	f := cmd.Flags()
	resumeDir, _ := f.GetString("resume")
	resume := resumeDir != ""
	var o *bertRunOptions
	runDir := resumeDir
	if resume {
		b, err := fileutil.ReadFile(filepath.Join(resumeDir, checkpoint.RunFile), fileutil.SmallFileLimit, "a run's options")
		if err != nil {
			return fmt.Errorf("--resume %s: not a training run (%w)", resumeDir, err)
		}
		o = &bertRunOptions{}
		if err := json.Unmarshal(b, o); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(resumeDir, checkpoint.RunFile), err)
		}
		var changed []string
		f.Visit(func(fl *pflag.Flag) {
			switch fl.Name {
			case "resume", "threads", "out":
			case "iters":
				o.Iters, _ = f.GetInt("iters")
			case "time":
				o.Time, _ = f.GetString("time")
			default:
				changed = append(changed, "--"+fl.Name)
			}
		})
		if len(changed) > 0 {
			return fmt.Errorf("--resume continues a run with its saved settings; %s cannot change (only --iters, --time, --threads)", strings.Join(changed, ", "))
		}
	} else {
		var err error
		if o, err = bertOptionsFrom(f, bf); err != nil {
			return err
		}
		if runDir, _ = f.GetString("out"); runDir == "" {
			runDir = filepath.Join("runs", "bert-"+time.Now().Format("20060102-150405"))
		}
	}
	tcfg, err := o.trainConfig(runDir, resume)
	if err != nil {
		if resume {
			return fmt.Errorf("resuming %s: %w", resumeDir, err)
		}
		return err
	}
	if !resume {
		if err := checkNewTrainOut(runDir); err != nil {
			return err
		}
	}
	if n, _ := f.GetInt("threads"); n > 0 {
		kernel.SetThreads(min(n, maxThreads))
	}

	// Tokenizer and corpus.
	var tok tokenizer.Tokenizer
	if resume {
		dir, err := checkpoint.Latest(runDir)
		if err != nil {
			return err
		}
		tok, err = tokenizer.Load(dir)
		if err != nil {
			return err
		}
	} else if tok, err = loadTokenizer(ctx, cmd.ErrOrStderr(), o.Tokenizer); err != nil {
		return err
	}
	wp, ok := tok.(*tokenizer.WordPiece)
	if !ok {
		return fmt.Errorf("--tokenizer %s is a %s tokenizer; BERT needs a WordPiece vocabulary (bert-base-uncased, or a folder from qkv tokenizer train --type wordpiece)", o.Tokenizer, tok.Kind())
	}
	docs, err := data.LoadDocuments(o.Data, data.MaxCorpusBytes)
	if err != nil {
		return err
	}
	nVal := max(2, int(float64(len(docs))*o.ValFraction+0.5))
	if len(docs)-nVal < 2 {
		return fmt.Errorf("%s: %d documents; next-sentence prediction needs at least two for training and two for validation (separate documents by blank lines, or lower --val-fraction)", o.Data, len(docs))
	}
	popts := o.pretrainOptions()
	trainSet, err := data.NewPretraining(ctx, docs[:len(docs)-nVal], wp, popts)
	if err != nil {
		return err
	}
	popts.Seed++
	valSet, err := data.NewPretraining(ctx, docs[len(docs)-nVal:], wp, popts)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "corpus: %s, %d documents (%d held out); %d training and %d validation instances of at most %d tokens\n",
		o.Data, len(docs), nVal, len(trainSet.Instances), len(valSet.Instances), o.MaxSeqLength)

	cfg := o.modelConfig(wp.VocabSize(), max(wp.PadID(), 0))
	m, err := bert.New(cfg, o.Seed)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "model: BERT, %d layers, %d heads, %d wide, %d positions, vocabulary %d, %.2fM parameters; batch %d\n",
		cfg.NumHiddenLayers, cfg.NumAttentionHeads, cfg.HiddenSize, cfg.MaxPositionEmbeddings, cfg.VocabSize, float64(m.Params.Count())/1e6, o.Batch)
	if !resume {
		if err := os.MkdirAll(runDir, 0o755); err != nil {
			return err
		}
		b, err := json.MarshalIndent(o, "", "  ")
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(runDir, checkpoint.RunFile), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "run: %s (%d threads)\n", runDir, kernel.Threads())
	task := &bert.PretrainTask{Model: m, Tokenizer: wp, Train: trainSet, Val: valSet, Batch: o.Batch}
	res, err := runLoop(ctx, out, task, tcfg, runDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "done: %d steps in %s, %s tokens/s; val loss %.4f (whole split)\n", res.Steps, res.Elapsed.Round(time.Second), humanCount(res.TokensPerS), res.ValLoss)
	if sc, err := task.Scores(ctx, true); err == nil {
		fmt.Fprintf(out, "validation: masked-LM loss %.4f, accuracy %.2f%%; next-sentence loss %.4f, accuracy %.2f%%\n",
			sc["mlm_loss"], 100*sc["mlm_accuracy"], sc["nsp_loss"], 100*sc["nsp_accuracy"])
	}
	fmt.Fprintf(out, "saved %s\nfine-tune with: qkv finetune --model %s --task rte --train TRAIN --dev DEV\n", res.Checkpoint, runDir)
	return nil
}
