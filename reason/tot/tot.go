// Package tot is tree-of-thoughts search (Yao et al. 2023) over any reason.LLM: breadth-first
// search with propose or sample generation, value or vote evaluation and greedy or sampled
// selection, as in the reference implementation (princeton-nlp/tree-of-thought-llm,
// src/tot/methods/bfs.py), and depth-first search with pruning and backtracking.
//
// A thought y is the text written so far (lines ending in "\n"); x is the problem. A Task
// supplies the prompts and reads the model's outputs.
package tot

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/qkvdev/qkv/reason"
)

// Task is one problem family's prompts and parsers.
type Task interface {
	// Steps is the depth of a full solution.
	Steps() int
	// ProposePrompt asks for next steps from y; Proposals turns the completions into the new
	// thoughts (the reference splits one completion's lines: y + line + "\n" for each).
	ProposePrompt(x, y string) string
	Proposals(x, y string, outputs []string) []string
	// SamplePrompt asks for a continuation of y (sample generation); StepStop ends it.
	SamplePrompt(x, y string) string
	StepStop(step int) []string
	// ValuePrompt asks how promising y is; Value scores the completions.
	ValuePrompt(x, y string) string
	Value(x, y string, outputs []string) float64
	// VotePrompt asks which of ys is best; Votes counts the completions' votes per candidate.
	VotePrompt(x string, ys []string) string
	Votes(outputs []string, n int) []float64
}

// Constrainer is a Task that can constrain its model calls (see reason.Constraint): nil
// means unconstrained.
type Constrainer interface {
	ProposeConstraint(x, y string) *reason.Constraint
	ValueConstraint() *reason.Constraint
}

// Stopper is a Task whose propose and value completions end at a stop sequence (the
// reference's Game of 24 calls have none: a proposal completion holds many lines).
type Stopper interface {
	ProposeStop() []string
	ValueStop() []string
}

func proposeStop(task Task) []string {
	if s, ok := task.(Stopper); ok {
		return s.ProposeStop()
	}
	return nil
}

func valueStop(task Task) []string {
	if s, ok := task.(Stopper); ok {
		return s.ValueStop()
	}
	return nil
}

// Step records one level of the search, with the reference's log fields.
type Step struct {
	Step     int       `json:"step"`
	X        string    `json:"x"`
	Ys       []string  `json:"ys"`
	NewYs    []string  `json:"new_ys"`
	Values   []float64 `json:"values"`
	Selected []string  `json:"select_new_ys"`
}

// BFS is breadth-first tree-of-thoughts search. The defaults are the paper's Game of 24
// setting: propose generation (one call per thought), value evaluation with 3 samples,
// greedy selection of b = 5.
type BFS struct {
	Generate    string // "propose" (default) or "sample"
	Evaluate    string // "value" (default) or "vote"
	Select      string // "greedy" (default) or "sample"
	NPropose    int    // completions per propose call (default 1, the reference's)
	NGenerate   int    // samples per thought for sample generation (default 1)
	NEvaluate   int    // value or vote samples (default 3)
	NSelect     int    // breadth b (default 5)
	Temperature float64
	MaxTokens   int    // per call (default 256)
	Seed        uint64 // call i draws from Seed+i; selection sampling too
	// ValueCache maps a value prompt to its value across problems, as the reference's task
	// object does (nil: a cache per Solve).
	ValueCache map[string]float64

	calls uint64
}

func (b *BFS) defaults() {
	if b.Generate == "" {
		b.Generate = "propose"
	}
	if b.Evaluate == "" {
		b.Evaluate = "value"
	}
	if b.Select == "" {
		b.Select = "greedy"
	}
	b.NPropose = max(b.NPropose, 1)
	b.NGenerate = max(b.NGenerate, 1)
	if b.NEvaluate == 0 {
		b.NEvaluate = 3
	}
	if b.NSelect == 0 {
		b.NSelect = 5
	}
	if b.ValueCache == nil {
		b.ValueCache = map[string]float64{}
	}
}

