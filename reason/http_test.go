package reason

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeEndpoint answers /completions like an OpenAI-compatible server, after failing the first
// `fail` requests with status.
func fakeEndpoint(t *testing.T, fail int, status int, retryAfter string) (*httptest.Server, *atomic.Int64, chan map[string]any) {
	var n atomic.Int64
	bodies := make(chan map[string]any, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/completions") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		k := n.Add(1)
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		bodies <- body
		if int(k) <= fail {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(status)
			w.Write([]byte(`{"error":{"message":"slow down","type":"rate_limit"}}`))
			return
		}
		nChoices := 1
		if v, ok := body["n"].(float64); ok {
			nChoices = int(v)
		}
		var choices []map[string]any
		for i := range nChoices {
			choices = append(choices, map[string]any{"index": i, "text": " The answer is 42.", "finish_reason": "stop", "logprobs": map[string]any{"token_logprobs": []float64{-0.5, -0.25}}})
		}
		json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "text_completion", "model": body["model"], "choices": choices, "usage": map[string]any{"prompt_tokens": 7, "completion_tokens": 3 * nChoices}})
	}))
	t.Cleanup(srv.Close)
	return srv, &n, bodies
}

func TestHTTPComplete(t *testing.T) {
	srv, _, bodies := fakeEndpoint(t, 0, 0, "")
	h := NewHTTP(srv.URL+"/v1", "m", HTTPOptions{BaseDelay: time.Millisecond})
	r, err := h.Complete(context.Background(), Request{Prompt: "Q", N: 2, Temperature: 0.7, TopP: 0.9, Stop: []string{"\n"}, Seed: 5, MaxTokens: 9, Logprobs: true, Constraint: &Constraint{Regex: `\d+`}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Completions) != 2 || r.Completions[0].Text != " The answer is 42." || r.Completions[0].Logprob != -0.75 || r.Usage.PromptTokens != 7 {
		t.Fatalf("response %+v", r)
	}
	body := <-bodies
	for k, want := range map[string]any{"model": "m", "prompt": "Q", "n": 2.0, "temperature": 0.7, "top_p": 0.9, "seed": 5.0, "max_tokens": 9.0, "guided_regex": `\d+`} {
		if body[k] != want {
			t.Errorf("request %s = %v, want %v", k, body[k], want)
		}
	}
}

func TestHTTPRetries(t *testing.T) {
	for _, tc := range []struct {
		status     int
		retryAfter string
	}{{429, "0"}, {503, ""}, {500, "0.01"}} {
		srv, n, _ := fakeEndpoint(t, 2, tc.status, tc.retryAfter)
		h := NewHTTP(srv.URL+"/v1", "m", HTTPOptions{BaseDelay: time.Millisecond})
		if _, err := h.Complete(context.Background(), Request{Prompt: "Q"}); err != nil {
			t.Fatalf("status %d: %v", tc.status, err)
		}
		if n.Load() != 3 {
			t.Errorf("status %d: %d attempts, want 3", tc.status, n.Load())
		}
	}
	// Too many failures: a clear error, after MaxRetries+1 attempts.
	srv, n, _ := fakeEndpoint(t, 100, 503, "")
	h := NewHTTP(srv.URL+"/v1", "m", HTTPOptions{BaseDelay: time.Millisecond, MaxRetries: 2})
	_, err := h.Complete(context.Background(), Request{Prompt: "Q"})
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "gave up after 3 attempts") || n.Load() != 3 {
		t.Errorf("err %v after %d attempts", err, n.Load())
	}
	// 400 is not retried.
	srv, n, _ = fakeEndpoint(t, 100, 400, "")
	h = NewHTTP(srv.URL+"/v1", "m", HTTPOptions{BaseDelay: time.Millisecond})
	if _, err := h.Complete(context.Background(), Request{Prompt: "Q"}); err == nil || n.Load() != 1 {
		t.Errorf("400: err %v after %d attempts", err, n.Load())
	}
}

