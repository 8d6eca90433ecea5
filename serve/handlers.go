package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/qkvdev/qkv/chat"
)

const fingerprint = "qkv"

func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// sse writes server-sent events, flushing each.
type sse struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	err error
}

func newSSE(w http.ResponseWriter) *sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &sse{w: w, rc: http.NewResponseController(w)}
}

func (s *sse) data(v any) {
	if s.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.err = err
		return
	}
	s.raw(b)
}

func (s *sse) raw(b []byte) {
	if s.err != nil {
		return
	}
	if _, s.err = fmt.Fprintf(s.w, "data: %s\n\n", b); s.err == nil {
		s.err = s.rc.Flush()
	}
}

// fail ends a stream that already started with an error event, as OpenAI's API does.
func (s *sse) fail(err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = &apiError{Message: err.Error(), Type: "server_error"}
	}
	s.data(map[string]any{"error": e})
}

// generator reads req from r's body and finds the model it names, which must generate text.
func (s *Server) generator(r *http.Request, req modelRequest) (*Model, error) {
	m, err := s.decodeModel(r, req)
	if err != nil {
		return nil, err
	}
	if !m.generates() {
		return nil, invalid("model", "the model %s (%s) does not generate text; use it with /v1/embeddings", m.Name, m.m.Type())
	}
	return m, nil
}

// ---- /v1/completions ----

