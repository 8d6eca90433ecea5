package tokenizer

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// gpt2Oracle is GPT2Pattern rewritten for Go's regexp, which has no lookahead:
// \s+(?!\S) becomes \s+\z (a run at the end) or (\s+)\s (a run less its last character, kept
// in group 1). Go's \s is ASCII only, so the Unicode White_Space set (ws) is spelt out.
var gpt2Oracle = regexp.MustCompile(strings.NewReplacer(`ws`, wsChars).Replace(
	`^(?:'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^ws\p{L}\p{N}]+|[ws]+\z|([ws]+)[ws]|[ws]+)`))

const wsChars = `\t\n\v\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}`

// oraclePieces splits text with gpt2Oracle. Go's regexp reads an invalid UTF-8 byte as U+FFFD,
// one byte long, as the splitter does.
func oraclePieces(text string) []string {
	var out []string
	for len(text) > 0 {
		m := gpt2Oracle.FindStringSubmatchIndex(text)
		if m == nil {
			return append(out, "<no match: "+text+">")
		}
		end := m[1]
		if m[2] >= 0 {
			end = m[3]
		}
		out = append(out, text[:end])
		text = text[end:]
	}
	return out
}

func TestPretokenizeGPT2(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{"hello world", []string{"hello", " world"}},
		{"Hello, world!", []string{"Hello", ",", " world", "!"}},
		{"a  b", []string{"a", " ", " b"}},
		{"a   b\n\n  c", []string{"a", "  ", " b", "\n\n ", " c"}},
		{"   leading", []string{"  ", " leading"}},
		{"trailing   ", []string{"trailing", "   "}},
		{"\n", []string{"\n"}},
		{"x\ny", []string{"x", "\n", "y"}},
		{"x \ny", []string{"x", " ", "\n", "y"}},
		{"I'm you're he's we've they'll she'd can't WON'T", []string{"I", "'m", " you", "'re", " he", "'s", " we", "'ve", " they", "'ll", " she", "'d", " can", "'t", " WON", "'", "T"}},
		{"'s's", []string{"'s", "'s"}},
		{"''s", []string{"''", "s"}},
		{" 's", []string{" '", "s"}},
		{"'", []string{"'"}},
		{"'l", []string{"'", "l"}},
		{"1234567890 3.14", []string{"1234567890", " 3", ".", "14"}},
		{"a1b", []string{"a", "1", "b"}},
		{"x+=1;", []string{"x", "+=", "1", ";"}},
		{"Café naïve", []string{"Café", " naïve"}},
		{"日本語のテキスト", []string{"日本語のテキスト"}},
		{"Привет, мир!", []string{"Привет", ",", " мир", "!"}},
		{"🤗🤗 🚀", []string{"🤗🤗", " 🚀"}},
		{"a\u00a0b", []string{"a", "\u00a0", "b"}},                 // NBSP is \s but not ' '
		{"a\u3000\u3000b", []string{"a", "\u3000", "\u3000", "b"}}, // ideographic spaces
		{"x\xffy", []string{"x", "\xff", "y"}},                     // an invalid byte is "other"
		{"x \xff\xfe!", []string{"x", " \xff\xfe!"}},
		{"\xe2\x80", []string{"\xe2\x80"}}, // a truncated character
		{"²³ ½", []string{"²³", " ½"}},     // \p{N} includes No
	} {
		got := PretokenizeGPT2(c.text)
		if !slices.Equal(got, c.want) {
			t.Errorf("PretokenizeGPT2(%q) = %q, want %q", c.text, got, c.want)
		}
		if o := oraclePieces(c.text); !slices.Equal(o, c.want) {
			t.Errorf("oracle(%q) = %q, want %q", c.text, o, c.want)
		}
	}
}

// TestPretokenizeVectors checks the splitter against the oracle on every GPT-2 test text.
func TestPretokenizeVectors(t *testing.T) {
	texts := []string{strings.Repeat(" \t\n\r\v\f\u0085\u2028x", 5)}
	var v gpt2Vectors
	readJSON(t, dataDir(t, "gpt2-tokenizer")+"/test_vectors.json", &v)
	for _, c := range v.Vectors {
		texts = append(texts, c.Text)
	}
	for _, text := range texts {
		if got, want := PretokenizeGPT2(text), oraclePieces(text); !slices.Equal(got, want) {
			t.Errorf("PretokenizeGPT2(%q) = %q, oracle %q", text, got, want)
		}
	}
}

func FuzzPretokenize(f *testing.F) {
	for _, s := range []string{"", "hello world", "a   b\n\n  c", "I'm WON'T 'll", "x\xff y", " \u00a0\u3000 ", "123 4.5", "🤗 e\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := PretokenizeGPT2(text)
		if strings.Join(got, "") != text {
			t.Fatalf("pieces %q do not make up %q", got, text)
		}
		for _, p := range got {
			if p == "" {
				t.Fatalf("empty piece in %q", got)
			}
		}
		if want := oraclePieces(text); !slices.Equal(got, want) {
			t.Fatalf("PretokenizeGPT2(%q) = %q, oracle %q", text, got, want)
		}
	})
}
