package serve

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, url, body string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

type envelope struct {
	Error *struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// Every bad request is a 4xx in OpenAI's envelope, never a 500.
func TestBadRequests(t *testing.T) {
	_, ts := newTestServer(t, Options{MaxBodyBytes: 4096})
	big := `{"model":"tiny-gpt","prompt":"` + strings.Repeat("x", 5000) + `"}`
	cases := []struct {
		name, path, body string
		status           int
		param            string
	}{
		{"malformed JSON", "/v1/completions", `{"model":`, 400, ""},
		{"not an object", "/v1/completions", `[1,2]`, 400, ""},
		{"trailing data", "/v1/completions", `{"model":"tiny-gpt","prompt":"x"} {}`, 400, ""},
		{"wrong type", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","max_tokens":"ten"}`, 400, "max_tokens"},
		{"wrong type temperature", "/v1/chat/completions", `{"model":"tiny-gpt","messages":[{"role":"user","content":"x"}],"temperature":"hot"}`, 400, "temperature"},
		{"body too large", "/v1/completions", big, 413, ""},
		{"unknown model", "/v1/completions", `{"model":"gpt-9","prompt":"x"}`, 404, "model"},
		{"missing model", "/v1/completions", `{"prompt":"x"}`, 400, "model"},
		{"missing prompt", "/v1/completions", `{"model":"tiny-gpt"}`, 400, "prompt"},
		{"prompt of wrong type", "/v1/completions", `{"model":"tiny-gpt","prompt":{"a":1}}`, 400, "prompt"},
		{"token out of vocabulary", "/v1/completions", `{"model":"tiny-gpt","prompt":[1,2,999]}`, 400, "prompt"},
		{"negative token", "/v1/completions", `{"model":"tiny-gpt","prompt":[-1]}`, 400, "prompt"},
		{"context", "/v1/completions", `{"model":"tiny-gpt","prompt":"hello","max_tokens":100}`, 400, "prompt"},
		{"max_tokens 0", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","max_tokens":0}`, 400, "max_tokens"},
		{"n 0", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","n":0}`, 400, "n"},
		{"n huge", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","n":100000}`, 400, "n"},
		{"temperature", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","temperature":2.5}`, 400, "temperature"},
		{"negative temperature", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","temperature":-1}`, 400, "temperature"},
		{"top_p", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","top_p":1.5}`, 400, "top_p"},
		{"presence", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","presence_penalty":3}`, 400, "presence_penalty"},
		{"frequency", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","frequency_penalty":-2.5}`, 400, "frequency_penalty"},
		{"logprobs", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","logprobs":6}`, 400, "logprobs"},
		{"five stops", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","stop":["a","b","c","d","e"]}`, 400, "stop"},
		{"empty stop", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","stop":""}`, 400, "stop"},
		{"stop of wrong type", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","stop":7}`, 400, "stop"},
		{"logit bias key", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","logit_bias":{"abc":1}}`, 400, "logit_bias"},
		{"logit bias value", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","logit_bias":{"5":101}}`, 400, "logit_bias"},
		{"stream_options without stream", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","stream_options":{"include_usage":true}}`, 400, "stream_options"},
		{"echo", "/v1/completions", `{"model":"tiny-gpt","prompt":"x","echo":true}`, 400, "echo"},
		{"embeddings model generates", "/v1/completions", `{"model":"tiny-bert","prompt":"x"}`, 400, "model"},
		{"no messages", "/v1/chat/completions", `{"model":"tiny-gpt","messages":[]}`, 400, "messages"},
		{"bad role", "/v1/chat/completions", `{"model":"tiny-gpt","messages":[{"role":"wizard","content":"x"}]}`, 400, "messages[0].role"},
		{"image part", "/v1/chat/completions", `{"model":"tiny-gpt","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, 400, "messages[0].content[0]"},
		{"top_logprobs without logprobs", "/v1/chat/completions", `{"model":"tiny-gpt","messages":[{"role":"user","content":"x"}],"top_logprobs":2}`, 400, "top_logprobs"},
		{"top_logprobs 21", "/v1/chat/completions", `{"model":"tiny-gpt","messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21}`, 400, "top_logprobs"},
		{"template exception", "/v1/chat/completions", `{"model":"tiny-chat","messages":[{"role":"user","content":"` + strings.Repeat("y", 300) + `"}]}`, 400, "messages"},
		{"embedding format", "/v1/embeddings", `{"model":"tiny-bert","input":"the cat","encoding_format":"int8"}`, 400, "encoding_format"},
		{"embedding empty", "/v1/embeddings", `{"model":"tiny-bert","input":""}`, 400, "input"},
		{"embedding too long", "/v1/embeddings", `{"model":"tiny-bert","input":"` + strings.Repeat("cat ", 40) + `"}`, 400, "input"},
		{"embedding dimensions", "/v1/embeddings", `{"model":"tiny-bert","input":"cat","dimensions":3}`, 400, "dimensions"},
		{"attention of nothing", "/v1/attention", `{"model":"tiny-gpt","input":""}`, 400, "input"},
		{"unknown endpoint", "/v1/images/generations", `{}`, 404, ""},
	}
	for _, c := range cases {
		res, body := post(t, ts.URL+c.path, c.body)
		var env envelope
		if err := json.Unmarshal(body, &env); err != nil || env.Error == nil {
			t.Errorf("%s: body %s is not an error envelope", c.name, body)
			continue
		}
		param := ""
		if env.Error.Param != nil {
			param = *env.Error.Param
		}
		if res.StatusCode != c.status || param != c.param || env.Error.Message == "" || env.Error.Type == "" {
			t.Errorf("%s: %d param %q %q, want %d param %q", c.name, res.StatusCode, param, env.Error.Message, c.status, c.param)
		}
	}
	// The context error states the numbers.
	_, body := post(t, ts.URL+"/v1/completions", `{"model":"tiny-gpt","prompt":"hello","max_tokens":100}`)
	if !strings.Contains(string(body), "64") || !strings.Contains(string(body), "105") || !strings.Contains(string(body), "context_length_exceeded") {
		t.Errorf("context error %s: want the limit 64 and the 105 requested", body)
	}
	// A wrong method on the page.
	res, _ := post(t, ts.URL+"/", `{}`)
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", res.StatusCode)
	}
}

// sseEvents reads a stream's data lines.
func sseEvents(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("unexpected SSE line %q", line)
		}
		out = append(out, data)
	}
	return out
}

// A chat stream is OpenAI's exact sequence: a role chunk, content chunks, a finish chunk, the
// usage chunk (when asked), then [DONE].
func TestChatStreamSequence(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	req, _ := http.NewRequest("POST", ts.URL+"/v1/chat/completions", strings.NewReader(`{"model":"tiny-gpt","messages":[{"role":"user","content":"Hi"}],"max_tokens":6,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}`))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := sseEvents(t, res.Body)
	if len(events) < 4 || events[len(events)-1] != "[DONE]" {
		t.Fatalf("events %q: want at least role, finish, usage and [DONE]", events)
	}
	type chunk struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Choices []struct {
			Index int `json:"index"`
			Delta struct {
				Role    *string `json:"role"`
				Content *string `json:"content"`
			} `json:"delta"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage *usage `json:"usage"`
	}
	var chunks []chunk
	for _, e := range events[:len(events)-1] {
		var c chunk
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatal(err)
		}
		if c.Object != "chat.completion.chunk" || c.ID != chunks0(chunks, c).ID {
			t.Errorf("chunk %s: object or id differs", e)
		}
		chunks = append(chunks, c)
	}
	first, usageChunk, finish := chunks[0], chunks[len(chunks)-1], chunks[len(chunks)-2]
	if first.Choices[0].Delta.Role == nil || *first.Choices[0].Delta.Role != "assistant" || first.Choices[0].Delta.Content == nil || *first.Choices[0].Delta.Content != "" {
		t.Errorf("first chunk %+v: want role assistant and empty content", first)
	}
	for _, c := range chunks[1 : len(chunks)-2] {
		if len(c.Choices) != 1 || c.Choices[0].Delta.Content == nil || c.Choices[0].Delta.Role != nil || c.Choices[0].FinishReason != nil {
			t.Errorf("content chunk %+v", c)
		}
	}
	if len(finish.Choices) != 1 || finish.Choices[0].FinishReason == nil || *finish.Choices[0].FinishReason != "length" || finish.Choices[0].Delta.Content != nil {
		t.Errorf("finish chunk %+v", finish)
	}
	if len(usageChunk.Choices) != 0 || usageChunk.Usage == nil || usageChunk.Usage.CompletionTokens != 6 {
		t.Errorf("usage chunk %+v", usageChunk)
	}
}

func chunks0[T any](cs []T, c T) T {
	if len(cs) == 0 {
		return c
	}
	return cs[0]
}

// Stop sequences end the text before them with finish_reason stop; penalties and logit bias
// change what is sampled.
func TestStopAndPenalties(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	complete := func(body string) (string, string) {
		res, b := post(t, ts.URL+"/v1/completions", body)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", body, res.StatusCode, b)
		}
		var r completionResponse
		json.Unmarshal(b, &r)
		return r.Choices[0].Text, *r.Choices[0].FinishReason
	}
	full, _ := complete(`{"model":"tiny-gpt","prompt":"ab","max_tokens":20,"temperature":0}`)
	// Stop at the third character the model writes.
	runes := []rune(full)
	if len(runes) < 4 {
		t.Fatalf("greedy text %q too short", full)
	}
	stop := string(runes[2:3])
	stopJSON, _ := json.Marshal([]string{stop, "\x01never"})
	text, finish := complete(`{"model":"tiny-gpt","prompt":"ab","max_tokens":20,"temperature":0,"stop":` + string(stopJSON) + `}`)
	if want := full[:strings.Index(full, stop)]; text != want || finish != "stop" {
		t.Errorf("stop %q: %q (%s), want %q (stop)", stop, text, finish, want)
	}
	// A huge bias on one token makes greedy decoding repeat it; a frequency penalty breaks the repetition.
	biased, _ := complete(`{"model":"tiny-gpt","prompt":"ab","max_tokens":5,"temperature":0,"logit_bias":{"65":100}}`)
	if biased != "AAAAA" {
		t.Errorf("logit_bias on 'A': %q", biased)
	}
	pen, _ := complete(`{"model":"tiny-gpt","prompt":"ab","max_tokens":5,"temperature":0,"logit_bias":{"65":1.5},"frequency_penalty":2}`)
	if strings.Count(pen, "A") > 3 {
		t.Errorf("frequency penalty did not break the repetition: %q", pen)
	}
}

func TestEmbeddingsBase64(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	decode := func(format string) [][]float32 {
		res, b := post(t, ts.URL+"/v1/embeddings", `{"model":"tiny-bert","input":["the cat","a dog sat"],"encoding_format":"`+format+`"}`)
		if res.StatusCode != 200 {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
		var r struct {
			Object string `json:"object"`
			Data   []struct {
				Object    string          `json:"object"`
				Embedding json.RawMessage `json:"embedding"`
			} `json:"data"`
		}
		json.Unmarshal(b, &r)
		var out [][]float32
		for _, d := range r.Data {
			if d.Object != "embedding" || r.Object != "list" {
				t.Errorf("objects %q %q", r.Object, d.Object)
			}
			var v []float32
			if format == "base64" {
				var s string
				json.Unmarshal(d.Embedding, &s)
				raw, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i+4 <= len(raw); i += 4 {
					v = append(v, math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
				}
			} else {
				json.Unmarshal(d.Embedding, &v)
			}
			out = append(out, v)
		}
		return out
	}
	f, b := decode("float"), decode("base64")
	if len(f) != 2 || len(f[0]) != 16 || fmt.Sprint(f) != fmt.Sprint(b) {
		t.Errorf("float %v and base64 %v differ", f, b)
	}
}

func TestAttentionEndpoint(t *testing.T) {
	_, ts := newTestServer(t, Options{MaxAttention: 20})
	for _, c := range []struct {
		model, input string
		tokens       int
	}{{"tiny-gpt", "hello", 5}, {"tiny-bert", "the cat sat", 5}} {
		res, b := post(t, ts.URL+"/v1/attention", `{"model":"`+c.model+`","input":"`+c.input+`"}`)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", c.model, res.StatusCode, b)
		}
		var r attentionResponse
		json.Unmarshal(b, &r)
		if len(r.Tokens) != c.tokens || r.Layers != 2 || len(r.Attention) != 2 || len(r.Attention[0]) != r.Heads || len(r.Attention[1][0]) != c.tokens {
			t.Fatalf("%s: %d tokens, %d layers, %d heads", c.model, len(r.Tokens), r.Layers, r.Heads)
		}
		for _, row := range r.Attention[1][0] {
			var sum float64
			for _, w := range row {
				sum += float64(w)
			}
			if math.Abs(sum-1) > 1e-3 {
				t.Errorf("%s: a row sums to %g", c.model, sum)
			}
		}
	}
	res, _ := post(t, ts.URL+"/v1/attention", `{"model":"tiny-gpt","input":"`+strings.Repeat("z", 21)+`"}`)
	if res.StatusCode != 400 {
		t.Errorf("21 tokens over a limit of 20: %d", res.StatusCode)
	}
}

// The runs endpoints follow a metrics log as it grows, complete lines only.
func TestRuns(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run-1")
	os.MkdirAll(run, 0o755)
	path := filepath.Join(run, "metrics.jsonl")
	os.WriteFile(path, []byte(`{"step":1,"loss":4.2,"lr":0.001}`+"\n"+`{"step":2,"loss":3.9,"lr":0.002}`+"\n"+`{"step":3,"lo`), 0o644)
	_, ts := newTestServer(t, Options{RunsDir: dir})
	get := func(url string) (int, map[string]any) {
		res, err := http.Get(ts.URL + url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	code, list := get("/v1/runs")
	if code != 200 || len(list["data"].([]any)) != 1 {
		t.Fatalf("runs: %d %v", code, list)
	}
	code, m := get("/v1/runs/run-1/metrics")
	if code != 200 || len(m["records"].([]any)) != 2 {
		t.Fatalf("metrics: %d %v", code, m)
	}
	off := int(m["offset"].(float64))
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`ss":3.7,"lr":0.003}` + "\n")
	f.Close()
	_, m = get(fmt.Sprintf("/v1/runs/run-1/metrics?offset=%d", off))
	recs := m["records"].([]any)
	if len(recs) != 1 || recs[0].(map[string]any)["loss"].(float64) != 3.7 {
		t.Errorf("appended records %v", recs)
	}
	for _, bad := range []string{"/v1/runs/..%2F..%2Fetc/metrics", "/v1/runs/nope/metrics", "/v1/runs/run-1/metrics?offset=-4", "/v1/runs/run-1/metrics?offset=x"} {
		if code, _ := get(bad); code != 400 && code != 404 {
			t.Errorf("%s: %d", bad, code)
		}
	}
}

// No CORS headers unless asked; with --cors only that origin is allowed.
func TestCORSAndAuth(t *testing.T) {
	_, plain := newTestServer(t, Options{})
	req, _ := http.NewRequest("GET", plain.URL+"/v1/models", nil)
	req.Header.Set("Origin", "http://evil.example")
	res, _ := http.DefaultClient.Do(req)
	res.Body.Close()
	if h := res.Header.Get("Access-Control-Allow-Origin"); h != "" {
		t.Errorf("CORS header %q without --cors", h)
	}
	_, cors := newTestServer(t, Options{CORSOrigin: "http://app.example", APIKey: "k"})
	for origin, want := range map[string]string{"http://app.example": "http://app.example", "http://evil.example": ""} {
		req, _ := http.NewRequest("OPTIONS", cors.URL+"/v1/completions", nil)
		req.Header.Set("Origin", origin)
		res, _ := http.DefaultClient.Do(req)
		res.Body.Close()
		if h := res.Header.Get("Access-Control-Allow-Origin"); h != want {
			t.Errorf("origin %s: allow %q, want %q", origin, h, want)
		}
	}
	res, body := post(t, cors.URL+"/v1/completions", `{"model":"tiny-gpt","prompt":"x"}`)
	if res.StatusCode != 401 || !strings.Contains(string(body), "invalid_api_key") {
		t.Errorf("no key: %d %s", res.StatusCode, body)
	}
	res, _ = post(t, cors.URL+"/v1/completions", `{"model":"tiny-gpt","prompt":"x","max_tokens":2}`, "Authorization", "Bearer k")
	if res.StatusCode != 200 {
		t.Errorf("right key: %d", res.StatusCode)
	}
	hres, err := http.Get(cors.URL + "/health")
	if err != nil || hres.StatusCode != 200 {
		t.Errorf("health needs no key: %v %v", hres, err)
	}
}

// A full queue answers 503 with Retry-After; a client that goes away frees its slot within
// one step; shutting down cancels what is still running, cleanly.
func TestQueueDisconnectShutdown(t *testing.T) {
	gate, gate2 := make(chan struct{}), make(chan struct{})
	gates := map[string]chan struct{}{"tiny-gpt": gate, "tiny-chat": gate2}
	s, ts := newTestServer(t, Options{MaxBatch: 1, QueueSize: 1, stepHook: func(model string) { <-gates[model] }})
	sched := s.models["tiny-gpt"].sched
	// Each loop waits in its hook before its first iteration; let it on to wait for a request.
	gate <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	body := `{"model":"tiny-gpt","prompt":"a","max_tokens":50,"stream":true}`
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/completions", strings.NewReader(body))
	type result struct {
		res *http.Response
		err error
	}
	first := make(chan result, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		first <- result{res, err}
	}()
	waitFor(t, "the first request to join the batch", func() bool { return sched.active.Load() == 1 })
	// Second request waits in the queue (size 1); the third finds it full.
	second := make(chan int, 1)
	go func() {
		res, _ := post(t, ts.URL+"/v1/completions", `{"model":"tiny-gpt","prompt":"b","max_tokens":2}`)
		second <- res.StatusCode
	}()
	waitFor(t, "the second request to queue", func() bool { return len(sched.queue) == 1 })
	res, b := post(t, ts.URL+"/v1/completions", `{"model":"tiny-gpt","prompt":"c","max_tokens":2}`)
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "overloaded") {
		t.Errorf("full queue: %d %q %s", res.StatusCode, res.Header.Get("Retry-After"), b)
	}
	// The first client goes away: one step later its slot is free.
	r := <-first
	if r.err != nil {
		t.Fatal(r.err)
	}
	cancel()
	r.res.Body.Close()
	stepsBefore := sched.steps.Load()
	for sched.active.Load() != 0 || sched.steps.Load() == stepsBefore {
		select {
		case gate <- struct{}{}:
		case <-time.After(10 * time.Second):
			t.Fatal("the loop stopped")
		}
		if sched.steps.Load()-stepsBefore > 1 && sched.active.Load() != 0 {
			// The server may take a moment to see the disconnect; what matters is that the
			// slot is freed at the first step after it does (checked at the top of each step).
			continue
		}
	}
	close(gate)
	if code := <-second; code != 200 {
		t.Errorf("the queued request: %d", code)
	}
	// Shutdown with a stream still running: it ends with an error event and [DONE].
	sched2 := s.models["tiny-chat"].sched
	gate2 <- struct{}{}
	done := make(chan []string, 1)
	go func() {
		res, err := http.Post(ts.URL+"/v1/completions", "application/json", strings.NewReader(`{"model":"tiny-chat","prompt":"a","max_tokens":100,"stream":true,"temperature":0,"logit_bias":{"0":-100}}`))
		if err != nil {
			done <- nil
			return
		}
		defer res.Body.Close()
		done <- sseEvents(t, res.Body)
	}()
	waitFor(t, "the stream to start", func() bool { return sched2.active.Load() == 1 })
	go func() {
		for {
			select {
			case gate2 <- struct{}{}:
			case <-sched2.done:
				return
			}
			time.Sleep(time.Millisecond) // slow steps, so the deadline below passes mid-stream
		}
	}()
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer scancel()
	s.Close(sctx)
	events := <-done
	if len(events) < 2 || events[len(events)-1] != "[DONE]" || !strings.Contains(events[len(events)-2], "shutting down") {
		t.Errorf("stream at shutdown ended with %q", events[max(0, len(events)-2):])
	}
	res, b = post(t, ts.URL+"/v1/completions", `{"model":"tiny-chat","prompt":"x","max_tokens":2}`)
	if res.StatusCode != 503 {
		t.Errorf("after shutdown: %d %s", res.StatusCode, b)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
