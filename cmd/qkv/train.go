package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/data"
	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/internal/sysmem"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tensor/kernel"
	"github.com/qkvdev/qkv/tokenizer"
	"github.com/qkvdev/qkv/train"
)

// trainOptions are the settings of a training run; run.json stores them so that --resume
// rebuilds the same run.
type trainOptions struct {
	Arch      string `json:"arch"`
	Data      string `json:"data"` // "" = the Go source tree; absolute (relative in older runs)
	Tokenizer string `json:"tokenizer"`
	Preset    string `json:"preset"`
	// The corpus the run began with, to warn when a resume finds it changed.
	CorpusBytes  int    `json:"corpus_bytes,omitempty"`
	CorpusSHA256 string `json:"corpus_sha256,omitempty"`

	NLayer     int     `json:"n_layer"`
	NHead      int     `json:"n_head"`
	NEmbd      int     `json:"n_embd"`
	Block      int     `json:"block_size"`
	Batch      int     `json:"batch_size"`
	Dropout    float64 `json:"dropout"`
	Activation string  `json:"activation"`

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
	ValFraction  float64 `json:"val_fraction"`
	Split        string  `json:"split,omitempty"` // splitFiles, or "" (the tail) in older runs
	mtOptions            // --arch seq2seq and transformer only (see train_mt.go)

	Out          string `json:"-"`
	Resume       string `json:"-"`
	Threads      int    `json:"-"`
	SampleTokens int    `json:"-"`
	Prompt       string `json:"-"`
}

// preset is a named model size.
type preset struct {
	nLayer, nHead, nEmbd, block, batch int
	desc                               string
}

var gptPresets = map[string]preset{
	"tiny":  {2, 2, 64, 64, 16, "2 layers, 2 heads, 64 wide (seconds per hundred steps)"},
	"baby":  {4, 4, 128, 64, 12, "nanoGPT's CPU baby: 4 layers, 4 heads, 128 wide, block 64"},
	"small": {6, 6, 384, 256, 8, "nanoGPT's shakespeare-char: 6 layers, 6 heads, 384 wide, block 256"},
	"gpt2":  {12, 12, 768, 1024, 4, "GPT-2 124M: 12 layers, 12 heads, 768 wide, block 1024"},
}

func presetNames() string {
	return "tiny, baby, small, gpt2"
}

