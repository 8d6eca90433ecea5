// Package train is the training loop shared by every model family: AdamW with a warm-up and
// cosine schedule, gradient clipping, periodic evaluation, JSONL metrics, progress display,
// atomic checkpoints with optimizer and RNG state, exact resume, clean stop on interrupt, and
// skipping of steps whose loss or gradients are not finite.
package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/hf"
	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/optim"
	"github.com/qkvdev/qkv/tensor"
)

// Task is one model trained on one dataset; the loop knows nothing else about either. A task
// that can be misconfigured also has a Check() error method, which Run calls before anything
// else.
type Task interface {
	// Params are the model's parameters.
	Params() *nn.Params
	// Loss draws the next training batch with data (the seeded batch sampler) and records the
	// forward pass in g, with dropout drawn from dropout. It returns the loss and the number of
	// tokens the batch holds.
	Loss(g *autograd.Graph, data, dropout *tensor.RNG) (*autograd.Var, int)
	// Evaluate returns the validation loss: over a fixed subset of the validation split, or the
	// whole split when full is set.
	Evaluate(ctx context.Context, full bool) (float64, error)
	// SaveModel writes the model folder (config, weights, tokenizer) into dir.
	SaveModel(dir string) error
}

// Config controls the loop.
type Config struct {
	Iters int           // optimizer steps; 0 with Time set: as many as fit in Time
	Time  time.Duration // wall-time budget for training (0: none)

	LR, MinLR   float64 // peak and final learning rate of the cosine schedule
	Warmup      int     // linear warm-up steps
	DecayIters  int     // step at which the cosine reaches MinLR (0: Iters)
	Beta1       float64 // AdamW β1, in [0, 1)
	Beta2       float64 // AdamW β2, in [0, 1)
	Eps         float64 // AdamW ε (0: 1e-8)
	WeightDecay float64 // decoupled weight decay, in [0, 1]
	Clip        float64 // global gradient-norm limit (0: no clipping)

	EvalInterval int // evaluate (and checkpoint) every this many steps (0: only at the end)
	LogInterval  int // log metrics every this many steps (0: 10)
	Seed         uint64
	MaxBadSteps  int // stop after this many consecutive skipped steps (0: 8)

	RunDir string // where checkpoints and metrics go
	Resume bool   // continue from the run's latest checkpoint

	Log      io.Writer // progress lines (nil: discard); display only, its write errors are ignored
	Progress Progress  // optional live display (a progress bar on a terminal)

	// OnStep, if set, is called after every step (for tests and embedding programs); returning
	// false stops the run as an interrupt does.
	OnStep func(step int, loss float64) bool
}

// Progress receives live updates.
type Progress interface {
	Start(total int, done int)
	Update(step int, desc string)
	Finish()
}

// Result summarises a run.
type Result struct {
	Steps       int     // optimizer steps done in total (including before a resume)
	Iters       int     // steps planned
	TrainLoss   float64 // mean training loss over the last logging window
	ValLoss     float64 // last validation loss (over the whole split at the end of a run)
	Skipped     int     // steps skipped for non-finite or spiking loss
	Elapsed     time.Duration
	TokensPerS  float64
	Checkpoint  string // folder of the last checkpoint written
	Interrupted bool   // stopped early by the context or OnStep; a checkpoint was saved
}

// logEvery is the shortest interval between two plain progress lines.
const logEvery = 2 * time.Second

// ErrInterrupted is wrapped by the error Run returns when the context ends the run early.
var ErrInterrupted = errors.New("training interrupted")

