// Package reason prompts language models and reasons with them without touching their
// weights: few-shot prompts from templates, chain-of-thought (Wei et al. 2022; zero-shot,
// Kojima et al. 2022), self-consistency (Wang et al. 2023) and tree-of-thoughts (Yao et al.
// 2023, in reason/tot), over one LLM interface with two backends — a qkv model in this
// process and any OpenAI-compatible HTTP endpoint — plus the plumbing every experiment wants:
// an on-disk cache of calls, retries, a concurrency limit and token and cost accounting.
package reason

import (
	"context"
	"fmt"
	"math"
)

// Request is one completion call. The zero value of each field is the default noted.
type Request struct {
	Prompt      string
	MaxTokens   int      // most tokens per completion (0: 256)
	Temperature float64  // 0 is greedy
	TopP        float64  // nucleus mass (0 or 1: all)
	N           int      // completions (0: 1)
	Stop        []string // the text ends before the first of these
	Seed        uint64   // sample i draws from Seed+i
	Logprobs    bool     // fill Completion.Logprob
	Constraint  *Constraint
}

// Constraint restricts the output to a formal language (see reason/constrain): exactly one
// field is set. A local model enforces it with token masks; an HTTP endpoint receives it as
// vLLM's guided_regex, guided_json or guided_choice fields (others ignore them, so the caller
// still parses and checks the text).
type Constraint struct {
	Regex      string   `json:"regex,omitempty"`
	JSONSchema string   `json:"json_schema,omitempty"`
	Choice     []string `json:"choice,omitempty"`
}

// Completion is one generated text.
type Completion struct {
	Text         string  `json:"text"`
	Logprob      float64 `json:"logprob"`       // sum of the chosen tokens' log-probabilities (with Logprobs)
	Tokens       int     `json:"tokens"`        // generated tokens
	FinishReason string  `json:"finish_reason"` // "stop" or "length"
}

// Usage counts tokens.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// Response is the answer to one Request.
type Response struct {
	Completions []Completion `json:"completions"`
	Usage       Usage        `json:"usage"`
	Cached      bool         `json:"-"` // served from the on-disk cache
}

// LLM completes prompts. Implementations are safe for concurrent use.
type LLM interface {
	Complete(ctx context.Context, req Request) (*Response, error)
	// Name identifies the model (a folder, or endpoint and model name) in cache keys and logs.
	Name() string
}

func (r *Request) normalise() error {
	if r.MaxTokens == 0 {
		r.MaxTokens = 256
	}
	if r.N == 0 {
		r.N = 1
	}
	switch {
	case r.MaxTokens < 0:
		return fmt.Errorf("reason: max tokens %d must be positive", r.MaxTokens)
	case r.N < 0 || r.N > 1000:
		return fmt.Errorf("reason: n %d must be in [1, 1000]", r.N)
	case math.IsNaN(r.Temperature) || r.Temperature < 0 || r.Temperature > 100:
		return fmt.Errorf("reason: temperature %g must be in [0, 100]", r.Temperature)
	case math.IsNaN(r.TopP) || r.TopP < 0 || r.TopP > 1:
		return fmt.Errorf("reason: top-p %g must be in [0, 1]", r.TopP)
	}
	if c := r.Constraint; c != nil {
		set := 0
		if c.Regex != "" {
			set++
		}
		if c.JSONSchema != "" {
			set++
		}
		if len(c.Choice) > 0 {
			set++
		}
		if set != 1 {
			return fmt.Errorf("reason: a constraint sets exactly one of regex, JSON schema and choice (%d set)", set)
		}
	}
	return nil
}

// Texts returns the completions' texts.
func (r *Response) Texts() []string {
	out := make([]string, len(r.Completions))
	for i, c := range r.Completions {
		out[i] = c.Text
	}
	return out
}
