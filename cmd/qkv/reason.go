package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/reason"
	"github.com/qkvdev/qkv/reason/tasks"
	"github.com/qkvdev/qkv/reason/tot"
	"github.com/qkvdev/qkv/tensor/kernel"
)

func newReasonCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reason",
		Short: "Prompting and reasoning strategies: CoT, self-consistency, tree-of-thoughts",
		Long: `Reason with a language model without touching its weights: input–output prompting,
chain-of-thought, self-consistency and tree-of-thoughts, on a local qkv model or any
OpenAI-compatible endpoint (qkv serve, Ollama, vLLM, llama.cpp's server, OpenAI).`,
	}
	cmd.AddCommand(newReasonEvalCmd(), newReasonDataCmd(), newReasonPlotCmd())
	return cmd
}

type reasonEvalOptions struct {
	task, strategy, model, modelName, apiKey, data, out, cache string
	k, n, start, shots, maxTokens, concurrency, threads        int
	temperature, priceIn, priceOut                             float64
	seed, dataSeed                                             uint64
	timeout                                                    time.Duration
	nPropose, nEvaluate, breadth, target, numbers              int
	arithFlags
	weighted, constrain bool
}

func newReasonEvalCmd() *cobra.Command {
	o := &reasonEvalOptions{}
	cmd := &cobra.Command{
		Use:   "eval --task TASK --strategy STRATEGY --model DIR|URL",
		Short: "Score a prompting strategy on a reasoning benchmark",
		Long: `Score a prompting strategy on a benchmark and print accuracy, model calls, tokens and
wall time; every item's result goes to a JSONL file.

Tasks: gsm8k (the GSM8K test set; exact match of the final number after ####), arith
(generated multi-step word problems, see qkv reason data), game24 (24.csv with the reference
implementation's prompts, puzzles 900–999 by default) and game-int (the compact integer game
of models trained here; --data is a file of puzzles, one per line).

Strategies: io (answer at once), cot (worked steps, greedy), zs-cot (zero-shot "Let's think
step by step." and an answer-extraction pass; gsm8k, arith), sc (self-consistency: --k sampled
CoT paths, majority vote) and tot (tree-of-thoughts BFS; game24 tasks).

--model is a model folder or training run (a local GPT), or the base URL of an
OpenAI-compatible API such as http://localhost:11434/v1 with --model-name. Every call is
cached on disk under --cache keyed by the whole request, so Ctrl-C keeps what finished and a
rerun resumes from the cache.`,
		Example: `  qkv reason eval --task arith --strategy sc --k 10 --model runs/arith
  qkv reason eval --task gsm8k --strategy cot --shots 8 --model http://localhost:8000/v1 --model-name llama3 --n 200
  qkv reason eval --task game-int --strategy tot --constrain --model runs/game10 --data game10-eval.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runReasonEval(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.task, "task", "", "benchmark: gsm8k, arith, game24, game-int (required)")
	f.StringVar(&o.strategy, "strategy", "cot", "io, cot, zs-cot, sc or tot")
	f.StringVar(&o.model, "model", "", "model folder or run, or an OpenAI-compatible base URL (required)")
	f.StringVar(&o.modelName, "model-name", "default", "model name sent to an HTTP endpoint")
	f.StringVar(&o.apiKey, "api-key", "", "API key for an HTTP endpoint (default $OPENAI_API_KEY)")
	f.StringVar(&o.data, "data", "", "task data: GSM8K test.jsonl, 24.csv, or a puzzle file (default: ../shared/data/...)")
	f.IntVar(&o.k, "k", 10, "self-consistency samples")
	f.IntVar(&o.n, "n", 0, "score the first n items only (0: all)")
	f.IntVar(&o.start, "start", -1, "first item (default 0; game24: 900)")
	f.Uint64Var(&o.dataSeed, "data-seed", 777, "seed of the generated arith problems")
	o.arithFlags.register(f)
	f.IntVar(&o.shots, "shots", 0, "few-shot examples in the prompt (gsm8k: from train.jsonl)")
	f.IntVar(&o.maxTokens, "max-tokens", 0, "most tokens per completion (default: by task)")
	f.Float64Var(&o.temperature, "temperature", 0.7, "sampling temperature of sc and tot")
	f.Uint64Var(&o.seed, "seed", 1, "sampling seed")
	f.BoolVar(&o.weighted, "weighted", false, "sc: weight votes by the completion's probability")
	f.StringVar(&o.out, "out", "", "results JSONL (default reason-TASK-STRATEGY.jsonl)")
	f.StringVar(&o.cache, "cache", ".qkv-cache/reason", "folder of cached calls")
	f.IntVar(&o.concurrency, "concurrency", 0, "items in flight (default 1 local, 8 HTTP)")
	f.IntVar(&o.threads, "threads", 0, "CPU threads of a local model (default: all cores)")
	f.DurationVar(&o.timeout, "timeout", 60*time.Second, "HTTP: per-attempt timeout")
	f.Float64Var(&o.priceIn, "price-in", 0, "cost per million prompt tokens, for the cost column")
	f.Float64Var(&o.priceOut, "price-out", 0, "cost per million completion tokens")
	f.IntVar(&o.nPropose, "n-propose", 0, "tot: proposal completions per thought (game24: 1, game24-int: 8)")
	f.IntVar(&o.nEvaluate, "n-evaluate", 3, "tot: value samples per thought")
	f.IntVar(&o.breadth, "breadth", 5, "tot: thoughts kept per level (b)")
	f.IntVar(&o.target, "target", 10, "game-int: the number to reach")
	f.IntVar(&o.numbers, "numbers", 3, "game-int: numbers per puzzle")
	f.BoolVar(&o.constrain, "constrain", false, "game-int tot: constrain proposals to legal steps and values to the value words (local models)")
	cmd.MarkFlagRequired("task")
	cmd.MarkFlagRequired("model")
	return cmd
}

func dataPath(o *reasonEvalOptions, rel string) string {
	if o.data != "" {
		return o.data
	}
	root := os.Getenv("QKV_DATA_DIR")
	if root == "" {
		root = filepath.Join("..", "shared", "data")
	}
	return filepath.Join(root, rel)
}

func openLLM(o *reasonEvalOptions) (reason.LLM, error) {
	if strings.HasPrefix(o.model, "http://") || strings.HasPrefix(o.model, "https://") {
		key := o.apiKey
		if key == "" {
			key = os.Getenv("OPENAI_API_KEY")
		}
		return reason.NewHTTP(o.model, o.modelName, reason.HTTPOptions{APIKey: key, Timeout: o.timeout}), nil
	}
	return reason.LoadLocal(o.model)
}

func runReasonEval(cmd *cobra.Command, o *reasonEvalOptions) error {
	if o.threads > 0 {
		kernel.SetThreads(o.threads)
	}
	if o.k < 1 {
		return fmt.Errorf("--k %d must be at least 1", o.k)
	}
	items, strategy, err := reasonSetup(o)
	if err != nil {
		return err
	}
	base, err := openLLM(o)
	if err != nil {
		return err
	}
	_, isHTTP := base.(*reason.HTTP)
	if o.concurrency == 0 {
		o.concurrency = 1
		if isHTTP {
			o.concurrency = 8
		}
	}
	meter := &reason.Meter{LLM: &reason.Cached{LLM: &reason.Limited{LLM: base, N: o.concurrency}, Dir: o.cache}, InPrice: o.priceIn, OutPrice: o.priceOut}
	if o.out == "" {
		o.out = fmt.Sprintf("reason-%s-%s.jsonl", o.task, o.strategy)
	}
	f, err := os.Create(o.out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	errOut := cmd.ErrOrStderr()
	var b *bar
	if ef, ok := errOut.(*os.File); ok && isTerminal(ef) {
		b = newBar(errOut)
		b.Start(len(items), 0)
	}
	done, correct := 0, 0
	sum := reason.Evaluate(cmd.Context(), meter, items, strategy, o.concurrency, func(r reason.Result) {
		done++
		if r.Correct {
			correct++
		}
		enc.Encode(r)
		desc := fmt.Sprintf("acc %.1f%%", 100*float64(correct)/float64(done))
		if b != nil {
			b.Update(done, desc)
		} else if done%max(1, len(items)/10) == 0 || done == len(items) {
			fmt.Fprintf(errOut, "%d/%d items, %s\n", done, len(items), desc)
		}
		if r.Error != "" {
			fmt.Fprintf(errOut, "item %d: %s\n", r.ID, r.Error)
		}
	})
	if b != nil {
		b.Finish()
	}
	tot := meter.Totals()
	line := map[string]any{"summary": sum, "task": o.task, "strategy": o.strategy, "k": o.k, "model": base.Name(), "seed": o.seed, "cached_calls": tot.CachedCalls, "cost": tot.Cost}
	enc.Encode(line)
	if err := w.Flush(); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "task\tstrategy\tk\titems\taccuracy\tcalls\tsamples\ttokens\tcost\twall")
	k := "-"
	if o.strategy == "sc" {
		k = fmt.Sprint(o.k)
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%.1f%%\t%d\t%d\t%d\t%.4f\t%s\n", o.task, o.strategy, k, sum.Done, sum.Items, 100*sum.Accuracy, sum.Calls, sum.Samples, sum.PromptTokens+sum.CompletionTokens, tot.Cost, time.Duration(sum.Seconds*float64(time.Second)).Round(time.Millisecond))
	tw.Flush()
	fmt.Fprintf(errOut, "results: %s (%d of the calls came from the cache %s)\n", o.out, tot.CachedCalls, o.cache)
	if sum.Interrupted {
		fmt.Fprintf(errOut, "interrupted after %d of %d items; rerun the same command to resume from the cache\n", sum.Done, sum.Items)
		return errSilent
	}
	return nil
}

// reasonSetup loads the task's items and builds the strategy.
func reasonSetup(o *reasonEvalOptions) ([]reason.Item, reason.Strategy, error) {
	var items []reason.Item
	start := max(o.start, 0)
	switch o.task {
	case "gsm8k":
		probs, err := tasks.LoadGSM8K(dataPath(o, "gsm8k/test.jsonl"))
		if err != nil {
			return nil, nil, err
		}
		for i, p := range probs {
			items = append(items, reason.Item{ID: i, Question: p.Question, Answer: reason.NormalizeNumber(p.Final())})
		}
	case "arith":
		for _, p := range tasks.GenerateArithRange(start+max(o.n, 200), o.steps, o.maxStart, o.maxOperand, o.dataSeed) {
			items = append(items, reason.Item{ID: p.ID, Question: p.Question, Answer: p.Answer})
		}
	case "game24":
		puzzles, err := tasks.LoadGame24(dataPath(o, "game24/24.csv"))
		if err != nil {
			return nil, nil, err
		}
		if o.start < 0 {
			start = 900
		}
		for i, p := range puzzles {
			items = append(items, reason.Item{ID: i, Question: p, Answer: "24"})
		}
		if o.n == 0 {
			o.n = 100
		}
	case "game-int":
		if o.data == "" {
			return nil, nil, fmt.Errorf("--task game-int needs --data, a file of puzzles one per line (see qkv reason data --task game-int)")
		}
		puzzles, err := tasks.LoadLines(o.data)
		if err != nil {
			return nil, nil, err
		}
		for i, p := range puzzles {
			if _, err := tasks.ParseInts(p); err != nil {
				return nil, nil, fmt.Errorf("%s:%d: %v", o.data, i+1, err)
			}
			items = append(items, reason.Item{ID: i, Question: p, Answer: fmt.Sprint(o.target)})
		}
	default:
		return nil, nil, fmt.Errorf("--task %q: want gsm8k, arith, game24 or game-int", o.task)
	}
	if start > len(items) {
		return nil, nil, fmt.Errorf("--start %d is past the %d items", start, len(items))
	}
	items = items[start:]
	if o.n > 0 && o.n < len(items) {
		items = items[:o.n]
	}
	strategy, err := reasonStrategy(o)
	return items, strategy, err
}

func reasonStrategy(o *reasonEvalOptions) (reason.Strategy, error) {
	if strings.HasPrefix(o.task, "game") {
		var task tot.Task = tot.Game24{}
		nPropose := max(o.nPropose, 1)
		if o.task == "game-int" {
			if o.numbers < 2 {
				return nil, fmt.Errorf("--numbers %d must be at least 2", o.numbers)
			}
			task = tot.IntGame{Target: o.target, Numbers: o.numbers, Constrain: o.constrain}
			if o.nPropose == 0 {
				nPropose = 8
			}
		}
		bfs := tot.BFS{NPropose: nPropose, NEvaluate: o.nEvaluate, NSelect: o.breadth, Temperature: o.temperature, Seed: o.seed, MaxTokens: 256}
		s, ok := tot.Game24Strategies(task, bfs, o.k, o.temperature, o.seed)[o.strategy]
		if !ok {
			return nil, fmt.Errorf("--strategy %q does not apply to %s (io [game24 only], cot, sc, tot)", o.strategy, o.task)
		}
		return s, nil
	}
	qa := &reason.QA{Extract: reason.ExtractNumber, Temperature: o.temperature, Seed: o.seed, Weighted: o.weighted, MaxTokens: o.maxTokens}
	direct, cot := reason.DirectTemplate, reason.CoTTemplate
	var sel reason.Selector
	if o.task == "arith" {
		// The models trained on qkv reason data know two cues; see tasks.ArithText.
		direct = "Q: {{.Question}}\n" + tasks.DirectCue
		cot = "Q: {{.Question}}\n" + tasks.CoTCue
		qa.Stop = []string{"\n"}
		if qa.MaxTokens == 0 {
			qa.MaxTokens = 64
		}
	} else {
		qa.Stop = []string{"\n\nQ:", "\nQ:", "\n\n\n"}
		if qa.MaxTokens == 0 {
			qa.MaxTokens = 256
		}
		if o.shots > 0 {
			train, err := tasks.LoadGSM8K(dataPath(o, "gsm8k/train.jsonl"))
			if o.data != "" {
				train, err = tasks.LoadGSM8K(filepath.Join(filepath.Dir(o.data), "train.jsonl"))
			}
			if err != nil {
				return nil, fmt.Errorf("few-shot examples: %w", err)
			}
			pool := make([]reason.Example, len(train))
			for i, t := range train {
				pool[i] = reason.Example{Question: t.Question, Reasoning: t.Reasoning(), Answer: reason.NormalizeNumber(t.Final())}
			}
			sel = reason.Random{Pool: pool, Seed: o.seed}
		}
	}
	dt, err := reason.ParseTemplate("direct", direct)
	if err != nil {
		return nil, err
	}
	ct, err := reason.ParseTemplate("cot", cot)
	if err != nil {
		return nil, err
	}
	qa.Direct = &reason.Prompter{Template: dt, Selector: sel, K: o.shots}
	qa.CoT = &reason.Prompter{Template: ct, Selector: sel, K: o.shots}
	switch o.strategy {
	case "io":
		return qa.IO, nil
	case "cot":
		return qa.CoTGreedy, nil
	case "zs-cot":
		return qa.ZeroShotCoT, nil
	case "sc":
		return qa.SelfConsistency(o.k), nil
	}
	return nil, fmt.Errorf("--strategy %q does not apply to %s (io, cot, zs-cot, sc)", o.strategy, o.task)
}

type reasonDataOptions struct {
	task, out, evalOut                             string
	n, rounds, target, numbers, maxNumber, heldOut int
	arithFlags
	seed     uint64
	cotShare float64
}

func newReasonDataCmd() *cobra.Command {
	o := &reasonDataOptions{}
	cmd := &cobra.Command{
		Use:   "data --task arith|game-int --out FILE",
		Short: "Write the synthetic training text of the reasoning experiments",
		Long: `Write training text for the reasoning experiments (train a model on it with qkv train).

arith: generated three-step word problems, a share (--cot-share) with worked solutions after
the cue "A: Step by step," and the rest with the answer at once after "A: The answer is".
game-int: a compact integer game of the Game of 24's shape (reach --target from --numbers
numbers with + - * /; solutions S:, proposals P:, values V:) over every puzzle of numbers from
1 to --max-number except --held-out solvable ones, which go to --eval-out for
qkv reason eval --task game-int.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runReasonData(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.task, "task", "arith", "arith or game-int")
	f.StringVar(&o.out, "out", "", "training text file (required)")
	f.StringVar(&o.evalOut, "eval-out", "", "game-int: file for the held-out puzzles")
	f.IntVar(&o.n, "n", 60000, "arith: problems")
	o.arithFlags.register(f)
	f.IntVar(&o.rounds, "rounds", 60, "game-int: passes over the puzzles")
	f.IntVar(&o.target, "target", 10, "game-int: the number to reach")
	f.IntVar(&o.numbers, "numbers", 3, "game-int: numbers per puzzle")
	f.IntVar(&o.maxNumber, "max-number", 9, "game-int: puzzle numbers run from 1 to this")
	f.IntVar(&o.heldOut, "held-out", 40, "game-int: solvable puzzles held out for evaluation")
	f.Uint64Var(&o.seed, "seed", 1, "random seed")
	f.Float64Var(&o.cotShare, "cot-share", 0.5, "arith: share of problems written with worked steps")
	cmd.MarkFlagRequired("out")
	return cmd
}

