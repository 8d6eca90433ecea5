package train

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

const pattern = "the quick brown fox jumps over the lazy dog. "

func tinyTask(t *testing.T, text string, seed uint64) *GPTTask {
	t.Helper()
	tok, err := tokenizer.NewChar(text)
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.Encode(text)
	m, err := gpt.New(gpt.Config{VocabSize: tok.VocabSize(), NPositions: 16, NEmbd: 32, NLayer: 1, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}, seed)
	if err != nil {
		t.Fatal(err)
	}
	n := len(ids) * 9 / 10
	return &GPTTask{Model: m, Tokenizer: tok, Train: ids[:n], Val: ids[n:], Batch: 8, Block: 16}
}

func tinyConfig(dir string, iters int) Config {
	return Config{Iters: iters, LR: 1e-2, MinLR: 1e-3, Warmup: 5, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0.1, Clip: 1, EvalInterval: 20, LogInterval: 5, Seed: 7, RunDir: dir}
}

// A tiny model learns a repeated sentence: the loss falls below a stated bound in seconds.
func TestTinyModelLearns(t *testing.T) {
	task := tinyTask(t, strings.Repeat(pattern, 60), 1)
	res, err := Run(context.Background(), task, tinyConfig(t.TempDir(), 150))
	if err != nil {
		t.Fatal(err)
	}
	if res.ValLoss > 0.3 || res.Steps != 150 {
		t.Fatalf("after %d steps val loss %.3f, want ≤ 0.3", res.Steps, res.ValLoss)
	}
}

