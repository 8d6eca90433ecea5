package bench

import (
	"context"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/optim"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// W5Config is one W5 pretraining configuration: a BERT shape, sequence length and batch size.
type W5Config struct {
	Model      bert.Config
	Seq, Batch int
}

func w5Shape(layers, heads, embd int) bert.Config {
	return bert.Config{VocabSize: 30522, HiddenSize: embd, NumHiddenLayers: layers, NumAttentionHeads: heads, IntermediateSize: 4 * embd,
		MaxPositionEmbeddings: 512, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
}

// W5Configs are the two W5 cases.
var W5Configs = map[string]W5Config{
	"mini": {Model: w5Shape(4, 4, 256), Seq: 128, Batch: 16},
	"base": {Model: w5Shape(12, 12, 768), Seq: 128, Batch: 4},
}

// W5 runs w5Warmup untimed steps, then w5Steps timed ones, as the baseline does.
const w5Warmup, w5Steps = 3, 10

// w5Batch fills one W5 batch from rng as the baseline builds it: ids uniform in [5, V), token
// types 0 for the first half of each row and 1 for the second, the last 16 positions of every
// other row padded, 15 % of the real positions labelled with their own id, NSP labels in {0, 1}.
func w5Batch(c W5Config, rng *tensor.RNG, b *bert.Batch, mlm, nsp []int) {
	B, T, V := c.Batch, c.Seq, c.Model.VocabSize
	pad := min(16, T)
	for r := 0; r < B; r++ {
		for t := 0; t < T; t++ {
			i := r*T + t
			b.InputIDs[i] = 5 + rng.IntN(V-5)
			b.TokenTypeIDs[i] = 0
			if t >= T/2 {
				b.TokenTypeIDs[i] = 1
			}
			b.AttentionMask[i] = 1
			if r%2 == 1 && t >= T-pad {
				b.AttentionMask[i] = 0
			}
			mlm[i] = tensor.IgnoreIndex
			if rng.Float32() < 0.15 && b.AttentionMask[i] == 1 {
				mlm[i] = b.InputIDs[i]
			}
		}
		nsp[r] = rng.IntN(2)
	}
}

// runW5: a BERT pretraining step (post-LN encoder, exact GELU, dropout 0, pooler and NSP head,
// MLM head with the decoder tied to the word embeddings) on W5 batches: forward, MLM + NSP
// cross-entropy, backward, clip 1.0, AdamW (lr 1e-4, betas (0.9, 0.999), weight decay 0.01 on
// matrices). The MLM decoder runs on the labelled positions only (bert.MaskedPositions): the
// loss and gradients are those of the baseline, which computes logits at every position.
// Tokens/s = B·T / median step time over 10 steps after 3 warm-up steps; allocs_per_step is the
// heap objects those 10 steps allocated, divided by 10.
func runW5(ctx context.Context, cs, _ string, threads int) ([]Result, error) {
	c, ok := W5Configs[cs]
	if !ok {
		return nil, errCase("W5", cs)
	}
	kernel.SetThreads(threads)
	m, err := bert.New(c.Model, 1337)
	if err != nil {
		return nil, err
	}
	opt := optim.NewAdamW(m.Params.List(), optim.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
	rng := tensor.NewRNG(1337)
	B, T := c.Batch, c.Seq
	b := &bert.Batch{B: B, T: T, InputIDs: make([]int, B*T), TokenTypeIDs: make([]int, B*T), AttentionMask: make([]int, B*T)}
	mlm, nsp := make([]int, B*T), make([]int, B)
	var masked bert.MaskedPositions
	g := autograd.NewGraph()
	step := func() float32 {
		g.Reset()
		m.Params.ZeroGrad()
		masked.Set(mlm)
		_, _, loss := m.Pretrain(g, b, &masked, nsp, nil)
		g.Backward(loss)
		optim.ClipGradNorm(m.Params.List(), 1)
		opt.Step(1e-4)
		return loss.Value.Item()
	}
	return timeTraining(ctx, "W5", cs, threads, B*T, w5Warmup, w5Steps, g, func() { w5Batch(c, rng, b, mlm, nsp) }, step)
}
