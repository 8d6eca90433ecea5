package serve

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/qkvdev/qkv/embed"
	"github.com/qkvdev/qkv/sample"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
	"github.com/qkvdev/qkv/textstream"
)

// The official Go SDK talks to the server as it talks to OpenAI.
func sdkClient(url string, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{option.WithBaseURL(url + "/v1/"), option.WithAPIKey("test-key"), option.WithMaxRetries(0)}, opts...)...)
}

// greedy is what the model alone produces for prompt, decoded without the server.
func greedy(t *testing.T, m *Model, prompt string, n int) string {
	t.Helper()
	s, _ := sample.New(sample.Options{})
	ts := textstream.New(m.tok, nil)
	var out strings.Builder
	_, err := m.gpt.Generate(context.Background(), m.tok.Encode(prompt), n, s, func(id int) bool {
		d, _, _ := ts.Push(id)
		out.WriteString(d)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := ts.Flush()
	return asJSON(out.String() + rest)
}

// asJSON is s as it reads after a JSON round trip: each byte of invalid UTF-8 becomes U+FFFD
// (a byte-level model with random weights writes such bytes).
func asJSON(s string) string { return string([]rune(s)) }

func TestSDKCompletions(t *testing.T) {
	s, ts := newTestServer(t, Options{})
	c := sdkClient(ts.URL)
	ctx := context.Background()

	list, err := c.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
		if m.Object != "model" || m.OwnedBy != "qkv" || m.Created == 0 {
			t.Errorf("model %+v: want object model, owned_by qkv, created set", m)
		}
	}
	if strings.Join(ids, ",") != "tiny-bert,tiny-chat,tiny-gpt" {
		t.Errorf("models %v", ids)
	}
	if m, err := c.Models.Get(ctx, "tiny-gpt"); err != nil || m.ID != "tiny-gpt" {
		t.Errorf("get model: %v %v", m, err)
	}

	want := greedy(t, s.models["tiny-gpt"], "Hello", 12)
	res, err := c.Completions.New(ctx, openai.CompletionNewParams{
		Model:       "tiny-gpt",
		Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String("Hello")},
		MaxTokens:   openai.Int(12),
		Temperature: openai.Float(0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Choices) != 1 || res.Choices[0].Text != want {
		t.Fatalf("greedy completion %q, want the model's own %q", res.Choices[0].Text, want)
	}
	if res.Object != "text_completion" || !strings.HasPrefix(res.ID, "cmpl-") || res.Model != "tiny-gpt" {
		t.Errorf("response envelope %+v", res)
	}
	if res.Choices[0].FinishReason != "length" || res.Usage.PromptTokens != 5 || res.Usage.CompletionTokens != 12 || res.Usage.TotalTokens != 17 {
		t.Errorf("finish %q usage %+v, want length and 5+12", res.Choices[0].FinishReason, res.Usage)
	}

	// Streaming gives the same text, chunk by chunk, and the usage chunk when asked.
	stream := c.Completions.NewStreaming(ctx, openai.CompletionNewParams{
		Model: "tiny-gpt", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Hello")},
		MaxTokens: openai.Int(12), Temperature: openai.Float(0),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var text strings.Builder
	var finish string
	var usage int64
	for stream.Next() {
		ch := stream.Current()
		for _, c := range ch.Choices {
			text.WriteString(c.Text)
			if c.FinishReason != "" {
				finish = string(c.FinishReason)
			}
		}
		if ch.Usage.TotalTokens > 0 {
			usage = ch.Usage.TotalTokens
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != want || finish != "length" || usage != 17 {
		t.Errorf("stream: %q finish %q usage %d, want %q length 17", text.String(), finish, usage, want)
	}

	// n choices with a seed: reproducible, and each choice differs in its seed.
	p := openai.CompletionNewParams{Model: "tiny-gpt", Prompt: openai.CompletionNewParamsPromptUnion{OfArrayOfStrings: []string{"ab", "cd"}},
		MaxTokens: openai.Int(8), N: openai.Int(3), Seed: openai.Int(42), Temperature: openai.Float(1.5)}
	a, err := c.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Completions.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Choices) != 6 {
		t.Fatalf("%d choices, want 2 prompts × 3", len(a.Choices))
	}
	distinct := map[string]bool{}
	for i := range a.Choices {
		if a.Choices[i].Text != b.Choices[i].Text || a.Choices[i].Index != int64(i) {
			t.Errorf("choice %d: %q then %q (index %d): the same seed must give the same text", i, a.Choices[i].Text, b.Choices[i].Text, a.Choices[i].Index)
		}
		distinct[a.Choices[i].Text] = true
	}
	if len(distinct) < 4 {
		t.Errorf("only %d distinct texts among 6 sampled choices", len(distinct))
	}
	if a.Usage.PromptTokens != 4 || a.Usage.CompletionTokens != 48 {
		t.Errorf("usage %+v, want 4 prompt and 48 completion tokens", a.Usage)
	}

	// Legacy logprobs: parallel lists, alternatives sorted, the chosen token's logprob the top one under greedy.
	lp, err := c.Completions.New(ctx, openai.CompletionNewParams{Model: "tiny-gpt", Prompt: openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: []int64{72, 105}},
		MaxTokens: openai.Int(5), Temperature: openai.Float(0), Logprobs: openai.Int(3)})
	if err != nil {
		t.Fatal(err)
	}
	l := lp.Choices[0].Logprobs
	if len(l.Tokens) != 5 || len(l.TokenLogprobs) != 5 || len(l.TopLogprobs) != 5 || len(l.TextOffset) != 5 {
		t.Fatalf("logprobs %+v: want 5 entries in each list", l)
	}
	for i := range l.Tokens {
		best := -1e9
		for _, v := range l.TopLogprobs[i] {
			best = max(best, v)
		}
		if len(l.TopLogprobs[i]) == 0 || l.TokenLogprobs[i] > 0 || l.TokenLogprobs[i] < best-1e-9 {
			t.Errorf("token %d: logprob %g, best alternative %g (greedy takes the best)", i, l.TokenLogprobs[i], best)
		}
	}
}

func TestSDKChat(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	c := sdkClient(ts.URL)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:               "tiny-chat",
		Messages:            []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hi")},
		MaxCompletionTokens: openai.Int(10),
		Temperature:         openai.Float(0),
		Logprobs:            openai.Bool(true),
		TopLogprobs:         openai.Int(2),
	}
	res, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if res.Object != "chat.completion" || !strings.HasPrefix(res.ID, "chatcmpl-") || len(res.Choices) != 1 {
		t.Fatalf("response %+v", res)
	}
	ch := res.Choices[0]
	if ch.Message.Role != "assistant" || (ch.FinishReason != "length" && ch.FinishReason != "stop") {
		t.Errorf("message %+v finish %q", ch.Message, ch.FinishReason)
	}
	rendered := "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
	if res.Usage.PromptTokens != int64(len(rendered)) {
		t.Errorf("prompt tokens %d, want the %d bytes of the ChatML rendering", res.Usage.PromptTokens, len(rendered))
	}
	if int64(len(ch.Logprobs.Content)) != res.Usage.CompletionTokens && ch.FinishReason == "length" {
		t.Errorf("%d logprobs for %d tokens", len(ch.Logprobs.Content), res.Usage.CompletionTokens)
	}
	for _, lp := range ch.Logprobs.Content {
		if len(lp.TopLogprobs) != 2 || lp.Logprob < lp.TopLogprobs[0].Logprob-1e-9 || lp.TopLogprobs[0].Logprob < lp.TopLogprobs[1].Logprob {
			t.Errorf("logprob %+v: want 2 sorted alternatives, the greedy choice first", lp)
		}
	}

	// Streaming, accumulated by the SDK, gives the same message.
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := c.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != ch.Message.Content || acc.Usage.TotalTokens != res.Usage.TotalTokens {
		t.Errorf("streamed %q (usage %d), want %q (usage %d)", acc.Choices[0].Message.Content, acc.Usage.TotalTokens, ch.Message.Content, res.Usage.TotalTokens)
	}

	// The default template: GPT-2-style models get "role: content" lines.
	res, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "tiny-gpt", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}, MaxTokens: openai.Int(3)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Usage.PromptTokens != int64(len("user: Hi\nassistant:")) {
		t.Errorf("default template: %d prompt tokens", res.Usage.PromptTokens)
	}
}

func TestSDKEmbeddings(t *testing.T) {
	s, ts := newTestServer(t, Options{})
	c := sdkClient(ts.URL)
	ctx := context.Background()
	for _, name := range []string{"tiny-bert", "tiny-gpt"} {
		res, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: name, Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"the cat sat", "a dog"}}})
		if err != nil {
			t.Fatal(err)
		}
		m := s.models[name]
		e, _ := embed.New(m.m, m.tok, embed.Options{})
		want, err := e.Embed(ctx, []string{"the cat sat", "a dog"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Data) != 2 || res.Usage.PromptTokens == 0 {
			t.Fatalf("%s: %d embeddings, usage %+v", name, len(res.Data), res.Usage)
		}
		for i, d := range res.Data {
			if d.Index != int64(i) || len(d.Embedding) != len(want[i]) {
				t.Fatalf("%s: embedding %d has %d values, want %d", name, i, len(d.Embedding), len(want[i]))
			}
			for k := range want[i] {
				if float32(d.Embedding[k]) != want[i][k] {
					t.Fatalf("%s: embedding %d differs from embed's at %d", name, i, k)
				}
			}
		}
	}
}