// An interrupted and resumed run gives exactly the losses of an uninterrupted one.
func TestResumeIsExact(t *testing.T) {
	text := strings.Repeat(pattern, 40) + strings.Repeat("pack my box with five dozen liquor jugs. ", 40)
	record := func(losses *[]float64) func(int, float64) bool {
		return func(_ int, l float64) bool { *losses = append(*losses, l); return true }
	}
	var full []float64
	cfg := tinyConfig(t.TempDir(), 40)
	cfg.OnStep = record(&full)
	task := tinyTask(t, text, 3)
	task.Model.Config.ResidPdrop = 0.1 // dropout draws must resume exactly too
	if _, err := Run(context.Background(), task, cfg); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	var parts []float64
	cfg = tinyConfig(dir, 40)
	cfg.OnStep = func(step int, l float64) bool {
		parts = append(parts, l)
		return step < 17 // interrupt after step 17, mid-way between checkpoints
	}
	task = tinyTask(t, text, 3)
	task.Model.Config.ResidPdrop = 0.1
	res, err := Run(context.Background(), task, cfg)
	if !errors.Is(err, ErrInterrupted) || !res.Interrupted || res.Steps != 17 {
		t.Fatalf("interrupted run: %+v, %v", res, err)
	}
	// A fresh process: a new model with other weights, resumed from the run folder.
	task = tinyTask(t, text, 99)
	task.Model.Config.ResidPdrop = 0.1
	cfg = tinyConfig(dir, 40)
	cfg.Resume = true
	cfg.OnStep = record(&parts)
	if _, err := Run(context.Background(), task, cfg); err != nil {
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
	recs, err := ReadMetrics(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for _, r := range recs {
		if s, ok := r["step"].(float64); ok {
			if r["loss"] != nil && int(s) <= last {
				t.Fatalf("metrics not continuous: step %v after %d", s, last)
			}
			if r["loss"] != nil {
				last = int(s)
			}
		}
	}
}

// A damaged newest checkpoint is detected, and the previous one is used.
func TestDamagedCheckpointFallsBack(t *testing.T) {
	dir := t.TempDir()
	task := tinyTask(t, strings.Repeat(pattern, 30), 1)
	if _, err := Run(context.Background(), task, tinyConfig(dir, 40)); err != nil {
		t.Fatal(err)
	}
	latest, err := LatestCheckpoint(dir)
	if err != nil || filepath.Base(latest) != "step-000040" {
		t.Fatalf("latest = %q, %v", latest, err)
	}
	// Flip one byte of the newest weights.
	w := filepath.Join(latest, "model.safetensors")
	b, _ := os.ReadFile(w)
	b[len(b)-3] ^= 0x40
	os.WriteFile(w, b, 0o644)
	if err := VerifyCheckpoint(latest); err == nil {
		t.Fatal("bit flip not detected")
	}
	got, err := LatestCheckpoint(dir)
	if err != nil || filepath.Base(got) != "step-000020" {
		t.Fatalf("fallback = %q, %v", got, err)
	}
	// The fallback says what it passed over, for resume to report.
	if _, passed, err := FindCheckpoint(dir); err != nil || len(passed) != 1 || !strings.Contains(passed[0], "model.safetensors is damaged") {
		t.Fatalf("FindCheckpoint passed over %q, %v", passed, err)
	}
	// A crash mid-write leaves a hidden temporary folder: ignored.
	os.MkdirAll(filepath.Join(dir, CheckpointDir, ".step-000060.tmp123"), 0o755)
	if got, _ := LatestCheckpoint(dir); filepath.Base(got) != "step-000020" {
		t.Fatalf("temporary folder picked: %q", got)
	}
	// A truncated manifest makes that checkpoint unusable too.
	os.WriteFile(filepath.Join(dir, CheckpointDir, "step-000020", ManifestFile), []byte("{"), 0o644)
	if _, err := LatestCheckpoint(dir); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("want ErrNoCheckpoint, got %v", err)
	}
}

// nanTask injects a non-finite loss at chosen steps.
type nanTask struct {
	*GPTTask
	bad  map[int]bool
	step int
}

func (n *nanTask) Loss(g *autograd.Graph, rng, drop *tensor.RNG) (*autograd.Var, int) {
	loss, tok := n.GPTTask.Loss(g, rng, drop)
	n.step++
	if n.bad[n.step] {
		loss = g.Scale(loss, float32(math.NaN()))
	}
	return loss, tok
}

func TestNonFiniteStepsAreSkipped(t *testing.T) {
	task := &nanTask{GPTTask: tinyTask(t, strings.Repeat(pattern, 30), 1), bad: map[int]bool{3: true, 4: true, 10: true}}
	res, err := Run(context.Background(), task, tinyConfig(t.TempDir(), 20))
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != 3 {
		t.Fatalf("skipped %d steps, want 3", res.Skipped)
	}
	for _, p := range task.Params().List() {
		for _, v := range p.Var.Value.Data() {
			if math.IsNaN(float64(v)) {
				t.Fatalf("%s has NaN weights", p.Name)
			}
		}
	}
	// Every step bad: the run stops with a clear error after MaxBadSteps.
	all := map[int]bool{}
	for i := 1; i <= 50; i++ {
		all[i] = true
	}
	task = &nanTask{GPTTask: tinyTask(t, strings.Repeat(pattern, 30), 1), bad: all}
	if _, err := Run(context.Background(), task, tinyConfig(t.TempDir(), 20)); err == nil || !strings.Contains(err.Error(), "diverged") {
		t.Fatalf("want a divergence error, got %v", err)
	}
}

// failingSave fails to write the model after n successful saves, as a full disk would.
type failingSave struct {
	*GPTTask
	n int
}

func (f *failingSave) SaveModel(dir string) error {
	if f.n == 0 {
		return syscall.ENOSPC
	}
	f.n--
	return f.GPTTask.SaveModel(dir)
}

// A checkpoint that cannot be written (disk full) is a clear error; no partial checkpoint is
// left, and the one saved before stays the latest and loadable.
func TestFailedSaveKeepsPreviousCheckpoint(t *testing.T) {
	dir := t.TempDir()
	task := &failingSave{GPTTask: tinyTask(t, strings.Repeat(pattern, 30), 1), n: 1}
	_, err := Run(context.Background(), task, tinyConfig(dir, 40)) // saves at 20, fails at 40
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "saving checkpoint at step 40") {
		t.Fatalf("want a disk-full error at step 40, got %v", err)
	}
	if got, err := LatestCheckpoint(dir); err != nil || filepath.Base(got) != "step-000020" {
		t.Fatalf("previous checkpoint: %q, %v", got, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, CheckpointDir))
	if len(entries) != 1 {
		t.Fatalf("checkpoint folder holds %d entries, want only step-000020", len(entries))
	}
}

// A context cancelled mid-run (Ctrl-C) saves a checkpoint at the current step.
func TestCancelSaves(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := tinyConfig(dir, 1000)
	cfg.OnStep = func(step int, _ float64) bool {
		if step == 7 {
			cancel()
		}
		return true
	}
	res, err := Run(ctx, tinyTask(t, strings.Repeat(pattern, 30), 1), cfg)
	if !errors.Is(err, ErrInterrupted) || res.Steps != 7 {
		t.Fatalf("result %+v, error %v", res, err)
	}
	if got, err := LatestCheckpoint(dir); err != nil || filepath.Base(got) != "step-000007" {
		t.Fatalf("checkpoint after cancel: %q, %v", got, err)
	}
}

// With a time budget the run plans its step count from measured speed and ends near the budget.
func TestTimeBudget(t *testing.T) {
	cfg := tinyConfig(t.TempDir(), 0)
	cfg.Time = 1500 * time.Millisecond
	cfg.EvalInterval = 0
	start := time.Now()
	res, err := Run(context.Background(), tinyTask(t, strings.Repeat(pattern, 30), 1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if res.Steps < 10 || res.Steps != res.Iters {
		t.Fatalf("%d of %d steps", res.Steps, res.Iters)
	}
	if took < time.Second || took > 10*time.Second { // loose: the machine may be busy
		t.Fatalf("a 1.5 s budget took %s", took)
	}
}
