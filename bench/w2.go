package bench

import (
	"context"
	"runtime"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/optim"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// W2Config is one W2 training configuration.
type W2Config struct {
	Vocab, Layers, Heads, Embd, Block, Batch int
}

// W2Configs are the two W2 cases.
var W2Configs = map[string]W2Config{
	"small":       {Vocab: 65, Layers: 4, Heads: 4, Embd: 128, Block: 64, Batch: 32},
	"shakespeare": {Vocab: 65, Layers: 6, Heads: 6, Embd: 384, Block: 256, Batch: 8},
}

// W2 runs w2Warmup untimed steps, then w2Steps timed ones.
const w2Warmup, w2Steps = 3, 10

// readMallocs returns the number of heap objects allocated so far (a variable for tests).
var readMallocs = func() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// runW2: a GPT-2-style model (pre-LN, tied head, exact GELU, dropout 0) trained on random token
// batches (B, T+1) from a seeded generator: forward, cross-entropy, backward, clip 1.0, AdamW
// (lr 1e-3, betas (0.9, 0.95), weight decay 0.1 on matrices). Tokens/s = B·T / median step time
// over 10 steps after 3 warm-up steps; allocs_per_step is the heap objects those 10 steps
// allocated, divided by 10.
func runW2(ctx context.Context, cs, _ string, threads int) ([]Result, error) {
	c, ok := W2Configs[cs]
	if !ok {
		return nil, errCase("W2", cs)
	}
	kernel.SetThreads(threads)
	m, err := gpt.New(gpt.Config{VocabSize: c.Vocab, NPositions: c.Block, NEmbd: c.Embd, NLayer: c.Layers, NHead: c.Heads, LayerNormEpsilon: 1e-5, Activation: "gelu"}, 1337)
	if err != nil {
		return nil, err
	}
	// nanoGPT-style decay: matrices only (the W2 baseline decays every ≥2-D tensor, embeddings
	// included; the cost is the same).
	opt := optim.NewAdamW(m.Params.List(), optim.AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
	rng := tensor.NewRNG(1337)
	B, T := c.Batch, c.Block
	x, y, row := make([]int, B*T), make([]int, B*T), make([]int, T+1)
	g := autograd.NewGraph()
	next := func() {
		for b := 0; b < B; b++ {
			for i := range row {
				row[i] = rng.IntN(c.Vocab)
			}
			copy(x[b*T:], row[:T])
			copy(y[b*T:], row[1:])
		}
	}
	step := func() float32 {
		g.Reset()
		m.Params.ZeroGrad()
		loss := m.Loss(g, m.Forward(g, x, B, T, nil), y)
		g.Backward(loss)
		optim.ClipGradNorm(m.Params.List(), 1)
		opt.Step(1e-3)
		return loss.Value.Item()
	}
	return timeTraining(ctx, "W2", cs, threads, B*T, w2Warmup, w2Steps, g, next, step)
}
