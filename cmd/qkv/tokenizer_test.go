package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
)

func TestTokenizerEncodeDecode(t *testing.T) {
	t.Setenv("QKV_TOKENIZER_DIR", testenv.RequireDataDir(t))
	cases := []struct {
		tok, text, ids string
		special        bool
	}{
		{"gpt2", "Hello world", "[15496,995]", false},
		{"gpt2", "hello <|endoftext|>", "[31373,220,50256]", true},
		{"gpt2", "", "[]", false},
		{"bert-base-uncased", "Hello, World!", "[7592,1010,2088,999]", false},
		{"bert-base-uncased", "Hello, World!", "[101,7592,1010,2088,999,102]", true},
	}
	for _, c := range cases {
		args := []string{"tokenizer", "encode", "--tokenizer", c.tok}
		if c.special {
			args = append(args, "--special")
		}
		out, err := run(t, c.text, args...)
		if err != nil || strings.TrimSpace(out) != c.ids {
			t.Errorf("encode %q with %s: %q, %v (want %s)", c.text, c.tok, out, err, c.ids)
		}
	}
	out, err := run(t, "[15496, 995]", "tokenizer", "decode", "--tokenizer", "gpt2")
	if err != nil || out != "Hello world" {
		t.Errorf("decode: %q, %v", out, err)
	}
	// <|endoftext|> is plain text unless --special.
	out, _ = run(t, "<|endoftext|>", "tokenizer", "encode", "--tokenizer", "gpt2")
	var ids []int
	if json.Unmarshal([]byte(out), &ids) != nil || len(ids) < 2 {
		t.Errorf("<|endoftext|> as plain text gave %q", out)
	}
	bad := []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"tokenizer", "decode", "--tokenizer", "gpt2"}, "[50257]", "out of range"},
		{[]string{"tokenizer", "decode", "--tokenizer", "gpt2"}, "[-1]", "out of range"},
		{[]string{"tokenizer", "decode", "--tokenizer", "gpt2"}, "hello", "JSON array"},
		{[]string{"tokenizer", "encode", "--tokenizer", "no-such-tokenizer"}, "x", "not gpt2"},
		{[]string{"tokenizer", "train", "--data", "x", "--out", "y", "--vocab-size", "10"}, "", "--vocab-size"},
	}
	for _, c := range bad {
		if _, err := run(t, c.stdin, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v <%q: error %v, want %q", c.args, c.stdin, err, c.want)
		}
	}
}

// Train a BPE vocabulary, then a GPT on it; the run folder carries the tokenizer files.
func TestTrainWithBPE(t *testing.T) {
	dir := t.TempDir()
	corpus := writeFile(t, dir, "corpus.txt", strings.Repeat("the cat sat on the mat; the dog sat on the log. ", 80))
	tokDir := filepath.Join(dir, "tok")
	out, err := run(t, "", "tokenizer", "train", "--data", corpus, "--vocab-size", "270", "--out", tokDir)
	if err != nil || !strings.Contains(out, "learned 270 tokens") {
		t.Fatalf("%v\n%s", err, out)
	}
	runDir := filepath.Join(dir, "run")
	out, err = run(t, "", "train", "--data", corpus, "--tokenizer", tokDir, "--preset", "tiny", "--block", "16", "--iters", "10", "--out", runDir, "--sample-tokens", "5")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "tokenizer: gpt2-bpe, 270 tokens") {
		t.Fatalf("train output:\n%s", out)
	}
	for _, f := range []string{"vocab.json", "merges.txt", "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(runDir, "checkpoints", "step-000010", f)); err != nil {
			t.Errorf("the checkpoint lacks %s", f)
		}
	}
	enc, err := run(t, "the cat", "tokenizer", "encode", "--tokenizer", filepath.Join(runDir, "checkpoints", "step-000010"))
	if err != nil || !strings.HasPrefix(enc, "[") {
		t.Fatalf("encoding with the run's tokenizer: %q, %v", enc, err)
	}
}