func newTrainCmd() *cobra.Command {
	o := &trainOptions{}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a model on a text corpus",
		Long: `Train a model on a text corpus and save the run (checkpoints, metrics, tokenizer).

With no flags, qkv trains a small GPT for about five minutes on the Go distribution's own
source code (found with 'go env GOROOT'; no network needed), saves the run under runs/ and
prints a sample of generated text.

A tenth of the corpus (--val-fraction) is held out for validation: whole files, picked by a
fixed-seed hash of their paths, when the corpus is a folder (or the Go source), so that they
are a fair sample of it; the end of the text for a single file. Checkpoints are written
atomically with the optimizer and random-number state, so --resume continues a run exactly;
Ctrl-C saves a checkpoint and exits.`,
		Example: `  qkv train
  qkv train --data ../shared/data/tinyshakespeare/input.txt --preset baby --iters 2000
  qkv train --data notes/ --tokenizer byte --n-layer 6 --n-embd 256 --time 30m
  qkv train --resume runs/gpt-20261128-101500`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTrain(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Arch, "arch", "gpt", "model architecture: gpt, seq2seq (recurrent encoder–decoder) or transformer (encoder–decoder); the last two translate (see --src)")
	f.StringVar(&o.Data, "data", "", "training text: a file, or a folder of text files (default: the Go source tree)")
	f.StringVar(&o.Tokenizer, "tokenizer", "char", "tokenizer: char (the corpus's characters), byte (256 raw bytes), gpt2 (GPT-2's BPE), or a tokenizer folder")
	f.StringVar(&o.Preset, "preset", "baby", "model size preset: "+presetNames())
	f.IntVar(&o.NLayer, "n-layer", 0, "Transformer blocks (overrides the preset)")
	f.IntVar(&o.NHead, "n-head", 0, "attention heads (overrides the preset)")
	f.IntVar(&o.NEmbd, "n-embd", 0, "embedding width (overrides the preset)")
	f.IntVar(&o.Block, "block", 0, "context length in tokens (overrides the preset)")
	f.IntVar(&o.Batch, "batch", 0, "sequences per step (overrides the preset)")
	f.Float64Var(&o.Dropout, "dropout", 0, "dropout probability (embeddings, attention, residual)")
	f.StringVar(&o.Activation, "activation", "gelu_new", "GELU form: gelu_new (tanh, GPT-2) or gelu (exact erf)")
	f.IntVar(&o.Iters, "iters", 0, "optimizer steps (default: as many as fit in --time)")
	f.StringVar(&o.Time, "time", "", "training time budget, e.g. 4m or 1h (default 4m when --iters is not set)")
	f.Float64Var(&o.LR, "lr", 1e-3, "peak learning rate")
	f.Float64Var(&o.MinLR, "min-lr", 0, "final learning rate of the cosine decay (default lr/10)")
	f.IntVar(&o.Warmup, "warmup", 100, "linear warm-up steps")
	f.Float64Var(&o.WeightDecay, "weight-decay", 0.1, "AdamW decoupled weight decay (matrices only)")
	f.Float64Var(&o.Beta1, "beta1", 0.9, "AdamW β1")
	f.Float64Var(&o.Beta2, "beta2", 0.99, "AdamW β2")
	f.Float64Var(&o.Clip, "clip", 1.0, "gradient global-norm clipping (0: off)")
	f.Uint64Var(&o.Seed, "seed", 1337, "random seed (initialisation, batches, dropout)")
	f.IntVar(&o.EvalInterval, "eval-interval", 250, "evaluate and checkpoint every N steps")
	f.IntVar(&o.LogInterval, "log-interval", 10, "log metrics every N steps")
	f.Float64Var(&o.ValFraction, "val-fraction", 0.1, "share of the corpus held out for validation (whole files of a folder, the end of a single file)")
	f.StringVar(&o.Out, "out", "", "run folder (default runs/ARCH-DATE-TIME)")
	f.StringVar(&o.Resume, "resume", "", "continue the run in this folder from its latest checkpoint")
	f.IntVar(&o.Threads, "threads", 0, "CPU threads (default: all cores)")
	f.IntVar(&o.SampleTokens, "sample-tokens", 300, "tokens of sample text to print at the end (0: none)")
	f.StringVar(&o.Prompt, "prompt", "", "prompt for the final sample (default: a newline, or \"func main() {\" for the Go corpus)")
	addTranslationFlags(f, &o.mtOptions)
	return cmd
}

