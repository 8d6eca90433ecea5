package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/model/gpt"
)

// tinyShapes gives every workload tiny shapes (and W1 short samples) until the test ends, so
// that the tests run the real measuring code in milliseconds.
func tinyShapes(t *testing.T) {
	t.Helper()
	sample, gpt2, bertBase, w2 := sampleSeconds, GPT2Small, BERTBase, maps.Clone(W2Configs)
	t.Cleanup(func() { sampleSeconds, GPT2Small, BERTBase, W2Configs = sample, gpt2, bertBase, w2 })
	sampleSeconds = 1e-4
	// W3 prefills 64 tokens and decodes 128: 256 positions.
	GPT2Small = gpt.Config{VocabSize: 64, NPositions: 256, NEmbd: 32, NLayer: 1, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu"}
	BERTBase = bert.Config{VocabSize: 64, HiddenSize: 32, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 64, MaxPositionEmbeddings: 128, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	W2Configs = map[string]W2Config{}
	for cs := range w2 {
		W2Configs[cs] = W2Config{Vocab: 11, Layers: 1, Heads: 2, Embd: 16, Block: 8, Batch: 2}
	}
}

// documented is what WORKLOADS.md promises per workload: the metrics of each case (once per
// weight format for W3), and the weight formats.
var documented = map[string]struct {
	metrics []string
	extra   []string // further metrics a workload may report
	weights []string // the formats of a `weights` field ("" for none)
}{
	"W1": {metrics: []string{"gflops"}, weights: []string{""}},
	"W2": {metrics: []string{"tokens_per_s"}, weights: []string{""}},
	"W3": {metrics: []string{"prefill_ms", "decode_tokens_per_s"}, extra: []string{"memory_gb_per_s", "build_peak_rss_mb"}, weights: []string{"fp32", "bf16", "int8"}},
	"W4": {metrics: []string{"ms_per_batch", "seqs_per_s"}, weights: []string{""}},
	"W5": {metrics: []string{"tokens_per_s"}, weights: []string{""}},
	"W6": {metrics: []string{"tokens_per_s"}, extra: []string{"sentences_per_s"}, weights: []string{""}}, // sentences_per_s: the transformer-beam case
}

// shrunk lists the workloads tinyShapes makes cheap; TestJSONContract runs those.
var shrunk = []string{"W1", "W2", "W3", "W4"}

// Every case of every workload (W1 on a tiny shape) gives one JSON object per metric with the
// fields of the `qkv bench --json` contract.
func TestJSONContract(t *testing.T) {
	tinyShapes(t)
	ctx := context.Background()
	ran := 0
	for _, w := range Workloads() {
		doc, ok := documented[w.ID]
		if !ok {
			t.Fatalf("workload %s is not documented", w.ID)
		}
		if len(w.Cases) == 0 {
			t.Fatalf("%s has no cases", w.ID)
		}
		if !slices.Contains(shrunk, w.ID) {
			continue
		}
		ran++
		cases := w.Cases
		if w.ID == "W1" {
			for _, cs := range cases {
				var m, k, n int
				if _, err := fmt.Sscanf(cs, "%dx%dx%d", &m, &k, &n); err != nil {
					t.Errorf("W1 case %q is not MxKxN", cs)
				}
			}
			cases = []string{"4x8x16"}
		}
		variants := w.Variants
		if len(variants) == 0 {
			variants = []string{""}
		}
		for _, cs := range cases {
			for _, threads := range []int{1, 2} {
				seen := map[string]int{}
				for _, v := range variants {
					res, err := w.Run(ctx, cs, v, threads)
					if err != nil {
						t.Fatalf("%s %s %s: %v", w.ID, cs, v, err)
					}
					for _, r := range res {
						checkResult(t, r, w.ID, cs, threads, doc.metrics, doc.extra, doc.weights)
						seen[r.Metric+"@"+r.Weights]++
					}
				}
				for _, m := range doc.metrics {
					for _, f := range doc.weights {
						if seen[m+"@"+f] != 1 {
							t.Errorf("%s %s, %d threads: metric %s (weights %q) reported %d times, want once", w.ID, cs, threads, m, f, seen[m+"@"+f])
						}
					}
				}
			}
		}
	}
	if ran != len(shrunk) {
		t.Errorf("ran %d workloads, want %v", ran, shrunk)
	}
}

// checkResult checks one result as `qkv bench --json` prints it.
func checkResult(t *testing.T, r Result, id, cs string, threads int, metrics, extra, weights []string) {
	t.Helper()
	line, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("%s %s: %v", id, cs, err)
	}
	var obj map[string]any
	if err := json.Unmarshal(line, &obj); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	for key, want := range map[string]any{"workload": id, "case": cs, "threads": float64(threads)} {
		if obj[key] != want {
			t.Errorf("%s: %s = %v, want %v", line, key, obj[key], want)
		}
	}
	metric, _ := obj["metric"].(string)
	if !slices.Contains(metrics, metric) && !slices.Contains(extra, metric) {
		t.Errorf("%s: metric %q, want one of %v", line, metric, append(metrics, extra...))
	}
	for _, key := range []string{"value", "peak_rss_mb"} {
		v, ok := obj[key].(float64)
		if !ok || v <= 0 || math.IsInf(v, 0) {
			t.Errorf("%s: %s = %v, want a positive number", line, key, obj[key])
		}
	}
	if w, _ := obj["weights"].(string); slices.Contains(metrics, metric) && !slices.Contains(weights, w) {
		t.Errorf("%s: weights %q, want one of %q", line, w, weights)
	}
}

// A case a workload does not have is an error that lists the cases it has.
func TestUnknownCase(t *testing.T) {
	tinyShapes(t)
	for _, w := range Workloads() {
		for _, cs := range []string{"nonexistent", "", "0x8x8"} {
			res, err := w.Run(context.Background(), cs, "", 1)
			if err == nil {
				t.Errorf("%s case %q: %v, want an error", w.ID, cs, res)
				continue
			}
			if !strings.Contains(err.Error(), w.Cases[0]) {
				t.Errorf("%s case %q: error %q does not list the cases", w.ID, cs, err)
			}
		}
		if w.HasCase("nonexistent") || !w.HasCase(w.Cases[len(w.Cases)-1]) {
			t.Errorf("%s: HasCase is wrong", w.ID)
		}
	}
	for _, id := range []string{"W1", "w2", "W3", "w4"} {
		if _, ok := Find(id); !ok {
			t.Errorf("Find(%q) failed", id)
		}
	}
	if _, ok := Find("W9"); ok {
		t.Error("Find(W9) succeeded")
	}
}

// allocs_per_step is the timed steps' allocations divided by their number.
func TestW2AllocsPerStep(t *testing.T) {
	tinyShapes(t)
	orig := readMallocs
	t.Cleanup(func() { readMallocs = orig })
	var calls uint64
	readMallocs = func() uint64 { calls++; return calls * 1000 } // 1000 objects between two reads
	res, err := runW2(context.Background(), "small", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	extra := res[0].Extra.(map[string]any)
	if calls != 2 {
		t.Fatalf("read the allocation count %d times, want 2", calls)
	}
	if got, want := extra["allocs_per_step"], 1000.0/w2Steps; got != want {
		t.Errorf("allocs_per_step = %v, want %v", got, want)
	}
	if got := extra["steps_timed"]; got != w2Steps {
		t.Errorf("steps_timed = %v, want %d", got, w2Steps)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(slices.Clone(c.xs)); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}
