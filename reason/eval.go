package reason

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Item is one evaluation problem.
type Item struct {
	ID       int    `json:"id"`
	Question string `json:"question"`
	Answer   string `json:"answer"` // normalised reference answer
}

// Outcome is what a strategy concluded for an item.
type Outcome struct {
	Pred    string `json:"pred"`
	Correct bool   `json:"correct"`
	Detail  any    `json:"detail,omitempty"`
}

// Strategy answers one item with an LLM.
type Strategy func(ctx context.Context, llm LLM, it Item) (Outcome, error)

// Result is one scored item, a line of the results JSONL.
type Result struct {
	Item
	Outcome
	Calls            int64   `json:"calls"`
	Samples          int64   `json:"samples"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	Seconds          float64 `json:"seconds"`
	Error            string  `json:"error,omitempty"`
}

// Summary totals an evaluation.
type Summary struct {
	Items            int     `json:"items"`
	Done             int     `json:"done"`
	Correct          int     `json:"correct"`
	Accuracy         float64 `json:"accuracy"`
	Calls            int64   `json:"calls"`
	Samples          int64   `json:"samples"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	Seconds          float64 `json:"wall_seconds"`
	Interrupted      bool    `json:"interrupted"`
}

// Evaluate runs strategy over items, Concurrency at a time, calling onResult (from one
// goroutine at a time) as each finishes. When ctx is cancelled it stops starting items,
// lets none half-finish into the results, and returns what finished with Interrupted set.
// An item whose strategy fails is scored wrong with its error recorded, except a cancelled
// context, which is not a result.
func Evaluate(ctx context.Context, llm LLM, items []Item, strategy Strategy, concurrency int, onResult func(Result)) Summary {
	start := time.Now()
	var mu sync.Mutex
	sum := Summary{Items: len(items)}
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range max(concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(items) || ctx.Err() != nil {
					return
				}
				m := &Meter{LLM: llm}
				t0 := time.Now()
				out, err := strategy(ctx, m, items[i])
				if err != nil && (errors.Is(err, context.Canceled) || ctx.Err() != nil) {
					return
				}
				tot := m.Totals()
				r := Result{Item: items[i], Outcome: out, Calls: tot.Calls, Samples: tot.Samples, PromptTokens: tot.PromptTokens, CompletionTokens: tot.CompletionTokens, Seconds: time.Since(t0).Seconds()}
				if err != nil {
					r.Error = err.Error()
					r.Correct = false
				}
				mu.Lock()
				sum.Done++
				if r.Correct {
					sum.Correct++
				}
				sum.Calls += r.Calls
				sum.Samples += r.Samples
				sum.PromptTokens += r.PromptTokens
				sum.CompletionTokens += r.CompletionTokens
				if onResult != nil {
					onResult(r)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sum.Interrupted = sum.Done < sum.Items
	if sum.Done > 0 {
		sum.Accuracy = float64(sum.Correct) / float64(sum.Done)
	}
	sum.Seconds = time.Since(start).Seconds()
	return sum
}
