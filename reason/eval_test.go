package reason

import (
	"context"
	"testing"
)

// TestEvaluateInterrupted: cancelling mid-run keeps the finished items, scores none of the
// cancelled ones, and a rerun over the same cache makes no new model calls for them.
func TestEvaluateInterrupted(t *testing.T) {
	dir := t.TempDir()
	inner := &countLLM{}
	llm := &Cached{LLM: inner, Dir: dir}
	items := make([]Item, 10)
	for i := range items {
		items[i] = Item{ID: i, Question: string(rune('a' + i)), Answer: "1"}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := 0
	strategy := func(ctx context.Context, l LLM, it Item) (Outcome, error) {
		if done == 4 {
			cancel()
			return Outcome{}, ctx.Err()
		}
		r, err := l.Complete(ctx, Request{Prompt: it.Question, Seed: 1})
		if err != nil {
			return Outcome{}, err
		}
		p := ExtractNumber(r.Completions[0].Text)
		return Outcome{Pred: p, Correct: p == it.Answer}, nil
	}
	sum := Evaluate(ctx, llm, items, strategy, 1, func(Result) { done++ })
	if !sum.Interrupted || sum.Done != 4 || sum.Correct != 4 || sum.Calls != 4 {
		t.Fatalf("interrupted run: %+v", sum)
	}
	before := inner.calls.Load()
	done = -100 // no cancellation this time
	sum = Evaluate(context.Background(), llm, items, strategy, 3, nil)
	if sum.Interrupted || sum.Done != 10 || inner.calls.Load()-before != 6 {
		t.Fatalf("resumed run: %+v, %d new calls (want 6)", sum, inner.calls.Load()-before)
	}
}
