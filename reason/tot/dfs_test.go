package tot

import (
	"context"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/reason"
	"github.com/qkvdev/qkv/reason/tasks"
)

// oracle answers IntGame prompts: proposals are the legal steps in order (one per sample),
// values are the truth ("sure" when the numbers left can reach the target).
type oracle struct {
	target int
	calls  int
}

func (o *oracle) Name() string { return "oracle" }

func (o *oracle) Complete(_ context.Context, req reason.Request) (*reason.Response, error) {
	o.calls++
	r := &reason.Response{}
	kind, rest, _ := strings.Cut(req.Prompt, ": ")
	nums, err := tasks.ParseInts(strings.TrimSpace(rest))
	if err != nil {
		return nil, err
	}
	for i := range max(req.N, 1) {
		text := "impossible"
		switch kind {
		case "P":
			steps := tasks.LegalSteps(nums)
			text = steps[i%len(steps)]
		case "V":
			if tasks.IntSolvable(nums, o.target) {
				text = "sure"
			}
		}
		r.Completions = append(r.Completions, reason.Completion{Text: text})
	}
	return r, nil
}

func TestDFSPrunesAndBacktracks(t *testing.T) {
	g := IntGame{Target: 10, Numbers: 3}
	for _, x := range []string{"2 3 4", "1 1 8", "3 5 8"} {
		llm := &oracle{target: 10}
		d := &DFS{BFS: BFS{NPropose: 12, NEvaluate: 1}, Threshold: 1, Accept: func(x, y string) bool { return tasks.VerifyIntSteps(x, y, 10) }}
		y, ok, err := d.Solve(context.Background(), llm, g, x)
		if err != nil || !ok || !tasks.VerifyIntSteps(x, y, 10) {
			t.Errorf("%s: %q %v %v", x, y, ok, err)
		}
		if d.Pruned == 0 {
			t.Errorf("%s: nothing pruned", x)
		}
	}
	// An unsolvable puzzle: every candidate is pruned and the search ends without a solution.
	d := &DFS{BFS: BFS{NPropose: 12, NEvaluate: 1}, Threshold: 1, Accept: func(x, y string) bool { return tasks.VerifyIntSteps(x, y, 10) }}
	if _, ok, err := d.Solve(context.Background(), &oracle{target: 10}, g, "1 1 1"); ok || err != nil {
		t.Errorf("1 1 1: solved %v, %v", ok, err)
	}
	// Without pruning the search backtracks through dead ends and still finds a solution.
	d = &DFS{BFS: BFS{NPropose: 12, NEvaluate: 1}, Threshold: -1, MaxVisits: 1000, Accept: func(x, y string) bool { return tasks.VerifyIntSteps(x, y, 10) }}
	y, ok, err := d.Solve(context.Background(), &oracle{target: 10}, g, "2 3 4")
	if !ok || err != nil || d.Visited < 2 {
		t.Errorf("no pruning: %q %v %v after %d visits", y, ok, err, d.Visited)
	}
}

func TestBFSOptions(t *testing.T) {
	g := IntGame{Target: 10, Numbers: 3}
	for _, sel := range []string{"greedy", "sample"} {
		b := &BFS{NPropose: 12, NEvaluate: 1, NSelect: 3, Select: sel, Seed: 2}
		ys, log, err := b.Solve(context.Background(), &oracle{target: 10}, g, "2 3 4")
		if err != nil || len(log) != 2 || len(ys) != 3 {
			t.Fatalf("%s: %v %d levels %d thoughts", sel, err, len(log), len(ys))
		}
		if sel == "greedy" && !tasks.VerifyIntSteps("2 3 4", ys[0], 10) {
			t.Errorf("greedy with a perfect value model: %q", ys[0])
		}
	}
	if _, _, err := (&BFS{Generate: "guess"}).Solve(context.Background(), &oracle{}, g, "2 3 4"); err == nil {
		t.Error("unknown generation accepted")
	}
}
