package reason

import (
	"context"
	"strconv"

	"github.com/qkvdev/qkv/embed"
)

// ModelEmbedding adapts a sentence-embedding model (package embed: BERT or GPT pooling) to
// Nearest's Embed: the dense vector's dimensions become features "0", "1", …, so cosine
// similarity is the model's own. A text the model cannot embed (a character its tokenizer does
// not know) gets the empty vector, which is equally far from every example (pool order then
// decides).
func ModelEmbedding(e *embed.Embedder) func(string) map[string]float64 {
	return func(text string) map[string]float64 {
		vs, err := e.Embed(context.Background(), []string{text})
		if err != nil || len(vs) != 1 {
			return nil
		}
		v := make(map[string]float64, len(vs[0]))
		for i, x := range vs[0] {
			v[strconv.Itoa(i)] = float64(x)
		}
		return v
	}
}
