package finetune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
	"github.com/qkvdev/qkv/train"
)

func ids(n, from int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = from + i
	}
	return s
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		strategy     string
		a, b, budget int
		wantA, wantB int
		fails        bool
	}{
		{LongestFirst, 3, 4, 10, 3, 4, false},
		{LongestFirst, 10, 4, 8, 4, 4, false}, // the longer loses tokens until they tie…
		{LongestFirst, 5, 5, 7, 4, 3, false},  // …then b loses first, as HuggingFace's does
		{LongestFirst, 100, 1, 3, 2, 1, false},
		{OnlyFirst, 10, 4, 8, 4, 4, false},
		{OnlyFirst, 2, 10, 8, 0, 0, true},
		{OnlySecond, 4, 10, 8, 4, 4, false},
		{OnlySecond, 10, 2, 8, 0, 0, true},
		{DoNotTrunc, 5, 5, 9, 0, 0, true},
		{DoNotTrunc, 4, 5, 9, 4, 5, false},
		{"middle_out", 5, 5, 9, 0, 0, true},
	} {
		a, b := ids(tc.a, 100), ids(tc.b, 200)
		ga, gb, err := Truncate(a, b, tc.budget, tc.strategy)
		if tc.fails {
			if err == nil {
				t.Errorf("%s %d+%d into %d: no error", tc.strategy, tc.a, tc.b, tc.budget)
			}
			continue
		}
		if err != nil || len(ga) != tc.wantA || len(gb) != tc.wantB {
			t.Errorf("%s %d+%d into %d: %d+%d, %v; want %d+%d", tc.strategy, tc.a, tc.b, tc.budget, len(ga), len(gb), err, tc.wantA, tc.wantB)
			continue
		}
		if !slices.Equal(ga, a[:len(ga)]) || !slices.Equal(gb, b[:len(gb)]) {
			t.Errorf("%s: tokens removed from the front", tc.strategy)
		}
	}
}

// markerPairs is a separable pair task over token ids 5..24: the class is which of three marker
// tokens (5, 6, 7) the second segment holds; everything else is noise.
func markerPairs(n int, seed uint64) []Pair {
	rng := tensor.NewRNG(seed)
	pairs := make([]Pair, n)
	for i := range pairs {
		a, b := make([]int, 2+rng.IntN(5)), make([]int, 2+rng.IntN(5))
		for j := range a {
			a[j] = 8 + rng.IntN(17)
		}
		for j := range b {
			b[j] = 8 + rng.IntN(17)
		}
		label := rng.IntN(3)
		b[rng.IntN(len(b))] = 5 + label
		pairs[i] = Pair{A: a, B: b, Label: label}
	}
	return pairs
}

var labels3 = []string{"entailment", "neutral", "contradiction"}

func tinyBERT(t *testing.T, seed uint64, dropout float32) Model {
	t.Helper()
	cfg := bert.Config{VocabSize: 25, HiddenSize: 32, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 64, HiddenAct: "gelu",
		MaxPositionEmbeddings: 24, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenDropoutProb: dropout, AttentionDropoutProb: dropout,
		Head: bert.HeadClassification, NumLabels: 3, Labels: labels3, ClassifierDropoutProb: dropout}
	m, err := bert.New(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	return &BERT{M: m, Cls: 2, Sep: 3, Pad: 0}
}

func tinyGPT(t *testing.T, seed uint64, dropout float32) Model {
	t.Helper()
	lm, err := gpt.New(gpt.Config{VocabSize: 25, NPositions: 24, NEmbd: 32, NLayer: 1, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu_new",
		ResidPdrop: dropout, EmbdPdrop: dropout, AttnPdrop: dropout}, seed)
	if err != nil {
		t.Fatal(err)
	}
	c, err := gpt.NewClassifier(lm, labels3, seed)
	if err != nil {
		t.Fatal(err)
	}
	return &GPT{C: c}
}

// markerVocab is a WordPiece vocabulary of the 25 ids the marker task uses.
func markerVocab(t *testing.T) *tokenizer.WordPiece {
	t.Helper()
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	for i := 5; i < 25; i++ {
		vocab = append(vocab, fmt.Sprintf("w%d", i))
	}
	wp, err := tokenizer.NewWordPiece(vocab, tokenizer.WordPieceOptions{Lowercase: true})
	if err != nil {
		t.Fatal(err)
	}
	return wp
}

func markerTask(t *testing.T, m Model, out string) *Task {
	return &Task{Model: m, Tokenizer: markerVocab(t), Labels: labels3, Train: markerPairs(192, 1), Dev: []DevSet{{Name: "dev", Pairs: markerPairs(96, 2)}}, Batch: 16, Seed: 3, OutDir: out}
}

func runConfig(dir string, task *Task, epochs int) train.Config {
	spe := task.StepsPerEpoch()
	return train.Config{Iters: epochs * spe, LR: 3e-3, Warmup: spe, Beta1: 0.9, Beta2: 0.999, WeightDecay: 0.01, Clip: 1,
		EvalInterval: spe, LogInterval: 4, Seed: 5, RunDir: dir}
}

// A tiny BERT and a tiny GPT (GPT-1's layout, auxiliary LM loss on) learn the marker task to at
// least 95 % dev accuracy in 10 epochs of 12 steps; the output folder then holds the best model,
// which loads back with the same predictions, and one prediction line per dev pair.
func TestTinyModelsLearnPairTask(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    func(*testing.T, uint64, float32) Model
	}{{"bert", tinyBERT}, {"gpt", tinyGPT}} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			task := markerTask(t, tc.m(t, 1, 0), out) // a new run: no Seek needed
			if _, err := train.Run(context.Background(), task, runConfig(filepath.Join(out, "run"), task, 10)); err != nil {
				t.Fatal(err)
			}
			best, ok := task.Best()
			if !ok || best.Accuracy["dev"] < 0.95 {
				t.Fatalf("best dev accuracy %.3f (evaluations %+v), want ≥ 0.95", best.Accuracy["dev"], task.Results().Evals)
			}
			if n := len(task.Results().Evals); n != 10 {
				t.Fatalf("%d evaluations, want one per epoch (10)", n)
			}
			data, err := os.ReadFile(filepath.Join(out, PredictionsFile("dev")))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			hit := 0
			for i, l := range lines {
				var p Prediction
				if err := json.Unmarshal([]byte(l), &p); err != nil || p.Index != i || len(p.Probabilities) != 3 {
					t.Fatalf("prediction line %d: %q (%v)", i, l, err)
				}
				if p.Label == p.Gold {
					hit++
				}
			}
			if len(lines) != 96 || float64(hit)/96 != best.Accuracy["dev"] {
				t.Fatalf("%d prediction lines with %d right; want 96 with accuracy %.3f", len(lines), hit, best.Accuracy["dev"])
			}
			var reloaded Model
			switch tc.name {
			case "bert":
				m, err := bert.Load(out)
				if err != nil {
					t.Fatal(err)
				}
				if m.Config.Head != bert.HeadClassification || !slices.Equal(m.Config.Labels, labels3) {
					t.Fatalf("saved model has head %s, labels %v", m.Config.Head, m.Config.Labels)
				}
				reloaded = &BERT{M: m, Cls: 2, Sep: 3, Pad: 0}
			case "gpt":
				c, err := gpt.LoadClassifier(out)
				if err != nil {
					t.Fatal(err)
				}
				reloaded = &GPT{C: c}
			}
			again := &Task{Model: reloaded, Labels: labels3, Dev: task.Dev, Batch: 16}
			probs, _, err := again.predict(context.Background(), task.Dev[0])
			if err != nil {
				t.Fatal(err)
			}
			rhit := 0
			for i, p := range probs {
				if argmax(p) == task.Dev[0].Pairs[i].Label {
					rhit++
				}
			}
			if rhit != hit {
				t.Fatalf("the saved best model gets %d right, the run's best %d", rhit, hit)
			}
		})
	}
}

