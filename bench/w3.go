package bench

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// GPT2Small is the GPT-2 124M shape of W3.
var GPT2Small = gpt.Config{VocabSize: 50257, NPositions: 1024, NEmbd: 768, NLayer: 12, NHead: 12, LayerNormEpsilon: 1e-5, Activation: "gelu"}

// W3Weights lists the weight formats W3 measures.
var W3Weights = []string{"fp32", "bf16", "int8"}

// runW3: GPT-2 124M with random weights. Prefill a 64-token prompt (seeded random ids) into a
// KV cache, returning only the last position's logits: median of 7 after 2 warm-ups. Then
// greedy decoding of 128 tokens one at a time (the first comes out of prefill): tokens/s = 1 /
// median step time over the 127 single-token steps, after an 8-token warm-up decode.
func runW3(ctx context.Context, cs, weights string, threads int) ([]Result, error) {
	if cs != "gpt2-124m" {
		return nil, errCase("W3", cs)
	}
	kernel.SetThreads(threads)
	m, err := gpt.New(GPT2Small, 1337)
	if err != nil {
		return nil, err
	}
	rng := tensor.NewRNG(1338)
	prompt := make([]int, 64)
	for i := range prompt {
		prompt[i] = rng.IntN(GPT2Small.VocabSize)
	}
	var bufs [][]float32
	for _, p := range m.Params.List() {
		bufs = append(bufs, p.Var.Value.Data())
	}
	bw, err := MemoryBandwidth(ctx, threads, bufs)
	if err != nil {
		return nil, err
	}
	var out []Result
	if weights == "" || weights == "fp32" {
		out = append(out, Result{Workload: "W3", Case: cs, Threads: threads, Metric: "memory_gb_per_s", Value: bw, PeakRSSMB: PeakRSSMB()})
	}
	if weights == "" {
		weights = "fp32"
	}
	for _, w := range []string{weights} {
		if err := quantize(m, w); err != nil {
			return nil, err
		}
		// The peak RSS so far includes building the float32 model (build_peak_rss_mb); after
		// the reset, peak_rss_mb is that of inference alone, on the weights quantize kept.
		buildRSS := PeakRSSMB()
		resetPeak := resetPeakRSS()
		gen := m.NewGenerator()
		prefill := func() {
			if _, err := gen.Start(prompt); err != nil {
				panic(err)
			}
		}
		pre, err := timeCalls(ctx, prefill, 2, 7, 1)
		if err != nil {
			return nil, err
		}
		decode := func(n int) ([]float64, []int, error) {
			logits, err := gen.Start(prompt)
			if err != nil {
				return nil, nil, err
			}
			next := tensor.Argmax(tensor.FromData(logits, len(logits)))
			toks, times := []int{next}, make([]float64, 0, n)
			for i := 1; i < n; i++ {
				if err := ctx.Err(); err != nil {
					return nil, nil, err
				}
				t0 := time.Now()
				logits, err = gen.Next(next)
				if err != nil {
					return nil, nil, err
				}
				next = tensor.Argmax(tensor.FromData(logits, len(logits)))
				times = append(times, time.Since(t0).Seconds())
				toks = append(toks, next)
			}
			return times, toks, nil
		}
		if _, _, err := decode(8); err != nil {
			return nil, err
		}
		times, toks, err := decode(128)
		if err != nil {
			return nil, err
		}
		rss := PeakRSSMB()
		// Decoding a token streams every weight once (the embeddings are only gathered, but the
		// tied LM head reads all of wte): the memory-bound ceiling is bandwidth ÷ weight bytes.
		wbytes := weightBytes(m, w)
		bound := bw * 1e9 / float64(wbytes)
		extra := map[string]any{"first_tokens": toks[:8], "steps_timed": len(times), "weight_mb": float64(wbytes) / 1e6,
			"memory_bound_tokens_per_s": bound, "fraction_of_bound": 1 / median(times) / bound}
		if resetPeak {
			out = append(out, Result{Workload: "W3", Case: cs, Threads: threads, Metric: "build_peak_rss_mb", Value: buildRSS, PeakRSSMB: rss, Weights: w})
		}
		out = append(out,
			Result{Workload: "W3", Case: cs, Threads: threads, Metric: "prefill_ms", Value: median(pre) * 1e3, PeakRSSMB: rss, Weights: w},
			Result{Workload: "W3", Case: cs, Threads: threads, Metric: "decode_tokens_per_s", Value: 1 / median(times), PeakRSSMB: rss, Weights: w, Extra: extra},
		)
	}
	return out, nil
}

// resetPeakRSS returns the memory the heap has freed to the OS and resets the process's peak
// RSS to its current RSS (Linux: clear_refs 5), so that PeakRSSMB then measures what
// inference holds, without the float32 copy that building the model needed. It reports
// whether the reset worked.
func resetPeakRSS() bool {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// quantize switches m's weights to the given format for inference.
func quantize(m *gpt.Model, format string) error {
	f, err := tensor.ParseWeightFormat(format)
	if err != nil {
		return err
	}
	return m.PackForInference(f)
}

// weightBytes is what one decoding step reads: every matrix of the blocks and the LM head
// (wte) in the given format, the vectors (biases, LayerNorm) in float32, and one row of wpe.
func weightBytes(m *gpt.Model, format string) int64 {
	per := map[string]float64{"fp32": 4, "bf16": 2, "int8": 1 + 4.0/32}[format] // int8: one fp32 scale per 32
	c := m.Config
	C, I := int64(c.NEmbd), int64(c.Inner())
	matrices := int64(c.NLayer)*(C*3*C+C*C+C*I+I*C) + int64(c.VocabSize)*C
	vectors := int64(c.NLayer)*(3*C+C+I+C+4*C) + 2*C + C
	return int64(per*float64(matrices)) + 4*vectors
}
