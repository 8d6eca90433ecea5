package tokenizer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
)

var trainedTok loaded[*GPT2]

// loadTrainedBPE learns a small vocabulary from the start of tiny Shakespeare, with runs of
// newlines and spaces so that it has merges of whitespace, once per test binary.
func loadTrainedBPE(t testing.TB) *GPT2 {
	t.Helper()
	text := shakespeare(t)[:100000] + strings.Repeat("\n", 64) + strings.Repeat(" ", 64)
	g := trainedTok.get(t, func() (*GPT2, error) { return TrainBPE(context.Background(), strings.NewReader(text), 600, nil) })
	if !g.monotone {
		t.Fatal("a trained merge table is not monotone")
	}
	return g
}

// longPieces returns seeded pieces of n bytes that the pre-tokenizer could return whole: runs of
// one class of characters, random and repetitive.
func longPieces(rng *rand.Rand, n int) map[string]string {
	random := func(alphabet ...string) string {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()[:n]
	}
	letters := strings.Split("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "")
	return map[string]string{
		"newlines":      strings.Repeat("\n", n),
		"spaces":        strings.Repeat(" ", n),
		"A":             strings.Repeat("A", n),
		"word":          strings.Repeat("antidisestablishmentarianism", n/28+1)[:n],
		"letters":       random(letters...),
		"few letters":   random("a", "b", "e", "t", "h"),
		"syllables":     random("the", "ing", "and", "er", "th", "a", "e"),
		"whitespace":    random(" ", "\n", "\t", "\r\n", "  ", "\n\n"),
		"digits":        random("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
		"punctuation":   random("^", "!", "-", "=", "*", "...", "--", "==", "\xff"),
		"no spaces":     strings.ReplaceAll(strings.Repeat("To be, or not to be: that is the question ", n/30+1), " ", "")[:n],
		"2-byte":        random("é", "ü", "ñ", "ß", "ö"),
		"emoji":         random("🤗", "😀", "👍"),
		"periodic 3":    strings.Repeat("aab", n/3+1)[:n],
		"newline pairs": random("\n\n", "\n"),
	}
}

// TestBPEChunkedAgrees checks merging in chunks against merging whole, with chunks small enough
// that a piece has hundreds of boundaries, on GPT-2's merge table and a trained one.
func TestBPEChunkedAgrees(t *testing.T) {
	for _, g := range []struct {
		name string
		g    *GPT2
	}{{"gpt2", loadTestGPT2(t)}, {"trained", loadTrainedBPE(t)}} {
		m := &g.g.bpeMerger
		rng := rand.New(rand.NewPCG(3, 4))
		for _, n := range []int{40, 100, 1000, 5000} {
			for name, piece := range longPieces(rng, n) {
				want := m.bpeByRank(piece, nil)
				for _, w := range []int{2, 3, 8, 33, 50, 64, 127, 256} {
					prefix := []int{7, 8}
					got := m.bpeChunked(piece, slices.Clone(prefix), w, 0)
					if !slices.Equal(got[:2], prefix) || !slices.Equal(got[2:], want) {
						t.Fatalf("%s: %s of %d bytes in chunks of %d: tokens differ from merging it whole", g.name, name, n, w)
					}
				}
			}
		}
	}
}

// TestGPT2EncodeMemory encodes megabyte pieces (a run of newlines, a word with no spaces) and
// checks the memory Encode allocates in all — an upper bound of its peak — against the input's
// size: merging such a piece whole takes some 60 times its size.
func TestGPT2EncodeMemory(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := 2 << 20
	pieces := longPieces(rng, n)
	inputs := []struct{ name, text string }{
		{"4 MiB of newlines", strings.Repeat("\n", 4<<20)},
		{"2 MiB word", pieces["word"]},
		{"2 MiB of random letters", pieces["letters"]},
		{"2 MiB of spaces then text", pieces["spaces"] + shakespeare(t)[:1<<20]},
	}
	for _, g := range []struct {
		name string
		g    *GPT2
	}{{"gpt2", loadTestGPT2(t)}, {"trained", loadTrainedBPE(t)}} {
		for _, in := range inputs {
			t.Run(fmt.Sprintf("%s/%s", g.name, in.name), func(t *testing.T) {
				var ids []int
				alloc := testenv.HeapAllocated(func() { ids = g.g.Encode(in.text) })
				if ratio := float64(alloc) / float64(len(in.text)); ratio >= 10 {
					t.Errorf("Encode allocated %.1f times the %d bytes of input (%d tokens)", ratio, len(in.text), len(ids))
				}
				if back, err := g.g.Decode(ids); err != nil || back != in.text {
					t.Errorf("does not round-trip (%v)", err)
				}
			})
		}
	}
}

// FuzzBPEChunked compares merging in chunks of a few bytes with merging whole.
func FuzzBPEChunked(f *testing.F) {
	for _, p := range longPieces(rand.New(rand.NewPCG(7, 8)), 64) {
		f.Add(p, uint8(5))
	}
	g := loadTestGPT2(f)
	f.Fuzz(func(t *testing.T, piece string, w uint8) {
		if len(piece) < 2 {
			return
		}
		m := &g.bpeMerger
		want := m.bpeByRank(piece, nil)
		if got := m.bpeChunked(piece, nil, 2+int(w%64), 0); !slices.Equal(got, want) {
			t.Fatalf("bpeChunked(%q, %d) = %v, want %v", piece, 2+int(w%64), got, want)
		}
	})
}
