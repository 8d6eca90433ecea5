package reason

import (
	"context"
	"fmt"
	"math"
)

// SelfConsistency samples K reasoning paths for one prompt and returns the most frequent
// final answer (Wang et al. 2023, "marginalising out" the reasoning).
//
// Votes: each completion's answer (by Extract) counts 1, or with Weighted its probability
// normalised by length, exp(logprob / tokens) ∈ (0, 1]. Unparseable completions (answer "")
// do not vote and are counted in Vote.Unparsed; if no completion parses the answer is "".
// Ties: among answers with the same top count, the one sampled first wins (deterministic for
// a seed). Early stop: samples are drawn Batch at a time, and drawing ends as soon as the
// leader's margin over the runner-up exceeds what the samples still to come could add, so the
// answer is the one all K samples would give.
type SelfConsistency struct {
	K           int // samples (paths)
	Batch       int // samples per call (default 1, the finest early stopping)
	Temperature float64
	TopP        float64
	MaxTokens   int
	Stop        []string
	Seed        uint64
	Weighted    bool
	NoEarlyStop bool
	Extract     Extractor
}

// Vote is the outcome of one self-consistency run.
type Vote struct {
	Answer   string             `json:"answer"`
	Counts   map[string]float64 `json:"counts"`
	Answers  []string           `json:"answers"` // per sample, in order ("" unparseable)
	Unparsed int                `json:"unparsed"`
	Tie      bool               `json:"tie"` // the winner tied on count and won by order
	Samples  int                `json:"samples"`
	Calls    int                `json:"calls"`
	Stopped  bool               `json:"early_stopped"`
}

// Run draws the samples and votes.
func (sc *SelfConsistency) Run(ctx context.Context, llm LLM, prompt string) (*Vote, error) {
	if sc.K <= 0 {
		return nil, fmt.Errorf("reason: self-consistency needs k ≥ 1 samples, not %d", sc.K)
	}
	if sc.Extract == nil {
		return nil, fmt.Errorf("reason: self-consistency needs an answer extractor")
	}
	batch := max(sc.Batch, 1)
	v := &Vote{Counts: map[string]float64{}}
	first := map[string]int{}
	for v.Samples < sc.K {
		n := min(batch, sc.K-v.Samples)
		resp, err := llm.Complete(ctx, Request{Prompt: prompt, N: n, Temperature: sc.Temperature, TopP: sc.TopP, MaxTokens: sc.MaxTokens, Stop: sc.Stop, Seed: sc.Seed + uint64(v.Samples), Logprobs: sc.Weighted})
		if err != nil {
			return nil, err
		}
		v.Calls++
		for _, c := range resp.Completions {
			a := sc.Extract(c.Text)
			v.Answers = append(v.Answers, a)
			v.Samples++
			if a == "" {
				v.Unparsed++
				continue
			}
			w := 1.0
			if sc.Weighted {
				w = math.Exp(c.Logprob / float64(max(c.Tokens, 1)))
			}
			if _, ok := first[a]; !ok {
				first[a] = len(v.Answers) - 1
			}
			v.Counts[a] += w
		}
		if !sc.NoEarlyStop && v.Samples < sc.K && decided(v.Counts, float64(sc.K-v.Samples)) {
			v.Stopped = true
			break
		}
	}
	v.Answer, v.Tie = leader(v.Counts, first)
	return v, nil
}

// decided reports whether the leader's margin exceeds the votes still to come.
func decided(counts map[string]float64, remaining float64) bool {
	var top, second float64
	for _, c := range counts {
		switch {
		case c > top:
			top, second = c, top
		case c > second:
			second = c
		}
	}
	return top-second > remaining
}

// leader returns the answer with the highest count, ties to the one sampled first.
func leader(counts map[string]float64, first map[string]int) (string, bool) {
	best, tie := "", false
	for a, c := range counts {
		switch {
		case best == "" || c > counts[best]:
			best, tie = a, false
		case c == counts[best]:
			tie = true
			if first[a] < first[best] {
				best = a
			}
		}
	}
	if best != "" {
		// tie is only meaningful for the final leader's count
		tie = false
		for a, c := range counts {
			if a != best && c == counts[best] {
				tie = true
			}
		}
	}
	return best, tie
}