// Errors come back as the SDK's *openai.Error with OpenAI's status, type, param and code.
func TestSDKErrors(t *testing.T) {
	_, ts := newTestServer(t, Options{APIKey: "test-key"})
	c := sdkClient(ts.URL)
	ctx := context.Background()
	cases := []struct {
		name   string
		call   func() error
		status int
		param  string
		code   string
	}{
		{"unknown model", func() error {
			_, err := c.Completions.New(ctx, openai.CompletionNewParams{Model: "nope", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("x")}})
			return err
		}, 404, "model", "model_not_found"},
		{"context exceeded", func() error {
			_, err := c.Completions.New(ctx, openai.CompletionNewParams{Model: "tiny-gpt", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("0123456789")}, MaxTokens: openai.Int(60)})
			return err
		}, 400, "prompt", "context_length_exceeded"},
		{"temperature", func() error {
			_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "tiny-gpt", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}, Temperature: openai.Float(3)})
			return err
		}, 400, "temperature", ""},
		{"embeddings of a missing model", func() error {
			_, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "nope", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("x")}})
			return err
		}, 404, "model", "model_not_found"},
		{"wrong key", func() error {
			_, err := c.Models.List(ctx, option.WithAPIKey("wrong"))
			return err
		}, 401, "", "invalid_api_key"},
	}
	for _, tc := range cases {
		err := tc.call()
		var e *openai.Error
		if !errors.As(err, &e) {
			t.Errorf("%s: got %v, want an API error", tc.name, err)
			continue
		}
		if e.StatusCode != tc.status || e.Param != tc.param || e.Code != tc.code || e.Message == "" || e.Type == "" {
			t.Errorf("%s: status %d param %q code %q type %q message %q; want %d %q %q", tc.name, e.StatusCode, e.Param, e.Code, e.Type, e.Message, tc.status, tc.param, tc.code)
		}
	}
}

