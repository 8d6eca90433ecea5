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

var (
	gpt2Once sync.Once
	gpt2Tok  *GPT2
	gpt2Err  error
)

// loadTestGPT2 loads GPT-2's tokenizer from the shared data once per test binary.
func loadTestGPT2(t testing.TB) *GPT2 {
	t.Helper()
	dir := dataDir(t, "gpt2-tokenizer")
	gpt2Once.Do(func() { gpt2Tok, gpt2Err = LoadGPT2(dir) })
	if gpt2Err != nil {
		t.Fatal(gpt2Err)
	}
	return gpt2Tok
}

var (
	bertOnce sync.Once
	bertTok  *WordPiece
	bertErr  error
)

func loadTestBERT(t testing.TB) *WordPiece {
	t.Helper()
	dir := dataDir(t, "bert-base-uncased-vocab")
	bertOnce.Do(func() { bertTok, bertErr = LoadWordPiece(dir, true) })
	if bertErr != nil {
		t.Fatal(bertErr)
	}
	return bertTok
}

func shakespeare(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir(t, "tinyshakespeare"), "input.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
