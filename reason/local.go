package reason

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/reason/constrain"
	"github.com/qkvdev/qkv/sample"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/textstream"
	"github.com/qkvdev/qkv/tokenizer"
)

// Local is a qkv GPT model in this process. The prompt is processed once per request
// (prefill) and each of the N samples continues from a copy of that key/value cache.
// Requests run one at a time (the model's kernels already use every thread).
type Local struct {
	name string
	m    *gpt.Model
	tok  tokenizer.Tokenizer

	mu      sync.Mutex
	prefill []int // the prompt base holds (a repeated prompt is not processed again)
	base    *gpt.Generator
	work    *gpt.Generator
	vocab   *constrain.Vocab
	indexes map[string]*constrain.Index // by constraint JSON
}

// LoadLocal loads a model folder or training run through model/auto for inference
// (auto.LoadForInference, float32: on the GEMM kernel's panels where the CPU runs them); it
// must be a GPT.
func LoadLocal(dir string) (*Local, error) {
	resolved, _, err := checkpoint.ResolveModel(dir)
	if err != nil {
		return nil, err
	}
	am, err := auto.LoadForInference(resolved, tensor.FP32)
	if err != nil {
		return nil, err
	}
	m, ok := auto.Family(am).(*gpt.Model)
	if !ok {
		return nil, fmt.Errorf("reason: %s is a %s model; reasoning needs a text generator (gpt2)", dir, am.Type())
	}
	tok, err := tokenizer.Load(resolved)
	if err != nil {
		return nil, err
	}
	return NewLocal(dir, m, tok)
}

// NewLocal wraps a loaded model and its tokenizer.
func NewLocal(name string, m *gpt.Model, tok tokenizer.Tokenizer) (*Local, error) {
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("reason: the tokenizer has %d tokens but the model only %d", tok.VocabSize(), m.Config.VocabSize)
	}
	return &Local{name: name, m: m, tok: tok, base: m.NewGenerator(), work: m.NewGenerator(), indexes: map[string]*constrain.Index{}}, nil
}

// Name returns the model folder.
func (l *Local) Name() string { return "local:" + l.name }

// Complete samples req.N continuations of req.Prompt.
func (l *Local) Complete(ctx context.Context, req Request) (*Response, error) {
	if err := req.normalise(); err != nil {
		return nil, err
	}
	ids := l.tok.Encode(req.Prompt)
	if c, ok := l.tok.(*tokenizer.Char); ok {
		if r, all := c.Covers(req.Prompt); !all {
			return nil, fmt.Errorf("reason: the prompt has the character %q, which this character-level model does not know", r)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("reason: empty prompt")
	}
	var ix *constrain.Index
	if req.Constraint != nil {
		var err error
		if ix, err = l.index(req.Constraint); err != nil {
			return nil, err
		}
		if d := ix.DFA().Distance(0); d > req.MaxTokens {
			return nil, fmt.Errorf("reason: the constraint needs at least %d bytes but max tokens is %d", d, req.MaxTokens)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !slices.Equal(ids, l.prefill) {
		l.prefill = nil
		if _, err := l.base.Start(ids); err != nil {
			return nil, err
		}
		l.prefill = ids
	}
	resp := &Response{Usage: Usage{PromptTokens: len(ids)}}
	for i := range req.N {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := l.sampleOne(ctx, req, req.Seed+uint64(i), ix)
		if err != nil {
			return nil, err
		}
		resp.Completions = append(resp.Completions, c)
		resp.Usage.CompletionTokens += c.Tokens
	}
	return resp, nil
}

func (l *Local) sampleOne(ctx context.Context, req Request, seed uint64, ix *constrain.Index) (Completion, error) {
	s, err := sample.New(sample.Options{Temperature: req.Temperature, TopP: req.TopP, Seed: seed})
	if err != nil {
		return Completion{}, err
	}
	l.work.CopyFrom(l.base)
	gen := l.work
	logits := gen.Logits()
	ts := textstream.New(l.tok, req.Stop)
	var st *constrain.State
	if ix != nil {
		st = ix.NewState()
	}
	vocab := l.m.Config.VocabSize
	var eos = -1
	if e := l.m.Config.EOSTokenID; e != nil {
		eos = *e
	}
	c := Completion{FinishReason: "length"}
	var text []byte
	for c.Tokens < req.MaxTokens {
		if err := ctx.Err(); err != nil {
			return c, err
		}
		pick := logits
		if st != nil {
			pick = st.Mask(logits, req.MaxTokens-c.Tokens)
		}
		id := s.Next(pick, gen.Sequence())
		if id < 0 {
			if st != nil {
				return c, fmt.Errorf("reason: after %q no token of the model's vocabulary continues the constrained output within %d tokens (a character-level model writes only its training characters)", text, req.MaxTokens-c.Tokens)
			}
			return c, fmt.Errorf("reason: the model produced no finite logit (non-finite weights?)")
		}
		if st != nil {
			st.Advance(id)
			if id == vocab { // END
				c.FinishReason = "stop"
				break
			}
		}
		if req.Logprobs {
			c.Logprob += logSoftmaxAt(logits, id)
		}
		c.Tokens++
		if id == eos {
			c.FinishReason = "stop"
			break
		}
		delta, stopped, err := ts.Push(id)
		if err != nil {
			return c, err
		}
		text = append(text, delta...)
		if stopped || (st != nil && st.Done) {
			c.FinishReason = "stop"
			break
		}
		if c.Tokens == req.MaxTokens {
			break
		}
		if logits, err = gen.Next(id); err != nil {
			return c, err
		}
	}
	if rest, err := ts.Flush(); err == nil {
		text = append(text, rest...)
	}
	c.Text = string(text)
	return c, nil
}

// logSoftmaxAt is log p(id) under softmax(logits).
func logSoftmaxAt(logits []float32, id int) float64 {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v))
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - m)
	}
	return float64(logits[id]) - m - math.Log(sum)
}

// index returns the cached token index of a constraint, compiling it on first use.
func (l *Local) index(c *Constraint) (*constrain.Index, error) {
	key, _ := json.Marshal(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	if ix, ok := l.indexes[string(key)]; ok {
		return ix, nil
	}
	d, err := c.Compile()
	if err != nil {
		return nil, err
	}
	if l.vocab == nil {
		texts := make([]string, l.tok.VocabSize())
		for id := range texts {
			t, err := l.tok.Decode([]int{id})
			if err != nil {
				return nil, err
			}
			texts[id] = t
		}
		eos := -1
		if e := l.m.Config.EOSTokenID; e != nil {
			eos = *e
		}
		padded := make([]string, l.m.Config.VocabSize) // ids beyond the tokenizer never appear
		copy(padded, texts)
		l.vocab = constrain.NewVocab(padded, eos)
	}
	ix := constrain.NewIndex(d, l.vocab)
	l.indexes[string(key)] = ix
	return ix, nil
}

// Compile turns the constraint into a DFA.
func (c *Constraint) Compile() (*constrain.DFA, error) {
	switch {
	case c.Regex != "":
		return constrain.Regex(c.Regex)
	case c.JSONSchema != "":
		return constrain.JSONSchema([]byte(c.JSONSchema))
	case len(c.Choice) > 0:
		return constrain.Choice(c.Choice)
	}
	return nil, fmt.Errorf("reason: empty constraint")
}
