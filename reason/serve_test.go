package reason_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/reason"
	"github.com/qkvdev/qkv/serve"
	"github.com/qkvdev/qkv/tokenizer"
)

// The HTTP backend against qkv's own server: n samples with a seed, a token budget, stop
// sequences and log-probabilities come back as the OpenAI wire format carries them, the same
// for the same seed.
func TestHTTPAgainstQKVServe(t *testing.T) {
	g, err := gpt.New(gpt.Config{VocabSize: 256, NPositions: 64, NEmbd: 32, NLayer: 2, NHead: 4, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	am, err := auto.Wrap(g)
	if err != nil {
		t.Fatal(err)
	}
	m, err := serve.NewModel("tiny", am, tokenizer.Byte{}, serve.TokenizerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := serve.New([]*serve.Model{m}, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close(context.Background())
	})
	h := reason.NewHTTP(ts.URL+"/v1", "tiny", reason.HTTPOptions{BaseDelay: time.Millisecond})
	req := reason.Request{Prompt: "2+2=", N: 3, Temperature: 1, Seed: 7, MaxTokens: 6, Logprobs: true, Stop: []string{"\n"}}
	r, err := h.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Completions) != 3 {
		t.Fatalf("%d completions, want 3", len(r.Completions))
	}
	total := 0
	for _, c := range r.Completions {
		if c.Tokens < 1 || c.Tokens > 6 || (c.FinishReason != "stop" && c.FinishReason != "length") || c.Logprob > 0 {
			t.Errorf("completion %+v", c)
		}
		total += c.Tokens
	}
	if r.Usage.PromptTokens != 4 || r.Usage.CompletionTokens != total {
		t.Errorf("usage %+v, want 4 prompt tokens and %d completion tokens", r.Usage, total)
	}
	again, err := h.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.Completions {
		if again.Completions[i].Text != r.Completions[i].Text {
			t.Errorf("sample %d with the same seed: %q, then %q", i, r.Completions[i].Text, again.Completions[i].Text)
		}
	}
}
