package embed

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

func tinyBERT(t *testing.T) auto.Model {
	t.Helper()
	m, err := bert.New(bert.Config{VocabSize: 40, HiddenSize: 16, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 24,
		MaxPositionEmbeddings: 24, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	a, err := auto.Wrap(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func tinyGPT(t *testing.T) auto.Model {
	t.Helper()
	m, err := gpt.New(gpt.Config{VocabSize: 40, NPositions: 24, NEmbd: 16, NLayer: 2, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	a, err := auto.Wrap(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A sequence embedded alone equals the same sequence embedded in a batch padded to a longer
// one, for every model family and pooling, normalised or not.
func TestPaddingInvariance(t *testing.T) {
	rng := tensor.NewRNG(5)
	seqs := make([][]int, 5)
	for i := range seqs {
		seqs[i] = make([]int, 2+3*i)
		for j := range seqs[i] {
			seqs[i][j] = rng.IntN(40)
		}
	}
	for _, tc := range []struct {
		family  string
		model   func(*testing.T) auto.Model
		pooling []Pooling
	}{
		{"bert", tinyBERT, []Pooling{Mean, CLS}},
		{"gpt2", tinyGPT, []Pooling{Mean, Last}},
	} {
		for _, p := range tc.pooling {
			for _, norm := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/normalize=%v", tc.family, p, norm), func(t *testing.T) {
					e, err := New(tc.model(t), nil, Options{Pooling: p, Normalize: norm, BatchSize: 3})
					if err != nil {
						t.Fatal(err)
					}
					batched, err := e.EmbedIDs(context.Background(), seqs)
					if err != nil {
						t.Fatal(err)
					}
					for i, s := range seqs {
						alone, err := e.EmbedIDs(context.Background(), [][]int{s})
						if err != nil {
							t.Fatal(err)
						}
						if d := testenv.MaxDiff(alone[0], batched[i]); d > 1e-5 {
							t.Errorf("sequence %d: alone and in a padded batch differ by %.3g", i, d)
						}
						if norm {
							if n := math.Sqrt(dot(alone[0], alone[0])); math.Abs(n-1) > 1e-5 {
								t.Errorf("sequence %d: norm %v, want 1", i, n)
							}
						}
					}
				})
			}
		}
	}
}

func dot(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// bagOfWords is a BERT whose mean-pooled embedding is the mean of LayerNorm(one-hot(word)):
// word embeddings are distinct one-hot vectors, positions and token types zero, and every
// layer's attention and feed-forward output zero, so that each layer only re-normalises. Texts
// sharing more words are then closer, by construction.
func bagOfWords(t *testing.T) (auto.Model, tokenizer.Tokenizer) {
	t.Helper()
	words := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cat", "dog", "sat", "mat", "ran", "sun", "moon", "sky", "blue"}
	C := 16
	m, err := bert.New(bert.Config{VocabSize: len(words), HiddenSize: C, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 8,
		MaxPositionEmbeddings: 16, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params.List() {
		if p.Var.Value.Dims() >= 2 {
			tensor.Fill(p.Var.Value, 0)
		}
	}
	w := m.Embeddings.Word.Weight.Value.Data()
	for i := range words {
		w[i*C+i] = 1
	}
	tok, err := tokenizer.NewWordPiece(words, tokenizer.WordPieceOptions{Lowercase: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := auto.Wrap(m)
	if err != nil {
		t.Fatal(err)
	}
	return a, tok
}

// On the bag-of-words model, identical texts have cosine 1, texts sharing most words come next,
// unrelated texts last (mean pooling: on this model [CLS] sees only itself).
func TestCosineOrdering(t *testing.T) {
	m, tok := bagOfWords(t)
	for _, p := range []Pooling{Mean} {
		e, err := New(m, tok, Options{Pooling: p, Normalize: true})
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.Embed(context.Background(), []string{"cat sat mat", "cat sat mat", "cat sat dog", "sun moon sky blue", "Cat  SAT mat"})
		if err != nil {
			t.Fatal(err)
		}
		same, close, far, cased := Cosine(v[0], v[1]), Cosine(v[0], v[2]), Cosine(v[0], v[3]), Cosine(v[0], v[4])
		if !(math.Abs(same-1) < 1e-6 && same > close && close > far) {
			t.Errorf("%s: cosine identical %.4f, two shared words %.4f, none shared %.4f; want that order", p, same, close, far)
		}
		if math.Abs(cased-1) > 1e-6 {
			t.Errorf("%s: a lower-cased tokenizer gives the same text another embedding (cosine %.6f)", p, cased)
		}
	}
}

// Inputs the model cannot take are refused with the text's index.
func TestRefusals(t *testing.T) {
	e, err := New(tinyBERT(t), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, seqs := range [][][]int{{{1}, {}}, {{1, 40}}, {{-1}}, {make([]int, 25)}} {
		if _, err := e.EmbedIDs(context.Background(), seqs); err == nil {
			t.Errorf("%v accepted", seqs)
		}
	}
	if _, err := e.Embed(context.Background(), []string{"x"}); err == nil {
		t.Error("Embed without a tokenizer accepted")
	}
	if _, err := New(tinyBERT(t), nil, Options{Pooling: Last}); err == nil {
		t.Error("last-token pooling accepted for BERT")
	}
	if _, err := New(tinyGPT(t), nil, Options{Pooling: CLS}); err == nil {
		t.Error("cls pooling accepted for GPT")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.EmbedIDs(ctx, [][]int{{1}}); err == nil {
		t.Error("a cancelled context is ignored")
	}
}

// A GPT packed for inference (its float32 matrices released, token embeddings read from the
// packed LM head) embeds as the float32 model does, within what int8 weights move.
func TestPackedGPT(t *testing.T) {
	seqs := [][]int{{5, 3, 8, 1}, {9, 2}}
	embed := func(m auto.Model) [][]float32 {
		e, err := New(m, nil, Options{Pooling: Mean, Normalize: true})
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.EmbedIDs(context.Background(), seqs)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := embed(tinyGPT(t))
	m := tinyGPT(t)
	if err := auto.Family(m).(*gpt.Model).PackForInference(tensor.Int8); err != nil {
		t.Fatal(err)
	}
	got := embed(m)
	for i := range want {
		if c := Cosine(got[i], want[i]); c < 0.99 {
			t.Errorf("sequence %d: int8-packed embedding at cosine %.4f of the float32 one", i, c)
		}
	}
}
