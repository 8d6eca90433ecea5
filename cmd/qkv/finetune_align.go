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
	"github.com/spf13/pflag"

	"github.com/qkvdev/qkv/align"
	"github.com/qkvdev/qkv/chat"
	"github.com/qkvdev/qkv/data"
	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
	"github.com/qkvdev/qkv/tokenizer"
	"github.com/qkvdev/qkv/train"
)

// alignOptions are the settings of qkv finetune --method sft|rm|dpo|ppo; OUT/align.json keeps
// them so that --resume rebuilds the same run.
type alignOptions struct {
	Method       string  `json:"method"`
	Model        string  `json:"model"` // resolved model folder
	Train        string  `json:"train"`
	Dev          string  `json:"dev,omitempty"`
	ValFraction  float64 `json:"val_fraction"`
	MaxExamples  int     `json:"max_examples"`
	Template     string  `json:"template,omitempty"`
	Iters        int     `json:"iters"`
	LR           float64 `json:"lr"`
	Batch        int     `json:"batch"`
	Block        int     `json:"block"`
	NoPack       bool    `json:"no_pack,omitempty"`
	MixText      string  `json:"mix_text,omitempty"` // absolute
	MixRatio     float64 `json:"mix_ratio,omitempty"`
	EvalInterval int     `json:"eval_interval"`
	Beta         float64 `json:"beta"`
	Reward       string  `json:"reward,omitempty"`
	TrueReward   string  `json:"true_reward,omitempty"`
	KLCoef       float64 `json:"kl_coef"`
	AdaptiveKL   bool    `json:"adaptive_kl"`
	TargetKL     float64 `json:"target_kl"`
	KLHorizon    float64 `json:"kl_horizon"`
	PPOEpochs    int     `json:"ppo_epochs"`
	MiniBatches  int     `json:"minibatches"`
	MaxNew       int     `json:"max_new_tokens"`
	Temperature  float64 `json:"temperature"`
	WhitenScores bool    `json:"whiten_scores"`
	Seed         uint64  `json:"seed"`

	mixRatioGiven bool // --mix-ratio was on the command line
}

// alignFile in the output folder holds the run's settings.
const alignFile = "align.json"

// alignMethods are the values of --method that this file handles.
var alignMethods = []string{"sft", "rm", "dpo", "ppo"}

