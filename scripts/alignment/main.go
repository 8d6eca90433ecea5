// Command alignment holds the measuring steps of scripts/alignment.sh: it writes the generated
// pretraining corpus, measures models on the arithmetic task (program-checked reward of greedy
// replies, KL to a reference), in-context learning against the number of examples, a reward
// model against the true reward, and draws the figures of docs/alignment.md.
//
//	go run ./scripts/alignment corpus OUT BYTES SEED
//	go run ./scripts/alignment eval MODEL [REF]          (JSON on stdout)
//	go run ./scripts/alignment icl MODEL                 (JSON on stdout, iclSeeds seeds)
//	go run ./scripts/alignment rm RM POLICY...           (JSON on stdout)
//	go run ./scripts/alignment plot OUTDIR NAME=ICL_JSON... -- NAME=RUN...
//	go run ./scripts/alignment ppo-summary RUN...        (one line per PPO run)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/qkvdev/qkv/align"
	"github.com/qkvdev/qkv/chat"
	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/train"
)

// Held-out data: seeds that the training data of scripts/alignment.sh (seed 1) never uses.
const (
	evalSeed   = 777
	evalN      = 200
	iclPerTask = 25
	iclSeeds   = 3 // in-context learning is measured with seeds evalSeed, evalSeed+1, …
)

