package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tokenizer"
)

// runSplit runs qkv with args and stdin and returns standard output and error apart.
func runSplit(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// tinyBERTFolder saves a small random BERT with a WordPiece tokenizer.
func tinyBERTFolder(t *testing.T) string {
	t.Helper()
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "a", "dog", "ran"}
	dir := t.TempDir()
	saveTinyBERT(t, dir, vocab, bert.Config{HiddenSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 32,
		MaxPositionEmbeddings: 16, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu", Head: bert.HeadNone}, 7)
	return dir
}

// saveTinyBERT saves a random BERT of shape cfg (its VocabSize set from vocab) with a lowercasing
// WordPiece tokenizer over vocab into dir, and returns both.
func saveTinyBERT(t *testing.T, dir string, vocab []string, cfg bert.Config, seed uint64) (*bert.Model, *tokenizer.WordPiece) {
	t.Helper()
	cfg.VocabSize = len(vocab)
	m, err := bert.New(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.NewWordPiece(vocab, tokenizer.WordPieceOptions{Lowercase: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	return m, tok
}

func tinyGPTFolder(t *testing.T) string {
	t.Helper()
	return tinyGPT(t, "the cat sat on a mat\n", gpt.Config{NPositions: 32, NEmbd: 16, NLayer: 1, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu"}, 7)
}

type embedLine struct {
	Object    string    `json:"object"`
	Index     int       `json:"index"`
	Embedding []float32 `json:"embedding"`
}

func parseJSONL(t *testing.T, out string) []embedLine {
	t.Helper()
	var lines []embedLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e embedLine
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		lines = append(lines, e)
	}
	return lines
}

func norm(v []float32) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// qkv embed prints one embedding per input line, in order, whatever the batch size: identical
// lines give identical embeddings, --normalize gives unit vectors, --format openai one list.
func TestEmbedCommand(t *testing.T) {
	input := "the cat sat on the mat\r\na dog ran\nthe cat sat on the mat\nmat\n"
	for _, tc := range []struct {
		name, dir string
		pooling   string
	}{
		{"bert mean", tinyBERTFolder(t), "mean"},
		{"bert cls", tinyBERTFolder(t), "cls"},
		{"gpt last", tinyGPTFolder(t), "last"},
		{"gpt mean", tinyGPTFolder(t), "mean"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runSplit(t, input, "embed", "--model", tc.dir, "--pooling", tc.pooling, "--normalize", "--batch-size", "3")
			if err != nil {
				t.Fatal(err)
			}
			lines := parseJSONL(t, out)
			if len(lines) != 4 {
				t.Fatalf("%d lines out for 4 in:\n%s", len(lines), out)
			}
			for i, l := range lines {
				if l.Index != i || len(l.Embedding) != 16 || math.Abs(norm(l.Embedding)-1) > 1e-5 {
					t.Errorf("line %d: index %d, %d values, norm %v", i, l.Index, len(l.Embedding), norm(l.Embedding))
				}
			}
			for c := range lines[0].Embedding {
				if d := math.Abs(float64(lines[0].Embedding[c] - lines[2].Embedding[c])); d > 1e-5 {
					t.Fatalf("identical lines 1 and 3 differ by %g (batched apart)", d)
				}
			}
			// One by one, from a file: the same embeddings.
			file := writeFile(t, t.TempDir(), "in.txt", input)
			one, _, err := runSplit(t, "", "embed", "--model", tc.dir, "--pooling", tc.pooling, "--normalize", "--batch-size", "1", file)
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range parseJSONL(t, one) {
				for c := range l.Embedding {
					if d := math.Abs(float64(l.Embedding[c] - lines[i].Embedding[c])); d > 1e-5 {
						t.Fatalf("line %d: batch size 1 and 3 differ by %g", i, d)
					}
				}
			}
			// The OpenAI-style list.
			list, _, err := runSplit(t, input, "embed", "--model", tc.dir, "--pooling", tc.pooling, "--format", "openai")
			if err != nil {
				t.Fatal(err)
			}
			var resp struct {
				Object string      `json:"object"`
				Data   []embedLine `json:"data"`
				Model  string      `json:"model"`
				Usage  struct {
					PromptTokens int `json:"prompt_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal([]byte(list), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Object != "list" || len(resp.Data) != 4 || resp.Data[3].Object != "embedding" || resp.Data[3].Index != 3 || resp.Model != tc.dir || resp.Usage.PromptTokens == 0 {
				t.Errorf("openai format: %s", list)
			}
		})
	}
}

// Bad flags and inputs are refused with a message that says what to do.
func TestEmbedRefusals(t *testing.T) {
	dir := tinyBERTFolder(t)
	noTok := t.TempDir()
	m, err := bert.New(bert.Config{VocabSize: 8, HiddenSize: 8, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 8, MaxPositionEmbeddings: 8, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(noTok); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"x\n", []string{"embed"}, "--model is required"},
		{"x\n", []string{"embed", "--model", dir, "--pooling", "max"}, "--pooling"},
		{"x\n", []string{"embed", "--model", dir, "--pooling", "last"}, "does not suit BERT"},
		{"x\n", []string{"embed", "--model", dir, "--format", "csv"}, "--format"},
		{"x\n", []string{"embed", "--model", dir, "--batch-size", "0"}, "--batch-size"},
		{"", []string{"embed", "--model", dir}, "no lines"},
		{"ok\n\xff\n", []string{"embed", "--model", dir}, "line 2 is not valid UTF-8"},
		{"x\n", []string{"embed", "--model", noTok}, "no tokenizer"},
		{"x\n", []string{"embed", "--model", dir, filepath.Join(dir, "missing.txt")}, "missing.txt"},
		{"x\n", []string{"embed", "--model", dir, dir}, "not a regular file"},
		{"x\n", []string{"embed", "--model", dir, fifo}, "not a regular file"},
		{"x\n", []string{"embed", "--model", dir, "/dev/zero"}, "not a regular file"},
	} {
		_, _, err := runSplit(t, tc.stdin, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
