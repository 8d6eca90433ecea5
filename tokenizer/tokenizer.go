// Package tokenizer turns text into token ids and back.
//
// A Tokenizer is one of: character-level (a vocabulary of the characters of a corpus), raw bytes
// (256 ids), GPT-2 byte-level BPE, or BERT WordPiece. Every tokenizer can save its files into a
// checkpoint folder, and Load reads back whichever kind a folder holds.
package tokenizer

import (
	"errors"
	"fmt"
	"os"
)

// Tokenizer encodes text to ids and decodes ids to text.
type Tokenizer interface {
	// Encode returns the ids of text. Special tokens written in text are encoded as plain text.
	Encode(text string) []int
	// Decode returns the text of ids; an id outside [0, VocabSize()) is an error.
	Decode(ids []int) (string, error)
	// VocabSize is the number of ids.
	VocabSize() int
	// Kind names the tokenizer family: "char", "byte", "gpt2-bpe", "wordpiece".
	Kind() string
	// Save writes the tokenizer's files into dir (which exists).
	Save(dir string) error
}

// ErrNoTokenizer is returned by Load when a folder holds no tokenizer files.
var ErrNoTokenizer = errors.New("no tokenizer files")

// A loader recognises a tokenizer's files in a folder. ok is false when the folder holds none of
// its files.
type loader func(dir string) (tok Tokenizer, ok bool, err error)

// loaders are tried in order by Load; more specific formats come first.
var loaders []loader

func register(l loader) { loaders = append(loaders, l) }

// Load reads the tokenizer saved in dir, whatever its kind.
func Load(dir string) (Tokenizer, error) {
	for _, l := range loaders {
		tok, ok, err := l(dir)
		if err != nil {
			return nil, err
		}
		if ok {
			return tok, nil
		}
	}
	return nil, fmt.Errorf("tokenizer: %s: %w (expected %s, vocab.json+merges.txt, tokenizer.json or vocab.txt)", dir, ErrNoTokenizer, qkvTokenizerFile)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func checkIDs(ids []int, n int) error {
	for i, id := range ids {
		if id < 0 || id >= n {
			return fmt.Errorf("tokenizer: id %d at position %d is out of range [0, %d)", id, i, n)
		}
	}
	return nil
}
