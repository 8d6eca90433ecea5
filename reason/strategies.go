package reason

import (
	"context"
	"fmt"
)

// Prompting strategies for question–answer tasks (GSM8K, generated arithmetic): each renders
// a prompt, calls the model and extracts a normalised answer.

// QA configures the question–answer strategies.
type QA struct {
	Direct      *Prompter // IO prompting: the answer at once
	CoT         *Prompter // chain-of-thought prompting
	Extract     Extractor // the final answer of a completion
	MaxTokens   int
	Stop        []string
	Temperature float64 // for self-consistency samples
	TopP        float64
	Seed        uint64
	Weighted    bool
}

// IO answers greedily from the direct prompt; the prompt's tail ("The answer is") is put back
// before extraction.
func (q *QA) IO(ctx context.Context, llm LLM, it Item) (Outcome, error) {
	p, err := q.Direct.Prompt(it.Question)
	if err != nil {
		return Outcome{}, err
	}
	r, err := llm.Complete(ctx, Request{Prompt: p, MaxTokens: q.MaxTokens, Stop: q.Stop, Seed: q.Seed})
	if err != nil {
		return Outcome{}, err
	}
	pred := q.Extract("The answer is " + r.Completions[0].Text)
	return Outcome{Pred: pred, Correct: pred != "" && pred == it.Answer, Detail: r.Completions[0].Text}, nil
}

// CoT answers greedily after worked steps.
func (q *QA) CoTGreedy(ctx context.Context, llm LLM, it Item) (Outcome, error) {
	p, err := q.CoT.Prompt(it.Question)
	if err != nil {
		return Outcome{}, err
	}
	r, err := llm.Complete(ctx, Request{Prompt: p, MaxTokens: q.MaxTokens, Stop: q.Stop, Seed: q.Seed})
	if err != nil {
		return Outcome{}, err
	}
	pred := q.Extract(r.Completions[0].Text)
	return Outcome{Pred: pred, Correct: pred != "" && pred == it.Answer, Detail: r.Completions[0].Text}, nil
}

// ZeroShotCoT is Kojima et al.'s two passes: "Let's think step by step." produces reasoning,
// then the prompt, the reasoning and "Therefore, the answer (arabic numerals) is" produce the
// answer, from which the first number is taken.
func (q *QA) ZeroShotCoT(ctx context.Context, llm LLM, it Item) (Outcome, error) {
	t, err := ParseTemplate("zero-shot-cot", ZeroShotCoTTemplate)
	if err != nil {
		return Outcome{}, err
	}
	p, err := t.Execute(map[string]any{"Question": it.Question})
	if err != nil {
		return Outcome{}, err
	}
	r, err := llm.Complete(ctx, Request{Prompt: p, MaxTokens: q.MaxTokens, Stop: q.Stop, Seed: q.Seed})
	if err != nil {
		return Outcome{}, err
	}
	reasoning := r.Completions[0].Text
	r2, err := llm.Complete(ctx, Request{Prompt: p + reasoning + ZeroShotCoTExtraction, MaxTokens: 32, Stop: q.Stop, Seed: q.Seed})
	if err != nil {
		return Outcome{}, err
	}
	pred := firstNumber(r2.Completions[0].Text)
	return Outcome{Pred: pred, Correct: pred != "" && pred == it.Answer, Detail: reasoning + ZeroShotCoTExtraction + r2.Completions[0].Text}, nil
}

func firstNumber(s string) string {
	if m := numberPat.FindString(s); m != "" {
		return NormalizeNumber(m)
	}
	return ""
}

// SelfConsistency samples k CoT paths and takes the majority answer.
func (q *QA) SelfConsistency(k int) Strategy {
	return func(ctx context.Context, llm LLM, it Item) (Outcome, error) {
		if k < 1 {
			return Outcome{}, fmt.Errorf("reason: self-consistency needs k ≥ 1")
		}
		p, err := q.CoT.Prompt(it.Question)
		if err != nil {
			return Outcome{}, err
		}
		sc := &SelfConsistency{K: k, Temperature: q.Temperature, TopP: q.TopP, MaxTokens: q.MaxTokens, Stop: q.Stop, Seed: q.Seed, Weighted: q.Weighted, Extract: q.Extract}
		v, err := sc.Run(ctx, llm, p)
		if err != nil {
			return Outcome{}, err
		}
		return Outcome{Pred: v.Answer, Correct: v.Answer != "" && v.Answer == it.Answer, Detail: v}, nil
	}
}
