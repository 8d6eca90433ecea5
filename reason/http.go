package reason

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// HTTP is any OpenAI-compatible completions endpoint (qkv serve, Ollama, vLLM, llama.cpp's
// server, OpenAI), called through the official Go SDK. Failed calls are retried with
// exponential backoff and full jitter on 429 and 5xx answers, timeouts and dropped
// connections; a Retry-After header sets the wait instead.
type HTTP struct {
	client  openai.Client
	model   string
	baseURL string
	opts    HTTPOptions
}

// HTTPOptions tune the client; zero values take the defaults noted.
type HTTPOptions struct {
	APIKey     string        // sent as a bearer token ("" sends none)
	Timeout    time.Duration // per attempt (default 60s)
	MaxRetries int           // after the first attempt (default 4; negative: none)
	BaseDelay  time.Duration // first backoff (default 500ms); attempt k waits up to BaseDelay·2^k
	MaxDelay   time.Duration // longest wait (default 30s)
	Client     *http.Client  // for tests (default http.DefaultClient)
}

// NewHTTP returns a client of the endpoint at baseURL (such as http://localhost:8080/v1) for
// the named model.
func NewHTTP(baseURL, model string, o HTTPOptions) *HTTP {
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 4
	}
	if o.BaseDelay == 0 {
		o.BaseDelay = 500 * time.Millisecond
	}
	if o.MaxDelay == 0 {
		o.MaxDelay = 30 * time.Second
	}
	opts := []option.RequestOption{option.WithBaseURL(baseURL), option.WithMaxRetries(0)}
	if o.APIKey != "" {
		opts = append(opts, option.WithAPIKey(o.APIKey))
	} else {
		opts = append(opts, option.WithAPIKey("none"))
	}
	if o.Client != nil {
		opts = append(opts, option.WithHTTPClient(o.Client))
	}
	return &HTTP{client: openai.NewClient(opts...), model: model, baseURL: baseURL, opts: o}
}

// Name is the endpoint and model.
func (h *HTTP) Name() string { return h.baseURL + "#" + h.model }

// Complete calls /completions, retrying transient failures.
func (h *HTTP) Complete(ctx context.Context, req Request) (*Response, error) {
	if err := req.normalise(); err != nil {
		return nil, err
	}
	params := openai.CompletionNewParams{
		Model:       openai.CompletionNewParamsModel(h.model),
		Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String(req.Prompt)},
		MaxTokens:   openai.Int(int64(req.MaxTokens)),
		Temperature: openai.Float(req.Temperature),
		N:           openai.Int(int64(req.N)),
		Seed:        openai.Int(int64(req.Seed & (1<<63 - 1))),
	}
	if req.TopP > 0 {
		params.TopP = openai.Float(req.TopP)
	}
	if len(req.Stop) > 0 {
		params.Stop = openai.CompletionNewParamsStopUnion{OfStringArray: req.Stop}
	}
	if req.Logprobs {
		params.Logprobs = openai.Int(0)
	}
	var extra []option.RequestOption
	if c := req.Constraint; c != nil {
		switch {
		case c.Regex != "":
			extra = append(extra, option.WithJSONSet("guided_regex", c.Regex))
		case c.JSONSchema != "":
			extra = append(extra, option.WithJSONSet("guided_json", json.RawMessage(c.JSONSchema)))
		default:
			extra = append(extra, option.WithJSONSet("guided_choice", c.Choice))
		}
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
		out, err := h.client.Completions.New(actx, params, extra...)
		cancel()
		if err == nil {
			return h.convert(out, req)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		retry, wait, desc := h.classify(err, attempt)
		lastErr = fmt.Errorf("reason: %s: %s", h.baseURL, desc)
		if !retry || attempt >= h.opts.MaxRetries {
			if retry {
				return nil, fmt.Errorf("%w (gave up after %d attempts)", lastErr, attempt+1)
			}
			return nil, lastErr
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// classify decides whether err is worth retrying and how long to wait first.
func (h *HTTP) classify(err error, attempt int) (retry bool, wait time.Duration, desc string) {
	backoff := h.opts.BaseDelay << min(attempt, 20)
	backoff = min(backoff, h.opts.MaxDelay)
	jittered := time.Duration(rand.Int64N(int64(backoff) + 1)) // full jitter
	var apiErr *openai.Error
	switch {
	case errors.As(err, &apiErr):
		code := apiErr.StatusCode
		desc = fmt.Sprintf("HTTP %d: %s", code, strings.TrimSpace(apiErr.Message))
		if code == http.StatusTooManyRequests || code >= 500 {
			if apiErr.Response != nil {
				if d, ok := retryAfter(apiErr.Response.Header.Get("Retry-After")); ok {
					return true, min(d, h.opts.MaxDelay), desc
				}
			}
			return true, jittered, desc
		}
		return false, 0, desc
	case errors.Is(err, context.DeadlineExceeded):
		return true, jittered, fmt.Sprintf("no answer within %s (the endpoint hangs or is overloaded; raise the timeout)", h.opts.Timeout)
	}
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &syntax) || errors.As(err, &typeErr) || strings.Contains(err.Error(), "invalid character") || strings.Contains(err.Error(), "content-type") {
		return false, 0, "the answer is not an OpenAI completion (not JSON of the expected shape): " + err.Error()
	}
	return true, jittered, err.Error()
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

func (h *HTTP) convert(out *openai.Completion, req Request) (*Response, error) {
	if out == nil || len(out.Choices) == 0 {
		return nil, fmt.Errorf("reason: %s: the answer holds no completions (want %d); is this an OpenAI-compatible /v1 endpoint?", h.baseURL, req.N)
	}
	resp := &Response{Usage: Usage{PromptTokens: int(out.Usage.PromptTokens), CompletionTokens: int(out.Usage.CompletionTokens)}}
	for _, ch := range out.Choices {
		c := Completion{Text: ch.Text, FinishReason: string(ch.FinishReason), Tokens: len(ch.Logprobs.TokenLogprobs)}
		for _, lp := range ch.Logprobs.TokenLogprobs {
			c.Logprob += lp
		}
		resp.Completions = append(resp.Completions, c)
	}
	if resp.Usage.CompletionTokens == 0 { // some servers leave usage out: estimate
		for _, c := range resp.Completions {
			resp.Usage.CompletionTokens += max(c.Tokens, (len(c.Text)+3)/4)
		}
	}
	return resp, nil
}
