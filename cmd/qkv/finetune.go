package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/data/nli"
	"github.com/qkvdev/qkv/finetune"
	"github.com/qkvdev/qkv/hf"
	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tensor/kernel"
	"github.com/qkvdev/qkv/tokenizer"
	"github.com/qkvdev/qkv/train"
)

// finetuneOptions are a fine-tuning run's settings; OUT/finetune.json stores them so that
// --resume rebuilds the same run.
type finetuneOptions struct {
	Model       string   `json:"model"`
	Task        string   `json:"task"`
	Train       string   `json:"train"`
	Dev         []string `json:"dev"`
	Init        string   `json:"init"` // pretrained or random
	Epochs      int      `json:"epochs"`
	LR          float64  `json:"lr"`
	WarmupRatio float64  `json:"warmup_ratio"`
	WeightDecay float64  `json:"weight_decay"`
	Batch       int      `json:"batch_size"`
	MaxLength   int      `json:"max_length"`
	Truncation  string   `json:"truncation"`
	MaxTrain    int      `json:"max_train_examples,omitempty"`
	LMCoef      float64  `json:"lm_coef"`
	Seed        uint64   `json:"seed"`

	Out     string `json:"-"`
	Resume  string `json:"-"`
	Threads int    `json:"-"`
}

// finetuneFile in the output folder holds the run's settings.
const finetuneFile = "finetune.json"