// withAlignMethods adds --method sft|rm|dpo|ppo (instruction tuning, reward model, DPO and
// PPO) to qkv finetune, whose sentence-pair classification stays the default.
func withAlignMethods(cmd *cobra.Command) *cobra.Command {
	o := &alignOptions{}
	f := cmd.Flags()
	f.StringVar(&o.Method, "method", "", "alignment instead of classification: sft (instruction tuning), rm (reward model), dpo, or ppo (RLHF); see qkv finetune --help")
	f.Float64Var(&o.ValFraction, "val-fraction", 0.1, "--method: share of --train held out for validation when --dev is not given")
	f.StringVar(&o.Template, "template", "", "--method: a Jinja chat template file (default: the model's tokenizer_config.json, else ChatML)")
	f.IntVar(&o.Iters, "iters", 0, "--method: optimizer steps (PPO: rollout batches) (default 300 sft, 200 rm, 200 dpo, 60 ppo)")
	f.BoolVar(&o.NoPack, "no-pack", false, "--method sft: one conversation per row (padded) instead of packing them into rows of --max-length")
	f.StringVar(&o.MixText, "mix-text", "", "--method sft: plain pretraining text (a text file, or a folder of them as for qkv train --data) mixed into the batches, so that the model keeps what pretraining taught it")
	f.Float64Var(&o.MixRatio, "mix-ratio", 0.25, "--method sft: with --mix-text, the share of rows that are plain text, in [0, 1)")
	f.IntVar(&o.EvalInterval, "eval-interval", 50, "--method: evaluate and checkpoint every N steps")
	f.Float64Var(&o.Beta, "beta", 0.1, "--method dpo: β, the strength of the implicit KL constraint to the starting model")
	f.StringVar(&o.Reward, "reward", "", "--method ppo: a reward model folder (qkv finetune --method rm) or builtin:NAME (builtin:arith)")
	f.StringVar(&o.TrueReward, "true-reward", "", "--method ppo: also log this builtin reward (builtin:NAME) as true_reward, to watch a learned reward being gamed")
	f.Float64Var(&o.KLCoef, "kl-coef", 0.2, "--method ppo: initial coefficient β of the per-token KL penalty to the starting model (0: no KL term)")
	f.BoolVar(&o.AdaptiveKL, "adaptive-kl", true, "--method ppo: adapt β towards --target-kl (Ziegler et al. 2019)")
	f.Float64Var(&o.TargetKL, "target-kl", 6, "--method ppo: the adaptive controller's KL target (nats per reply)")
	f.Float64Var(&o.KLHorizon, "kl-horizon", 10000, "--method ppo: the adaptive controller's horizon in rollouts (smaller adapts faster)")
	f.IntVar(&o.PPOEpochs, "ppo-epochs", 4, "--method ppo: optimisation epochs over each batch of rollouts")
	f.IntVar(&o.MiniBatches, "minibatches", 4, "--method ppo: minibatches per epoch")
	f.IntVar(&o.MaxNew, "max-new-tokens", 16, "--method ppo: longest reply")
	f.Float64Var(&o.Temperature, "temperature", 1, "--method ppo: sampling temperature of the rollouts")
	f.BoolVar(&o.WhitenScores, "whiten-scores", false, "--method ppo: whiten the scores of each batch")
	cmd.Short = "Fine-tune a model: sentence-pair classification, or alignment (SFT, reward model, DPO, PPO)"
	cmd.Long += `

With --method, finetune aligns a GPT into a chat assistant instead (see docs/alignment.md):

  sft  supervised instruction tuning on conversations (--train: JSONL of {"messages": […]},
       Alpaca {"instruction", "input", "output"}, or Self-Instruct seed tasks), the loss on
       the assistant turns only; the chat template's special tokens are added to the
       tokenizer and the embedding grows to hold them; --mix-text FILE mixes plain
       pretraining text into --mix-ratio of the rows (InstructGPT's PPO-ptx), so that the
       model keeps what pretraining taught it
  rm   a reward model (GPT + scalar head) on preference pairs (--train: {"prompt", "chosen",
       "rejected"} or Anthropic HH-RLHF {"chosen", "rejected"}, .gz read as gzip), with the
       Bradley–Terry loss; held-out pair accuracy is logged as val_accuracy
  dpo  Direct Preference Optimization on the same pairs (--beta); implicit reward accuracy
       and margins are logged
  ppo  RLHF with PPO against --reward (a reward model folder or builtin:arith) on prompts
       (--train: {"prompt"} or {"messages"}), with a per-token KL penalty to the starting
       model, GAE, clipped policy and value losses and an adaptive KL coefficient

--train builtin:arith generates the arithmetic task's data for the method (demonstrations,
pairs or prompts; --max-train-examples of them). The run folder (--out) holds metrics.jsonl
and checkpoints; its latest checkpoint is the model (qkv chat --model OUT). Ctrl-C saves a
checkpoint; --resume OUT continues exactly.`
	cmd.Example += `
  qkv finetune --method sft --model runs/base --train data.jsonl --out runs/sft
  qkv finetune --method sft --model runs/base --train data.jsonl --mix-text corpus.txt --mix-ratio 0.25 --out runs/sft-mix
  qkv finetune --method rm --model runs/sft --train ../shared/data/hh-rlhf-harmless-test/test.jsonl.gz --out runs/rm
  qkv finetune --method dpo --model runs/sft --train pairs.jsonl --beta 0.1 --out runs/dpo
  qkv finetune --method ppo --model runs/sft --train builtin:arith --reward builtin:arith --out runs/ppo`
	runInstead(cmd, func(c *cobra.Command) bool {
		method := o.Method
		if resume, _ := c.Flags().GetString("resume"); resume != "" && method == "" {
			method = savedMethod(resume)
		}
		return method != ""
	}, func(c *cobra.Command) error { return runAlign(c, o) })
	return cmd
}

