package tot

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/qkvdev/qkv/reason"
	"github.com/qkvdev/qkv/reason/tasks"
)

// IntGame is the compact integer game of reason/tasks (game24steps.go) — reach Target from
// Numbers numbers — for small models trained here: proposals are sampled one line each from
// "P: <numbers left>\n" (NPropose samples per thought), values from "V: <numbers left>\n"
// (sure 20, likely 1, impossible 0.001 as in the reference), whole chains from
// "S: <puzzle>\n". With Constrain, proposals are constrained to the legal steps from the
// numbers left (a choice list) and values to the value words, so every thought parses.
type IntGame struct {
	Target, Numbers int
	Constrain       bool
}

// Steps is Numbers − 1.
func (g IntGame) Steps() int { return g.Numbers - 1 }

func intLeft(x, y string) string {
	if y == "" {
		return x
	}
	return CurrentNumbers(y)
}

// ProposePrompt asks for one step from the numbers left.
func (IntGame) ProposePrompt(x, y string) string { return "P: " + intLeft(x, y) + "\n" }

// Proposals makes one thought per completion (its first line).
func (IntGame) Proposals(_, y string, outputs []string) []string {
	var out []string
	for _, o := range outputs {
		line, _, _ := strings.Cut(o, "\n")
		out = append(out, y+strings.TrimSpace(line)+"\n")
	}
	return out
}

// SamplePrompt continues the chain.
func (IntGame) SamplePrompt(x, y string) string { return "S: " + x + "\n" + y }

// StepStop ends a step at its line's end.
func (IntGame) StepStop(int) []string { return []string{"\n"} }

// ProposeStop ends a proposal at its line's end.
func (IntGame) ProposeStop() []string { return []string{"\n"} }

// ValueStop ends a value at its line's end.
func (IntGame) ValueStop() []string { return []string{"\n"} }

// ValuePrompt asks whether the numbers left can still reach the target.
func (IntGame) ValuePrompt(x, y string) string { return "V: " + intLeft(x, y) + "\n" }

// Value sums the words' scores over the completions (first line of each).
func (IntGame) Value(_, _ string, outputs []string) float64 {
	var v float64
	for _, o := range outputs {
		w, _, _ := strings.Cut(strings.TrimSpace(o), "\n")
		v += Game24Values[w]
	}
	return v
}

// VotePrompt is not trained for this task.
func (IntGame) VotePrompt(x string, ys []string) string { return Game24{}.VotePrompt(x, ys) }

// Votes counts "The best choice is N".
func (IntGame) Votes(outputs []string, n int) []float64 { return CountVotes(outputs, n) }

// ProposeConstraint is the legal steps from the numbers left (nil without Constrain, or when
// none is legal).
func (g IntGame) ProposeConstraint(x, y string) *reason.Constraint {
	if !g.Constrain {
		return nil
	}
	nums, err := tasks.ParseInts(intLeft(x, y))
	if err != nil {
		return nil
	}
	steps := tasks.LegalSteps(nums)
	if len(steps) == 0 {
		return nil
	}
	for i := range steps {
		steps[i] += "\n"
	}
	return &reason.Constraint{Choice: steps}
}

// ValueConstraint is the value words.
func (g IntGame) ValueConstraint() *reason.Constraint {
	if !g.Constrain {
		return nil
	}
	return &reason.Constraint{Choice: []string{"sure\n", "likely\n", "impossible\n"}}
}

// Final is the number a chain ends at ("" when it does not parse): self-consistency votes
// over it, as over a final answer.
func (g IntGame) Final(x string) reason.Extractor {
	return func(text string) string {
		lines := strings.Split(strings.TrimSpace(text), "\n")
		if len(lines) < g.Steps() {
			return ""
		}
		nums, err := tasks.ParseInts(x)
		if err != nil {
			return ""
		}
		for _, l := range lines[:g.Steps()] {
			st := tasks.ParseIntStep(l, nums)
			if !st.Parsed {
				return ""
			}
			nums = st.Left
		}
		if len(nums) != 1 {
			return ""
		}
		return strconv.Itoa(nums[0])
	}
}

