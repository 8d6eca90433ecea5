package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/train"
)

// qkv train --arch bert pretrains from a corpus of documents with a vocab.txt: metrics with the
// MLM and NSP parts, a checkpoint model/auto loads as a BERT, resume with --iters, and the
// BERT-only flags refused out of range before anything is created.
func TestTrainBERT(t *testing.T) {
	dir := t.TempDir()
	model := fixtureModel(t, filepath.Join(dir, "vocab"), 40) // for its vocab.txt
	var corpus strings.Builder
	for d := range 8 {
		corpus.WriteString("a man is running on the grass outside .\na dog is sitting on the sofa inside .\n")
		if d%2 == 0 {
			corpus.WriteString("a cat is sleeping .\n")
		}
		corpus.WriteString("\n")
	}
	data := writeFile(t, dir, "corpus.txt", corpus.String())
	runDir := filepath.Join(dir, "run")
	args := []string{"train", "--arch", "bert", "--tokenizer", model, "--data", data, "--preset", "tiny", "--n-embd", "32", "--max-seq-length", "24",
		"--batch", "4", "--iters", "6", "--eval-interval", "3", "--log-interval", "2", "--val-fraction", "0.25", "--whole-word-mask", "--out", runDir}
	out, err := run(t, "", args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "model: BERT, 2 layers, 2 heads, 32 wide") || !strings.Contains(out, "validation: masked-LM loss") {
		t.Fatalf("output:\n%s", out)
	}
	recs, err := train.ReadMetrics(filepath.Join(runDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := recs[0]["mlm_accuracy"]; !ok {
		t.Fatalf("first record %v lacks mlm_accuracy", recs[0])
	}
	m, err := auto.Load(filepath.Join(runDir, "checkpoints", "step-000006"))
	if err != nil || m.Type() != "bert" {
		t.Fatalf("checkpoint: %v, %v", m, err)
	}
	if out, err := run(t, "", "train", "--resume", runDir, "--iters", "8"); err != nil || !strings.Contains(out, "resuming") {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	if _, err := run(t, "", "train", "--resume", runDir, "--mask-prob", "0.2"); err == nil || !strings.Contains(err.Error(), "--mask-prob") {
		t.Fatalf("resume with a changed --mask-prob: %v", err)
	}

	for _, bad := range [][]string{{"--max-seq-length", "3"}, {"--preset", "huge"}, {"--dropout", "1"}, {"--batch", "0"}, {"--tokenizer", "byte"}, {"--block", "64"}} {
		out := filepath.Join(dir, "bad")
		_, err := run(t, "", append(append([]string{}, args[:len(args)-2]...), append(bad, "--out", out)...)...)
		if err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: %v", bad, err)
		}
		if _, serr := os.Stat(filepath.Join(out, "run.json")); serr == nil {
			t.Errorf("%v: a refused run left %s", bad, out)
		}
	}
}
