package tokenizer

import (
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
)

// encodeUncut is WordPiece.Encode without the cut of long words: each whole word of the basic
// tokenizer split into pieces.
func encodeUncut(w *WordPiece, text string) []int {
	var ids []int
	for _, word := range w.BasicTokenize(text) {
		w.wordPieces(word, func(id int32, _ string, _ bool) { ids = append(ids, int(id)) })
	}
	return ids
}

// Words around MaxInputCharsPerWord, in characters of 1 to 4 bytes, encode as if they were kept
// whole: the cut of long words never changes a token.
func TestWordPieceLongWords(t *testing.T) {
	w := loadTestBERT(t)
	maxChars := w.opts.MaxInputCharsPerWord
	for _, ch := range []string{"a", "é", "ह", "𝔸"} {
		for _, n := range []int{maxChars - 1, maxChars, maxChars + 1, 4*maxChars + 3, 4*maxChars + 4, 4*maxChars + 5, 10 * maxChars} {
			text := "the " + strings.Repeat(ch, n) + " end"
			if got, want := w.Encode(text), encodeUncut(w, text); !slices.Equal(got, want) {
				t.Errorf("%d × %q: %v, want %v", n, ch, got, want)
			}
		}
	}
}

// TestWordPieceEncodeMemory checks the memory Encode allocates in all — an upper bound of its
// peak — against the size of the input.
func TestWordPieceEncodeMemory(t *testing.T) {
	w := loadTestBERT(t)
	for _, in := range []struct{ name, text string }{
		{"4 MiB of newlines", strings.Repeat("\n", 4<<20)},
		{"2 MiB word", strings.Repeat("antidisestablishmentarianism", 2<<20/28)},
		{"1 MiB of prose", shakespeare(t)[:1<<20]},
	} {
		var ids []int
		alloc := testenv.HeapAllocated(func() { ids = w.Encode(in.text) })
		if ratio := float64(alloc) / float64(len(in.text)); ratio >= 10 {
			t.Errorf("%s: Encode allocated %.1f times the %d bytes of input (%d tokens)", in.name, ratio, len(in.text), len(ids))
		}
	}
}