func runTrain(cmd *cobra.Command, o *trainOptions) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	resume := o.Resume != ""
	if resume {
		if err := loadRunOptions(cmd, o); err != nil {
			return err
		}
	} else {
		o.Split = splitFiles
		if err := o.absPaths(); err != nil {
			return err
		}
	}
	runDir := o.Out
	if resume {
		runDir = o.Resume
	} else if runDir == "" {
		runDir = filepath.Join("runs", fmt.Sprintf("%s-%s", o.Arch, time.Now().Format("20060102-150405")))
	}
	// Every setting is checked before anything is read or created.
	tcfg, err := o.resolve(cmd.Flags(), resume, runDir)
	if err != nil {
		if resume { // a value from run.json, or a flag given with --resume
			return fmt.Errorf("resuming %s: %w", o.Resume, err)
		}
		return err
	}
	if !resume {
		if err := checkNewTrainOut(runDir); err != nil {
			return err
		}
	}
	if isTranslationArch(o.Arch) {
		return runTrainMT(cmd, o, tcfg, runDir, resume)
	}
	if o.Threads > 0 {
		kernel.SetThreads(o.Threads)
	}

	// Corpus and tokenizer.
	var corpus *data.Corpus
	if o.Data == "" {
		corpus, err = data.GoSource(8 << 20)
	} else {
		corpus, err = data.LoadCorpus(o.Data, nil, data.MaxCorpusBytes)
	}
	if err != nil {
		if resume {
			return fmt.Errorf("the run's corpus: %w (run.json names it as %q)", err, o.Data)
		}
		return err
	}
	fmt.Fprintf(out, "corpus: %s\n", corpus.Desc)
	sum := sha256.Sum256([]byte(corpus.Text))
	if resume && o.CorpusSHA256 != "" && o.CorpusSHA256 != hex.EncodeToString(sum[:]) {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: the corpus changed since the run began (%d bytes then, %d now): training goes on with the new text, so the resumed run is not the one it would have been\n", o.CorpusBytes, len(corpus.Text))
	}
	o.CorpusBytes, o.CorpusSHA256 = len(corpus.Text), hex.EncodeToString(sum[:])
	var tok tokenizer.Tokenizer
	if resume {
		dir, err := checkpoint.Latest(runDir)
		if err != nil {
			return err
		}
		if tok, err = tokenizer.Load(dir); err != nil {
			return err
		}
	} else if tok, err = newTokenizer(ctx, cmd.ErrOrStderr(), o.Tokenizer, corpus.Text); err != nil {
		return err
	}
	trainIDs, valIDs, err := splitCorpus(out, cmd.ErrOrStderr(), corpus, o.ValFraction, o.Split == splitFiles, tok)
	if err != nil {
		return err
	}
	if err := data.CheckBlock("training", trainIDs, o.Block); err != nil {
		return err
	}
	if err := data.CheckBlock("validation", valIDs, o.Block); err != nil {
		return err
	}
	fmt.Fprintf(out, "tokenizer: %s, %d tokens in the vocabulary; %d training and %d validation tokens\n", tok.Kind(), tok.VocabSize(), len(trainIDs), len(valIDs))

	cfg := o.modelConfig(tok.VocabSize())
	if bpe, ok := tok.(*tokenizer.GPT2); ok { // generation stops at <|endoftext|>
		if id, ok := bpe.SpecialTokenID(tokenizer.EndOfText); ok {
			cfg.BOSTokenID, cfg.EOSTokenID = &id, &id
		}
	}
	if err := sysmem.Check(trainingMemory(cfg, o.Batch), fmt.Sprintf("training this model (%d layers, %d wide, vocabulary %d, batch %d × block %d)", cfg.NLayer, cfg.NEmbd, cfg.VocabSize, o.Batch, cfg.NPositions)); err != nil {
		return err
	}
	m, err := gpt.New(cfg, o.Seed)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "model: GPT, %d layers, %d heads, %d wide, block %d, %.2fM parameters; batch %d\n",
		cfg.NLayer, cfg.NHead, cfg.NEmbd, cfg.NPositions, float64(m.Params.Count())/1e6, o.Batch)
	if err := startRun(out, o, runDir, resume); err != nil {
		return err
	}

	task := &train.GPTTask{Model: m, Tokenizer: tok, Train: trainIDs, Val: valIDs, Batch: o.Batch, Block: o.Block}
	res, err := runLoop(ctx, out, task, tcfg, runDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "done: %d steps in %s, %s tokens/s; val loss %.4f (whole split)\n", res.Steps, res.Elapsed.Round(time.Second), humanCount(res.TokensPerS), res.ValLoss)
	fmt.Fprintf(out, "saved %s\n", res.Checkpoint)
	if o.SampleTokens > 0 {
		prompt := o.Prompt
		if prompt == "" {
			prompt = "\n"
			if o.Data == "" {
				prompt = "func main() {"
			}
		}
		fmt.Fprintf(out, "\nsample (temperature 0.8):\n")
		if err := streamSample(ctx, out, m, tok, prompt, o.SampleTokens, o.Seed); err != nil {
			return err
		}
		fmt.Fprintf(out, "\n\ngenerate more with: qkv generate --model %s %q\n", runDir, prompt)
	}
	return nil
}

// runLoop runs the training loop with the progress display; an interrupted run's checkpoint
// and how to resume it are printed, and errSilent returned.
func runLoop(ctx context.Context, out io.Writer, task train.Task, tcfg train.Config, runDir string) (*train.Result, error) {
	tcfg.Log = out
	if isTerminal(os.Stdout) {
		tcfg.Progress = newBar(os.Stderr)
	}
	res, err := train.Run(ctx, task, tcfg)
	if errors.Is(err, train.ErrInterrupted) {
		fmt.Fprintf(out, "\ninterrupted at step %d; checkpoint saved in %s\nresume with: qkv train --resume %s\n", res.Steps, res.Checkpoint, runDir)
		return nil, errSilent
	}
	return res, err
}