func (s *Server) completions(w http.ResponseWriter, r *http.Request) error {
	var req completionRequest
	m, err := s.generator(r, &req)
	if err != nil {
		return err
	}
	prompt, err := parseTextOrTokens(req.Prompt, "prompt")
	if err != nil {
		return err
	}
	switch {
	case req.Echo:
		return invalid("echo", "echo is not supported")
	case req.Suffix != nil && *req.Suffix != "":
		return invalid("suffix", "suffix is not supported: this model only continues text")
	case req.BestOf != nil && (req.N == nil && *req.BestOf != 1 || req.N != nil && *req.BestOf != *req.N):
		return invalid("best_of", "best_of other than n is not supported")
	}
	o, err := m.checkSampling(&req.samplingParams, req.MaxTokens)
	if err != nil {
		return err
	}
	if req.Logprobs != nil {
		if *req.Logprobs < 0 || *req.Logprobs > 5 {
			return invalid("logprobs", "logprobs = %d, want 0..5", *req.Logprobs)
		}
		o.logprobs = *req.Logprobs
	}
	prompts := prompt.tokens
	for _, t := range prompt.texts {
		prompts = append(prompts, m.tok.Encode(t))
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()                                      // a finished or failed request takes its sequences out of the batch
	j, err := m.startJob(ctx, prompts, o, "prompt", 16) // OpenAI's default max_tokens for completions
	if err != nil {
		return err
	}
	head := responseHead{ID: newID("cmpl-"), Object: "text_completion", Created: now(), Model: m.Name, SystemFingerprint: fingerprint}
	if req.Stream {
		offsets := make([]int, len(j.reqs))
		stream(ctx, w, j, req.StreamOptions, head, nil, func(ev genEvent) []completionChoice {
			c := completionChoice{Text: ev.text, Index: ev.index}
			if ev.logprob != nil {
				c.Logprobs = m.legacyLogprobs([]genEvent{ev}, offsets[ev.index])
			}
			offsets[ev.index] += len(ev.text)
			if ev.finish != "" {
				c.FinishReason = strp(ev.finish)
			}
			return []completionChoice{c}
		})
		return nil
	}
	res, u, err := j.collect(ctx)
	if err != nil {
		return err
	}
	resp := completionResponse{responseHead: head, Usage: &u}
	for i, c := range res {
		ch := completionChoice{Text: c.text, Index: i, FinishReason: strp(c.finish)}
		if o.logprobs >= 0 {
			ch.Logprobs = m.legacyLogprobs(c.tokens, 0)
		}
		resp.Choices = append(resp.Choices, ch)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// stream sends a started job as server-sent events, one chunk (head and one choice) for
// each of first and then for each choice that each makes of an event; then, when opts
// asks for it, a chunk with the usage and no choices; then [DONE]. An error after the
// stream began is sent as an error event; a client that goes away ends it quietly.
func stream[C any](ctx context.Context, w http.ResponseWriter, j *job, opts *streamOptions, head responseHead, first []C, each func(genEvent) []C) {
	st := newSSE(w)
	send := func(cs []C) {
		for _, c := range cs {
			st.data(response[C]{responseHead: head, Choices: []C{c}})
		}
	}
	send(first)
	u, err := j.drain(ctx, func(ev genEvent) { send(each(ev)) })
	switch {
	case err == nil:
		if opts != nil && opts.IncludeUsage {
			st.data(response[C]{responseHead: head, Choices: []C{}, Usage: &u})
		}
	case ctx.Err() == nil:
		st.fail(err)
	}
	st.raw([]byte("[DONE]"))
}

// tokenText is how a token is shown in logprobs: its text, and its bytes.
func (m *Model) tokenText(id int) (string, []int) {
	s, err := m.tok.Decode([]int{id})
	if err != nil {
		return "", nil
	}
	b := make([]int, len(s))
	for i := range len(s) {
		b[i] = int(s[i])
	}
	return s, b
}

// legacyLogprobs is the completions API's logprobs object for tokens; offset is where the
// first token's text starts in the choice's text.
func (m *Model) legacyLogprobs(tokens []genEvent, offset int) *completionLogprobs {
	lp := &completionLogprobs{Tokens: []string{}, TokenLogprobs: []float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
	for _, ev := range tokens {
		if ev.logprob == nil {
			continue
		}
		t, _ := m.tokenText(ev.token)
		lp.Tokens = append(lp.Tokens, t)
		lp.TokenLogprobs = append(lp.TokenLogprobs, ev.logprob.logprob)
		top := map[string]float64{}
		for _, a := range ev.logprob.top {
			at, _ := m.tokenText(a.id)
			if _, seen := top[at]; !seen {
				top[at] = a.logprob
			}
		}
		lp.TopLogprobs = append(lp.TopLogprobs, top)
		lp.TextOffset = append(lp.TextOffset, offset)
		offset += len(ev.text)
	}
	return lp
}

// ---- /v1/chat/completions ----

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) error {
	var req chatRequest
	m, err := s.generator(r, &req)
	if err != nil {
		return err
	}
	if len(req.Messages) == 0 {
		return invalid("messages", "messages must be a non-empty list")
	}
	msgs := make([]chat.Message, len(req.Messages))
	for i, cm := range req.Messages {
		switch cm.Role {
		case "system", "developer", "user", "assistant", "tool":
		default:
			return invalid(fmt.Sprintf("messages[%d].role", i), "role %q is not one of system, developer, user, assistant, tool", cm.Role)
		}
		text, err := messageText(cm, i)
		if err != nil {
			return err
		}
		msgs[i] = chat.Message{Role: cm.Role, Content: text, Name: cm.Name}
	}
	maxTokens := req.MaxCompletionTokens
	if maxTokens == nil {
		maxTokens = req.MaxTokens
	}
	o, err := m.checkSampling(&req.samplingParams, maxTokens)
	if err != nil {
		return err
	}
	if o.format, err = m.checkFormat(req.ResponseFormat); err != nil {
		return err
	}
	if req.TopLogprobs != nil {
		if *req.TopLogprobs < 0 || *req.TopLogprobs > 20 {
			return invalid("top_logprobs", "top_logprobs = %d, want 0..20", *req.TopLogprobs)
		}
		if !req.Logprobs {
			return invalid("top_logprobs", "top_logprobs needs logprobs set to true")
		}
	}
	if req.Logprobs {
		o.logprobs = 0
		if req.TopLogprobs != nil {
			o.logprobs = *req.TopLogprobs
		}
	}
	o.stops = append(o.stops, m.stops...)
	text, err := m.tmpl.Render(msgs, true)
	if err != nil {
		var re *chat.RaisedError
		if errors.As(err, &re) {
			return invalid("messages", "the model's chat template rejects these messages: %s", re.Msg)
		}
		return invalid("messages", "%v", err)
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	j, err := m.startJob(ctx, [][]int{m.tok.Encode(text)}, o, "messages", 0)
	if err != nil {
		return err
	}
	head := responseHead{ID: newID("chatcmpl-"), Object: "chat.completion.chunk", Created: now(), Model: m.Name, SystemFingerprint: fingerprint}
	if req.Stream {
		empty := ""
		first := make([]chatChoice, len(j.reqs))
		for i := range first { // OpenAI's first chunk of each choice carries the role
			first[i] = chatChoice{Index: i, Delta: &chatOut{Role: "assistant", Content: &empty}}
		}
		stream(ctx, w, j, req.StreamOptions, head, first, func(ev genEvent) []chatChoice {
			var cs []chatChoice
			if ev.text != "" || ev.logprob != nil {
				t := ev.text
				c := chatChoice{Index: ev.index, Delta: &chatOut{Content: &t}}
				if ev.logprob != nil {
					c.Logprobs = &chatLogprobs{Content: []tokenLogprob{m.chatLogprob(ev)}, Refusal: nil}
				}
				cs = append(cs, c)
			}
			if ev.finish != "" {
				cs = append(cs, chatChoice{Index: ev.index, Delta: &chatOut{}, FinishReason: strp(ev.finish)})
			}
			return cs
		})
		return nil
	}
	res, u, err := j.collect(ctx)
	if err != nil {
		return err
	}
	resp := chatResponse{responseHead: head, Usage: &u}
	resp.Object = "chat.completion"
	for i, c := range res {
		text := c.text
		ch := chatChoice{Index: i, Message: &chatOut{Role: "assistant", Content: &text}, FinishReason: strp(c.finish)}
		if o.logprobs >= 0 {
			lp := &chatLogprobs{Content: []tokenLogprob{}}
			for _, ev := range c.tokens {
				if ev.logprob != nil {
					lp.Content = append(lp.Content, m.chatLogprob(ev))
				}
			}
			ch.Logprobs = lp
		}
		resp.Choices = append(resp.Choices, ch)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (m *Model) chatLogprob(ev genEvent) tokenLogprob {
	t, b := m.tokenText(ev.token)
	out := tokenLogprob{Token: t, Logprob: ev.logprob.logprob, Bytes: b, TopLogprobs: []topLogprob{}}
	for _, a := range ev.logprob.top {
		at, ab := m.tokenText(a.id)
		out.TopLogprobs = append(out.TopLogprobs, topLogprob{Token: at, Logprob: a.logprob, Bytes: ab})
	}
	return out
}