// iclSeedResult is the in-context learning accuracy at one shot count over iclSeeds draws of
// held-out words and examples.
type iclSeedResult struct {
	Shots    int       `json:"shots"`
	Mean     float64   `json:"mean"`
	Std      float64   `json:"std"`
	Accuracy []float64 `json:"accuracy_per_seed"`
	N        int       `json:"n_per_seed"`
}

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "alignment:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: corpus | eval | icl | rm | plot (see the package comment)")
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	switch args[0] {
	case "corpus":
		if len(args) != 4 {
			return fmt.Errorf("usage: corpus OUT BYTES SEED")
		}
		n, err := strconv.Atoi(args[2])
		if err != nil {
			return err
		}
		seed, err := strconv.ParseUint(args[3], 10, 64)
		if err != nil {
			return err
		}
		return os.WriteFile(args[1], []byte(align.PretrainCorpus(n, seed)), 0o644)
	case "eval":
		if len(args) < 2 {
			return fmt.Errorf("usage: eval MODEL [REF]")
		}
		m, e, err := load(args[1])
		if err != nil {
			return err
		}
		var ref *gpt.Model
		if len(args) > 2 {
			if ref, _, err = load(args[2]); err != nil {
				return err
			}
		}
		res, err := align.EvalReward(ctx, m, ref, e, align.ArithPrompts(evalN, evalSeed), align.FuncReward(align.ArithReward), 16, evalSeed)
		if err != nil {
			return err
		}
		return enc.Encode(res)
	case "icl":
		if len(args) != 2 {
			return fmt.Errorf("usage: icl MODEL")
		}
		m, e, err := load(args[1])
		if err != nil {
			return err
		}
		shots := []int{0, 1, 2, 4, 8}
		res := make([]iclSeedResult, len(shots))
		for s := range iclSeeds {
			rs, err := align.EvalICL(ctx, m, e.Tok, shots, iclPerTask, evalSeed+uint64(s))
			if err != nil {
				return err
			}
			for i, r := range rs {
				res[i].Shots, res[i].N = r.Shots, r.N
				res[i].Accuracy = append(res[i].Accuracy, r.Accuracy)
			}
		}
		for i := range res {
			res[i].Mean, res[i].Std = meanStd(res[i].Accuracy)
		}
		return enc.Encode(res)
	case "rm":
		if len(args) < 3 {
			return errors.New("usage: rm RM POLICY [POLICY ...]")
		}
		res, err := rmVsTrue(ctx, args[1], args[2:])
		if err != nil {
			return err
		}
		return enc.Encode(res)
	case "plot":
		return plots(args[1:])
	case "ppo-summary":
		for _, dir := range args[1:] {
			if err := ppoSummary(dir); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown step %q", args[0])
}

// load reads a chat model (a run folder's latest checkpoint, or a model folder).
func load(ref string) (*gpt.Model, *align.Encoder, error) {
	dir, _, err := checkpoint.ResolveModel(ref)
	if err != nil {
		return nil, nil, err
	}
	m, err := gpt.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	tok, err := align.LoadTokenizer(dir)
	if err != nil {
		return nil, nil, err
	}
	tpl, err := chat.Load(dir)
	if err != nil {
		// A base model: the default template (its special tokens are not in the vocabulary,
		// which is what the base model is measured with).
		tpl, _, _ = align.ChatDefaults()
	}
	return m, &align.Encoder{Tok: tok, Template: tpl}, nil
}

type rmResult struct {
	Pairs       int      `json:"heldout_pairs"`
	Accuracy    float64  `json:"heldout_pair_accuracy"`
	Replies     int      `json:"replies"`
	Pearson     *float64 `json:"pearson_rm_vs_true"`  // null when either side is constant
	Spearman    *float64 `json:"spearman_rm_vs_true"` // null when either side is constant
	MeanTrue    float64  `json:"mean_true_reward"`
	MeanRMScore float64  `json:"mean_rm_score"`
}

// rmVsTrue measures a reward model on held-out pairs, and how its scores of replies sampled
// from the policies (pooled) track the program-checked reward.
func rmVsTrue(ctx context.Context, rmDir string, policies []string) (rmResult, error) {
	var res rmResult
	dir, _, err := checkpoint.ResolveModel(rmDir)
	if err != nil {
		return res, err
	}
	rm, rtok, err := align.LoadRewardModel(dir)
	if err != nil {
		return res, err
	}
	var rmS, trueS []float64
	for i, policy := range policies {
		m, e, err := load(policy)
		if err != nil {
			return res, err
		}
		if err := align.SameTokenizer(e.Tok, rtok); err != nil {
			return res, err
		}
		mr := &align.ModelReward{RM: rm, Encoder: e}
		if i == 0 {
			pairs := align.ArithPairs(evalN, evalSeed)
			var prompts []align.Conversation
			var replies []string
			for _, p := range pairs {
				prompts = append(prompts, p.Prompt, p.Prompt)
				replies = append(replies, p.Chosen, p.Rejected)
			}
			s, err := mr.Rewards(ctx, prompts, replies)
			if err != nil {
				return res, err
			}
			for i := 0; i < len(s); i += 2 {
				if s[i] > s[i+1] {
					res.Accuracy++
				}
			}
			res.Pairs = len(pairs)
			res.Accuracy /= float64(len(pairs))
		}
		// Replies sampled at temperature 1: the distribution PPO trains on.
		qs := align.ArithPrompts(evalN, evalSeed+1)
		ids := make([][]int, len(qs))
		for i, q := range qs {
			if ids[i], err = e.Prompt(q); err != nil {
				return res, err
			}
		}
		eos := -1
		if m.Config.EOSTokenID != nil {
			eos = *m.Config.EOSTokenID
		}
		out, err := align.SampleReplies(ctx, m, ids, 16, 1, eos, tensor.NewRNG(evalSeed))
		if err != nil {
			return res, err
		}
		texts := make([]string, len(out))
		for i, r := range out {
			if len(r) > 0 && r[len(r)-1] == eos {
				r = r[:len(r)-1]
			}
			if texts[i], err = e.Tok.Decode(r); err != nil {
				return res, err
			}
		}
		s, err := mr.Rewards(ctx, qs, texts)
		if err != nil {
			return res, err
		}
		ts, err := align.FuncReward(align.ArithReward).Rewards(ctx, qs, texts)
		if err != nil {
			return res, err
		}
		rmS, trueS = append(rmS, s...), append(trueS, ts...)
	}
	res.Replies = len(rmS)
	res.Pearson = pearson(rmS, trueS)
	res.Spearman = pearson(ranks(rmS), ranks(trueS))
	res.MeanTrue, res.MeanRMScore = mean(trueS), mean(rmS)
	return res, nil
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// meanStd is the mean of x and its sample standard deviation (0 for one value).
func meanStd(x []float64) (m, sd float64) {
	m = mean(x)
	if len(x) < 2 {
		return m, 0
	}
	for _, v := range x {
		sd += (v - m) * (v - m)
	}
	return m, math.Sqrt(sd / float64(len(x)-1))
}

// pearson is the correlation of a and b, nil when either is constant.
func pearson(a, b []float64) *float64 {
	ma, mb := mean(a), mean(b)
	var sab, saa, sbb float64
	for i := range a {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	if saa == 0 || sbb == 0 {
		return nil
	}
	r := sab / math.Sqrt(saa*sbb)
	return &r
}

// ranks returns the ranks of x, ties sharing their mean rank.
func ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return x[idx[i]] < x[idx[j]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && x[idx[j]] == x[idx[i]] {
			j++
		}
		for k := i; k < j; k++ {
			r[idx[k]] = float64(i+j-1) / 2
		}
		i = j
	}
	return r
}

// plots draws icl.png from ICL result files (NAME=FILE) and ppo-reward.png, ppo-kl.png from
// PPO runs (NAME=RUN) given after "--".
func plots(args []string) error {
	if len(args) < 1 {
		return errors.New("usage: plot OUTDIR NAME=ICL.json [...] -- NAME=RUN [...]")
	}
	out := args[0]
	var icl, runs []string
	dst := &icl
	for _, a := range args[1:] {
		if a == "--" {
			dst = &runs
			continue
		}
		*dst = append(*dst, a)
	}
	if len(icl) > 0 {
		p := plot.New()
		p.Title.Text = "In-context learning: held-out accuracy against examples in the prompt"
		p.X.Label.Text = "in-context examples (shots)"
		p.Y.Label.Text = "exact-match accuracy"
		p.Y.Min, p.Y.Max = 0, 1
		p.Add(plotter.NewGrid())
		var lines []any
		for _, spec := range icl {
			name, file, _ := strings.Cut(spec, "=")
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			var rs []iclSeedResult
			if err := json.Unmarshal(data, &rs); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			var pts plotter.XYs
			var errs plotter.YErrors
			for _, r := range rs {
				pts = append(pts, plotter.XY{X: float64(r.Shots), Y: r.Mean})
				errs = append(errs, struct{ Low, High float64 }{r.Std, r.Std})
			}
			lines = append(lines, name, pts)
			bars, err := plotter.NewYErrorBars(struct {
				plotter.XYer
				plotter.YErrorer
			}{pts, errs})
			if err != nil {
				return err
			}
			p.Add(bars)
		}
		if err := plotutil.AddLinePoints(p, lines...); err != nil {
			return err
		}
		p.Title.Text += fmt.Sprintf(" (mean ± std over %d seeds)", iclSeeds)
		if err := p.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(out, "icl.png")); err != nil {
			return err
		}
	}
	for _, metric := range []struct{ key, title, file string }{
		{"reward", "PPO: mean reward of the rollouts", "ppo-reward.png"},
		{"true_reward", "PPO: program-checked (true) reward of the rollouts", "ppo-true-reward.png"},
		{"kl", "PPO: KL to the reference (nats per reply)", "ppo-kl.png"},
	} {
		p := plot.New()
		p.Title.Text = metric.title
		p.X.Label.Text = "PPO step"
		p.Add(plotter.NewGrid())
		var lines []any
		for _, spec := range runs {
			name, dir, _ := strings.Cut(spec, "=")
			recs, err := train.ReadMetrics(filepath.Join(dir, checkpoint.MetricsFile))
			if err != nil {
				return err
			}
			// Runs written before true_reward was always logged left out its zeros: a run
			// that logs it anywhere counts a missing value as 0.
			logged := false
			for _, r := range recs {
				if _, ok := r[metric.key]; ok {
					logged = true
				}
			}
			var pts plotter.XYs
			for _, r := range recs {
				s, ok := r["step"].(float64)
				if _, ppo := r["kl"]; !ok || !ppo || !logged {
					continue
				}
				v, _ := r[metric.key].(float64)
				pts = append(pts, plotter.XY{X: s, Y: v})
			}
			if len(pts) > 0 {
				lines = append(lines, name, pts)
			}
		}
		if len(lines) == 0 {
			continue
		}
		if err := plotutil.AddLines(p, lines...); err != nil {
			return err
		}
		if err := p.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(out, metric.file)); err != nil {
			return err
		}
	}
	return nil
}

