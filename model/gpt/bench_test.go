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
