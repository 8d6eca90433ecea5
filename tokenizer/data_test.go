package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
)

// dataDir returns a folder of the shared test data (see internal/testenv), skipping the test
// when it is absent (failing it under CI=true).
func dataDir(t testing.TB, sub string) string {
	t.Helper()
	return testenv.RequireDataSubdir(t, sub)
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// loaded is a tokenizer loaded once per test binary.
type loaded[T any] struct {
	once sync.Once
	tok  T
	err  error
}

// get returns the tokenizer, loading it on the first call.
func (l *loaded[T]) get(t testing.TB, load func() (T, error)) T {
	t.Helper()
	l.once.Do(func() { l.tok, l.err = load() })
	if l.err != nil {
		t.Fatal(l.err)
	}
	return l.tok
}

var gpt2Tok loaded[*GPT2]

// loadTestGPT2 loads GPT-2's tokenizer from the shared data once per test binary.
func loadTestGPT2(t testing.TB) *GPT2 {
	t.Helper()
	dir := dataDir(t, "gpt2-tokenizer")
	return gpt2Tok.get(t, func() (*GPT2, error) { return LoadGPT2(dir) })
}

var bertTok loaded[*WordPiece]

func loadTestBERT(t testing.TB) *WordPiece {
	t.Helper()
	dir := dataDir(t, "bert-base-uncased-vocab")
	return bertTok.get(t, func() (*WordPiece, error) { return LoadWordPiece(dir, true) })
}

func shakespeare(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir(t, "tinyshakespeare"), "input.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
