package serve

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/qkvdev/qkv/reason/constrain"
	"github.com/qkvdev/qkv/sample"
)

// job is one validated generation request: prompts × n choices.
type job struct {
	m      *Model
	prompt int // prompt tokens, all prompts together
	reqs   []*genRequest
	events chan genEvent
}

// genOptions are the validated sampling fields of a request.
type genOptions struct {
	n         int
	maxTokens *int // nil: fill the context (chat) or defaultMax
	stops     []string
	opts      sample.Options
	presence  float64
	frequency float64
	bias      map[int]float64
	logprobs  int              // -1 none
	format    *constrain.Index // response_format's token masks (nil: plain text)
}

// checkSampling validates what completions and chat share; maxTokens is the request's
// max_tokens or max_completion_tokens.
func (m *Model) checkSampling(p *samplingParams, maxTokens *int) (genOptions, error) {
	o := genOptions{n: 1, maxTokens: maxTokens, logprobs: -1}
	if p.N != nil {
		if *p.N < 1 || *p.N > 128 {
			return o, invalid("n", "n = %d, want 1..128", *p.N)
		}
		o.n = *p.N
	}
	if maxTokens != nil && *maxTokens < 1 {
		return o, invalid("max_tokens", "max_tokens = %d, want at least 1", *maxTokens)
	}
	stops, err := parseStop(p.Stop)
	if err != nil {
		return o, err
	}
	o.stops = stops
	o.opts.Temperature = 1 // OpenAI's default; 0 is greedy
	if t := p.Temperature; t != nil {
		if math.IsNaN(*t) || *t < 0 || *t > 2 {
			return o, invalid("temperature", "temperature = %g, want 0..2 (0 is greedy)", *t)
		}
		o.opts.Temperature = *t
	}
	if tp := p.TopP; tp != nil {
		if math.IsNaN(*tp) || *tp < 0 || *tp > 1 {
			return o, invalid("top_p", "top_p = %g, want 0..1", *tp)
		}
		o.opts.TopP = *tp
		if *tp == 0 { // the smallest nucleus: the most likely token
			o.opts.Temperature = 0
		}
	}
	for _, f := range []struct {
		name string
		v    *float64
		dst  *float64
	}{{"presence_penalty", p.PresencePenalty, &o.presence}, {"frequency_penalty", p.FrequencyPenalty, &o.frequency}} {
		if f.v == nil {
			continue
		}
		if math.IsNaN(*f.v) || *f.v < -2 || *f.v > 2 {
			return o, invalid(f.name, "%s = %g, want -2..2", f.name, *f.v)
		}
		*f.dst = *f.v
	}
	if len(p.LogitBias) > 0 {
		if len(p.LogitBias) > 300 {
			return o, invalid("logit_bias", "logit_bias has %d entries; at most 300 are allowed", len(p.LogitBias))
		}
		o.bias = map[int]float64{}
		for k, v := range p.LogitBias {
			id, err := strconv.Atoi(k)
			if err != nil || id < 0 || id >= m.gpt.Config.VocabSize {
				return o, invalid("logit_bias", "logit_bias key %q is not a token id of this model (0..%d)", k, m.gpt.Config.VocabSize-1)
			}
			if math.IsNaN(v) || v < -100 || v > 100 {
				return o, invalid("logit_bias", "logit_bias[%s] = %g, want -100..100", k, v)
			}
			o.bias[id] = v
		}
	}
	if p.StreamOptions != nil && !p.Stream {
		return o, invalid("stream_options", "stream_options is only allowed when stream is true")
	}
	if p.Seed != nil {
		o.opts.Seed = uint64(*p.Seed)
	} else {
		var b [8]byte
		rand.Read(b[:])
		o.opts.Seed = binary.LittleEndian.Uint64(b[:])
	}
	return o, nil
}