// TestPackWeights checks a GPT served with its weights packed for inference in each format:
// bf16 and int8 release the float32 matrices (as fp32 does where the CPU has float32 panels),
// and greedy completions are still the model's own, through the batching scheduler, with
// embeddings still served.
func TestPackWeights(t *testing.T) {
	ctx := context.Background()
	for _, f := range []tensor.WeightFormat{tensor.FP32, tensor.BF16, tensor.Int8} {
		m := tinyGPT(t, "tiny-gpt", tinyGPTConfig(), TokenizerConfig{})
		if err := m.PackWeights(f); err != nil {
			t.Fatal(err)
		}
		released := m.gpt.H[0].MLP.CFc.Weight.Value == nil
		if want := f != tensor.FP32 || (kernel.FloatPanelsAvailable() && !kernel.PanelsAvailable()); released != want {
			t.Fatalf("%s: float32 weights released %v, want %v", f, released, want)
		}
		s, err := New([]*Model{m}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s.Handler())
		c := sdkClient(ts.URL)
		want := greedy(t, m, "Hello", 8)
		res, err := c.Completions.New(ctx, openai.CompletionNewParams{Model: "tiny-gpt", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Hello")},
			MaxTokens: openai.Int(8), Temperature: openai.Float(0)})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Choices) != 1 || res.Choices[0].Text != want {
			t.Errorf("%s: greedy completion %q, want the model's own %q", f, res.Choices[0].Text, want)
		}
		emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "tiny-gpt", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a cat"}}})
		if err != nil || len(emb.Data) != 1 || len(emb.Data[0].Embedding) != tinyGPTConfig().NEmbd {
			t.Errorf("%s: embeddings %v, %v", f, emb, err)
		}
		ts.Close()
		s.Close(ctx)
	}
}