// An interrupted fine-tuning run, resumed at its checkpoint's step, gives exactly the losses of
// an uninterrupted one (dropout on), and keeps its earlier evaluations.
func TestFinetuneResumeIsExact(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    func(*testing.T, uint64, float32) Model
	}{{"bert", tinyBERT}, {"gpt", tinyGPT}} {
		t.Run(tc.name, func(t *testing.T) {
			var full, parts []float64
			out := t.TempDir()
			task := markerTask(t, tc.m(t, 1, 0.1), out)
			cfg := runConfig(filepath.Join(out, "run"), task, 3)
			cfg.OnStep = func(_ int, l float64) bool { full = append(full, l); return true }
			if _, err := train.Run(context.Background(), task, cfg); err != nil {
				t.Fatal(err)
			}
			out = t.TempDir()
			task = markerTask(t, tc.m(t, 1, 0.1), out)
			task.Seek(0)
			cfg = runConfig(filepath.Join(out, "run"), task, 3)
			const stop = 17 // in the second epoch, after the first evaluation
			cfg.OnStep = func(step int, l float64) bool { parts = append(parts, l); return step < stop }
			if _, err := train.Run(context.Background(), task, cfg); !errors.Is(err, train.ErrInterrupted) {
				t.Fatalf("interrupted run: %v", err)
			}
			task = markerTask(t, tc.m(t, 77, 0.1), out)
			if err := task.Seek(stop); err != nil {
				t.Fatal(err)
			}
			if n := len(task.Results().Evals); n != 1 {
				t.Fatalf("%d evaluations read back at step %d, want 1", n, stop)
			}
			cfg.Resume = true
			cfg.OnStep = func(_ int, l float64) bool { parts = append(parts, l); return true }
			if _, err := train.Run(context.Background(), task, cfg); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(parts, full) {
				t.Fatalf("losses after resume differ:\n%v\nuninterrupted:\n%v", parts, full)
			}
			if n := len(task.Results().Evals); n != 3 {
				t.Fatalf("%d evaluations, want 3", n)
			}
		})
	}
}

// Check refuses a task the loop cannot run, naming what is wrong.
func TestTaskCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(*Task)
		want  string
	}{
		{"batch", func(k *Task) { k.Batch = 0 }, "batch size"},
		{"no training", func(k *Task) { k.Train = nil }, "no training"},
		{"no dev", func(k *Task) { k.Dev = nil }, "no dev"},
		{"empty dev", func(k *Task) { k.Dev[0].Pairs = nil }, "no examples"},
		{"label", func(k *Task) { k.Train[3].Label = 3 }, "not a class id"},
		{"vocabulary", func(k *Task) { k.Train[0].A[0] = 25 }, "outside the vocabulary"},
		{"too long", func(k *Task) { k.Train[0].A = ids(30, 8) }, "positions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := markerTask(t, tinyBERT(t, 1, 0), t.TempDir())
			tc.spoil(task)
			if err := task.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check() = %v, want an error about %q", err, tc.want)
			}
		})
	}
}
