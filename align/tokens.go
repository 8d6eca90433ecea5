package align

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/tokenizer"
)

// SpecialTokensFile lists the special tokens a chat model's tokenizer adds to its base
// tokenizer, in id order after the base vocabulary.
const SpecialTokensFile = "qkv_special_tokens.json"

// Tokenizer is a base tokenizer plus special tokens (a chat template's <|im_start|> …) with
// ids after the base vocabulary. Encode turns each special token written in the text into its
// one id; the text around them goes through the base tokenizer.
type Tokenizer struct {
	Base     tokenizer.Tokenizer
	Specials []string
}

// WithSpecials returns base with the tokens of specials it does not already have added.
func WithSpecials(base tokenizer.Tokenizer, specials []string) (*Tokenizer, error) {
	t := &Tokenizer{Base: base}
	if s, ok := base.(*Tokenizer); ok {
		t.Base, t.Specials = s.Base, append([]string(nil), s.Specials...)
	}
	for _, s := range specials {
		if s == "" {
			return nil, fmt.Errorf("align: an empty special token")
		}
		if t.ID(s) < 0 {
			t.Specials = append(t.Specials, s)
		}
	}
	return t, nil
}

// ID returns the id of a special token, or -1.
func (t *Tokenizer) ID(special string) int {
	for i, s := range t.Specials {
		if s == special {
			return t.Base.VocabSize() + i
		}
	}
	return -1
}

// Encode implements tokenizer.Tokenizer.
func (t *Tokenizer) Encode(text string) []int {
	var out []int
	for text != "" {
		at, which := -1, -1
		for i, s := range t.Specials {
			if j := strings.Index(text, s); j >= 0 && (at < 0 || j < at || j == at && len(s) > len(t.Specials[which])) {
				at, which = j, i
			}
		}
		if at < 0 {
			return append(out, t.Base.Encode(text)...)
		}
		out = append(out, t.Base.Encode(text[:at])...)
		out = append(out, t.Base.VocabSize()+which)
		text = text[at+len(t.Specials[which]):]
	}
	return out
}

// Decode implements tokenizer.Tokenizer.
func (t *Tokenizer) Decode(ids []int) (string, error) {
	var b strings.Builder
	n := t.Base.VocabSize()
	start := 0
	flush := func(end int) error {
		if end > start {
			s, err := t.Base.Decode(ids[start:end])
			if err != nil {
				return err
			}
			b.WriteString(s)
		}
		return nil
	}
	for i, id := range ids {
		if id < n {
			continue
		}
		if id >= n+len(t.Specials) {
			return "", fmt.Errorf("tokenizer: id %d at position %d is out of range [0, %d)", id, i, t.VocabSize())
		}
		if err := flush(i); err != nil {
			return "", err
		}
		b.WriteString(t.Specials[id-n])
		start = i + 1
	}
	if err := flush(len(ids)); err != nil {
		return "", err
	}
	return b.String(), nil
}

// VocabSize implements tokenizer.Tokenizer.
func (t *Tokenizer) VocabSize() int { return t.Base.VocabSize() + len(t.Specials) }

// Kind implements tokenizer.Tokenizer.
func (t *Tokenizer) Kind() string { return t.Base.Kind() }

type savedSpecials struct {
	BaseVocab int      `json:"base_vocab_size"`
	Tokens    []string `json:"tokens"`
}

// Save implements tokenizer.Tokenizer: the base tokenizer's files and SpecialTokensFile.
func (t *Tokenizer) Save(dir string) error {
	if err := t.Base.Save(dir); err != nil {
		return err
	}
	data, err := json.MarshalIndent(savedSpecials{t.Base.VocabSize(), t.Specials}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, SpecialTokensFile), append(data, '\n'), 0o644)
}

// LoadTokenizer reads the tokenizer of a model folder, with its special tokens when the folder
// has SpecialTokensFile.
func LoadTokenizer(dir string) (tokenizer.Tokenizer, error) {
	base, err := tokenizer.Load(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, SpecialTokensFile)
	data, err := fileutil.ReadFile(path, fileutil.SmallFileLimit, "a special-tokens file")
	if errors.Is(err, os.ErrNotExist) {
		return base, nil
	}
	if err != nil {
		return nil, err
	}
	var s savedSpecials
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.BaseVocab != base.VocabSize() {
		return nil, fmt.Errorf("%s: special tokens follow a vocabulary of %d, but the folder's tokenizer has %d", path, s.BaseVocab, base.VocabSize())
	}
	return WithSpecials(base, s.Tokens)
}

// SameTokenizer reports whether a and b encode and decode alike: the same kind, vocabulary
// size and special tokens, and the same ids for a probe text.
func SameTokenizer(a, b tokenizer.Tokenizer) error {
	if a.Kind() != b.Kind() || a.VocabSize() != b.VocabSize() {
		return fmt.Errorf("tokenizers differ: %s with %d tokens vs %s with %d", a.Kind(), a.VocabSize(), b.Kind(), b.VocabSize())
	}
	const probe = "Question: What is 12+7? Answer: 19. The quick brown fox <|im_start|>user\n"
	ea, eb := a.Encode(probe), b.Encode(probe)
	if len(ea) != len(eb) {
		return fmt.Errorf("tokenizers differ: %d vs %d tokens for the same text", len(ea), len(eb))
	}
	for i := range ea {
		if ea[i] != eb[i] {
			return fmt.Errorf("tokenizers differ: token %d of the same text is %d vs %d", i, ea[i], eb[i])
		}
	}
	return nil
}