// Limits of the command line beyond those of the model and the training loop.
const (
	maxLayers       = 256
	maxWidth        = 1 << 16
	maxBlock        = 1 << 16
	maxBatch        = 1 << 16
	maxThreads      = 1024
	maxSampleTokens = 1 << 20
)

// resolve fills in the preset's sizes and the defaults that flags leave unset, and checks every
// setting, NaN and ±Inf included, naming the flag and its allowed range. A flag given
// explicitly is never replaced: --n-head 0 is refused, not taken from the preset. It returns
// the training loop's configuration.
func (o *trainOptions) resolve(flags *pflag.FlagSet, resume bool, runDir string) (train.Config, error) {
	if !resume {
		if err := checkArchFlags(flags, o.Arch); err != nil {
			return train.Config{}, err
		}
	}
	if isTranslationArch(o.Arch) {
		return o.resolveMT(flags, resume, runDir)
	}
	if o.Arch != "gpt" {
		return train.Config{}, fmt.Errorf("unknown --arch %q: want gpt, seq2seq or transformer", o.Arch)
	}
	o.mtOptions = mtOptions{} // run.json of a GPT run holds no translation settings
	p, ok := gptPresets[o.Preset]
	if !ok {
		return train.Config{}, fmt.Errorf("unknown --preset %q (choose from %s)", o.Preset, presetNames())
	}
	unset := func(name string) bool { return !resume && !flags.Changed(name) }
	for _, f := range []struct {
		name string
		v    *int
		d    int
	}{{"n-layer", &o.NLayer, p.nLayer}, {"n-head", &o.NHead, p.nHead}, {"n-embd", &o.NEmbd, p.nEmbd}, {"block", &o.Block, p.block}, {"batch", &o.Batch, p.batch}} {
		if unset(f.name) {
			*f.v = f.d
		}
	}
	if unset("min-lr") {
		o.MinLR = o.LR / 10
	}
	if o.Time == "" && o.Iters == 0 {
		o.Time = "4m"
	}
	budget, err := o.budget()
	if err != nil {
		return train.Config{}, err
	}
	for _, f := range []struct {
		name   string
		v      int
		lo, hi int
	}{
		{"n-layer", o.NLayer, 1, maxLayers},
		{"n-embd", o.NEmbd, 1, maxWidth},
		{"n-head", o.NHead, 1, max(1, o.NEmbd)},
		{"block", o.Block, 1, maxBlock},
		{"batch", o.Batch, 1, maxBatch},
		{"log-interval", o.LogInterval, 1, math.MaxInt},
		{"threads", o.Threads, 0, maxThreads},
		{"sample-tokens", o.SampleTokens, 0, maxSampleTokens},
	} {
		if f.v < f.lo || f.v > f.hi {
			return train.Config{}, fmt.Errorf("--%s %d: want %d..%d", f.name, f.v, f.lo, f.hi)
		}
	}
	for _, f := range []struct {
		name string
		v    float64
		ok   bool
		want string
	}{
		{"dropout", o.Dropout, o.Dropout >= 0 && o.Dropout < 1, "a probability in [0, 1)"},
		{"val-fraction", o.ValFraction, o.ValFraction > 0 && o.ValFraction < 1, "a share in (0, 1)"},
	} {
		if !f.ok { // false for NaN
			return train.Config{}, fmt.Errorf("--%s %g: want %s", f.name, f.v, f.want)
		}
	}
	if o.NEmbd%o.NHead != 0 {
		return train.Config{}, fmt.Errorf("--n-embd %d is not divisible by --n-head %d", o.NEmbd, o.NHead)
	}
	// The model's own checks (activation, size), with a placeholder vocabulary: the tokenizer
	// is built later, and gpt.New checks again with the real one.
	if err := o.modelConfig(1).Validate(); err != nil {
		return train.Config{}, fmt.Errorf("model flags (--n-layer %d, --n-head %d, --n-embd %d, --block %d, --dropout %g, --activation %s): %w",
			o.NLayer, o.NHead, o.NEmbd, o.Block, o.Dropout, o.Activation, err)
	}
	return o.loopConfig(budget, runDir, resume)
}

