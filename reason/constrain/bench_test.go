package constrain

import (
	"math/rand/v2"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tokenizer"
)

// BenchmarkMask measures a masked decoding step's overhead over GPT-2's 50,257-token
// vocabulary for a JSON schema: "first" builds a state's mask (one trie walk), "cached"
// reuses it, as every later visit to the state does. Compare with a GPT-2 forward step
// (tens of milliseconds on a CPU for the 124M model).
func BenchmarkMask(b *testing.B) {
	dir := testenv.RequireDataSubdir(b, "gpt2-tokenizer")
	tok, err := tokenizer.LoadGPT2(dir)
	if err != nil {
		b.Fatal(err)
	}
	texts := make([]string, tok.VocabSize())
	for id := range texts {
		texts[id], _ = tok.Decode([]int{id})
	}
	vocab := NewVocab(texts, 50256)
	d, err := JSONSchema([]byte(`{"type":"object","properties":{"answer":{"type":"integer"},"reason":{"type":"string","maxLength":200}},"required":["answer","reason"]}`))
	if err != nil {
		b.Fatal(err)
	}
	logits := make([]float32, len(texts))
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range logits {
		logits[i] = float32(rng.NormFloat64())
	}
	prefix := `{"answer":12,"reason":"be`
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			ix := NewIndex(d, vocab)
			st := ix.NewState()
			st.s = d.Walk(0, prefix)
			st.Mask(logits, 100)
		}
	})
	b.Run("cached", func(b *testing.B) {
		ix := NewIndex(d, vocab)
		st := ix.NewState()
		st.s = d.Walk(0, prefix)
		st.Mask(logits, 100)
		for b.Loop() {
			st.Mask(logits, 100)
		}
	})
	b.Run("unmasked-copy", func(b *testing.B) { // the floor: touching every logit once
		out := make([]float32, len(logits)+1)
		for b.Loop() {
			copy(out, logits)
		}
	})
}
