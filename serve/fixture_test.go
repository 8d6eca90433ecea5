package serve

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/qkvdev/qkv/chat"
	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tokenizer"
)

// tinyGPTConfig is a GPT over bytes (tokenizer.Byte), small enough to decode in microseconds.
func tinyGPTConfig() gpt.Config {
	return gpt.Config{VocabSize: 256, NPositions: 64, NEmbd: 32, NLayer: 2, NHead: 4, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}
}

func tinyGPT(t testing.TB, name string, cfg gpt.Config, tcfg TokenizerConfig) *Model {
	t.Helper()
	g, err := gpt.New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	am, err := auto.Wrap(g)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(name, am, tokenizer.Byte{}, tcfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tinyBERT(t testing.TB) *Model {
	t.Helper()
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "dog", "a", "##s", "."}
	tok, err := tokenizer.NewWordPiece(vocab, tokenizer.WordPieceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bert.New(bert.Config{VocabSize: len(vocab), HiddenSize: 16, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 32,
		MaxPositionEmbeddings: 32, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	am, err := auto.Wrap(b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel("tiny-bert", am, tok, TokenizerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// newTestServer serves a tiny GPT ("tiny-gpt"), the same with a ChatML template ("tiny-chat")
// and a tiny BERT ("tiny-bert") on loopback.
func newTestServer(t testing.TB, o Options) (*Server, *httptest.Server) {
	t.Helper()
	eos := 0
	chatCfg := tinyGPTConfig()
	chatCfg.EOSTokenID = &eos
	chatCfg.NPositions = 256
	models := []*Model{
		tinyGPT(t, "tiny-gpt", tinyGPTConfig(), TokenizerConfig{}),
		tinyGPT(t, "tiny-chat", chatCfg, TokenizerConfig{ChatTemplate: chat.Default, EOS: "\x00"}),
		tinyBERT(t),
	}
	s, err := New(models, o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s, ts
}
