package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

const pattern = "the quick brown fox jumps over the lazy dog. "

func tinyTask(t *testing.T, text string, seed uint64) *GPTTask {
	t.Helper()
	return tinyDropoutTask(t, text, seed, 0)
}

// tinyDropoutTask is tinyTask with dropout p on the embeddings, attention and residuals, set in
// the config before the model is built (its layers copy it then).
func tinyDropoutTask(t *testing.T, text string, seed uint64, p float32) *GPTTask {
	t.Helper()
	tok, err := tokenizer.NewChar(text)
	if err != nil {
		t.Fatal(err)
	}
	ids := tok.Encode(text)
	m, err := gpt.New(gpt.Config{VocabSize: tok.VocabSize(), NPositions: 16, NEmbd: 32, NLayer: 1, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu_new",
		ResidPdrop: p, EmbdPdrop: p, AttnPdrop: p}, seed)
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

// An interrupted and resumed run gives exactly the losses of an uninterrupted one, with dropout
// on (its random draws must resume exactly too), and the same metrics log line for line but
// for the wall-clock fields.
func TestResumeIsExact(t *testing.T) {
	text := strings.Repeat(pattern, 40) + strings.Repeat("pack my box with five dozen liquor jugs. ", 40)
	const dropout = 0.1
	record := func(losses *[]float64) func(int, float64) bool {
		return func(_ int, l float64) bool { *losses = append(*losses, l); return true }
	}
	var full, plain []float64
	fullDir := t.TempDir()
	cfg := tinyConfig(fullDir, 40)
	cfg.OnStep = record(&full)
	if _, err := Run(context.Background(), tinyDropoutTask(t, text, 3, dropout), cfg); err != nil {
		t.Fatal(err)
	}
	// Dropout really runs: the same seed without it gives other losses from the first step.
	cfg = tinyConfig(t.TempDir(), 1)
	cfg.OnStep = record(&plain)
	if _, err := Run(context.Background(), tinyDropoutTask(t, text, 3, 0), cfg); err != nil {
		t.Fatal(err)
	}
	if plain[0] == full[0] {
		t.Fatalf("step 1: loss %.9f with dropout %g equals the loss without: dropout did not run", full[0], dropout)
	}

	dir := t.TempDir()
	var parts []float64
	cfg = tinyConfig(dir, 40)
	cfg.OnStep = func(step int, l float64) bool {
		parts = append(parts, l)
		return step < 17 // interrupt after step 17, mid-way between checkpoints and log lines
	}
	res, err := Run(context.Background(), tinyDropoutTask(t, text, 3, dropout), cfg)
	if !errors.Is(err, ErrInterrupted) || !res.Interrupted || res.Steps != 17 {
		t.Fatalf("interrupted run: %+v, %v", res, err)
	}
	// A fresh process: a new model with other weights, resumed from the run folder.
	cfg = tinyConfig(dir, 40)
	cfg.Resume = true
	cfg.OnStep = record(&parts)
	if _, err := Run(context.Background(), tinyDropoutTask(t, text, 99, dropout), cfg); err != nil {
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
	want, got := metricRecords(t, fullDir), metricRecords(t, dir)
	if len(got) != len(want) {
		t.Fatalf("metrics.jsonl: %d records after resume, %d uninterrupted:\n%s\nvs\n%s", len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("metrics.jsonl record %d:\n%s after resume\n%s uninterrupted", i+1, got[i], want[i])
		}
	}
}

// metricRecords returns the records of a run's metrics.jsonl without their wall-clock fields,
// each as canonical JSON.
func metricRecords(t *testing.T, dir string) []string {
	t.Helper()
	recs, err := ReadMetrics(filepath.Join(dir, checkpoint.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range recs {
		delete(r, "tokens_per_s")
		delete(r, "elapsed_s")
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	return lines
}

// A damaged newest checkpoint is detected, and the previous one is used.
func TestDamagedCheckpointFallsBack(t *testing.T) {
	dir := t.TempDir()
	task := tinyTask(t, strings.Repeat(pattern, 30), 1)
	if _, err := Run(context.Background(), task, tinyConfig(dir, 40)); err != nil {
		t.Fatal(err)
	}
	latest, err := checkpoint.Latest(dir)
	if err != nil || filepath.Base(latest) != "step-000040" {
		t.Fatalf("latest = %q, %v", latest, err)
	}
	// Flip one byte of the newest weights.
	w := filepath.Join(latest, "model.safetensors")
	b, _ := os.ReadFile(w)
	b[len(b)-3] ^= 0x40
	os.WriteFile(w, b, 0o644)
	if err := checkpoint.Verify(latest); err == nil {
		t.Fatal("bit flip not detected")
	}
	got, err := checkpoint.Latest(dir)
	if err != nil || filepath.Base(got) != "step-000020" {
		t.Fatalf("fallback = %q, %v", got, err)
	}
	// The fallback says what it passed over, for resume to report.
	if _, passed, err := checkpoint.Find(dir); err != nil || len(passed) != 1 || !strings.Contains(passed[0], "model.safetensors is damaged") {
		t.Fatalf("checkpoint.Find passed over %q, %v", passed, err)
	}
	// A crash mid-write leaves a hidden temporary folder: ignored.
	os.MkdirAll(filepath.Join(dir, checkpoint.CheckpointDir, ".step-000060.tmp123"), 0o755)
	if got, _ := checkpoint.Latest(dir); filepath.Base(got) != "step-000020" {
		t.Fatalf("temporary folder picked: %q", got)
	}
	// A truncated manifest makes that checkpoint unusable too.
	os.WriteFile(filepath.Join(dir, checkpoint.CheckpointDir, "step-000020", checkpoint.ManifestFile), []byte("{"), 0o644)
	if _, err := checkpoint.Latest(dir); !errors.Is(err, checkpoint.ErrNoCheckpoint) {
		t.Fatalf("want checkpoint.ErrNoCheckpoint, got %v", err)
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
	if got, err := checkpoint.Latest(dir); err != nil || filepath.Base(got) != "step-000020" {
		t.Fatalf("previous checkpoint: %q, %v", got, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, checkpoint.CheckpointDir))
	if len(entries) != 1 {
		t.Fatalf("checkpoint folder holds %d entries, want only step-000020", len(entries))
	}
}

// A new run in a folder that holds another is refused before it mixes their metrics and
// checkpoints; an empty metrics log holds nothing to mix.
func TestNewRunRefusesUsedFolder(t *testing.T) {
	dir := t.TempDir()
	task := tinyTask(t, strings.Repeat(pattern, 30), 1)
	if _, err := Run(context.Background(), task, tinyConfig(dir, 5)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, checkpoint.MetricsFile))
	if _, err := Run(context.Background(), task, tinyConfig(dir, 5)); err == nil || !strings.Contains(err.Error(), "already holds a training run") {
		t.Fatalf("second new run in the same folder: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, checkpoint.MetricsFile)); string(after) != string(before) {
		t.Fatal("the refused run changed the metrics log")
	}
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, checkpoint.MetricsFile), nil, 0o644)
	if _, err := Run(context.Background(), task, tinyConfig(empty, 5)); err != nil {
		t.Fatalf("a folder with an empty metrics log: %v", err)
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
	if got, err := checkpoint.Latest(dir); err != nil || filepath.Base(got) != "step-000007" {
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
	// Only a bound against a run that ignores its budget: the plan follows the measured speed,
	// and on a shared machine that changes while the run goes on, so an early end is no fault.
	if took > 10*time.Second {
		t.Fatalf("a 1.5 s budget took %s", took)
	}
}

// slowStart is a task whose steps take slow longer for half a second, then fast: a
// machine that was busy when a time-budgeted run planned its steps and then became quiet.
type slowStart struct {
	*GPTTask
	start      time.Time
	slow, fast time.Duration
}

func (s *slowStart) Loss(g *autograd.Graph, rng, dropout *tensor.RNG) (*autograd.Var, int) {
	if time.Since(s.start) < 500*time.Millisecond {
		time.Sleep(s.slow)
	} else {
		time.Sleep(s.fast)
	}
	return s.GPTTask.Loss(g, rng, dropout)
}

// A time-budgeted run plans its steps again as it goes: when the steps get faster after the
// first plan, it still uses most of its budget instead of ending when the first plan says.
func TestTimeBudgetReplans(t *testing.T) {
	cfg := tinyConfig(t.TempDir(), 0)
	cfg.Time = 3 * time.Second
	cfg.EvalInterval = 0
	task := &slowStart{GPTTask: tinyTask(t, strings.Repeat(pattern, 30), 1), start: time.Now(), slow: 40 * time.Millisecond, fast: 8 * time.Millisecond}
	res, err := Run(context.Background(), task, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The plans made while the steps are slow expect about 70 steps; planned only then, the
	// run would end well within a second. Planned again at 0.75 s, 1.5 s and 2.25 s from the
	// speed since, it runs until near 3 s.
	if took := time.Since(task.start); took < 2*time.Second || res.Steps != res.Iters {
		t.Fatalf("a 3 s budget ran %d of %d steps in %s, want most of the budget used", res.Steps, res.Iters, took)
	}
}

// A metrics log that cannot be written (a full disk) stops the run with an error naming it,
// rather than losing records silently.
func TestMetricsWriteErrorStopsRun(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to stand for a full disk on this system")
	}
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", filepath.Join(dir, checkpoint.MetricsFile)); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), tinyTask(t, strings.Repeat(pattern, 30), 1), tinyConfig(dir, 20))
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "metrics log at step 5") {
		t.Fatalf("want a disk-full error on the first metrics record, got %v", err)
	}
}

// Every setting out of range is refused before anything is written, naming the setting;
// NaN and ±Inf are out of every range.
func TestConfigValidate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	cases := []struct {
		field string
		set   func(*Config)
	}{
		{"lr", func(c *Config) { c.LR = nan }},
		{"lr", func(c *Config) { c.LR = 0 }},
		{"lr", func(c *Config) { c.LR = inf }},
		{"min_lr", func(c *Config) { c.MinLR = nan }},
		{"min_lr", func(c *Config) { c.MinLR = 1 }},
		{"min_lr", func(c *Config) { c.MinLR = -1e-9 }},
		{"beta1", func(c *Config) { c.Beta1 = nan }},
		{"beta1", func(c *Config) { c.Beta1 = 1 }},
		{"beta2", func(c *Config) { c.Beta2 = -inf }},
		{"eps", func(c *Config) { c.Eps = nan }},
		{"eps", func(c *Config) { c.Eps = -1 }},
		{"weight_decay", func(c *Config) { c.WeightDecay = inf }},
		{"weight_decay", func(c *Config) { c.WeightDecay = -0.1 }},
		{"clip", func(c *Config) { c.Clip = nan }},
		{"clip", func(c *Config) { c.Clip = inf }},
		{"clip", func(c *Config) { c.Clip = -1 }},
		{"iters", func(c *Config) { c.Iters = -1 }},
		{"warmup", func(c *Config) { c.Warmup = -1 }},
		{"decay_iters", func(c *Config) { c.DecayIters = -5 }},
		{"eval_interval", func(c *Config) { c.EvalInterval = -1 }},
		{"log_interval", func(c *Config) { c.LogInterval = -1 }},
		{"max_bad_steps", func(c *Config) { c.MaxBadSteps = -1 }},
		{"time", func(c *Config) { c.Time = -time.Second }},
		{"iterations or a time budget", func(c *Config) { c.Iters = 0 }},
		{"run folder", func(c *Config) { c.RunDir = "" }},
	}
	for _, c := range cases {
		dir := t.TempDir()
		cfg := tinyConfig(dir, 10)
		c.set(&cfg)
		_, err := Run(context.Background(), tinyTask(t, strings.Repeat(pattern, 30), 1), cfg)
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %v does not name it", c.field, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: the refused run wrote %d entries into its folder", c.field, len(entries))
		}
	}
	cfg := tinyConfig(t.TempDir(), 10)
	cfg.Eps, cfg.LogInterval, cfg.MaxBadSteps, cfg.Clip, cfg.WeightDecay, cfg.MinLR = 0, 0, 0, 0, 0, 0
	if err := cfg.Validate(); err != nil {
		t.Fatalf("zero values that mean a default or off: %v", err)
	}
}

// A GPT task the loop cannot run is refused with an error before anything is written, where it
// used to panic in the batch sampler or the embedding lookup, or report a validation loss of 0.
func TestGPTTaskCheck(t *testing.T) {
	cases := []struct {
		name, want string
		set        func(*GPTTask)
	}{
		{"no batch", "batch size 0", func(g *GPTTask) { g.Batch = 0 }},
		{"no block", "block of 0", func(g *GPTTask) { g.Block = 0 }},
		{"block past the model's context", "block of 17", func(g *GPTTask) { g.Block = 17 }},
		{"short training split", "training split has 16 tokens", func(g *GPTTask) { g.Train = g.Train[:16] }},
		{"empty validation split", "validation split has 0 tokens", func(g *GPTTask) { g.Val = nil }},
		{"negative id", "id -1", func(g *GPTTask) { g.Train = append([]int{-1}, g.Train...) }},
		{"id past the vocabulary", "outside the vocabulary", func(g *GPTTask) { g.Val = append(slices.Clone(g.Val), g.Model.Config.VocabSize) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			task := tinyTask(t, strings.Repeat(pattern, 30), 1)
			c.set(task)
			_, err := Run(context.Background(), task, tinyConfig(dir, 5))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v does not mention %q", err, c.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("the refused run wrote %d entries into its folder", len(entries))
			}
		})
	}
	task := tinyTask(t, strings.Repeat(pattern, 30), 1)
	for _, c := range []struct {
		ids   []int
		block int
	}{{task.Val[:16], 16}, {task.Val, 0}, {task.Val, 17}, {nil, 4}} {
		if loss, err := EvalLM(context.Background(), task.Model, c.ids, c.block, 0); err == nil {
			t.Errorf("EvalLM of %d tokens in windows of %d: loss %g, no error", len(c.ids), c.block, loss)
		}
	}
}
