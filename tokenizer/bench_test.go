package tokenizer

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkGPT2EncodeShakespeare encodes tiny Shakespeare (1.1 MB) with GPT-2's tokenizer, the
// piece cache warm after the first pass (scripts/tokenizer-bench compares it with js-tiktoken).
func BenchmarkGPT2EncodeShakespeare(b *testing.B) {
	g := loadTestGPT2(b)
	text := shakespeare(b)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		if n := len(g.Encode(text)); n != 338025 {
			b.Fatalf("%d tokens", n)
		}
	}
}

// BenchmarkGPT2EncodeShakespeareCold is the same with the piece cache emptied before each pass.
func BenchmarkGPT2EncodeShakespeareCold(b *testing.B) {
	g := loadTestGPT2(b)
	text := shakespeare(b)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		g.ClearCache()
		g.Encode(text)
	}
}

func BenchmarkGPT2Decode(b *testing.B) {
	g := loadTestGPT2(b)
	text := shakespeare(b)
	ids := g.Encode(text)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := g.Decode(ids); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPretokenizeShakespeare(b *testing.B) {
	text := shakespeare(b)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		for i := 0; i < len(text); {
			i = nextPiece(text, i)
		}
	}
}

// BenchmarkGPT2EncodeOneWord encodes inputs that the pre-tokenizer returns as a single piece.
func BenchmarkGPT2EncodeOneWord(b *testing.B) {
	g := loadTestGPT2(b)
	for _, c := range []struct{ name, text string }{
		{"A-1MB", strings.Repeat("A", 1<<20)},
		{"caret-1MB", strings.Repeat("^", 1<<20)},
		{"word-10MB", strings.Repeat("antidisestablishmentarianism", 10<<20/28)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.text)))
			for b.Loop() {
				g.Encode(c.text)
			}
		})
	}
}

func BenchmarkLoadGPT2(b *testing.B) {
	dir := dataDir(b, "gpt2-tokenizer")
	for b.Loop() {
		if _, err := LoadGPT2(dir); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWordPieceSquad(b *testing.B) {
	w := loadTestBERT(b)
	var toks []struct {
		Original string `json:"original"`
	}
	readJSON(b, filepath.Join(dataDir(b, "bert-base-uncased-vocab"), "squad_dev_questions_tokens.json"), &toks)
	n := 0
	for _, q := range toks {
		n += len(q.Original)
	}
	b.SetBytes(int64(n))
	b.ResetTimer()
	for b.Loop() {
		for _, q := range toks {
			w.Encode(q.Original)
		}
	}
}

// BenchmarkTrainBPEShakespeare learns a 4,096-token vocabulary from tiny Shakespeare.
func BenchmarkTrainBPEShakespeare(b *testing.B) {
	text := shakespeare(b)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := TrainBPE(context.Background(), strings.NewReader(text), 4096, nil); err != nil {
			b.Fatal(err)
		}
	}
}
