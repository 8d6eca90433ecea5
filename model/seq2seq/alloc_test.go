package seq2seq

import (
	"runtime"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/optim"
	"github.com/qkvdev/qkv/tensor"
)

// A training step of the task (batch, forward, backward, clip, AdamW), dropout on, reuses
// every buffer of the previous step, for every variant.
func TestTrainingStepAllocatesNothing(t *testing.T) {
	for _, cfg := range variants() {
		cfg.Dropout = 0.1
		m, err := New(cfg, 1)
		if err != nil {
			t.Fatal(err)
		}
		rng := tensor.NewRNG(2)
		pairs := make([]Pair, 16)
		for i := range pairs {
			s := toySequence(rng)
			pairs[i] = Pair{Src: s, Tgt: toyTarget(s, true)}
		}
		task, err := NewTask(m, pairs, nil, 8)
		if err != nil {
			t.Fatal(err)
		}
		opt := optim.NewAdamW(m.Params.List(), optim.AdamWConfig{Beta1: 0.9, Beta2: 0.99, Eps: 1e-8})
		g := autograd.NewGraph()
		// The arena hands buffers out in order, so steps of one shape reuse them all: every
		// pair is cut to the same lengths.
		for i := range pairs {
			pairs[i].Src, pairs[i].Tgt = pairs[i].Src[:toyMin], pairs[i].Tgt[:toyMin]
		}
		step := func() {
			g.Reset()
			m.Params.ZeroGrad()
			loss, _ := task.Loss(g, rng, rng)
			g.Backward(loss)
			optim.ClipGradNorm(m.Params.List(), 1)
			opt.Step(1e-3)
		}
		runtime.GC()
		for range 3 {
			step()
		}
		if n := testing.AllocsPerRun(10, step); n > 0 {
			t.Errorf("%s/%s: a training step allocates %v times, want 0", cfg.Cell, cfg.Attention, n)
		}
	}
}
