package embed_test

import (
	"context"
	"fmt"

	"github.com/qkvdev/qkv/embed"
	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/tokenizer"
)

// Embed two sentences with a BERT (here a small random one; auto.Load gives a trained one from
// its folder) and compare them.
func Example() {
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "dog", "ran"}
	m, _ := bert.New(bert.Config{VocabSize: len(vocab), HiddenSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2,
		IntermediateSize: 32, MaxPositionEmbeddings: 32, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}, 1)
	tok, _ := tokenizer.NewWordPiece(vocab, tokenizer.WordPieceOptions{Lowercase: true})
	model, _ := auto.Wrap(m)
	e, err := embed.New(model, tok, embed.Options{Pooling: embed.Mean, Normalize: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := e.Embed(context.Background(), []string{"The cat sat", "the cat sat"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d embeddings of %d values, cosine %.3f\n", len(v), e.Dim(), embed.Cosine(v[0], v[1]))
	// Output: 2 embeddings of 16 values, cosine 1.000
}
