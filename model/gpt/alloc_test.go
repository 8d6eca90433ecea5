package gpt

import (
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/optim"
	"github.com/qkvdev/qkv/tensor"
)

// A training step (forward, backward, clip, AdamW) reuses every buffer of the previous step,
// and so does a decoding step with a KV cache.
func TestStepsAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	if testing.Short() {
		t.Skip("short")
	}
	cfg := tinyConfig()
	cfg.EmbdPdrop, cfg.AttnPdrop, cfg.ResidPdrop = 0.1, 0.1, 0.1
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	opt := optim.NewAdamW(m.Params.List(), optim.AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
	const B, T = 4, 16
	rng := tensor.NewRNG(1)
	x, y := make([]int, B*T), make([]int, B*T)
	for i := range x {
		x[i], y[i] = rng.IntN(cfg.VocabSize), rng.IntN(cfg.VocabSize)
	}
	g := autograd.NewGraph()
	train := func() {
		g.Reset()
		m.Params.ZeroGrad()
		loss := m.Loss(g, m.Forward(g, x, B, T, &State{Dropout: rng}), y)
		g.Backward(loss)
		optim.ClipGradNorm(m.Params.List(), 1)
		opt.Step(1e-3)
	}
	if n := testenv.SteadyAllocs(train); n > 1 {
		t.Errorf("a training step allocates %v times, want 0", n)
	}

	gen := m.NewGenerator()
	if _, err := gen.Start(x[:4]); err != nil {
		t.Fatal(err)
	}
	next := 0
	decode := func() {
		if len(gen.Sequence()) >= cfg.NPositions-1 {
			if _, err := gen.Start(x[:4]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := gen.Next(x[next%len(x)]); err != nil {
			t.Fatal(err)
		}
		next++
	}
	if n := testenv.SteadyAllocs(decode); n > 1 {
		t.Errorf("a decoding step allocates %v times, want 0", n)
	}
}