// Game24Strategies returns, for Game24 or an IntGame, io (the reference's standard prompt;
// Game24 only), cot (one greedy chain), sc (k sampled chains, majority over the final answer;
// the winning answer is right when a chain giving it solves the puzzle) and tot (BFS).
func Game24Strategies(task Task, bfs BFS, k int, temperature float64, seed uint64) map[string]reason.Strategy {
	ig, isInt := task.(IntGame)
	score := func(x, out string) bool {
		if isInt {
			return tasks.VerifyIntSteps(x, out, ig.Target)
		}
		return tasks.Check24(x, out)
	}
	cotPrompt := func(x string) string {
		if isInt {
			return "S: " + x + "\n"
		}
		return Game24{}.CoTPrompt(x)
	}
	extract := func(x string) reason.Extractor {
		if isInt {
			return ig.Final(x)
		}
		return func(text string) string { // the expression's value
			return reason.ExtractExpression(text, tasks.EvalExpr)
		}
	}
	target := "24"
	if isInt {
		target = strconv.Itoa(ig.Target)
	}
	stop := []string{"\n\n", "\nInput:"}
	maxTok := 128
	out := map[string]reason.Strategy{
		"cot": func(ctx context.Context, llm reason.LLM, it reason.Item) (reason.Outcome, error) {
			r, err := llm.Complete(ctx, reason.Request{Prompt: cotPrompt(it.Question), MaxTokens: maxTok, Stop: stop, Seed: seed})
			if err != nil {
				return reason.Outcome{}, err
			}
			t := r.Completions[0].Text
			return reason.Outcome{Pred: t, Correct: score(it.Question, t)}, nil
		},
		"sc": func(ctx context.Context, llm reason.LLM, it reason.Item) (reason.Outcome, error) {
			var texts []string
			ex := extract(it.Question)
			keep := func(text string) string { texts = append(texts, text); return ex(text) }
			sc := &reason.SelfConsistency{K: k, Temperature: temperature, MaxTokens: maxTok, Stop: stop, Seed: seed, Extract: keep, NoEarlyStop: true}
			v, err := sc.Run(ctx, llm, cotPrompt(it.Question))
			if err != nil {
				return reason.Outcome{}, err
			}
			ok := false
			if v.Answer == target {
				for i, a := range v.Answers {
					if a == target && score(it.Question, texts[i]) {
						ok = true
						break
					}
				}
			}
			return reason.Outcome{Pred: v.Answer, Correct: ok, Detail: map[string]any{"counts": v.Counts, "unparsed": v.Unparsed}}, nil
		},
		"tot": func(ctx context.Context, llm reason.LLM, it reason.Item) (reason.Outcome, error) {
			b := bfs
			b.ValueCache = nil
			ys, _, err := b.Solve(ctx, llm, task, it.Question)
			if err != nil {
				return reason.Outcome{}, err
			}
			if len(ys) == 0 {
				return reason.Outcome{}, fmt.Errorf("tot: no thoughts survived")
			}
			anyOK := false
			for _, y := range ys {
				anyOK = anyOK || score(it.Question, y)
			}
			return reason.Outcome{Pred: ys[0], Correct: score(it.Question, ys[0]), Detail: map[string]any{"any_of_b": anyOK}}, nil
		},
	}
	if !isInt {
		out["io"] = func(ctx context.Context, llm reason.LLM, it reason.Item) (reason.Outcome, error) {
			r, err := llm.Complete(ctx, reason.Request{Prompt: Game24{}.StandardPrompt(it.Question), MaxTokens: 64, Stop: []string{"\n"}, Seed: seed})
			if err != nil {
				return reason.Outcome{}, err
			}
			t := r.Completions[0].Text
			return reason.Outcome{Pred: t, Correct: score(it.Question, t)}, nil
		}
	}
	return out
}
