package tokenizer

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/qkvdev/qkv/internal/atomicfile"
)

// qkvTokenizerFile holds the character and byte tokenizers' state in a checkpoint folder.
const qkvTokenizerFile = "qkv_tokenizer.json"

type savedTokenizer struct {
	Type  string   `json:"type"`            // "char" or "byte"
	Chars []string `json:"chars,omitempty"` // char: the vocabulary in id order, one character each
}

// Char is a character-level tokenizer: one id per distinct character of a corpus, in sorted
// order (as nanoGPT's shakespeare_char does). Characters outside the vocabulary are dropped by
// Encode.
type Char struct {
	chars []rune
	ids   map[rune]int
}

// maxCharVocab bounds a character vocabulary: text in any script has far fewer distinct
// characters (tens of thousands for Chinese), binary data many more.
const maxCharVocab = 1 << 16

// NewChar builds the vocabulary of the characters in corpus. A corpus with more than 65,536
// distinct characters is refused: it is not text, or not text a character-level model suits.
func NewChar(corpus string) (*Char, error) {
	if corpus == "" {
		return nil, fmt.Errorf("tokenizer: empty corpus: a character vocabulary needs at least one character")
	}
	seen := map[rune]bool{}
	for i, r := range corpus {
		seen[r] = true
		if len(seen) > maxCharVocab {
			return nil, fmt.Errorf("tokenizer: the corpus has more than %d distinct characters by byte %d; a character vocabulary that large is not useful (is the corpus binary?): use the byte or gpt2 tokenizer", maxCharVocab, i)
		}
	}
	chars := make([]rune, 0, len(seen))
	for r := range seen {
		chars = append(chars, r)
	}
	slices.Sort(chars)
	c, err := newChar(chars)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return c, nil
}

func newChar(chars []rune) (*Char, error) {
	ids := make(map[rune]int, len(chars))
	for i, r := range chars {
		if _, dup := ids[r]; dup {
			return nil, fmt.Errorf("character %q appears twice in the vocabulary", r)
		}
		ids[r] = i
	}
	return &Char{chars: chars, ids: ids}, nil
}

func (c *Char) Encode(text string) []int {
	out := make([]int, 0, len(text))
	for _, r := range text {
		if id, ok := c.ids[r]; ok {
			out = append(out, id)
		}
	}
	return out
}

// Covers reports the first character of text outside the vocabulary, if any.
func (c *Char) Covers(text string) (rune, bool) {
	for _, r := range text {
		if _, ok := c.ids[r]; !ok {
			return r, false
		}
	}
	return 0, true
}

func (c *Char) Decode(ids []int) (string, error) {
	if err := checkIDs(ids, len(c.chars)); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, id := range ids {
		b.WriteRune(c.chars[id])
	}
	return b.String(), nil
}

func (c *Char) VocabSize() int { return len(c.chars) }
func (c *Char) Kind() string   { return "char" }

func (c *Char) Save(dir string) error {
	s := savedTokenizer{Type: "char", Chars: make([]string, len(c.chars))}
	for i, r := range c.chars {
		s.Chars[i] = string(r)
	}
	return writeJSON(filepath.Join(dir, qkvTokenizerFile), s)
}

// Byte is the raw-byte tokenizer: ids 0..255 are the bytes of the UTF-8 text.
type Byte struct{}

func (Byte) Encode(text string) []int {
	out := make([]int, len(text))
	for i := 0; i < len(text); i++ {
		out[i] = int(text[i])
	}
	return out
}

func (Byte) Decode(ids []int) (string, error) {
	if err := checkIDs(ids, 256); err != nil {
		return "", err
	}
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte(id)
	}
	return string(b), nil
}

func (Byte) VocabSize() int { return 256 }
func (Byte) Kind() string   { return "byte" }
func (Byte) Save(dir string) error {
	return writeJSON(filepath.Join(dir, qkvTokenizerFile), savedTokenizer{Type: "byte"})
}

func init() { register(loadQKV) }

func loadQKV(dir string) (Tokenizer, bool, error) {
	path := filepath.Join(dir, qkvTokenizerFile)
	data, ok, err := readOptionalFile(path)
	if !ok {
		return nil, false, err
	}
	if !utf8.Valid(data) {
		return nil, false, fmt.Errorf("tokenizer: %s: not valid UTF-8", path)
	}
	var s savedTokenizer
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, false, fmt.Errorf("tokenizer: %s: not valid JSON: %w", path, err)
	}
	switch s.Type {
	case "byte":
		if s.Chars != nil {
			return nil, false, fmt.Errorf("tokenizer: %s: a byte tokenizer has no character list, but the file has one; is the type wrong?", path)
		}
		return Byte{}, true, nil
	case "char":
		if len(s.Chars) == 0 {
			return nil, false, fmt.Errorf("tokenizer: %s: empty character vocabulary", path)
		}
		chars := make([]rune, len(s.Chars))
		for i, ch := range s.Chars {
			r, n := utf8.DecodeRuneInString(ch)
			if n != len(ch) || r == utf8.RuneError && n <= 1 {
				return nil, false, fmt.Errorf("tokenizer: %s: vocabulary entry %d (%q) is not a single character", path, i, ch)
			}
			chars[i] = r
		}
		t, err := newChar(chars)
		if err != nil {
			return nil, false, fmt.Errorf("tokenizer: %s: %w", path, err)
		}
		return t, true, nil
	default:
		return nil, false, fmt.Errorf("tokenizer: %s: unknown type %q (want \"char\" or \"byte\")", path, s.Type)
	}
}

// writeJSON writes v as indented JSON to path atomically.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	return nil
}