// savedMethod is the method align.json of a run names ("" when it has none).
func savedMethod(run string) string {
	var o alignOptions
	if !readRunOptions(filepath.Join(run, alignFile), &o) {
		return ""
	}
	return o.Method
}

// sharedFlags reads the settings qkv finetune's own flags carry (--model, --train, --dev, --lr,
// --batch, --max-length, --max-train-examples, --seed), with alignment's defaults where they
// were not given.
func (o *alignOptions) sharedFlags(f *pflag.FlagSet) {
	str := func(name string) string { v, _ := f.GetString(name); return v }
	o.Model, o.Train = str("model"), str("train")
	if dev, _ := f.GetStringSlice("dev"); len(dev) > 0 {
		o.Dev = dev[0]
	}
	defaults := map[string]struct {
		lr    float64
		batch int
		iters int
	}{"sft": {1e-3, 16, 300}, "rm": {5e-4, 16, 200}, "dpo": {5e-4, 16, 200}, "ppo": {1e-4, 32, 60}}[o.Method]
	o.LR, o.Batch = defaults.lr, defaults.batch
	if f.Changed("lr") {
		o.LR, _ = f.GetFloat64("lr")
	}
	if f.Changed("batch") {
		o.Batch, _ = f.GetInt("batch")
	}
	if o.Iters == 0 {
		o.Iters = defaults.iters
	}
	if f.Changed("max-length") {
		o.Block, _ = f.GetInt("max-length")
	}
	o.MaxExamples = 2000
	if f.Changed("max-train-examples") {
		o.MaxExamples, _ = f.GetInt("max-train-examples")
	}
	o.Seed = 1
	if f.Changed("seed") {
		o.Seed, _ = f.GetUint64("seed")
	}
	o.mixRatioGiven = f.Changed("mix-ratio")
	if o.MixText == "" && !o.mixRatioGiven {
		o.MixRatio = 0
	}
}