func TestRetryAfterHeader(t *testing.T) {
	for v, want := range map[string]time.Duration{"2": 2 * time.Second, "0.5": 500 * time.Millisecond} {
		if d, ok := retryAfter(v); !ok || d != want {
			t.Errorf("%q: %v %v", v, d, ok)
		}
	}
	if _, ok := retryAfter("soon"); ok {
		t.Error("garbage Retry-After accepted")
	}
}

func TestHTTPGarbageAndHang(t *testing.T) {
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`<html>not json`))
	}))
	defer garbage.Close()
	h := NewHTTP(garbage.URL+"/v1", "m", HTTPOptions{BaseDelay: time.Millisecond})
	if _, err := h.Complete(context.Background(), Request{Prompt: "Q"}); err == nil || !strings.Contains(err.Error(), "not an OpenAI completion") {
		t.Errorf("garbage: %v", err)
	}
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"choices":[]}`))
	}))
	defer empty.Close()
	h = NewHTTP(empty.URL+"/v1", "m", HTTPOptions{})
	if _, err := h.Complete(context.Background(), Request{Prompt: "Q"}); err == nil || !strings.Contains(err.Error(), "no completions") {
		t.Errorf("empty: %v", err)
	}
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`Welcome to nginx`))
	}))
	defer plain.Close()
	h = NewHTTP(plain.URL+"/v1", "m", HTTPOptions{})
	if _, err := h.Complete(context.Background(), Request{Prompt: "Q"}); err == nil || !strings.Contains(err.Error(), "not an OpenAI completion") {
		t.Errorf("plain text: %v", err)
	}
	h = NewHTTP(empty.URL+"/v1", "m", HTTPOptions{})
	if _, err := h.Complete(context.Background(), Request{Prompt: "Q"}); err == nil || !strings.Contains(err.Error(), "no completions") {
		t.Errorf("empty: %v", err)
	}
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	h = NewHTTP(hang.URL+"/v1", "m", HTTPOptions{Timeout: 20 * time.Millisecond, BaseDelay: time.Millisecond, MaxRetries: 1})
	if _, err := h.Complete(context.Background(), Request{Prompt: "Q"}); err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Errorf("hang: %v", err)
	}
}

// countLLM answers every prompt with "The answer is <seed mod 3>" and counts calls.
type countLLM struct{ calls atomic.Int64 }

func (c *countLLM) Name() string { return "count" }
func (c *countLLM) Complete(_ context.Context, req Request) (*Response, error) {
	if err := req.normalise(); err != nil {
		return nil, err
	}
	c.calls.Add(1)
	r := &Response{Usage: Usage{PromptTokens: 3}}
	for i := range req.N {
		r.Completions = append(r.Completions, Completion{Text: "The answer is " + string(rune('0'+(req.Seed+uint64(i))%3)), Tokens: 4})
		r.Usage.CompletionTokens += 4
	}
	return r, nil
}

func TestCachedAndMeter(t *testing.T) {
	inner := &countLLM{}
	dir := t.TempDir()
	m := &Meter{LLM: &Cached{LLM: &Limited{LLM: inner, N: 2}, Dir: dir}, InPrice: 1, OutPrice: 2}
	req := Request{Prompt: "p", N: 2, Seed: 3, Temperature: 0.5}
	for range 3 {
		if _, err := m.Complete(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	req.Seed = 4 // a different request
	if _, err := m.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if inner.calls.Load() != 2 {
		t.Errorf("%d model calls, want 2 (the rest from the cache)", inner.calls.Load())
	}
	tot := m.Totals()
	if tot.Calls != 4 || tot.CachedCalls != 2 || tot.Samples != 8 || tot.PromptTokens != 12 || tot.CompletionTokens != 32 || tot.Cost != (12*1+32*2)/1e6 {
		t.Errorf("totals %+v", tot)
	}
	// A new process (a rerun) finds the cache.
	inner2 := &countLLM{}
	c2 := &Cached{LLM: inner2, Dir: dir}
	if r, err := c2.Complete(context.Background(), req); err != nil || !r.Cached || inner2.calls.Load() != 0 {
		t.Errorf("rerun: cached %v, calls %d, err %v", r != nil && r.Cached, inner2.calls.Load(), err)
	}
}
