package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A corpus with more distinct characters than any script has is refused, not turned into a
// vocabulary of hundreds of thousands of ids.
func TestNewCharRefusesAHugeVocabulary(t *testing.T) {
	var b strings.Builder
	for r := rune(0x4E00); b.Len() < 4*(maxCharVocab+1); r++ { // CJK and beyond: all distinct
		if utf8.ValidRune(r) {
			b.WriteRune(r)
		}
	}
	for _, c := range []struct {
		n  int // distinct characters
		ok bool
	}{{maxCharVocab, true}, {maxCharVocab + 1, false}} {
		corpus := string([]rune(b.String())[:c.n])
		tok, err := NewChar(corpus)
		if c.ok {
			if err != nil || tok.VocabSize() != c.n {
				t.Fatalf("%d distinct characters: %v", c.n, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "more than 65536 distinct characters") || !strings.Contains(err.Error(), "byte or gpt2 tokenizer") {
			t.Fatalf("%d distinct characters: error %v; want one refusing the vocabulary", c.n, err)
		}
	}
}
