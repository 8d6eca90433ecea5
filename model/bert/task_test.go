package bert

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/data"
	"github.com/qkvdev/qkv/tokenizer"
	"github.com/qkvdev/qkv/train"
)

// toyWords is the vocabulary of the toy corpus after the special tokens.
var toyWords = strings.Fields("the a cat dog sat ran on in mat park red blue big small saw jumped over fence ball")

// toyTask is a tiny BERT over a toy corpus of fixed sentences, documents of four sentences.
func toyTask(t *testing.T, seed uint64, dropout float32) *PretrainTask {
	t.Helper()
	vocab := append([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}, toyWords...)
	wp, err := tokenizer.NewWordPiece(vocab, tokenizer.WordPieceOptions{Lowercase: true})
	if err != nil {
		t.Fatal(err)
	}
	sentences := []string{"the cat sat on the mat", "the dog ran in the park", "a red ball jumped over the fence", "the big blue dog saw a small cat"}
	var docs [][]string
	for d := range 12 {
		var doc []string
		for s := range 4 {
			doc = append(doc, sentences[(d+s)%len(sentences)])
		}
		docs = append(docs, doc)
	}
	opts := data.DefaultPretrainOptions()
	opts.MaxSeqLength, opts.Seed = 24, 3
	tr, err := data.NewPretraining(context.Background(), docs[:10], wp, opts)
	if err != nil {
		t.Fatal(err)
	}
	val, err := data.NewPretraining(context.Background(), docs[8:], wp, opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{VocabSize: wp.VocabSize(), HiddenSize: 48, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 96,
		HiddenAct: "gelu", MaxPositionEmbeddings: 24, TypeVocabSize: 2, LayerNormEps: 1e-12,
		HiddenDropoutProb: dropout, AttentionDropoutProb: dropout}
	m, err := New(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	return &PretrainTask{Model: m, Tokenizer: wp, Train: tr, Val: val, Batch: 8, EvalBatches: 4}
}

func toyConfig(dir string, iters int) train.Config {
	return train.Config{Iters: iters, LR: 1e-2, MinLR: 1e-3, Warmup: 10, Beta1: 0.9, Beta2: 0.99, WeightDecay: 0.01, Clip: 1,
		EvalInterval: 20, LogInterval: 5, Seed: 7, RunDir: dir}
}

// A tiny BERT learns the toy corpus in 300 steps: the validation MLM loss falls from ln 24 ≈ 3.2
// (a uniform guess over the vocabulary) below 2.4, it predicts at least 30 % of the masked
// tokens (chance: 4 %), and next-sentence prediction, which the four sentences' fixed order
// makes easy, is right at least 80 % of the time. The validation loss, over 38 masked tokens,
// is 1.6–2.2 depending on the kernel path's rounding (QKV_CPU=go, avx2, avx512, 1 or 2
// threads): the bounds leave room for that and still fail a model that learned nothing.
func TestPretrainTaskLearns(t *testing.T) {
	task := toyTask(t, 1, 0)
	dir := t.TempDir()
	if _, err := train.Run(context.Background(), task, toyConfig(dir, 300)); err != nil {
		t.Fatal(err)
	}
	recs, err := train.ReadMetrics(filepath.Join(dir, checkpoint.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"loss", "mlm_loss", "nsp_loss", "mlm_accuracy", "nsp_accuracy"} {
		if _, ok := recs[0][key]; !ok {
			t.Fatalf("metrics.jsonl record %v has no %s", recs[0], key)
		}
	}
	if _, ok := recs[len(recs)-1]["val_mlm_accuracy_full"]; !ok {
		t.Fatalf("the final evaluation's record %v has no val_mlm_accuracy_full", recs[len(recs)-1])
	}
	s, _ := task.Scores(context.Background(), true)
	t.Logf("validation: %v", s)
	if s["mlm_loss"] > 2.4 || s["mlm_accuracy"] < 0.3 || s["nsp_accuracy"] < 0.8 {
		t.Fatalf("after 300 steps MLM loss %.3f, MLM accuracy %.3f, NSP accuracy %.3f; want ≤ 2.4, ≥ 0.3 and ≥ 0.8", s["mlm_loss"], s["mlm_accuracy"], s["nsp_accuracy"])
	}
}

// An interrupted and resumed BERT pretraining run gives exactly the losses of an uninterrupted
// one, dropout on: the batches and masks come from the data RNG the checkpoint stores.
func TestPretrainResumeIsExact(t *testing.T) {
	var full, parts []float64
	cfg := toyConfig(t.TempDir(), 30)
	cfg.OnStep = func(_ int, l float64) bool { full = append(full, l); return true }
	if _, err := train.Run(context.Background(), toyTask(t, 1, 0.1), cfg); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg = toyConfig(dir, 30)
	cfg.OnStep = func(step int, l float64) bool { parts = append(parts, l); return step < 13 }
	res, err := train.Run(context.Background(), toyTask(t, 1, 0.1), cfg)
	if !errors.Is(err, train.ErrInterrupted) || res.Steps != 13 {
		t.Fatalf("interrupted run: %+v, %v", res, err)
	}
	cfg = toyConfig(dir, 30)
	cfg.Resume = true
	cfg.OnStep = func(_ int, l float64) bool { parts = append(parts, l); return true }
	if _, err := train.Run(context.Background(), toyTask(t, 99, 0.1), cfg); err != nil { // other weights: the checkpoint's must win
		t.Fatal(err)
	}
	if len(parts) != len(full) {
		t.Fatalf("%d losses after resume, %d uninterrupted", len(parts), len(full))
	}
	for i := range full {
		if parts[i] != full[i] {
			t.Fatalf("step %d: loss %.9f after resume, %.9f uninterrupted", i+1, parts[i], full[i])
		}
	}
}

// Check refuses what the loop cannot train.
func TestPretrainTaskCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(*PretrainTask)
		want  string
	}{
		{"batch", func(p *PretrainTask) { p.Batch = 0 }, "batch size"},
		{"no head", func(p *PretrainTask) { p.Model.NSP = nil }, "pretraining needs"},
		{"long instance", func(p *PretrainTask) { p.Model.Config.MaxPositionEmbeddings = 8 }, "max_position_embeddings"},
		{"vocabulary", func(p *PretrainTask) { p.Model.Config.VocabSize = 10 }, "vocab_size"},
		{"empty split", func(p *PretrainTask) { p.Val = &data.Pretraining{} }, "no instance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := toyTask(t, 1, 0)
			tc.spoil(task)
			if err := task.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check() = %v, want an error about %q", err, tc.want)
			}
		})
	}
}
