package serve

import (
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/model/transformer"
	"github.com/qkvdev/qkv/tokenizer"
)

// An encoder–decoder model's cross attention: rows are the target written (then the end
// token), columns the source; self and encoder kinds are square.
func TestCrossAttention(t *testing.T) {
	cfg := transformer.Config{
		VocabSize: 260, DModel: 16, EncoderLayers: 2, DecoderLayers: 2,
		EncoderAttentionHeads: 2, DecoderAttentionHeads: 2, EncoderFFNDim: 32, DecoderFFNDim: 32,
		MaxPositionEmbeddings: 32, ActivationFunction: "relu", ScaleEmbedding: true,
		PadTokenID: 256, EOSTokenID: 257, DecoderStartTokenID: 256,
		ShareEncoderDecoderEmbeddings: true, TieWordEmbeddings: true, InitStd: 0.02,
	}
	tm, err := transformer.New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	am, err := auto.Wrap(tm)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel("tiny-mt", am, tokenizer.Byte{}, TokenizerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New([]*Model{m}, Options{MaxAttention: 20})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	for _, c := range []struct {
		kind       string
		rows, cols int
	}{{"", 4 + 1, 5}, {"self", 5, 5}, {"encoder", 5, 5}} {
		res, b := post(t, ts.URL+"/v1/attention", `{"model":"tiny-mt","input":"hello","target":"hola","kind":"`+c.kind+`"}`)
		if res.StatusCode != 200 {
			t.Fatalf("%q: %d %s", c.kind, res.StatusCode, b)
		}
		var r attentionResponse
		json.Unmarshal(b, &r)
		if r.Layers != 2 || r.Heads != 2 || len(r.Attention[0][0]) != c.rows || len(r.Attention[0][0][0]) != c.cols || len(r.TokensTgt) != c.rows || len(r.TokensSrc) != c.cols {
			t.Fatalf("%q: %d layers %d heads, %d×%d weights, %d×%d tokens; want %d×%d", c.kind, r.Layers, r.Heads, len(r.Attention[0][0]), len(r.Attention[0][0][0]), len(r.TokensTgt), len(r.TokensSrc), c.rows, c.cols)
		}
		var sum float64
		for _, w := range r.Attention[1][1][0] {
			sum += float64(w)
		}
		if math.Abs(sum-1) > 1e-3 {
			t.Errorf("%q: a row sums to %g", c.kind, sum)
		}
	}
	for _, bad := range []string{`{"model":"tiny-mt","input":""}`, `{"model":"tiny-mt","input":"x","kind":"sideways"}`, `{"model":"tiny-mt","input":"` + strings.Repeat("x", 21) + `"}`} {
		if res, b := post(t, ts.URL+"/v1/attention", bad); res.StatusCode != 400 {
			t.Errorf("%s: %d %s", bad, res.StatusCode, b)
		}
	}
	if res, _ := post(t, ts.URL+"/v1/completions", `{"model":"tiny-mt","prompt":"x"}`); res.StatusCode != 400 {
		t.Errorf("completions with a translation model: %d", res.StatusCode)
	}
}
