package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenizerTrainWordPiece: --type wordpiece saves a BERT vocabulary that encode reads back,
// and bpe stays the default.
func TestTokenizerTrainWordPiece(t *testing.T) {
	dir := t.TempDir()
	corpus := writeFile(t, dir, "corpus.txt", strings.Repeat("The lowest newer widest lower slow. Newest wider, newer!\n", 20))
	wp := filepath.Join(dir, "wp")
	out, err := run(t, "", "tokenizer", "train", "--type", "wordpiece", "--data", corpus, "--vocab-size", "40", "--out", wp)
	if err != nil || !strings.Contains(out, "learned 40 tokens") {
		t.Fatalf("train: %q, %v", out, err)
	}
	vocab, err := os.ReadFile(filepath.Join(wp, "vocab.txt"))
	if err != nil || !strings.HasPrefix(string(vocab), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n") {
		t.Fatalf("vocab.txt: %.40q, %v", vocab, err)
	}
	out, err = run(t, "NEWEST lower", "tokenizer", "encode", "--tokenizer", wp, "--special")
	if err != nil || !strings.HasPrefix(out, "[2,") || !strings.HasSuffix(strings.TrimSpace(out), ",3]") {
		t.Errorf("encode with the trained vocabulary: %q, %v", out, err)
	}
	if out, err := run(t, strings.TrimSpace(out), "tokenizer", "decode", "--tokenizer", wp); err != nil || out != "[CLS] newest lower [SEP]" {
		t.Errorf("decode: %q, %v", out, err)
	}

	bpe := filepath.Join(dir, "bpe")
	if _, err := run(t, "", "tokenizer", "train", "--data", corpus, "--vocab-size", "300", "--out", bpe); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(bpe, "merges.txt")); err != nil {
		t.Errorf("the default type did not train BPE: %v", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--type", "sentencepiece"}, `--type "sentencepiece": want bpe or wordpiece`},
		{[]string{"--type", "wordpiece", "--vocab-size", "5"}, "--vocab-size 5: want 6..1048576"},
		{[]string{"--type", "wordpiece", "--vocab-size", "8"}, "vocabulary size 8 is below"},
	} {
		args := append([]string{"tokenizer", "train", "--data", corpus, "--out", filepath.Join(dir, "bad")}, c.args...)
		if _, err := run(t, "", args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}
