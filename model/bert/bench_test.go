package bert

import (
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/optim"
	"github.com/qkvdev/qkv/tensor"
)

// BenchmarkPretrainStep is one W5 "mini" training step (vocabulary 30522, 4 layers, C 256,
// batch 16 × 128) with the MLM decoder on the labelled positions only (Pretrain) and on every
// position (MLMLogits over the whole batch, as HuggingFace's BertForPreTraining computes it):
//
//	go test ./model/bert -run XXX -bench PretrainStep -benchtime 5x
func BenchmarkPretrainStep(b *testing.B) {
	cfg := Config{VocabSize: 30522, HiddenSize: 256, NumHiddenLayers: 4, NumAttentionHeads: 4, IntermediateSize: 1024,
		MaxPositionEmbeddings: 512, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	for _, full := range []bool{false, true} {
		name := "labelled"
		if full {
			name = "all-positions"
		}
		b.Run(name, func(b *testing.B) {
			m, err := New(cfg, 1)
			if err != nil {
				b.Fatal(err)
			}
			opt := optim.NewAdamW(m.Params.List(), optim.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
			batch, mlm, nsp := tinyBatch(cfg, 16, 128, 1)
			rng := tensor.NewRNG(2)
			for i := range mlm { // 15 % of the real positions labelled, as in W5
				mlm[i] = tensor.IgnoreIndex
				if batch.AttentionMask[i] == 1 && rng.Float32() < 0.15 {
					mlm[i] = batch.InputIDs[i]
				}
			}
			g := autograd.NewGraph()
			var s MaskedPositions
			for b.Loop() {
				g.Reset()
				m.Params.ZeroGrad()
				var loss *autograd.Var
				if full {
					out := m.Encode(g, batch, nil, nil)
					_, _, loss = m.PretrainingLoss(g, m.MLMLogits(g, out.Hidden), m.NSPLogits(g, out.Pooled), mlm, nsp)
				} else {
					s.Set(mlm)
					_, _, loss = m.Pretrain(g, batch, &s, nsp, nil)
				}
				g.Backward(loss)
				optim.ClipGradNorm(m.Params.List(), 1)
				opt.Step(1e-4)
			}
			b.ReportMetric(float64(16*128*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
