package gpt

import (
	"context"
	"fmt"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/sample"
)

// Generator decodes one sequence with a KV cache: the prompt is processed in one forward pass
// (prefill), then each new token costs one position. When the context fills up, the cache is
// rebuilt from the most recent half of the context and decoding continues.
type Generator struct {
	m      *Model
	g      *autograd.Graph
	caches []*nn.KVCache
	seq    []int // every token so far (prompt and generated)
	logits []float32
	dec    *decoder // the fused single-token step (see decoder), built on first use
}

// fusedDecode turns the fused decoding step on; tests turn it off to compare with the graph.
var fusedDecode = true

// NewGenerator returns a generator for batch size 1.
func (m *Model) NewGenerator() *Generator {
	g := autograd.NewGraph()
	g.SetGrad(false)
	return &Generator{m: m, g: g, caches: m.NewCaches(1)}
}

// Start resets the generator and processes the prompt, returning the logits for the token after
// it. The slice is valid until the next call.
func (gen *Generator) Start(prompt []int) ([]float32, error) {
	if len(prompt) == 0 {
		return nil, fmt.Errorf("gpt: empty prompt: give at least one token")
	}
	for i, id := range prompt {
		if id < 0 || id >= gen.m.Config.VocabSize {
			return nil, fmt.Errorf("gpt: prompt token %d at position %d is outside the vocabulary [0, %d)", id, i, gen.m.Config.VocabSize)
		}
	}
	gen.seq = append(gen.seq[:0], prompt...)
	return gen.refill(), nil
}

// refill rebuilds the cache from the last tokens of the sequence that fit (all of them if they
// fit, else the most recent half of the context) and returns the next-token logits.
func (gen *Generator) refill() []float32 {
	ctx := gen.m.Config.NPositions
	window := gen.seq
	if len(window) > ctx {
		window = window[len(window)-max(1, ctx/2):]
	}
	for _, c := range gen.caches {
		c.Reset()
	}
	return gen.forward(window)
}

func (gen *Generator) forward(ids []int) []float32 {
	gen.g.Reset()
	out := gen.m.Forward(gen.g, ids, 1, len(ids), &State{Caches: gen.caches, LastOnly: true})
	gen.logits = append(gen.logits[:0], out.Value.Data()...)
	return gen.logits
}

// Next appends id to the sequence and returns the logits for the token after it.
func (gen *Generator) Next(id int) ([]float32, error) {
	if id < 0 || id >= gen.m.Config.VocabSize {
		return nil, fmt.Errorf("gpt: token %d is outside the vocabulary [0, %d)", id, gen.m.Config.VocabSize)
	}
	gen.seq = append(gen.seq, id)
	if gen.caches[0].Len >= gen.m.Config.NPositions {
		return gen.refill(), nil
	}
	if fusedDecode && (gen.dec == nil || !gen.dec.current()) {
		gen.dec = newDecoder(gen.m, gen.caches)
	}
	if !fusedDecode || gen.dec == nil {
		return gen.forward(gen.seq[len(gen.seq)-1:]), nil
	}
	if cap(gen.logits) < gen.m.Config.VocabSize {
		gen.logits = make([]float32, gen.m.Config.VocabSize)
	}
	gen.logits = gen.logits[:gen.m.Config.VocabSize]
	gen.dec.step(id, gen.logits)
	return gen.logits, nil
}

// Sequence returns every token so far.
func (gen *Generator) Sequence() []int { return gen.seq }

// Generate continues prompt by up to maxTokens tokens chosen by s, calling emit with each new
// token as soon as it is chosen; emit returning false stops generation (a stop sequence was
// seen). Generation also stops at the config's eos_token_id, if set, and when ctx is done.
// It returns the generated tokens.
func (m *Model) Generate(ctx context.Context, prompt []int, maxTokens int, s *sample.Sampler, emit func(id int) bool) ([]int, error) {
	gen := m.NewGenerator()
	logits, err := gen.Start(prompt)
	if err != nil {
		return nil, err
	}
	var out []int
	for len(out) < maxTokens {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		id := s.Next(logits, gen.Sequence())
		if id < 0 {
			return out, fmt.Errorf("gpt: the model produced no finite logit (non-finite weights?)")
		}
		out = append(out, id)
		if emit != nil && !emit(id) {
			break
		}
		if eos := m.Config.EOSTokenID; eos != nil && id == *eos {
			break
		}
		if len(out) == maxTokens {
			break
		}
		if logits, err = gen.Next(id); err != nil {
			return out, err
		}
	}
	return out, nil
}
