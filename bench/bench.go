// Package bench runs the workloads W1–W5 that qkv is measured on, defined exactly as the
// PyTorch baselines define them (../shared/bench/WORKLOADS.md): W1 SGEMM, W2 GPT training
// steps, W3 GPT-2 124M prefill and KV-cache decoding, W4 BERT-base encoder forward, W5 BERT
// pretraining steps, W6 encoder–decoder training steps and beam-search translation.
//
// Each measurement warms up, then takes the median of several repetitions.
package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Result is one measured case and metric, as one JSON line of `qkv bench --json`.
type Result struct {
	Workload  string  `json:"workload"`
	Case      string  `json:"case"`
	Threads   int     `json:"threads"`
	Metric    string  `json:"metric"`
	Value     float64 `json:"value"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
	Weights   string  `json:"weights,omitempty"`
	Unit      string  `json:"unit,omitempty"`
	Extra     any     `json:"extra,omitempty"`
	// What the figure ran on: the CPU model, the kernel paths in use (go, avx2, avx512, vnni,
	// bf16) and the arithmetic of the matrix multiplies (fp32 or bf16).
	CPU     string `json:"cpu,omitempty"`
	Kernels string `json:"kernels,omitempty"`
	Compute string `json:"compute,omitempty"`
}

// Workload is one named workload with its cases.
type Workload struct {
	ID    string
	Desc  string
	Cases []string
	// Variants of every case, each measured in its own process (W3: the weight formats).
	Variants []string
	// Run measures one case (and variant, "" if none) with the given number of threads.
	Run func(ctx context.Context, cs, variant string, threads int) ([]Result, error)
}

// Workloads lists W1–W6 in order.
func Workloads() []Workload {
	return []Workload{
		{ID: "W1", Desc: "fp32 SGEMM C = A·B", Cases: []string{"1024x1024x1024", "4096x768x3072", "1x768x3072"}, Run: runW1},
		{ID: "W2", Desc: "GPT training step (forward, backward, clip, AdamW)", Cases: []string{"small", "shakespeare"}, Run: runW2},
		{ID: "W3", Desc: "GPT-2 124M prefill (64 tokens) and KV-cache greedy decoding (128 tokens)", Cases: []string{"gpt2-124m"}, Variants: W3Weights, Run: runW3},
		{ID: "W4", Desc: "BERT-base encoder forward, sequence 128", Cases: []string{"batch1", "batch8"}, Run: runW4},
		{ID: "W5", Desc: "BERT pretraining step (MLM + NSP, forward, backward, clip, AdamW)", Cases: []string{"mini", "base"}, Run: runW5},
		{ID: "W6", Desc: "encoder–decoder training step (Transformer, GRU with attention) and beam-search translation", Cases: W6Cases, Run: runW6},
	}
}

// HasCase reports whether cs is one of the workload's cases.
func (w Workload) HasCase(cs string) bool { return slices.Contains(w.Cases, cs) }

// Find returns the workload with the given id (case-insensitive).
func Find(id string) (Workload, bool) {
	for _, w := range Workloads() {
		if equalFold(w.ID, id) {
			return w, true
		}
	}
	return Workload{}, false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 32
		}
		if 'a' <= y && y <= 'z' {
			y -= 32
		}
		if x != y {
			return false
		}
	}
	return true
}

// PeakRSSMB is the process's peak resident set size so far, in MiB.
func PeakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // Linux reports KiB
}

// median returns the median of xs (which it sorts).
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// timeCalls runs fn warmup times, then reps samples of inner calls each, and returns seconds per
// call for every sample.
func timeCalls(ctx context.Context, fn func(), warmup, reps, inner int) ([]float64, error) {
	for i := 0; i < warmup; i++ {
		fn()
	}
	out := make([]float64, 0, reps)
	for r := 0; r < reps; r++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		for i := 0; i < inner; i++ {
			fn()
		}
		out = append(out, time.Since(t0).Seconds()/float64(inner))
	}
	return out, nil
}

// sampleSeconds is how long one timed sample of a fast call lasts (W1 repeats the call to fill
// it); tests shorten it.
var sampleSeconds = 0.2

// innerFor picks how many calls make a sample of about target seconds.
func innerFor(fn func(), target float64) int {
	fn()
	t0 := time.Now()
	fn()
	est := max(time.Since(t0).Seconds(), 1e-7)
	return max(1, int(target/est))
}

func errCase(id, c string) error {
	w, _ := Find(id)
	return fmt.Errorf("%s has no case %q (its cases: %s)", id, c, strings.Join(w.Cases, ", "))
}
