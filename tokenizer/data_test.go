package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// dataDir returns a folder of the shared test data (../shared/data beside the module, or
// $QKV_DATA_DIR), skipping the test when it is absent.
func dataDir(t testing.TB, sub string) string {
	t.Helper()
	dir := filepath.Join(dataRoot(), sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("test data %s not found (set QKV_DATA_DIR to the shared data folder): %v", dir, err)
	}
	return dir
}

// dataRoot is the shared test data folder: $QKV_DATA_DIR, else ../shared/data beside the module.
func dataRoot() string {
	if root := os.Getenv("QKV_DATA_DIR"); root != "" {
		return root
	}
	return filepath.Join("..", "..", "shared", "data")
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
