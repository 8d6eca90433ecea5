package finetune

import (
	"path/filepath"
	"testing"

	"github.com/qkvdev/qkv/data/nli"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tokenizer"
)

// The SNLI sample and RTE in the shared data encode with bert-base-uncased's vocabulary into
// pairs that fit 64 tokens with BERT's three special tokens: long pairs are truncated by
// longest_first, none is refused, and pairs without a gold label are skipped.
func TestEncodeSharedData(t *testing.T) {
	vocab := filepath.Join(testenv.RequireDataSubdir(t, "bert-base-uncased-vocab"), "vocab.txt")
	tok, err := tokenizer.LoadWordPiece(vocab, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		task, dir, file string
		pairs           int
	}{
		{"snli", "snli-sample", "snli_1.0_test_first1277.jsonl", 1277 - 23},
		{"snli", "snli-sample", "snli_1.0_dev_first1289.jsonl", 1289 - 16},
		{"rte", "rte", "train.jsonl", 2490},
		{"rte", "rte", "val.jsonl", 277},
	} {
		task, err := nli.Lookup(tc.task)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := task.Load(filepath.Join(testenv.RequireDataSubdir(t, tc.dir), tc.file))
		if err != nil {
			t.Fatal(err)
		}
		pairs, ids, cut, err := Encode(ds, tok, EncodeOptions{MaxLength: 64, Specials: 3, Strategy: LongestFirst})
		if err != nil {
			t.Fatal(err)
		}
		if len(pairs) != tc.pairs || len(ids) != tc.pairs {
			t.Fatalf("%s: %d pairs, want %d", tc.file, len(pairs), tc.pairs)
		}
		for i, p := range pairs {
			if len(p.A)+len(p.B) > 61 || len(p.B) == 0 {
				t.Fatalf("%s pair %d: %d + %d tokens", tc.file, i, len(p.A), len(p.B))
			}
		}
		t.Logf("%s: %d pairs, %d truncated to 64 tokens", tc.file, len(pairs), cut)
	}
}