// ppoSummary prints a PPO run's first and last steps' rewards and KL, and its mean rollout and
// update speeds.
func ppoSummary(dir string) error {
	recs, err := train.ReadMetrics(filepath.Join(dir, checkpoint.MetricsFile))
	if err != nil {
		return err
	}
	var steps []map[string]any
	for _, r := range recs {
		if _, ok := r["kl"]; ok {
			steps = append(steps, r)
		}
	}
	if len(steps) < 10 {
		return fmt.Errorf("%s: %d PPO steps, want at least 10", dir, len(steps))
	}
	avg := func(rs []map[string]any, key string) float64 {
		var s float64
		for _, r := range rs {
			v, _ := r[key].(float64)
			s += v
		}
		return s / float64(len(rs))
	}
	first, last := steps[:5], steps[len(steps)-5:]
	fmt.Printf("%s: %d steps; reward %.3f → %.3f, true reward %.3f → %.3f, KL %.2f → %.2f (max %.2f), β %.3f → %.3f, entropy %.2f → %.2f (first and last 5 steps); rollout %.0f tokens/s, update %.0f tokens/s\n",
		dir, len(steps), avg(first, "reward"), avg(last, "reward"), avg(first, "true_reward"), avg(last, "true_reward"),
		avg(first, "kl"), avg(last, "kl"), maxOf(steps, "kl"), avg(first, "kl_coef"), avg(last, "kl_coef"),
		avg(first, "entropy"), avg(last, "entropy"), avg(steps, "rollout_tokens_per_s"), avg(steps, "update_tokens_per_s"))
	return nil
}

func maxOf(rs []map[string]any, key string) float64 {
	m := math.Inf(-1)
	for _, r := range rs {
		if v, ok := r[key].(float64); ok {
			m = math.Max(m, v)
		}
	}
	return m
}
