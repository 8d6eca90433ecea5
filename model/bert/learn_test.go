package bert

import (
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/optim"
	"github.com/qkvdev/qkv/tensor"
)

// A tiny classifier learns whether a sequence holds a given token (the pooled [CLS] must gather
// it by attention from any position): at least 95 % accuracy on held-out sequences after 300
// steps, with dropout on.
func TestClassifierLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cfg := Config{VocabSize: 12, HiddenSize: 32, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 64, MaxPositionEmbeddings: 16,
		TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu", HiddenDropoutProb: 0.05, AttentionDropoutProb: 0.05,
		Head: HeadClassification, NumLabels: 2, ClassifierDropoutProb: 0.05}
	m, err := New(cfg, 11)
	if err != nil {
		t.Fatal(err)
	}
	const B, T, target = 32, 8, 3
	rng := tensor.NewRNG(4)
	// Rows: [CLS]=1, then T-1 tokens in 2..V-1; about half of them hold the target.
	sample := func(ids, labels []int) {
		for r := range len(labels) {
			ids[r*T] = 1
			labels[r] = 0
			for i := 1; i < T; i++ {
				ids[r*T+i] = 2 + rng.IntN(cfg.VocabSize-2)
				for ids[r*T+i] == target {
					ids[r*T+i] = 2 + rng.IntN(cfg.VocabSize-2)
				}
			}
			if rng.IntN(2) == 1 {
				ids[r*T+1+rng.IntN(T-1)] = target
				labels[r] = 1
			}
		}
	}
	opt := optim.NewAdamW(m.Params.List(), optim.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
	b := &Batch{B: B, T: T, InputIDs: make([]int, B*T)}
	labels := make([]int, B)
	g := autograd.NewGraph()
	dropout := tensor.NewRNG(9)
	for range 300 {
		sample(b.InputIDs, labels)
		g.Reset()
		m.Params.ZeroGrad()
		loss, _ := m.Loss(g, b, labels, dropout)
		g.Backward(loss)
		optim.ClipGradNorm(m.Params.List(), 1)
		opt.Step(3e-3)
	}
	const N = 512
	test := &Batch{B: N, T: T, InputIDs: make([]int, N*T)}
	want := make([]int, N)
	sample(test.InputIDs, want)
	g.SetGrad(false)
	g.Reset()
	logits := m.Classify(g, test, nil).Value.Data() // (N, 2)
	right := 0
	for r := range N {
		if (logits[2*r+1] > logits[2*r]) == (want[r] == 1) {
			right++
		}
	}
	acc := float64(right) / N
	t.Logf("held-out accuracy %.3f", acc)
	if acc < 0.95 {
		t.Fatalf("held-out accuracy %.3f after 300 steps, want at least 0.95", acc)
	}
}