func newFinetuneCmd() *cobra.Command {
	o := &finetuneOptions{}
	cmd := &cobra.Command{
		Use:   "finetune",
		Short: "Fine-tune a BERT or GPT on a sentence-pair task (MNLI, SNLI, SciTail, QNLI, RTE)",
		Long: `Fine-tune a pretrained model to classify sentence pairs, and keep the best epoch.

A BERT reads "[CLS] premise [SEP] hypothesis [SEP]" and classifies the pooled [CLS] state
(Devlin et al., 2019); a GPT reads "start premise delim hypothesis extract", classifies the
extract token's final state and keeps the language-model loss as an auxiliary objective
(weight --lm-coef, Radford et al., 2018), its four new tokens added to the vocabulary.

After each epoch every --dev file is evaluated (for MNLI give dev_matched then dev_mismatched:
they are reported as MNLI-m and MNLI-mm); when the first one's accuracy is the best so far, the
output folder receives the model (a HuggingFace BertForSequenceClassification or
GPT2ForSequenceClassification folder with its tokenizer) and predictions-NAME.jsonl for each
dev file (index, predicted label, class probabilities in id2label order, gold label).
results.json records every epoch. The training run (metrics.jsonl, checkpoints) is in OUT/run:
Ctrl-C saves a checkpoint, and --resume OUT continues exactly.

The learning rate warms up linearly over --warmup-ratio of the steps and then follows a cosine
to zero. Pairs longer than --max-length are truncated by --truncation; longest_first removes
one token at a time from the end of the longer segment, as HuggingFace's tokenizers do.`,
		Example: `  qkv finetune --model runs/bert-mini --task rte --train ../shared/data/rte/train.jsonl --dev ../shared/data/rte/val.jsonl
  qkv finetune --model google-bert/bert-base-uncased --task mnli --train train.tsv --dev dev_matched.tsv --dev dev_mismatched.tsv
  qkv finetune --model runs/gpt-captions --task snli --train snli_test.jsonl --dev snli_dev.jsonl --epochs 5
  qkv finetune --resume runs/finetune-rte-20261202-101500`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runFinetune(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Model, "model", "", "the model to fine-tune: a run or model folder (BERT or GPT), or a Hub id ORG/NAME")
	f.StringVar(&o.Task, "task", "", "the task: "+strings.Join(nli.TaskNames(), ", "))
	f.StringVar(&o.Train, "train", "", "training file (.tsv or .jsonl, as the task ships it)")
	f.StringSliceVar(&o.Dev, "dev", nil, "dev file, evaluated after each epoch (repeat for several; the first picks the best epoch)")
	f.StringVar(&o.Init, "init", "pretrained", "pretrained (the model's weights) or random (the same architecture, freshly initialised: the baseline)")
	f.IntVar(&o.Epochs, "epochs", 3, "passes over the training file")
	f.Float64Var(&o.LR, "lr", 2e-5, "peak learning rate")
	f.Float64Var(&o.WarmupRatio, "warmup-ratio", 0.1, "share of the steps with a linear warm-up")
	f.Float64Var(&o.WeightDecay, "weight-decay", 0.01, "AdamW decoupled weight decay (matrices only)")
	f.IntVar(&o.Batch, "batch", 32, "pairs per step")
	f.IntVar(&o.MaxLength, "max-length", 128, "longest sequence in tokens, special tokens included (at most the model's positions)")
	f.StringVar(&o.Truncation, "truncation", finetune.LongestFirst, "how a longer pair is cut: "+strings.Join(finetune.Strategies, ", "))
	f.IntVar(&o.MaxTrain, "max-train-examples", 0, "use only the first N training examples after a seeded shuffle (0: all)")
	f.Float64Var(&o.LMCoef, "lm-coef", 0.5, "GPT only: weight of the auxiliary language-model loss")
	f.Uint64Var(&o.Seed, "seed", 42, "random seed (new head, example order, dropout)")
	f.StringVar(&o.Out, "out", "", "output folder (default runs/finetune-TASK-DATE-TIME)")
	f.StringVar(&o.Resume, "resume", "", "continue the fine-tuning run in this output folder")
	f.IntVar(&o.Threads, "threads", 0, "CPU threads (default: all cores)")
	return cmd
}

// check validates the settings, naming the flag.
func (o *finetuneOptions) check() error {
	switch {
	case o.Model == "":
		return fmt.Errorf("--model is required: a BERT or GPT run or model folder, or a Hub id")
	case o.Train == "":
		return fmt.Errorf("--train is required: the task's training file")
	case len(o.Dev) == 0:
		return fmt.Errorf("--dev is required: at least one dev file")
	case o.Init != "pretrained" && o.Init != "random":
		return fmt.Errorf("--init %q: want pretrained or random", o.Init)
	case o.Epochs < 1 || o.Epochs > 1000:
		return fmt.Errorf("--epochs %d: want 1..1000", o.Epochs)
	case !(o.LR > 0 && o.LR < 10):
		return fmt.Errorf("--lr %g: want a positive learning rate below 10", o.LR)
	case !(o.WarmupRatio >= 0 && o.WarmupRatio <= 1):
		return fmt.Errorf("--warmup-ratio %g: want a share in [0, 1]", o.WarmupRatio)
	case !(o.WeightDecay >= 0 && o.WeightDecay <= 1):
		return fmt.Errorf("--weight-decay %g: want a number in [0, 1]", o.WeightDecay)
	case o.Batch < 1 || o.Batch > maxBatch:
		return fmt.Errorf("--batch %d: want 1..%d", o.Batch, maxBatch)
	case o.MaxLength < 5 || o.MaxLength > maxBlock:
		return fmt.Errorf("--max-length %d: want 5..%d", o.MaxLength, maxBlock)
	case o.MaxTrain < 0:
		return fmt.Errorf("--max-train-examples %d: want a count ≥ 0 (0: all)", o.MaxTrain)
	case !(o.LMCoef >= 0 && o.LMCoef <= 100):
		return fmt.Errorf("--lm-coef %g: want a weight in [0, 100]", o.LMCoef)
	case o.Threads < 0 || o.Threads > maxThreads:
		return fmt.Errorf("--threads %d: want 0..%d", o.Threads, maxThreads)
	}
	if _, err := nli.Lookup(o.Task); err != nil {
		return fmt.Errorf("--task: %w", err)
	}
	if err := finetune.CheckStrategy(o.Truncation); err != nil {
		return fmt.Errorf("--truncation: %w", err)
	}
	return nil
}

// devNames names the dev sets: MNLI-m and MNLI-mm for MNLI's two, else dev, or dev1, dev2, ….
func devNames(task string, n int) []string {
	if task == "mnli" && n == 2 {
		return []string{"MNLI-m", "MNLI-mm"}
	}
	if n == 1 {
		return []string{"dev"}
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("dev%d", i+1)
	}
	return names
}

func runFinetune(cmd *cobra.Command, o *finetuneOptions) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	resume := o.Resume != ""
	if resume {
		path := filepath.Join(o.Resume, finetuneFile)
		b, err := fileutil.ReadFile(path, fileutil.SmallFileLimit, "a run's options")
		if err != nil {
			return fmt.Errorf("--resume %s: not a fine-tuning run (%w)", o.Resume, err)
		}
		saved := finetuneOptions{Threads: o.Threads}
		if err := json.Unmarshal(b, &saved); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if changed := flagsSetExcept(cmd.Flags(), "resume", "threads", "compute"); len(changed) > 0 {
			return fmt.Errorf("--resume continues a run with its saved settings; %s cannot change (only --threads and --compute)", strings.Join(changed, ", "))
		}
		saved.Out, saved.Resume = o.Resume, o.Resume
		*o = saved
	}
	o.Task = strings.ToLower(strings.TrimSpace(o.Task))
	if err := o.check(); err != nil {
		return err
	}
	outDir := o.Out
	if outDir == "" {
		outDir = filepath.Join("runs", fmt.Sprintf("finetune-%s-%s", o.Task, time.Now().Format("20060102-150405")))
	}
	runDir := filepath.Join(outDir, "run")
	if !resume {
		if _, err := os.Stat(filepath.Join(outDir, finetuneFile)); err == nil {
			return fmt.Errorf("--out %s already holds a fine-tuning run; continue it with --resume %s, or choose another --out", outDir, outDir)
		}
		if err := train.CheckNewRunDir(runDir); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if o.Threads > 0 {
		kernel.SetThreads(o.Threads)
	}
	task, _ := nli.Lookup(o.Task)

	// Data first: a bad file is reported before any model is loaded.
	trainSet, err := task.Load(o.Train)
	if err != nil {
		return fmt.Errorf("--train: %w", err)
	}
	var devSets []*nli.Dataset
	for _, p := range o.Dev {
		d, err := task.Load(p)
		if err != nil {
			return fmt.Errorf("--dev: %w", err)
		}
		devSets = append(devSets, d)
	}

	// The model and its tokenizer.
	dir, err := resolveModel(ctx, cmd.ErrOrStderr(), o.Model)
	if err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	model, tok, desc, err := loadPairClassifier(dir, o, task.Labels, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	maxLen := min(o.MaxLength, model.Positions())
	if maxLen < o.MaxLength {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: --max-length %d is more than the model's %d positions; using %d\n", o.MaxLength, model.Positions(), maxLen)
	}
	eo := finetune.EncodeOptions{MaxLength: maxLen, Specials: model.Specials(), Strategy: o.Truncation}
	trainPairs, _, cut, err := finetune.Encode(trainSet, tok, eo)
	if err != nil {
		return err
	}
	if o.MaxTrain > 0 && o.MaxTrain < len(trainPairs) {
		trainPairs = finetune.Subsample(trainPairs, o.MaxTrain, o.Seed)
	}
	names := devNames(o.Task, len(devSets))
	var devs []finetune.DevSet
	for i, d := range devSets {
		pairs, ids, dcut, err := finetune.Encode(d, tok, eo)
		if err != nil {
			return err
		}
		cut += dcut
		devs = append(devs, finetune.DevSet{Name: names[i], Path: d.Path, Pairs: pairs, IDs: ids})
	}
	fmt.Fprintf(out, "task: %s (%s); %d training pairs (%d skipped without a gold label)", o.Task, strings.Join(task.Labels, ", "), len(trainPairs), trainSet.Skipped)
	for _, d := range devs {
		fmt.Fprintf(out, ", %s %d", d.Name, len(d.Pairs))
	}
	fmt.Fprintf(out, "; %d pairs truncated to %d tokens (%s)\n", cut, maxLen, o.Truncation)
	fmt.Fprintf(out, "model: %s\n", desc)

	ft := &finetune.Task{Model: model, Tokenizer: tok, Labels: task.Labels, Train: trainPairs, Dev: devs, Batch: o.Batch, Seed: o.Seed, OutDir: outDir, Log: out}
	if err := ft.Check(); err != nil {
		return err
	}
	iters := o.Epochs * ft.StepsPerEpoch()
	tcfg := train.Config{
		Iters: iters, LR: o.LR, MinLR: 0, Warmup: int(math.Round(o.WarmupRatio * float64(iters))),
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: o.WeightDecay, Clip: 1,
		EvalInterval: ft.StepsPerEpoch(), LogInterval: max(1, min(10, ft.StepsPerEpoch())), Seed: o.Seed,
		RunDir: runDir, Resume: resume, Log: out,
	}
	step := 0
	if resume {
		if step, err = checkpointStep(runDir); err != nil {
			return err
		}
	}
	if err := ft.Seek(step); err != nil {
		return err
	}
	if !resume {
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return err
		}
		b, err := json.MarshalIndent(o, "", "  ")
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(outDir, finetuneFile), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "run: %s, %d epochs of %d steps, batch %d (%d threads)\n", outDir, o.Epochs, ft.StepsPerEpoch(), o.Batch, kernel.Threads())
	if isTerminal(os.Stdout) {
		tcfg.Progress = newBar(os.Stderr)
	}
	res, err := train.Run(ctx, ft, tcfg)
	if errors.Is(err, train.ErrInterrupted) { // runLoop's, with finetune's resume command
		fmt.Fprintf(out, "\ninterrupted at step %d; checkpoint saved in %s\nresume with: qkv finetune --resume %s\n", res.Steps, res.Checkpoint, outDir)
		return errSilent
	}
	if err != nil {
		return err
	}
	best, _ := ft.Best()
	fmt.Fprintf(out, "done: %d steps in %s; best epoch %d:", res.Steps, res.Elapsed.Round(time.Second), best.Epoch)
	for _, d := range devs {
		fmt.Fprintf(out, " %s accuracy %.2f%%", d.Name, 100*best.Accuracy[d.Name])
	}
	fmt.Fprintf(out, "\nsaved the best model and predictions in %s\n", outDir)
	return nil
}

// checkpointStep is the step of the checkpoint a resumed run continues from.
func checkpointStep(runDir string) (int, error) {
	dir, _, err := checkpoint.Find(runDir)
	if err != nil {
		return 0, err
	}
	b, err := fileutil.ReadFile(filepath.Join(dir, checkpoint.StateFile), fileutil.SmallFileLimit, "a trainer state")
	if err != nil {
		return 0, err
	}
	var st struct {
		Step int `json:"step"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Step < 0 {
		return 0, fmt.Errorf("%s: no step: the checkpoint is damaged", filepath.Join(dir, checkpoint.StateFile))
	}
	return st.Step, nil
}

// loadPairClassifier loads the model folder dir as a pair classifier for labels: a BERT (with a
// new classifier unless it is fine-tuned for as many classes) or a GPT (extended GPT-1's way
// unless it is a pair classifier already), and its tokenizer, whose vocabulary must match.
func loadPairClassifier(dir string, o *finetuneOptions, labels []string, warn io.Writer) (finetune.Model, tokenizer.Tokenizer, string, error) {
	mt, err := auto.ModelType(dir)
	if err != nil {
		return nil, nil, "", fmt.Errorf("--model: %w", err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, nil, "", fmt.Errorf("--model %s: %w", o.Model, err)
	}
	raw, err := hf.ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, nil, "", err
	}
	switch mt {
	case "bert":
		cfg, err := bert.ParseConfig(raw)
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s: %w", dir, err)
		}
		if cfg.Head == bert.HeadClassification && cfg.NumLabels != len(labels) {
			return nil, nil, "", fmt.Errorf("--model %s is fine-tuned for %d classes; --task %s has %d (%s): fine-tune from the pretrained encoder instead", o.Model, cfg.NumLabels, o.Task, len(labels), strings.Join(labels, ", "))
		}
		wp, ok := tok.(*tokenizer.WordPiece)
		if !ok {
			return nil, nil, "", fmt.Errorf("--model %s: its tokenizer is %s; a BERT needs a WordPiece vocab.txt", o.Model, tok.Kind())
		}
		if wp.VocabSize() != cfg.VocabSize {
			return nil, nil, "", fmt.Errorf("--model %s: the vocabulary has %d tokens but the model's embedding has vocab_size %d: the tokenizer does not belong to this model", o.Model, wp.VocabSize(), cfg.VocabSize)
		}
		var m *bert.Model
		if o.Init == "random" {
			cfg.Head, cfg.NumLabels, cfg.Labels, cfg.ClassifierDropoutProb = bert.HeadClassification, len(labels), labels, cfg.HiddenDropoutProb
			m, err = bert.New(cfg, o.Seed)
		} else {
			m, err = bert.LoadWith(dir, bert.LoadOptions{Head: bert.HeadClassification, Labels: labels, Seed: o.Seed, Warn: io.Discard})
		}
		if err != nil {
			return nil, nil, "", err
		}
		desc := fmt.Sprintf("BERT (%s weights), %d layers, %d wide, %.2fM parameters", o.Init, m.Config.NumHiddenLayers, m.Config.HiddenSize, float64(m.Params.Count())/1e6)
		return &finetune.BERT{M: m, Cls: wp.ClsID(), Sep: wp.SepID(), Pad: max(wp.PadID(), 0)}, tok, desc, nil
	case "gpt2":
		var c *gpt.Classifier
		var archs struct {
			Architectures []string `json:"architectures"`
		}
		_ = json.Unmarshal(raw, &archs)
		if len(archs.Architectures) > 0 && archs.Architectures[0] == "GPT2ForSequenceClassification" {
			if c, err = gpt.LoadClassifier(dir); err != nil {
				return nil, nil, "", err
			}
			if len(c.Labels) != len(labels) {
				return nil, nil, "", fmt.Errorf("--model %s is fine-tuned for %d classes; --task %s has %d (%s): fine-tune from the language model instead", o.Model, len(c.Labels), o.Task, len(labels), strings.Join(labels, ", "))
			}
			if o.Init == "random" {
				return nil, nil, "", fmt.Errorf("--init random needs the language model, not a fine-tuned classifier")
			}
			c.Labels = labels
		} else {
			lm, err := gpt.Load(dir)
			if err != nil {
				return nil, nil, "", err
			}
			if o.Init == "random" {
				if lm, err = gpt.New(lm.Config, o.Seed); err != nil {
					return nil, nil, "", err
				}
			}
			if c, err = gpt.NewClassifier(lm, labels, o.Seed); err != nil {
				return nil, nil, "", err
			}
		}
		if tok.VocabSize() != c.Start {
			return nil, nil, "", fmt.Errorf("--model %s: the tokenizer has %d tokens but the model's embedding has %d: the tokenizer does not belong to this model", o.Model, tok.VocabSize(), c.Start)
		}
		c.LMWeight = float32(o.LMCoef)
		desc := fmt.Sprintf("GPT (%s weights) as GPT-1 fine-tunes, %d layers, %d wide, %.2fM parameters; LM loss weight %g", o.Init, c.Config.NLayer, c.Config.NEmbd, float64(c.Params.Count())/1e6, o.LMCoef)
		return &finetune.GPT{C: c}, tok, desc, nil
	}
	return nil, nil, "", fmt.Errorf("--model %s is a %s model; fine-tuning takes bert or gpt2", o.Model, mt)
}
