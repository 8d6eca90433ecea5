package optim

import (
	"math"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
)

// AdamW against a float64 transcription of PyTorch's update rule, over three steps.
func TestAdamWMatchesReference(t *testing.T) {
	cfg := AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}
	w0 := []float32{0.5, -1.5, 2}
	grads := [][]float32{{0.1, -0.2, 0.3}, {-0.05, 0.4, 0.0}, {1, 1, -1}}
	for _, decay := range []bool{true, false} {
		p := &nn.Param{Name: "w", Var: autograd.NewParam(tensor.FromData(append([]float32(nil), w0...), 3)), Decay: decay}
		opt := NewAdamW([]*nn.Param{p}, cfg)
		ref := []float64{0.5, -1.5, 2}
		m, v := make([]float64, 3), make([]float64, 3)
		lr := 0.01
		g := autograd.NewGraph()
		for step, gr := range grads {
			g.Reset()
			p.Var.ZeroGrad()
			loss := g.Sum(g.Mul(p.Var, g.Const(tensor.FromData(gr, 3)))) // dL/dw = gr
			g.Backward(loss)
			opt.Step(lr)
			tt := float64(step + 1)
			for i := range ref {
				if decay {
					ref[i] *= 1 - lr*cfg.WeightDecay
				}
				gi := float64(gr[i])
				m[i] = cfg.Beta1*m[i] + (1-cfg.Beta1)*gi
				v[i] = cfg.Beta2*v[i] + (1-cfg.Beta2)*gi*gi
				denom := math.Sqrt(v[i])/math.Sqrt(1-math.Pow(cfg.Beta2, tt)) + cfg.Eps
				ref[i] -= lr / (1 - math.Pow(cfg.Beta1, tt)) * m[i] / denom
			}
		}
		for i, w := range p.Var.Value.Data() {
			if math.Abs(float64(w)-ref[i]) > 1e-6 {
				t.Errorf("decay %v: w[%d] = %.7f, reference %.7f", decay, i, w, ref[i])
			}
		}
	}
}

func TestClipGradNorm(t *testing.T) {
	a := &nn.Param{Var: autograd.NewParam(tensor.New(2))}
	b := &nn.Param{Var: autograd.NewParam(tensor.New(1))}
	g := autograd.NewGraph()
	loss := g.Add(g.Sum(g.Mul(a.Var, g.Const(tensor.FromData([]float32{3, 0}, 2)))), g.Sum(g.Scale(b.Var, 4)))
	g.Backward(loss) // grads (3, 0) and (4): norm 5
	norm := ClipGradNorm([]*nn.Param{a, b}, 1)
	if math.Abs(norm-5) > 1e-6 {
		t.Fatalf("norm %g, want 5", norm)
	}
	got := []float32{a.Var.Grad().Data()[0], a.Var.Grad().Data()[1], b.Var.Grad().Data()[0]}
	want := []float32{0.6, 0, 0.8}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("clipped grads %v, want %v", got, want)
		}
	}
	// Below the limit nothing changes.
	if n := ClipGradNorm([]*nn.Param{a, b}, 10); math.Abs(n-1) > 1e-5 || a.Var.Grad().Data()[0] != got[0] {
		t.Fatalf("norm %g and grads changed under the limit", n)
	}
}

func TestCosineSchedule(t *testing.T) {
	s := Cosine{Max: 1e-3, Min: 1e-4, Warmup: 100, DecaySteps: 2000}
	cases := []struct {
		it   int
		want float64
	}{
		{0, 1e-3 / 101},
		{99, 1e-3 * 100 / 101},
		{100, 1e-3},
		{1050, 1e-4 + 0.5*(1e-3-1e-4)},
		{2000, 1e-4},
		{5000, 1e-4},
	}
	for _, c := range cases {
		if got := s.At(c.it); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("At(%d) = %g, want %g", c.it, got, c.want)
		}
	}
}
