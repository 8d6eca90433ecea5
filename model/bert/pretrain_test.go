package bert

import (
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/optim"
	"github.com/qkvdev/qkv/tensor"
)

// tinyBatch is a seeded batch with padding on odd rows, token types 0 then 1, MLM labels on
// some real positions and random NSP labels.
func tinyBatch(cfg Config, B, T int, seed uint64) (*Batch, []int, []int) {
	rng := tensor.NewRNG(seed)
	b := &Batch{B: B, T: T, InputIDs: make([]int, B*T), TokenTypeIDs: make([]int, B*T), AttentionMask: make([]int, B*T)}
	mlm, nsp := make([]int, B*T), make([]int, B)
	for r := range B {
		for t := range T {
			i := r*T + t
			b.InputIDs[i] = rng.IntN(cfg.VocabSize)
			if t >= T/2 {
				b.TokenTypeIDs[i] = 1
			}
			b.AttentionMask[i] = 1
			if r%2 == 1 && t >= T-3 {
				b.AttentionMask[i] = 0
			}
			mlm[i] = tensor.IgnoreIndex
			if b.AttentionMask[i] == 1 && rng.Float32() < 0.3 {
				mlm[i] = rng.IntN(cfg.VocabSize)
			}
		}
		nsp[r] = rng.IntN(2)
	}
	return b, mlm, nsp
}

// Pretrain, which runs the MLM decoder on the labelled positions only, gives the loss and every
// gradient of the MLM logits at all positions.
func TestPretrainMatchesFullLogits(t *testing.T) {
	cfg := tinyConfig()
	m, err := New(cfg, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels func([]int)
	}{
		{"some labelled", func([]int) {}},
		{"none labelled", func(l []int) {
			for i := range l {
				l[i] = tensor.IgnoreIndex
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, mlm, nsp := tinyBatch(cfg, 3, 10, 7)
			tc.labels(mlm)
			g := autograd.NewGraph()
			m.Params.ZeroGrad()
			out := m.Encode(g, b, nil, nil)
			_, _, full := m.PretrainingLoss(g, m.MLMLogits(g, out.Hidden), m.NSPLogits(g, out.Pooled), mlm, nsp)
			g.Backward(full)
			want := map[string][]float32{}
			for _, p := range m.Params.List() {
				want[p.Name] = append([]float32(nil), p.Var.Grad().Data()...)
			}
			g2 := autograd.NewGraph()
			m.Params.ZeroGrad()
			var s MaskedPositions
			s.Set(mlm)
			_, _, got := m.Pretrain(g2, b, &s, nsp, nil)
			if d := got.Value.Item() - full.Value.Item(); d > 1e-5 || d < -1e-5 {
				t.Fatalf("loss %v, full logits give %v", got.Value.Item(), full.Value.Item())
			}
			g2.Backward(got)
			for _, p := range m.Params.List() {
				if d := testenv.MaxDiff(p.Var.Grad().Data(), want[p.Name]); d > 1e-5*max(1, testenv.MaxAbs(want[p.Name])) {
					t.Errorf("grad %s differs by %.3g", p.Name, d)
				}
			}
		})
	}
}

// A batch without token types encodes as one whose token types are all 0.
func TestNilTokenTypesAreZero(t *testing.T) {
	m, err := New(tinyConfig(), 2)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := tinyBatch(m.Config, 2, 6, 1)
	clear(b.TokenTypeIDs)
	g := autograd.NewGraph()
	want := m.Encode(g, b, nil, nil).Hidden.Value.Data()
	b.TokenTypeIDs = nil
	if d := testenv.MaxDiff(m.Encode(g, b, nil, nil).Hidden.Value.Data(), want); d > 1e-6 {
		t.Fatalf("hidden states differ by %.3g", d)
	}
}

// A pretraining step (forward with padding and dropout, backward, clip, AdamW) reuses every
// buffer of the previous one.
func TestPretrainStepAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cfg := tinyConfig()
	cfg.HiddenDropoutProb, cfg.AttentionDropoutProb = 0.1, 0.1
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	opt := optim.NewAdamW(m.Params.List(), optim.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
	b, mlm, nsp := tinyBatch(cfg, 4, 12, 3)
	rng := tensor.NewRNG(1)
	g := autograd.NewGraph()
	var s MaskedPositions
	step := func() {
		g.Reset()
		m.Params.ZeroGrad()
		s.Set(mlm)
		_, _, loss := m.Pretrain(g, b, &s, nsp, rng)
		g.Backward(loss)
		optim.ClipGradNorm(m.Params.List(), 1)
		opt.Step(1e-3)
	}
	if n := testenv.SteadyAllocs(step); n > 0 {
		t.Errorf("a pretraining step allocates %v times, want 0", n)
	}
}