func (b *BFS) complete(ctx context.Context, llm reason.LLM, prompt string, n int, stop []string, c *reason.Constraint) ([]string, error) {
	b.calls++
	r, err := llm.Complete(ctx, reason.Request{Prompt: prompt, N: n, Temperature: b.Temperature, MaxTokens: b.MaxTokens, Stop: stop, Seed: b.Seed + b.calls*1000, Constraint: c})
	if err != nil {
		return nil, err
	}
	return r.Texts(), nil
}

// Solve searches from x and returns the final thoughts (best first for greedy selection) and
// the log of every level.
func (b *BFS) Solve(ctx context.Context, llm reason.LLM, task Task, x string) ([]string, []Step, error) {
	b.defaults()
	switch {
	case b.Generate != "propose" && b.Generate != "sample":
		return nil, nil, fmt.Errorf("tot: generation %q is propose or sample", b.Generate)
	case b.Evaluate != "value" && b.Evaluate != "vote":
		return nil, nil, fmt.Errorf("tot: evaluation %q is value or vote", b.Evaluate)
	case b.Select != "greedy" && b.Select != "sample":
		return nil, nil, fmt.Errorf("tot: selection %q is greedy or sample", b.Select)
	}
	rng := rand.New(rand.NewPCG(b.Seed, 0x70757a7a6c65))
	ys := []string{""}
	var log []Step
	for step := range task.Steps() {
		var newYs []string
		for _, y := range ys {
			var outs []string
			var err error
			if b.Generate == "propose" {
				outs, err = b.complete(ctx, llm, task.ProposePrompt(x, y), b.NPropose, proposeStop(task), proposeConstraint(task, x, y))
				if err != nil {
					return nil, log, err
				}
				newYs = append(newYs, task.Proposals(x, y, outs)...)
				continue
			}
			outs, err = b.complete(ctx, llm, task.SamplePrompt(x, y), b.NGenerate, task.StepStop(step), nil)
			if err != nil {
				return nil, log, err
			}
			for _, o := range outs {
				newYs = append(newYs, y+o)
			}
		}
		values, err := b.evaluate(ctx, llm, task, x, newYs)
		if err != nil {
			return nil, log, err
		}
		sel := selectIDs(b.Select, values, b.NSelect, rng)
		selected := make([]string, len(sel))
		for i, id := range sel {
			selected[i] = newYs[id]
		}
		log = append(log, Step{Step: step, X: x, Ys: ys, NewYs: newYs, Values: values, Selected: selected})
		ys = selected
	}
	return ys, log, nil
}

// evaluate scores new thoughts: value (a duplicate within the level scores 0, and values are
// cached by prompt) or vote (one prompt over all candidates).
func (b *BFS) evaluate(ctx context.Context, llm reason.LLM, task Task, x string, ys []string) ([]float64, error) {
	if b.Evaluate == "vote" {
		outs, err := b.complete(ctx, llm, task.VotePrompt(x, ys), b.NEvaluate, nil, nil)
		if err != nil {
			return nil, err
		}
		return task.Votes(outs, len(ys)), nil
	}
	values := make([]float64, len(ys))
	seen := map[string]bool{}
	for i, y := range ys {
		if seen[y] {
			continue // value 0
		}
		seen[y] = true
		v, err := b.value(ctx, llm, task, x, y)
		if err != nil {
			return nil, err
		}
		values[i] = v
	}
	return values, nil
}

func (b *BFS) value(ctx context.Context, llm reason.LLM, task Task, x, y string) (float64, error) {
	p := task.ValuePrompt(x, y)
	if v, ok := b.ValueCache[p]; ok {
		return v, nil
	}
	var c *reason.Constraint
	if ct, ok := task.(Constrainer); ok {
		c = ct.ValueConstraint()
	}
	outs, err := b.complete(ctx, llm, p, b.NEvaluate, valueStop(task), c)
	if err != nil {
		return 0, err
	}
	v := task.Value(x, y, outs)
	b.ValueCache[p] = v
	return v, nil
}