// state is what a checkpoint stores besides weights and moments.
type state struct {
	Step       int        `json:"step"`
	Iters      int        `json:"iters"`
	OptSteps   int        `json:"optimizer_steps"`
	DataRNG    []byte     `json:"data_rng"`
	DropoutRNG []byte     `json:"dropout_rng"`
	Skipped    int        `json:"skipped"`
	Recent     lossWindow `json:"recent_losses"`
	ElapsedS   float64    `json:"elapsed_s"`
	Tokens     int64      `json:"tokens"`
	ValLoss    *float64   `json:"val_loss,omitempty"`
	// Replans: with a time budget, how many of the plans at replanAt have set the step count
	// from the speed measured since the plan before. Planned is what checkpoints written
	// before there were several plans hold instead: their one plan was made.
	Replans int  `json:"replans,omitempty"`
	Planned bool `json:"planned,omitempty"`
	// The logging window open at the checkpoint: the sum of its finite losses, how many there
	// were, and its tokens. Resuming continues it, so the next logged loss is the one an
	// uninterrupted run logs.
	WindowLoss   float64 `json:"window_loss_sum,omitempty"`
	WindowSteps  int     `json:"window_steps,omitempty"`
	WindowTokens int     `json:"window_tokens,omitempty"`
}

// A ConfigError is a Config setting outside its allowed range.
type ConfigError struct {
	Field string // the setting's snake-case name, as in run.json: "lr", "beta1", "log_interval"
	Value any
	Want  string // the allowed values, e.g. "a number in [0, 1)"
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("training config: %s = %v, want %s", e.Field, e.Value, e.Want)
}

// Validate checks every setting of c: finite numbers in range (NaN and ±Inf refused),
// non-negative counts, a run folder, and either iterations or a time budget. Zero values
// that mean a default (Eps, LogInterval, MaxBadSteps) are accepted.
func (c *Config) Validate() error {
	for _, f := range []struct {
		name   string
		v      float64
		lo, hi float64
		want   string
	}{
		{"lr", c.LR, math.SmallestNonzeroFloat64, 10, "a positive learning rate below 10, such as 1e-3"},
		{"min_lr", c.MinLR, 0, c.LR, fmt.Sprintf("a learning rate in [0, lr = %g]", c.LR)},
		{"beta1", c.Beta1, 0, math.Nextafter(1, 0), "a number in [0, 1)"},
		{"beta2", c.Beta2, 0, math.Nextafter(1, 0), "a number in [0, 1)"},
		{"eps", c.Eps, 0, 1, "a small positive number such as 1e-8 (0: 1e-8)"},
		{"weight_decay", c.WeightDecay, 0, 1, "a number in [0, 1]"},
		{"clip", c.Clip, 0, math.MaxFloat64, "a finite gradient norm ≥ 0 (0: no clipping)"},
	} {
		if !(f.v >= f.lo && f.v <= f.hi) { // false for NaN; ±Inf is outside every range
			return &ConfigError{Field: f.name, Value: f.v, Want: f.want}
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"iters", c.Iters}, {"warmup", c.Warmup}, {"decay_iters", c.DecayIters},
		{"eval_interval", c.EvalInterval}, {"log_interval", c.LogInterval}, {"max_bad_steps", c.MaxBadSteps},
	} {
		if f.v < 0 {
			return &ConfigError{Field: f.name, Value: f.v, Want: "a count ≥ 0"}
		}
	}
	switch {
	case c.Time < 0:
		return &ConfigError{Field: "time", Value: c.Time, Want: "a duration ≥ 0 (0: no budget)"}
	case c.Iters == 0 && c.Time == 0:
		return fmt.Errorf("training config: set a number of iterations or a time budget")
	case c.RunDir == "":
		return fmt.Errorf("training config: no run folder")
	}
	return nil
}

// defaults validates c and fills in the defaults of its zero values.
func (c *Config) defaults() error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	if c.LogInterval == 0 {
		c.LogInterval = 10
	}
	if c.MaxBadSteps == 0 {
		c.MaxBadSteps = 8
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return nil
}