// startJob checks the prompts against the context and vocabulary, builds the sequences
// (prompt i's choice j has index i·n + j and seed seed + index) and queues them.
func (m *Model) startJob(ctx context.Context, prompts [][]int, o genOptions, param string, defaultMax int) (*job, error) {
	ctxLen := m.gpt.Config.NPositions
	V := m.gpt.Config.VocabSize
	j := &job{m: m}
	maxTokens := make([]int, len(prompts)) // per prompt
	total := 0
	for i, p := range prompts {
		if len(p) == 0 {
			eos := m.gpt.Config.EOSTokenID
			if eos == nil {
				return nil, invalid(param, "the prompt is empty; this model has no end-of-text token to start from, so give at least one token")
			}
			p = []int{*eos}
			prompts[i] = p
		}
		j.prompt += len(p)
		for k, id := range p {
			if id < 0 || id >= V {
				return nil, invalid(param, "token %d at position %d is not a token id of this model (0..%d)", id, k, V-1)
			}
		}
		mt := defaultMax
		if o.maxTokens != nil {
			mt = *o.maxTokens
		}
		if mt <= 0 || mt > ctxLen-len(p) {
			mt = ctxLen - len(p)
		}
		if o.maxTokens != nil && len(p)+*o.maxTokens > ctxLen {
			return nil, &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: strp(param), Code: strp("context_length_exceeded"),
				Message: fmt.Sprintf("this model's maximum context length is %d tokens; you requested %d tokens (%d in the prompt, %d for the completion); shorten the prompt or lower max_tokens", ctxLen, len(p)+*o.maxTokens, len(p), *o.maxTokens)}
		}
		if mt < 1 {
			return nil, &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: strp(param), Code: strp("context_length_exceeded"),
				Message: fmt.Sprintf("this model's maximum context length is %d tokens and the prompt has %d, which leaves no room for a completion; shorten the prompt", ctxLen, len(p))}
		}
		maxTokens[i] = mt
		total += o.n * (mt + 2)
	}
	if len(prompts)*o.n > m.sched.maxBatch*4 && len(prompts)*o.n > cap(m.sched.queue) {
		return nil, invalid("n", "%d prompts × n = %d asks for %d sequences; this server takes at most %d at once", len(prompts), o.n, len(prompts)*o.n, cap(m.sched.queue))
	}
	j.events = make(chan genEvent, total)
	for i, p := range prompts {
		for c := 0; c < o.n; c++ {
			so := o.opts
			so.Seed += uint64(i*o.n + c)
			smp, err := sample.New(so)
			if err != nil {
				return nil, invalid("temperature", "%v", err)
			}
			j.reqs = append(j.reqs, &genRequest{ctx: ctx, index: i*o.n + c, prompt: p, maxTokens: maxTokens[i], sampler: smp,
				presence: o.presence, frequency: o.frequency, bias: o.bias, stops: o.stops, logprobs: o.logprobs, events: j.events})
			if o.format != nil {
				j.reqs[len(j.reqs)-1].format = o.format.NewState()
			}
		}
	}
	if err := j.start(); err != nil {
		return nil, err
	}
	return j, nil
}

// start queues the job's sequences, or answers 503 when the queue is full.
func (j *job) start() error {
	if !j.m.sched.submit(j.reqs) {
		if j.m.sched.closing.Load() {
			return overloaded(5, "the server is shutting down")
		}
		return overloaded(1, "the server is busy: %d sequences are waiting for model %s; retry shortly", len(j.m.sched.queue), j.m.Name)
	}
	return nil
}

// choiceResult is what one choice produced, for a non-streaming response.
type choiceResult struct {
	text   string
	tokens []genEvent
	finish string
}

// drain calls each for every event until every choice has finished and returns the usage.
// It ends early with ctx's error or the first decoding error.
func (j *job) drain(ctx context.Context, each func(genEvent)) (usage, error) {
	left, completion := len(j.reqs), 0
	for left > 0 {
		var ev genEvent
		select {
		case ev = <-j.events:
		case <-ctx.Done():
			return usage{}, ctx.Err()
		}
		if ev.err != nil {
			return usage{}, genError(ev.err)
		}
		completion++
		if ev.finish != "" {
			left--
		}
		each(ev)
	}
	return usage{PromptTokens: j.prompt, CompletionTokens: completion, TotalTokens: j.prompt + completion}, nil
}

// collect waits for every choice to finish. An error ends the job (cancelling the others
// through ctx is the caller's).
func (j *job) collect(ctx context.Context) ([]choiceResult, usage, error) {
	res := make([]choiceResult, len(j.reqs))
	u, err := j.drain(ctx, func(ev genEvent) {
		r := &res[ev.index]
		r.text += ev.text
		r.tokens = append(r.tokens, ev)
		if ev.finish != "" {
			r.finish = ev.finish
		}
	})
	if err != nil {
		return nil, usage{}, err
	}
	return res, u, nil
}

// genError turns a decoding loop's error into the API's.
func genError(err error) error {
	if errors.Is(err, errShuttingDown) {
		return overloaded(5, "the server is shutting down")
	}
	return err
}