// selectIDs picks n candidates: greedy takes the n highest values (a stable sort: ties keep
// generation order, as Python's sorted does); sample draws n with replacement in proportion
// to value (all-zero values: uniformly).
func selectIDs(how string, values []float64, n int, rng *rand.Rand) []int {
	ids := make([]int, len(values))
	for i := range ids {
		ids[i] = i
	}
	if how == "greedy" {
		slices.SortStableFunc(ids, func(a, b int) int {
			switch {
			case values[a] > values[b]:
				return -1
			case values[a] < values[b]:
				return 1
			}
			return 0
		})
		return ids[:min(n, len(ids))]
	}
	if len(values) == 0 {
		return nil
	}
	var sum float64
	for _, v := range values {
		sum += v
	}
	out := make([]int, n)
	for i := range out {
		if sum <= 0 {
			out[i] = rng.IntN(len(values))
			continue
		}
		r := rng.Float64() * sum
		out[i] = len(values) - 1
		for j, v := range values {
			if r -= v; r < 0 {
				out[i] = j
				break
			}
		}
	}
	return out
}

// DFS is depth-first tree-of-thoughts search: at each thought, candidates are generated and
// valued, visited best first; a candidate whose value is below Threshold is pruned (with its
// subtree), and when a subtree yields no solution the search backtracks to the next
// candidate. It stops at the first thought of full depth that Accept takes, or after
// MaxVisits thoughts.
type DFS struct {
	BFS                              // generation and evaluation settings (NSelect unused)
	Threshold float64                // prune candidates valued below this
	MaxVisits int                    // thoughts expanded at most (default 100)
	Accept    func(x, y string) bool // a full-depth thought that solves x
	Visited   int                    // thoughts expanded in the last Solve
	Pruned    int                    // candidates pruned in the last Solve
}

// Solve returns the first accepted thought, or "" with found false.
func (d *DFS) Solve(ctx context.Context, llm reason.LLM, task Task, x string) (string, bool, error) {
	d.defaults()
	if d.MaxVisits == 0 {
		d.MaxVisits = 100
	}
	d.Visited, d.Pruned = 0, 0
	return d.visit(ctx, llm, task, x, "", 0)
}

func (d *DFS) visit(ctx context.Context, llm reason.LLM, task Task, x, y string, depth int) (string, bool, error) {
	if depth == task.Steps() {
		if d.Accept != nil && d.Accept(x, y) {
			return y, true, nil
		}
		return "", false, nil
	}
	if d.Visited >= d.MaxVisits {
		return "", false, nil
	}
	d.Visited++
	var cands []string
	if d.Generate == "sample" {
		outs, err := d.complete(ctx, llm, task.SamplePrompt(x, y), d.NGenerate, task.StepStop(depth), nil)
		if err != nil {
			return "", false, err
		}
		for _, o := range outs {
			cands = append(cands, y+o)
		}
	} else {
		outs, err := d.complete(ctx, llm, task.ProposePrompt(x, y), d.NPropose, proposeStop(task), proposeConstraint(task, x, y))
		if err != nil {
			return "", false, err
		}
		cands = task.Proposals(x, y, outs)
	}
	values, err := d.evaluate(ctx, llm, task, x, cands)
	if err != nil {
		return "", false, err
	}
	order := selectIDs("greedy", values, len(values), nil)
	kept := order[:0]
	for _, i := range order {
		if values[i] < d.Threshold {
			d.Pruned++ // with its whole subtree
			continue
		}
		kept = append(kept, i)
	}
	for _, i := range kept {
		if sol, ok, err := d.visit(ctx, llm, task, x, cands[i], depth+1); err != nil || ok {
			return sol, ok, err
		}
	}
	return "", false, nil
}

func proposeConstraint(task Task, x, y string) *reason.Constraint {
	if ct, ok := task.(Constrainer); ok {
		return ct.ProposeConstraint(x, y)
	}
	return nil
}