// Run trains task until the planned iterations are done, the time budget is spent, or ctx ends
// (then it saves a checkpoint and returns an error wrapping ErrInterrupted with the result).
func Run(ctx context.Context, task Task, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if c, ok := task.(interface{ Check() error }); ok {
		if err := c.Check(); err != nil {
			return nil, err
		}
	}
	if !cfg.Resume {
		if err := CheckNewRunDir(cfg.RunDir); err != nil {
			return nil, fmt.Errorf("%w: resume it, or start the new run in another folder", err)
		}
	}
	params := task.Params().List()
	opt := optim.NewAdamW(params, optim.AdamWConfig{Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay})
	st := state{Iters: cfg.Iters}
	dataRNG, dropRNG := tensor.NewRNG(cfg.Seed), tensor.NewRNG(cfg.Seed+1)
	if err := os.MkdirAll(cfg.RunDir, 0o755); err != nil {
		return nil, err
	}
	if cfg.Resume {
		dir, passedOver, err := checkpoint.Find(cfg.RunDir)
		if err != nil {
			return nil, err
		}
		for _, why := range passedOver {
			fmt.Fprintf(cfg.Log, "warning: passed over a newer checkpoint: %s\n", why)
		}
		if st, err = loadState(dir, task.Params(), opt, dataRNG, dropRNG); err != nil {
			return nil, err
		}
		if cfg.Iters > 0 && st.Iters != cfg.Iters {
			st.Iters = cfg.Iters // extending (or shortening) a run on purpose
		}
		if err := trimMetrics(filepath.Join(cfg.RunDir, checkpoint.MetricsFile), st.Step); err != nil {
			return nil, err
		}
		fmt.Fprintf(cfg.Log, "resuming %s at step %d of %d\n", dir, st.Step, st.Iters)
	}
	metrics, err := os.OpenFile(filepath.Join(cfg.RunDir, checkpoint.MetricsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics log: %w", err)
	}
	l := &loop{cfg: cfg, task: task, opt: opt, st: st, dataRNG: dataRNG, dropRNG: dropRNG, metrics: metrics, g: autograd.NewGraph()}
	res, err := l.run(ctx)
	if cerr := metrics.Close(); cerr != nil && (err == nil || errors.Is(err, ErrInterrupted)) {
		// Records written but not stored: the run's result stands in the checkpoint, but its
		// metrics log is incomplete, which the caller must hear about.
		return res, fmt.Errorf("metrics log: %w", cerr)
	}
	return res, err
}

// CheckNewRunDir reports a folder that already holds a training run: a non-empty metrics log,
// a latest pointer or checkpoints. A new run there would mix its metrics and checkpoints with
// the other's.
func CheckNewRunDir(dir string) error {
	for _, name := range []string{checkpoint.MetricsFile, checkpoint.LatestFile, checkpoint.CheckpointDir} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && (name != checkpoint.MetricsFile || fi.Size() > 0) {
			return fmt.Errorf("%s already holds a training run (%s)", dir, name)
		}
	}
	return nil
}

type loop struct {
	cfg              Config
	task             Task
	opt              *optim.AdamW
	st               state
	dataRNG, dropRNG *tensor.RNG
	metrics          *os.File
	g                *autograd.Graph
	res              Result
}

func (l *loop) schedule() optim.Cosine {
	decay := l.cfg.DecayIters
	if decay <= 0 {
		decay = l.st.Iters
	}
	return optim.Cosine{Max: l.cfg.LR, Min: l.cfg.MinLR, Warmup: l.cfg.Warmup, DecaySteps: decay}
}

// replanAt are the fractions of a time budget at which the number of steps is planned again.
var replanAt = [...]float64{1.0 / 8, 1.0 / 4, 1.0 / 2, 3.0 / 4}

