package gpt

import (
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/optim"
	"github.com/qkvdev/qkv/tensor"
)

// BenchmarkTrainStep measures one full training step (forward, backward, clip, AdamW) of the
// W2 configurations, and reports tokens/s and allocations per step.
func BenchmarkTrainStep(b *testing.B) {
	cases := []struct {
		name string
		cfg  Config
		B, T int
	}{
		{"small", Config{VocabSize: 65, NPositions: 64, NEmbd: 128, NLayer: 4, NHead: 4, LayerNormEpsilon: 1e-5, Activation: "gelu"}, 32, 64},
		{"shakespeare", Config{VocabSize: 65, NPositions: 256, NEmbd: 384, NLayer: 6, NHead: 6, LayerNormEpsilon: 1e-5, Activation: "gelu"}, 8, 256},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			m, err := New(c.cfg, 1)
			if err != nil {
				b.Fatal(err)
			}
			opt := optim.NewAdamW(m.Params.List(), optim.AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
			rng := tensor.NewRNG(1)
			x, y := make([]int, c.B*c.T), make([]int, c.B*c.T)
			for i := range x {
				x[i], y[i] = rng.IntN(65), rng.IntN(65)
			}
			g := autograd.NewGraph()
			step := func() {
				g.Reset()
				m.Params.ZeroGrad()
				loss := m.Loss(g, m.Forward(g, x, c.B, c.T, nil), y)
				g.Backward(loss)
				optim.ClipGradNorm(m.Params.List(), 1)
				opt.Step(1e-3)
			}
			step()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
			b.ReportMetric(float64(c.B*c.T)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkDecodeStep decodes 128 tokens after a 64-token prompt (W3's shape) with GPT-2 124M
// (random weights) packed as int8 and as bf16, through the fused step (one parallel region per
// token) and through the graph, one after the other within each format so that both see much
// the same machine. It reports tokens/s. (Float32 weights always take the graph.)
func BenchmarkDecodeStep(b *testing.B) {
	cfg := Config{VocabSize: 50257, NPositions: 1024, NEmbd: 768, NLayer: 12, NHead: 12, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}
	prompt := make([]int, 64)
	for i := range prompt {
		prompt[i] = i * 7919 % cfg.VocabSize
	}
	for _, format := range []tensor.WeightFormat{tensor.Int8, tensor.BF16} {
		m, err := New(cfg, 1)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.PackForInference(format); err != nil {
			b.Fatal(err)
		}
		gen := m.NewGenerator()
		for _, path := range []string{"fused", "graph"} {
			b.Run(string(format)+"/"+path, func(b *testing.B) {
				defer func(old bool) { fusedDecode = old }(fusedDecode)
				fusedDecode = path == "fused"
				tokens := 0
				for b.Loop() {
					b.StopTimer()
					logits, err := gen.Start(prompt)
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					for range 128 {
						best := 0
						for j, v := range logits {
							if v > logits[best] {
								best = j
							}
						}
						if logits, err = gen.Next(best); err != nil {
							b.Fatal(err)
						}
					}
					tokens += 128
				}
				b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
	}
}