func runReasonData(cmd *cobra.Command, o *reasonDataOptions) error {
	var text string
	switch o.task {
	case "arith":
		rng := rand.New(rand.NewPCG(o.seed, 7))
		var sb strings.Builder
		for _, p := range tasks.GenerateArithRange(o.n, o.steps, o.maxStart, o.maxOperand, o.seed) {
			f := tasks.Direct
			if rng.Float64() < o.cotShare {
				f = tasks.CoT
			}
			sb.WriteString(tasks.ArithText(p, f) + "\n")
		}
		text = sb.String()
	case "game-int":
		all := tasks.Multisets(o.numbers, o.maxNumber)
		rng := rand.New(rand.NewPCG(o.seed, 11))
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		var train, eval []string
		for _, q := range all {
			nums, _ := tasks.ParseInts(q)
			if len(eval) < o.heldOut && tasks.IntSolvable(nums, o.target) {
				eval = append(eval, q)
				continue
			}
			train = append(train, q)
		}
		text = tasks.IntGameCorpus(train, o.rounds, o.target, o.seed)
		if o.evalOut != "" {
			if err := os.WriteFile(o.evalOut, []byte(strings.Join(eval, "\n")+"\n"), 0o644); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("--task %q: want arith or game-int", o.task)
	}
	if err := os.WriteFile(o.out, []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes)\n", o.out, len(text))
	return nil
}

func newReasonPlotCmd() *cobra.Command {
	var out, title string
	cmd := &cobra.Command{
		Use:   "plot --out FILE.png RESULTS.jsonl...",
		Short: "Plot accuracy against self-consistency samples k from qkv reason eval results",
		Long: `Read the summary line of each results file of qkv reason eval and draw accuracy against the
number of sampled paths k: self-consistency runs as a curve, io and greedy cot as horizontal
reference lines.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runReasonPlot(args, out, title) },
	}
	cmd.Flags().StringVar(&out, "out", "sc-curve.png", "PNG file to write")
	cmd.Flags().StringVar(&title, "title", "Self-consistency: accuracy against sampled paths", "chart title")
	return cmd
}

type reasonSummaryLine struct {
	Summary  *reason.Summary `json:"summary"`
	Strategy string          `json:"strategy"`
	K        int             `json:"k"`
}

func readReasonSummary(path string) (reasonSummaryLine, error) {
	b, err := fileutil.ReadFile(path, fileutil.SmallFileLimit, "a results file")
	if err != nil {
		return reasonSummaryLine{}, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var s reasonSummaryLine
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil || s.Summary == nil {
		return s, fmt.Errorf("%s: the last line is not a qkv reason eval summary", path)
	}
	return s, nil
}

func runReasonPlot(paths []string, out, title string) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "sampled reasoning paths k"
	p.Y.Label.Text = "accuracy (%)"
	var sc plotter.XYs
	refs := map[string]float64{}
	maxK := 1.0
	for _, path := range paths {
		s, err := readReasonSummary(path)
		if err != nil {
			return err
		}
		acc := 100 * s.Summary.Accuracy
		if s.Strategy == "sc" {
			sc = append(sc, plotter.XY{X: float64(s.K), Y: acc})
			maxK = max(maxK, float64(s.K))
		} else {
			refs[s.Strategy] = acc
		}
	}
	slices.SortFunc(sc, func(a, b plotter.XY) int { return int(a.X - b.X) })
	if len(sc) > 0 {
		line, points, err := plotter.NewLinePoints(sc)
		if err != nil {
			return err
		}
		p.Add(line, points)
		p.Legend.Add("self-consistency (majority of k)", line, points)
	}
	names := make([]string, 0, len(refs))
	for name := range refs {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		l, err := plotter.NewLine(plotter.XYs{{X: 1, Y: refs[name]}, {X: maxK, Y: refs[name]}})
		if err != nil {
			return err
		}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		l.Color = plotutil.Color(i + 1)
		p.Add(l)
		p.Legend.Add(name+" (greedy)", l)
	}
	top := 0.0
	for _, xy := range sc {
		top = max(top, xy.Y)
	}
	for _, v := range refs {
		top = max(top, v)
	}
	p.Legend.Top = true
	p.Y.Min, p.Y.Max = 0, min(100, top*1.25+5)
	return p.Save(6*vg.Inch, 4*vg.Inch, out)
}

// arithFlags shape the generated arith problems.
type arithFlags struct {
	steps, maxStart, maxOperand int
}

// register adds --steps, --max-start and --max-operand to f.
func (a *arithFlags) register(f *pflag.FlagSet) {
	f.IntVar(&a.steps, "steps", 3, "arith: operations per problem")
	f.IntVar(&a.maxStart, "max-start", 39, "arith: start amounts run from 2 to this")
	f.IntVar(&a.maxOperand, "max-operand", 19, "arith: operands run from 1 to this")
}