func (l *loop) run(ctx context.Context) (*Result, error) {
	cfg, st := l.cfg, &l.st
	params := l.task.Params().List()
	start := time.Now()
	prevElapsed := time.Duration(st.ElapsedS * float64(time.Second))
	winStart := time.Now()
	calibrate := st.Iters == 0 // a time budget: fix the number of steps after a few
	const calibSteps = 5
	var calibStart time.Time
	// With a time budget, a first plan after a few steps is refined at each fraction of the
	// budget in replanAt, from the average speed since the plan before (evaluations included):
	// a run whose machine gets busier or quieter still ends near its budget.
	if st.Planned && st.Replans == 0 {
		st.Replans = len(replanAt)
	}
	replanFrom, replanStep := time.Now(), st.Step
	if cfg.Progress != nil && !calibrate {
		cfg.Progress.Start(st.Iters, st.Step)
	}
	stepsThisRun := 0
	var lastLine time.Time
	for calibrate || st.Step < st.Iters {
		if ctx.Err() != nil {
			return l.interrupt(start, prevElapsed)
		}
		if cfg.Time > 0 && !calibrate && prevElapsed+time.Since(start) > cfg.Time+cfg.Time/10 {
			break // the budget is spent (the plan was optimistic)
		}
		lr := l.schedule().At(st.Step)
		if calibrate {
			lr = optim.Cosine{Max: cfg.LR, Min: cfg.MinLR, Warmup: cfg.Warmup, DecaySteps: math.MaxInt32}.At(st.Step)
		}
		l.g.Reset()
		l.task.Params().ZeroGrad()
		loss, tokens := l.task.Loss(l.g, l.dataRNG, l.dropRNG)
		lv := float64(loss.Value.Item())
		skip := ""
		var norm float64
		switch {
		case math.IsNaN(lv) || math.IsInf(lv, 0):
			skip = "non-finite loss"
		case l.spike(lv):
			skip = fmt.Sprintf("loss spike (%.4g)", lv)
		default:
			l.g.Backward(loss)
			norm = optim.ClipGradNorm(params, cfg.Clip)
			if math.IsNaN(norm) || math.IsInf(norm, 0) {
				skip = "non-finite gradient"
			}
		}
		if skip != "" {
			st.Skipped++
			l.res.Skipped++
			l.task.Params().ZeroGrad()
			fmt.Fprintf(cfg.Log, "step %d skipped: %s\n", st.Step, skip)
			if l.consecutiveSkips() >= cfg.MaxBadSteps {
				return nil, fmt.Errorf("training diverged: %d consecutive steps skipped (last: %s); the weights are unchanged since step %d — lower the learning rate or check the data", cfg.MaxBadSteps, skip, st.Step-cfg.MaxBadSteps+1)
			}
			st.Recent = append(st.Recent, math.NaN())
		} else {
			l.opt.Step(lr)
			st.Recent = append(st.Recent, lv)
			st.WindowLoss += lv
			st.WindowSteps++
		}
		if len(st.Recent) > 100 {
			st.Recent = st.Recent[len(st.Recent)-100:]
		}
		st.WindowTokens += tokens
		st.Tokens += int64(tokens)
		st.Step++
		stepsThisRun++

		if calibrate {
			if stepsThisRun == 1 {
				calibStart = time.Now()
			} else if stepsThisRun == 1+calibSteps {
				per := time.Since(calibStart) / calibSteps
				left := cfg.Time - prevElapsed - time.Since(start)
				st.Iters = st.Step + max(1, int(float64(left)/float64(per)*0.92))
				calibrate = false
				fmt.Fprintf(cfg.Log, "time budget %s: %.0f ms/step → %d steps\n", cfg.Time, float64(per)/float64(time.Millisecond), st.Iters)
				if cfg.Progress != nil {
					cfg.Progress.Start(st.Iters, st.Step)
				}
				replanFrom, replanStep = time.Now(), st.Step
			}
		} else if cfg.Time > 0 && st.Replans < len(replanAt) && st.Step > replanStep &&
			prevElapsed+time.Since(start) > time.Duration(replanAt[st.Replans]*float64(cfg.Time)) {
			per := time.Since(replanFrom) / time.Duration(st.Step-replanStep)
			left := cfg.Time - prevElapsed - time.Since(start)
			st.Iters = st.Step + max(1, int(float64(left)/float64(per)*0.97))
			st.Replans++
			replanFrom, replanStep = time.Now(), st.Step
			fmt.Fprintf(cfg.Log, "time budget %s: %.1f ms/step lately → %d steps\n", cfg.Time, float64(per)/float64(time.Millisecond), st.Iters)
			if cfg.Progress != nil {
				cfg.Progress.Start(st.Iters, st.Step)
			}
		}

		if st.Step%cfg.LogInterval == 0 || (!calibrate && st.Step == st.Iters) {
			dt := time.Since(winStart).Seconds()
			mean := math.NaN()
			if st.WindowSteps > 0 {
				mean = st.WindowLoss / float64(st.WindowSteps)
			}
			tps := float64(st.WindowTokens) / dt
			l.res.TrainLoss, l.res.TokensPerS = mean, tps
			elapsed := prevElapsed + time.Since(start)
			record := map[string]any{"step": st.Step, "loss": mean, "lr": lr, "grad_norm": norm, "tokens_per_s": tps, "elapsed_s": elapsed.Seconds()}
			if w, ok := l.task.(WindowMetrics); ok {
				for k, v := range w.WindowMetrics() {
					if _, taken := record[k]; !taken {
						record[k] = v
					}
				}
			}
			if err := l.writeMetric(record); err != nil {
				return nil, err
			}
			desc := fmt.Sprintf("loss %.4f │ lr %.2e │ %s tok/s", mean, lr, humanRate(tps))
			switch {
			case cfg.Progress != nil && !calibrate:
				cfg.Progress.Update(st.Step, desc)
			case time.Since(lastLine) >= logEvery || st.Step == st.Iters:
				// Plain log lines (no terminal): at most one every few seconds.
				fmt.Fprintf(cfg.Log, "step %d/%s │ %s │ %s\n", st.Step, itersString(st.Iters, calibrate), desc, etaString(elapsed, st.Step, st.Iters))
				lastLine = time.Now()
			}
			st.WindowLoss, st.WindowSteps, st.WindowTokens, winStart = 0, 0, 0, time.Now()
		}
		if cfg.OnStep != nil && !cfg.OnStep(st.Step, lv) {
			return l.interrupt(start, prevElapsed)
		}
		if !calibrate && st.Step < st.Iters && cfg.EvalInterval > 0 && st.Step%cfg.EvalInterval == 0 {
			if err := l.evaluate(ctx, false); err != nil {
				if ctx.Err() != nil {
					return l.interrupt(start, prevElapsed)
				}
				return nil, err
			}
			if err := l.save(start, prevElapsed); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Progress != nil {
		cfg.Progress.Finish()
	}
	st.Iters = st.Step
	if err := l.evaluate(ctx, true); err != nil {
		if ctx.Err() != nil {
			return l.interrupt(start, prevElapsed)
		}
		return nil, err
	}
	if err := l.save(start, prevElapsed); err != nil {
		return nil, err
	}
	l.finishResult(start, prevElapsed)
	return &l.res, nil
}

// spike reports a loss far outside the recent window: above 6σ of the last 100 steps and more
// than twice their mean (after 50 steps of history).
func (l *loop) spike(loss float64) bool {
	var n, sum, sq float64
	for _, v := range l.st.Recent {
		if !math.IsNaN(v) {
			n++
			sum += v
			sq += v * v
		}
	}
	if n < 50 {
		return false
	}
	mean := sum / n
	std := math.Sqrt(max(0, sq/n-mean*mean))
	return loss > mean+6*std && loss > 2*mean
}

func (l *loop) consecutiveSkips() int {
	n := 1 // the current one
	for i := len(l.st.Recent) - 1; i >= 0 && math.IsNaN(l.st.Recent[i]); i-- {
		n++
	}
	return n
}

func (l *loop) evaluate(ctx context.Context, full bool) error {
	v, err := l.task.Evaluate(ctx, full)
	if err != nil {
		return err
	}
	l.st.ValLoss = &v
	l.res.ValLoss = v
	suffix := ""
	if full {
		suffix = "_full"
	}
	record := map[string]any{"step": l.st.Step, "val_loss" + suffix: v}
	extra := ""
	if s, ok := l.task.(Scorer); ok {
		scores, err := s.Scores(ctx, full)
		if err != nil {
			return err
		}
		for _, name := range slices.Sorted(maps.Keys(scores)) {
			record["val_"+name+suffix] = scores[name]
			extra += fmt.Sprintf(" │ %s %.2f", name, scores[name])
		}
	}
	if err := l.writeMetric(record); err != nil {
		return err
	}
	what := "val loss"
	if full {
		what = "val loss (whole split)"
	}
	fmt.Fprintf(l.cfg.Log, "step %d │ %s %.4f%s\n", l.st.Step, what, v, extra)
	return nil
}

func (l *loop) interrupt(start time.Time, prev time.Duration) (*Result, error) {
	if l.cfg.Progress != nil {
		l.cfg.Progress.Finish()
	}
	if err := l.save(start, prev); err != nil {
		return nil, fmt.Errorf("%w at step %d, and saving failed: %v", ErrInterrupted, l.st.Step, err)
	}
	l.finishResult(start, prev)
	l.res.Interrupted = true
	return &l.res, fmt.Errorf("%w at step %d; saved %s", ErrInterrupted, l.st.Step, l.res.Checkpoint)
}

func (l *loop) finishResult(start time.Time, prev time.Duration) {
	l.res.Steps, l.res.Iters = l.st.Step, l.st.Iters
	l.res.Elapsed = prev + time.Since(start)
}

func (l *loop) save(start time.Time, prev time.Duration) error {
	// The records up to this checkpoint are on disk before it is: a resume trims the log to
	// the checkpoint's step and must find them all.
	if err := l.metrics.Sync(); err != nil {
		return fmt.Errorf("saving checkpoint at step %d: metrics log: %w", l.st.Step, err)
	}
	l.st.OptSteps = l.opt.Steps
	l.st.ElapsedS = (prev + time.Since(start)).Seconds()
	var err error
	if l.st.DataRNG, err = l.dataRNG.MarshalBinary(); err != nil {
		return err
	}
	if l.st.DropoutRNG, err = l.dropRNG.MarshalBinary(); err != nil {
		return err
	}
	dir, err := checkpoint.Write(l.cfg.RunDir, l.st.Step, func(dir string) error {
		if err := l.task.SaveModel(dir); err != nil {
			return err
		}
		if err := saveOptimizer(filepath.Join(dir, checkpoint.OptimizerFile), l.opt); err != nil {
			return err
		}
		data, err := json.MarshalIndent(l.st, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.WriteFile(filepath.Join(dir, checkpoint.StateFile), append(data, '\n'), 0o644)
	})
	if err != nil {
		return fmt.Errorf("saving checkpoint at step %d: %w", l.st.Step, err)
	}
	l.res.Checkpoint = dir
	return nil
}

// writeMetric appends one record to metrics.jsonl; an error (a full disk) stops the run rather
// than losing records silently.
func (l *loop) writeMetric(m map[string]any) error {
	for k, v := range m {
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			m[k] = nil // JSON has no NaN
		}
	}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("metrics log: %w", err)
	}
	if _, err := l.metrics.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("metrics log at step %d: %w", l.st.Step, err)
	}
	return nil
}

func humanRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func itersString(iters int, calibrating bool) string {
	if calibrating {
		return "?"
	}
	return fmt.Sprint(iters)
}

func etaString(elapsed time.Duration, step, iters int) string {
	s := "elapsed " + elapsed.Round(time.Second).String()
	if step > 0 && iters > step {
		eta := time.Duration(float64(elapsed) / float64(step) * float64(iters-step))
		s += ", ETA " + eta.Round(time.Second).String()
	}
	return s
}

// saveOptimizer writes AdamW's moments as m.NAME and v.NAME tensors, with the step count in
// the metadata.
func saveOptimizer(path string, o *optim.AdamW) error {
	ps := &nn.Params{}
	for i, p := range o.Params {
		copy(ps.Add("m."+p.Name, false, p.Var.Value.Shape()...).Value.Data(), o.M[i].Data())
		copy(ps.Add("v."+p.Name, false, p.Var.Value.Shape()...).Value.Data(), o.V[i].Data())
	}
	return hf.SaveWeights(path, ps)
}

// maxStateBytes bounds a checkpoint's trainer state (step, schedule, random states).
const maxStateBytes = 64 << 20

func loadState(dir string, params *nn.Params, o *optim.AdamW, dataRNG, dropRNG *tensor.RNG) (state, error) {
	var st state
	path := filepath.Join(dir, checkpoint.StateFile)
	damaged := func(err error) error {
		return fmt.Errorf("%s: %w; the checkpoint is damaged: delete %s to resume from the one before", path, err, dir)
	}
	data, err := fileutil.ReadFile(path, maxStateBytes, "a trainer state")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, damaged(err)
	}
	if err := st.check(); err != nil {
		return st, damaged(err)
	}
	if err := hf.LoadWeights(filepath.Join(dir, "model.safetensors"), params, identity); err != nil {
		return st, err
	}
	moments := &nn.Params{}
	for i, p := range o.Params {
		moments.Add("m."+p.Name, false, p.Var.Value.Shape()...).Value = o.M[i]
		moments.Add("v."+p.Name, false, p.Var.Value.Shape()...).Value = o.V[i]
	}
	if err := hf.LoadWeights(filepath.Join(dir, checkpoint.OptimizerFile), moments, identity); err != nil {
		return st, err
	}
	o.Steps = st.OptSteps
	if err := dataRNG.UnmarshalBinary(st.DataRNG); err != nil {
		return st, damaged(fmt.Errorf("data_rng: %w", err))
	}
	if err := dropRNG.UnmarshalBinary(st.DropoutRNG); err != nil {
		return st, damaged(fmt.Errorf("dropout_rng: %w", err))
	}
	return st, nil
}