// loopConfig is the training loop's configuration, checked, with errors naming the flags.
func (o *trainOptions) loopConfig(budget time.Duration, runDir string, resume bool) (train.Config, error) {
	tcfg := train.Config{
		Iters: o.Iters, Time: budget,
		LR: o.LR, MinLR: o.MinLR, Warmup: o.Warmup,
		Beta1: o.Beta1, Beta2: o.Beta2, Eps: 1e-8, WeightDecay: o.WeightDecay, Clip: o.Clip,
		EvalInterval: o.EvalInterval, LogInterval: o.LogInterval, Seed: o.Seed,
		RunDir: runDir, Resume: resume,
	}
	if err := tcfg.Validate(); err != nil {
		// The loop's settings are flags of the same name: lr → --lr, min_lr → --min-lr.
		if ce, ok := errors.AsType[*train.ConfigError](err); ok {
			return train.Config{}, fmt.Errorf("--%s %v: want %s", strings.ReplaceAll(ce.Field, "_", "-"), ce.Value, ce.Want)
		}
		return train.Config{}, err
	}
	return tcfg, nil
}

// budget parses --time ("" is no budget).
func (o *trainOptions) budget() (time.Duration, error) {
	if o.Time == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(o.Time)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--time %q: want a positive duration such as 90s, 4m or 2h", o.Time)
	}
	return d, nil
}

// trainingMemory is a lower bound on the bytes training c with batch b takes: weights,
// gradients and AdamW's two moments as float32, and the logits with their gradient. Activations
// come on top, so a model this refuses could never train here.
func trainingMemory(c gpt.Config, b int) uint64 {
	v, t, e, l := uint64(c.VocabSize), uint64(c.NPositions), uint64(c.NEmbd), uint64(c.NLayer)
	params := (v+t)*e + l*(4*e*e+2*e*uint64(c.Inner()))
	return 16*params + 8*uint64(b)*t*v
}

// modelConfig is the GPT the options describe, for a vocabulary of vocab tokens.
func (o *trainOptions) modelConfig(vocab int) gpt.Config {
	d := float32(o.Dropout)
	return gpt.Config{
		VocabSize: vocab, NPositions: o.Block, NEmbd: o.NEmbd, NLayer: o.NLayer, NHead: o.NHead,
		LayerNormEpsilon: 1e-5, Activation: o.Activation, ResidPdrop: d, EmbdPdrop: d, AttnPdrop: d,
	}
}

// newTokenizer builds or loads the tokenizer of a new run: a character vocabulary of the corpus,
// raw bytes, or an existing tokenizer (gpt2, or a folder such as one qkv tokenizer train wrote).
func newTokenizer(ctx context.Context, w io.Writer, kind, corpus string) (tokenizer.Tokenizer, error) {
	switch kind {
	case "char":
		return tokenizer.NewChar(corpus)
	case "byte":
		return tokenizer.Byte{}, nil
	}
	if _, known := namedTokenizers[kind]; !known {
		if _, err := os.Stat(kind); err != nil {
			return nil, fmt.Errorf("unknown --tokenizer %q (want char, byte, gpt2, or the path of a tokenizer folder)", kind)
		}
	}
	return loadTokenizer(ctx, w, kind)
}

// absPaths makes --data, and --tokenizer when it names a folder, absolute, so that run.json
// resumes from any working directory.
func (o *trainOptions) absPaths() error {
	if err := o.absCorpusPaths(); err != nil {
		return err
	}
	if o.Data != "" {
		abs, err := filepath.Abs(o.Data)
		if err != nil {
			return fmt.Errorf("--data %s: %w", o.Data, err)
		}
		o.Data = abs
	}
	if _, named := namedTokenizers[o.Tokenizer]; !named && o.Tokenizer != "char" && o.Tokenizer != "byte" {
		if _, err := os.Stat(o.Tokenizer); err == nil {
			if abs, err := filepath.Abs(o.Tokenizer); err == nil {
				o.Tokenizer = abs
			}
		}
	}
	return nil
}

// splitFiles in run.json marks a run whose folder corpus holds out whole files for validation;
// runs saved before it split every corpus at its tail, and resume them the same way.
const splitFiles = "files"

