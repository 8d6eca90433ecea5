package reason

import (
	"strings"
	"testing"

	"github.com/qkvdev/qkv/embed"
	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/tokenizer"
)

// Nearest with a model's sentence embeddings: a question the pool holds word for word (up to
// case) is its own nearest example, wherever it stands in the pool.
func TestNearestByModelEmbedding(t *testing.T) {
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "dog", "ran", "a", "mat", "on"}
	m, err := bert.New(bert.Config{VocabSize: len(vocab), HiddenSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2,
		IntermediateSize: 32, MaxPositionEmbeddings: 32, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.NewWordPiece(vocab, tokenizer.WordPieceOptions{Lowercase: true})
	if err != nil {
		t.Fatal(err)
	}
	am, err := auto.Wrap(m)
	if err != nil {
		t.Fatal(err)
	}
	e, err := embed.New(am, tok, embed.Options{Pooling: embed.Mean, Normalize: true})
	if err != nil {
		t.Fatal(err)
	}
	pool := []Example{{Question: "the dog ran"}, {Question: "a cat sat on the mat"}, {Question: "the cat ran on a mat"}, {Question: "a dog sat"}}
	n := NewNearest(pool, ModelEmbedding(e))
	for i, ex := range pool {
		q := ex.Question
		if i%2 == 0 {
			q = strings.ToUpper(q[:1]) + q[1:]
		}
		if got := n.Select(q, 1); len(got) != 1 || got[0] != ex {
			t.Errorf("nearest to %q: %v, want %v", q, got, ex)
		}
	}
}