// check reports a state that no run can have reached: a negative counter, more optimizer or
// skipped steps than steps, or an elapsed time that a time.Duration cannot hold. Resuming from
// one would, for instance, divide by zero in AdamW's bias correction or start with a negative
// learning rate.
func (st *state) check() error {
	switch {
	case st.Step < 0 || st.Iters < 0 || st.OptSteps < 0 || st.Skipped < 0 || st.Tokens < 0:
		return fmt.Errorf("negative counter (step %d, iters %d, optimizer_steps %d, skipped %d, tokens %d)", st.Step, st.Iters, st.OptSteps, st.Skipped, st.Tokens)
	case st.OptSteps > st.Step || st.Skipped > st.Step:
		return fmt.Errorf("optimizer_steps %d or skipped %d exceeds step %d", st.OptSteps, st.Skipped, st.Step)
	case !(st.ElapsedS >= 0 && st.ElapsedS < float64(math.MaxInt64/int64(time.Second))):
		return fmt.Errorf("elapsed_s %g is not a duration", st.ElapsedS)
	case st.WindowSteps < 0 || st.WindowSteps > st.Step || st.WindowTokens < 0 || math.IsNaN(st.WindowLoss) || math.IsInf(st.WindowLoss, 0):
		return fmt.Errorf("logging window of %d steps, %d tokens, loss sum %g does not fit step %d", st.WindowSteps, st.WindowTokens, st.WindowLoss, st.Step)
	}
	return nil
}

func identity(name string) (string, bool) { return name, true }

// lossWindow is the recent losses, NaN marking a skipped step (null in JSON).
type lossWindow []float64

func (w lossWindow) MarshalJSON() ([]byte, error) {
	v := make([]*float64, len(w))
	for i := range w {
		if !math.IsNaN(w[i]) {
			v[i] = &w[i]
		}
	}
	return json.Marshal(v)
}

func (w *lossWindow) UnmarshalJSON(b []byte) error {
	var v []*float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*w = make(lossWindow, len(v))
	for i, p := range v {
		(*w)[i] = math.NaN()
		if p != nil {
			(*w)[i] = *p
		}
	}
	return nil
}