// splitCorpus tokenizes a corpus into training and validation tokens: whole files held out
// when byFiles is set and the corpus is a folder whose files can make up the share, else the
// last valFraction of the tokens. qkv train and qkv eval split alike.
func splitCorpus(out, errOut io.Writer, c *data.Corpus, valFraction float64, byFiles bool, tok tokenizer.Tokenizer) (train, val []int, err error) {
	if !(valFraction > 0 && valFraction < 1) {
		return nil, nil, fmt.Errorf("--val-fraction %g: want a share in (0, 1)", valFraction)
	}
	if byFiles {
		if trainText, valText, n, ok := c.HoldOut(valFraction); ok {
			train, val = tok.Encode(trainText), tok.Encode(valText)
			nt, r := unknownChars(tok, trainText, train)
			if nv, rv := unknownChars(tok, valText, val); nv > 0 {
				nt += nv
				r = cmp.Or(r, rv)
			}
			if nt > 0 {
				fmt.Fprintf(errOut, "warning: %d characters of the corpus (the first %q) are not in the model's character vocabulary and are left out\n", nt, r)
			}
			fmt.Fprintf(out, "validation: %d of %d files held out whole\n", n, len(c.Files))
			return train, val, nil
		}
	}
	ids := tok.Encode(c.Text)
	warnUnknownChars(errOut, tok, c.Text, ids)
	if train, val, err = data.Split(ids, 1-valFraction); err != nil {
		return nil, nil, fmt.Errorf("--val-fraction %g: %w", valFraction, err)
	}
	return train, val, nil
}

// startRun creates a new run's folder with its run.json, and says where the run goes.
func startRun(out io.Writer, o *trainOptions, runDir string, resume bool) error {
	if !resume {
		if err := os.MkdirAll(runDir, 0o755); err != nil {
			return err
		}
		if err := saveRunOptions(runDir, o); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "run: %s (%d threads)\n", runDir, kernel.Threads())
	return nil
}

func saveRunOptions(dir string, o *trainOptions) error {
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, checkpoint.RunFile), append(b, '\n'), 0o644)
}

// loadRunOptions reads run.json of the run being resumed; flags given on the command line
// (--iters to extend a run, --threads, sampling) still apply.
func loadRunOptions(cmd *cobra.Command, o *trainOptions) error {
	path := filepath.Join(o.Resume, checkpoint.RunFile)
	b, err := fileutil.ReadFile(path, 1<<20, "a run's options")
	if err != nil {
		return fmt.Errorf("--resume %s: not a training run (%w)", o.Resume, err)
	}
	saved := *o
	if err := json.Unmarshal(b, &saved); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, name := range []string{"iters", "time"} {
		if cmd.Flags().Changed(name) {
			switch name {
			case "iters":
				saved.Iters = o.Iters
			case "time":
				saved.Time = o.Time
			}
		}
	}
	if changed := flagsSetExcept(cmd.Flags(), "resume", "iters", "time", "threads", "sample-tokens", "prompt", "out", "compute"); len(changed) > 0 {
		return fmt.Errorf("--resume continues a run with its saved settings; %s cannot change (only --iters, --time, --threads, --sample-tokens, --prompt, --compute)", strings.Join(changed, ", "))
	}
	*o = saved
	return nil
}

// flagsSetExcept names ("--name") the flags given on the command line other than allowed: the
// ones a resumed run would otherwise ignore.
func flagsSetExcept(f *pflag.FlagSet, allowed ...string) []string {
	var set []string
	f.Visit(func(fl *pflag.Flag) {
		if !slices.Contains(allowed, fl.Name) {
			set = append(set, "--"+fl.Name)
		}
	})
	return set
}

func humanCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// checkNewTrainOut checks that --out names a folder a new training run may
// be written to: one that holds no metrics, checkpoints or run.json.
func checkNewTrainOut(runDir string) error {
	err := train.CheckNewRunDir(runDir)
	if _, serr := os.Stat(filepath.Join(runDir, checkpoint.RunFile)); err == nil && serr == nil {
		err = fmt.Errorf("%s already holds a training run (%s)", runDir, checkpoint.RunFile)
	}
	if err != nil {
		return fmt.Errorf("--out: %w; continue it with --resume %s, or choose another --out", err, runDir)
	}
	return nil
}