func (o *alignOptions) check() error {
	switch {
	case !contains(alignMethods, o.Method):
		return fmt.Errorf("--method %q: want one of %s", o.Method, strings.Join(alignMethods, ", "))
	case o.Model == "":
		return fmt.Errorf("--model is required: the GPT to align (a run or model folder, or a Hub id)")
	case o.Train == "":
		return fmt.Errorf("--train is required: the data file, or builtin:arith")
	case o.Iters < 1 || o.Iters > 1<<24:
		return fmt.Errorf("--iters %d: want 1..%d", o.Iters, 1<<24)
	case !(o.LR > 0 && o.LR < 1):
		return fmt.Errorf("--lr %g: want a small positive learning rate", o.LR)
	case o.Batch < 1 || o.Batch > maxBatch:
		return fmt.Errorf("--batch %d: want 1..%d", o.Batch, maxBatch)
	case !(o.ValFraction > 0 && o.ValFraction < 1) && o.Dev == "":
		return fmt.Errorf("--val-fraction %g: want a share in (0, 1), or give --dev", o.ValFraction)
	case o.MaxExamples < 1:
		return fmt.Errorf("--max-train-examples %d: want at least 1", o.MaxExamples)
	case o.EvalInterval < 1:
		return fmt.Errorf("--eval-interval %d: want at least 1", o.EvalInterval)
	case (o.MixText != "" || o.mixRatioGiven) && o.Method != "sft":
		return fmt.Errorf("--mix-text and --mix-ratio are for --method sft, not %s", o.Method)
	case o.mixRatioGiven && o.MixText == "":
		return fmt.Errorf("--mix-ratio needs --mix-text: the plain text to mix in")
	case o.MixText != "" && !(o.MixRatio >= 0 && o.MixRatio < 1):
		return fmt.Errorf("--mix-ratio %g: want a share of the rows in [0, 1)", o.MixRatio)
	case o.Method == "dpo" && !(o.Beta > 0 && o.Beta <= 100):
		return fmt.Errorf("--beta %g: want a positive number such as 0.1", o.Beta)
	case o.Method == "ppo" && o.Reward == "":
		return fmt.Errorf("--reward is required with --method ppo: a reward model folder or builtin:arith")
	case o.Method == "ppo" && (o.MaxNew < 1 || o.PPOEpochs < 1 || o.MiniBatches < 1 || o.Batch%o.MiniBatches != 0):
		return fmt.Errorf("--max-new-tokens %d, --ppo-epochs %d, --minibatches %d, --batch %d: want positive counts and a batch divisible by the minibatches", o.MaxNew, o.PPOEpochs, o.MiniBatches, o.Batch)
	case o.Method == "ppo" && (!(o.KLCoef >= 0) || math.IsInf(o.KLCoef, 0) || !(o.TargetKL > 0) || !(o.KLHorizon >= 1)):
		return fmt.Errorf("--kl-coef %g, --target-kl %g, --kl-horizon %g: want β ≥ 0, a positive target and a horizon ≥ 1", o.KLCoef, o.TargetKL, o.KLHorizon)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// checkResumeFlags refuses, when a run is resumed, any flag but --resume, --threads and
// --compute (and a --method that names the run's own): the run continues with the settings it
// started with, and a flag that would be ignored silently is an error instead.
func checkResumeFlags(f *pflag.FlagSet, method, savedMethod string) error {
	allowed := []string{"resume", "threads", "compute"}
	if method == savedMethod {
		allowed = append(allowed, "method")
	}
	if changed := flagsSetExcept(f, allowed...); len(changed) > 0 {
		return fmt.Errorf("--resume continues a %s run with its saved settings; %s cannot change (only --threads and --compute)", savedMethod, strings.Join(changed, ", "))
	}
	return nil
}

func runAlign(cmd *cobra.Command, o *alignOptions) error {
	f := cmd.Flags()
	ctx, out := cmd.Context(), cmd.ErrOrStderr()
	if n, _ := f.GetInt("threads"); n > 0 {
		kernel.SetThreads(n)
	}
	resumeDir, _ := f.GetString("resume")
	outDir, _ := f.GetString("out")
	if resumeDir != "" {
		data, err := fileutil.ReadFile(filepath.Join(resumeDir, alignFile), fileutil.SmallFileLimit, "a run's options")
		if err != nil {
			return fmt.Errorf("--resume %s: not an alignment run (%w)", resumeDir, err)
		}
		saved := alignOptions{}
		if err := json.Unmarshal(data, &saved); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(resumeDir, alignFile), err)
		}
		if err := checkResumeFlags(f, o.Method, saved.Method); err != nil {
			return fmt.Errorf("%w (the run's settings are in %s)", err, filepath.Join(resumeDir, alignFile))
		}
		*o, outDir = saved, resumeDir
	} else {
		o.sharedFlags(f)
		if err := o.check(); err != nil {
			return err
		}
		dir, err := resolveModel(ctx, out, o.Model)
		if err != nil {
			return err
		}
		o.Model = dir
		if o.MixText != "" {
			if o.MixText, err = filepath.Abs(o.MixText); err != nil {
				return fmt.Errorf("--mix-text: %w", err)
			}
		}
		if outDir == "" {
			outDir = filepath.Join("runs", o.Method+"-"+time.Now().Format("20060102-150405"))
		}
		if err := train.CheckNewRunDir(outDir); err != nil {
			return fmt.Errorf("%w: resume it with --resume %s, or choose another --out", err, outDir)
		}
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return err
		}
		data, _ := json.MarshalIndent(o, "", "  ")
		if err := atomicfile.WriteFile(filepath.Join(outDir, alignFile), append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	lm, tok, tpl, enc, err := loadChatModel(o.Model, o.Template, o.Method == "sft", o.Seed)
	if err != nil {
		return err
	}
	tcfg := train.Config{
		Iters: o.Iters, LR: o.LR, MinLR: o.LR / 10, Warmup: min(20, o.Iters/10), Beta1: 0.9, Beta2: 0.95,
		WeightDecay: 0, Clip: 1, EvalInterval: o.EvalInterval, LogInterval: 10, Seed: o.Seed,
		RunDir: outDir, Resume: resumeDir != "", Log: out,
	}
	if isTerminal(os.Stdout) {
		tcfg.Progress = newBar(os.Stderr)
	}
	var task train.Task
	switch o.Method {
	case "sft":
		task, err = sftTask(o, lm, tok, tpl, enc, out)
	case "rm", "dpo":
		task, err = pairTask(o, lm, tok, tpl, enc, out)
	case "ppo":
		return runPPO(cmd, o, outDir, resumeDir != "", lm, tok, tpl, enc)
	}
	if err != nil {
		return err
	}
	res, err := train.Run(ctx, task, tcfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: %d steps, validation loss %.4f, model in %s\n", o.Method, res.Steps, res.ValLoss, res.Checkpoint)
	return nil
}

// loadChatModel loads a GPT with its tokenizer and chat template (templateFile, else the
// folder's tokenizer_config.json, else the default ChatML). With grow set (SFT), the template's
// special tokens are added to the tokenizer and model; otherwise the model must already have
// them.
func loadChatModel(dir, templateFile string, grow bool, seed uint64) (*gpt.Model, tokenizer.Tokenizer, *chat.Template, *align.Encoder, error) {
	lm, err := gpt.Load(dir)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return chatModel(lm, dir, templateFile, grow, seed)
}

// chatModel is loadChatModel on the model lm, already read from dir.
func chatModel(lm *gpt.Model, dir, templateFile string, grow bool, seed uint64) (*gpt.Model, tokenizer.Tokenizer, *chat.Template, *align.Encoder, error) {
	tok, err := align.LoadTokenizer(dir)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	tpl, specials, eot := align.ChatDefaults()
	switch {
	case templateFile != "":
		src, err := fileutil.ReadFile(templateFile, fileutil.SmallFileLimit, "a chat template")
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if tpl, err = chat.Parse(string(src)); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("--template %s: %w", templateFile, err)
		}
		specials, eot = nil, ""
	default:
		t, err := chat.Load(dir)
		if err == nil {
			tpl, specials, eot = t, nil, t.EOSToken
		} else if !errors.Is(err, chat.ErrNoTemplate) {
			return nil, nil, nil, nil, err
		}
	}
	t, ok := tok.(*align.Tokenizer)
	if ok && eot == "" && len(t.Specials) > 0 {
		eot = t.Specials[len(t.Specials)-1]
	}
	if !grow && tpl.Source == chat.Default && (!ok || len(t.Specials) == 0) {
		// A base model (GPT-2, a plain pretraining run) has no ChatML tokens to chat in: it
		// gets "role: content" lines, and its replies stop where it starts the user's turn.
		if tpl, err = chat.Parse(chat.Plain); err != nil {
			return nil, nil, nil, nil, err
		}
		eot = ""
	}
	if grow {
		m, t, err := align.ChatModel(lm, tok, tpl, specials, eot, seed)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		lm, tok = m, t
		if eot != "" {
			tpl.EOSToken = eot
		}
	} else if tok.VocabSize() > lm.Config.VocabSize {
		return nil, nil, nil, nil, fmt.Errorf("%s: the tokenizer has %d tokens but the model only %d", dir, tok.VocabSize(), lm.Config.VocabSize)
	}
	return lm, tok, tpl, &align.Encoder{Tok: tok, Template: tpl, EndOfTurn: eot}, nil
}

// split holds out a share of items for validation after a seeded shuffle.
func split[T any](items []T, frac float64, seed uint64) (trainSet, val []T) {
	rng := tensor.NewRNG(seed ^ 0x5eed)
	s := append([]T(nil), items...)
	for i := len(s) - 1; i > 0; i-- {
		j := rng.IntN(i + 1)
		s[i], s[j] = s[j], s[i]
	}
	n := max(1, int(math.Round(frac*float64(len(s)))))
	if n >= len(s) {
		n = len(s) / 2
	}
	return s[n:], s[:n]
}

func sftTask(o *alignOptions, lm *gpt.Model, tok tokenizer.Tokenizer, tpl *chat.Template, enc *align.Encoder, log io.Writer) (train.Task, error) {
	load := func(path string) ([]align.Conversation, error) {
		if path == "builtin:arith" {
			// 30% of the demonstrations answer in another format: imitation follows the
			// required one only as often.
			return align.ArithSFT(o.MaxExamples, 0.3, o.Seed), nil
		}
		return align.LoadConversations(path)
	}
	convs, err := load(o.Train)
	if err != nil {
		return nil, err
	}
	var trainC, valC []align.Conversation
	if o.Dev != "" {
		if valC, err = load(o.Dev); err != nil {
			return nil, err
		}
		trainC = convs
	} else {
		trainC, valC = split(convs, o.ValFraction, o.Seed)
	}
	encode := func(cs []align.Conversation) ([]align.Example, error) {
		exs := make([]align.Example, len(cs))
		for i, c := range cs {
			if exs[i], err = enc.Encode(c); err != nil {
				return nil, fmt.Errorf("conversation %d: %w", i+1, err)
			}
		}
		return exs, nil
	}
	tr, err := encode(trainC)
	if err != nil {
		return nil, err
	}
	va, err := encode(valC)
	if err != nil {
		return nil, err
	}
	block := o.Block
	if block == 0 {
		block = lm.Config.NPositions
	}
	task := &align.SFTTask{Model: lm, Tok: tok, Template: tpl, Train: tr, Val: va, Batch: o.Batch, Block: min(block, lm.Config.NPositions), Pack: !o.NoPack, Log: log}
	if o.MixText != "" {
		if task.Text, err = mixText(o.MixText, tok, log); err != nil {
			return nil, err
		}
		task.TextRatio = o.MixRatio
		fmt.Fprintf(log, "mixing in plain text: %d tokens, %g of the rows\n", len(task.Text), o.MixRatio)
	}
	return task, nil
}

// mixText reads the plain text of --mix-text as qkv train reads --data (regular files only,
// binary ones refused) and encodes it with the base of tok: it is pretraining text, in which
// a chat template's special tokens have no place.
func mixText(path string, tok tokenizer.Tokenizer, log io.Writer) ([]int, error) {
	corpus, err := data.LoadCorpus(path, nil, data.MaxCorpusBytes)
	if err != nil {
		return nil, fmt.Errorf("--mix-text: %w", err)
	}
	if t, ok := tok.(*align.Tokenizer); ok {
		tok = t.Base
	}
	ids := tok.Encode(corpus.Text)
	warnUnknownChars(log, tok, corpus.Text, ids)
	return ids, nil
}

func pairTask(o *alignOptions, lm *gpt.Model, tok tokenizer.Tokenizer, tpl *chat.Template, enc *align.Encoder, log io.Writer) (train.Task, error) {
	load := func(path string) ([]align.Pair, error) {
		if path == "builtin:arith" {
			return align.ArithPairs(o.MaxExamples, o.Seed), nil
		}
		ps, st, err := align.LoadPairs(path)
		if st.Identical+st.Empty > 0 {
			fmt.Fprintf(log, "%s: left out %d pairs with identical replies and %d with an empty reply\n", path, st.Identical, st.Empty)
		}
		if err == nil && len(ps) > o.MaxExamples {
			ps = ps[:o.MaxExamples]
		}
		return ps, err
	}
	pairs, err := load(o.Train)
	if err != nil {
		return nil, err
	}
	var trainP, valP []align.Pair
	if o.Dev != "" {
		if valP, err = load(o.Dev); err != nil {
			return nil, err
		}
		trainP = pairs
	} else {
		trainP, valP = split(pairs, o.ValFraction, o.Seed)
	}
	context := lm.Config.NPositions
	if o.Block > 0 {
		context = min(context, o.Block)
	}
	encode := func(name string, ps []align.Pair) ([]align.EncodedPair, error) {
		ep, tooLong, err := enc.EncodePairs(ps, context)
		if tooLong > 0 {
			fmt.Fprintf(log, "left out %d %s pairs longer than %d tokens\n", tooLong, name, context)
		}
		return ep, err
	}
	tr, err := encode("training", trainP)
	if err != nil {
		return nil, err
	}
	va, err := encode("validation", valP)
	if err != nil {
		return nil, err
	}
	if o.Method == "rm" {
		return &align.RewardTask{RM: align.NewRewardModel(lm, o.Seed), Tok: tok, Train: tr, Val: va, Batch: o.Batch}, nil
	}
	return &align.DPOTask{Policy: lm, Tok: tok, Template: tpl, Train: tr, Val: va, Beta: o.Beta, Batch: o.Batch}, nil
}

// rewarder turns --reward into a reward: builtin:NAME, or a reward model folder whose
// tokenizer must be the policy's.
func rewarder(cmd *cobra.Command, spec string, tok tokenizer.Tokenizer, tpl *chat.Template) (align.Rewarder, error) {
	if name, ok := strings.CutPrefix(spec, "builtin:"); ok {
		return align.Builtin(name)
	}
	dir, err := resolveModel(cmd.Context(), cmd.ErrOrStderr(), spec)
	if err != nil {
		return nil, err
	}
	rm, rtok, err := align.LoadRewardModel(dir)
	if err != nil {
		return nil, err
	}
	if err := align.SameTokenizer(tok, rtok); err != nil {
		return nil, fmt.Errorf("--reward %s: the reward model's tokenizer is not the policy's (%w): train the reward model from the same model (qkv finetune --method rm --model <the SFT model>)", spec, err)
	}
	return &align.ModelReward{RM: rm, Encoder: &align.Encoder{Tok: tok, Template: tpl}}, nil
}

func runPPO(cmd *cobra.Command, o *alignOptions, outDir string, resume bool, lm *gpt.Model, tok tokenizer.Tokenizer, tpl *chat.Template, enc *align.Encoder) error {
	var prompts []align.Conversation
	var err error
	if o.Train == "builtin:arith" {
		prompts = align.ArithPrompts(o.MaxExamples, o.Seed)
	} else if prompts, err = align.LoadPrompts(o.Train); err != nil {
		return err
	}
	reward, err := rewarder(cmd, o.Reward, tok, tpl)
	if err != nil {
		return err
	}
	ref, _, _, _, err := loadChatModel(o.Model, o.Template, false, o.Seed)
	if err != nil {
		return err
	}
	cfg := align.PPOConfig{
		Steps: o.Iters, BatchSize: o.Batch, MiniBatches: o.MiniBatches, Epochs: o.PPOEpochs, MaxNewTokens: o.MaxNew,
		Temperature: o.Temperature, LR: o.LR, Clip: 1, InitKL: o.KLCoef, AdaptiveKL: o.AdaptiveKL && o.KLCoef > 0,
		TargetKL: o.TargetKL, Horizon: o.KLHorizon, WhitenScores: o.WhitenScores, Seed: o.Seed, SaveEvery: o.EvalInterval,
		RunDir: outDir, Resume: resume, Log: cmd.ErrOrStderr(),
	}
	if o.TrueReward != "" {
		if cfg.TrueReward, err = rewarder(cmd, o.TrueReward, tok, tpl); err != nil {
			return err
		}
	}
	if isTerminal(os.Stdout) {
		cfg.Progress = newBar(os.Stderr)
	}
	p := &align.PPO{Policy: lm, Ref: ref, Value: align.NewValueHead(lm.Config.NEmbd, o.Seed), Tok: tok, Template: tpl, Encoder: enc, Prompts: prompts, Reward: reward, Config: cfg}
	stats, err := p.Run(cmd.Context())
	if err != nil {
		return err
	}
	if n := len(stats); n > 0 {
		s := stats[n-1]
		fmt.Fprintf(cmd.OutOrStdout(), "ppo: %d steps, reward %.3f, KL %.3f; model in %s\n", s.Step, s.Reward, s.KL, outDir)
	}
	return nil
}
