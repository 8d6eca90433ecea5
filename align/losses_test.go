package align

import (
	"math"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tensor"
)

// gradCheck compares the gradients of loss(inputs) with central finite differences (in float64
// steps over float32 values, so the tolerance is loose but far below any real error).
func gradCheck(t *testing.T, name string, shapes [][]int, scale float64, seed uint64, loss func(g *autograd.Graph, in []*autograd.Var) *autograd.Var) {
	t.Helper()
	rng := tensor.NewRNG(seed)
	in := make([]*autograd.Var, len(shapes))
	for i, s := range shapes {
		v := tensor.New(s...)
		tensor.Normal(v, 0, scale, rng)
		in[i] = autograd.NewParam(v)
	}
	g := autograd.NewGraph()
	l := loss(g, in)
	g.Backward(l)
	eval := func() float64 {
		g2 := autograd.NewGraph()
		g2.SetGrad(false)
		return float64(loss(g2, in).Value.Item())
	}
	const h = 1e-2
	for i, v := range in {
		d := v.Value.Data()
		grad := v.Grad().Data()
		for j := range d {
			num := testenv.CentralDifference(d, j, h, eval)
			if diff := math.Abs(num - float64(grad[j])); diff > 2e-3+2e-2*math.Abs(num) {
				t.Errorf("%s: input %d element %d: analytic %.5f, numeric %.5f", name, i, j, grad[j], num)
			}
		}
	}
}

func TestLossGradients(t *testing.T) {
	targets := []int{2, 0, 4}
	gradCheck(t, "TokenLogProbs", [][]int{{3, 5}}, 2, 1, func(g *autograd.Graph, in []*autograd.Var) *autograd.Var {
		lp := TokenLogProbs(g, in[0], targets)
		return g.Sum(g.Mul(lp, constant(g, []float32{1, -0.5, 2}, 3, 1)))
	})
	gradCheck(t, "segmentSums", [][]int{{4, 1}}, 1, 2, func(g *autograd.Graph, in []*autograd.Var) *autograd.Var {
		s := segmentSums(g, in[0], []int{0, 0, 1, 1}, 2)
		return g.Sum(g.Mul(s, constant(g, []float32{1, 3}, 2, 1)))
	})
	gradCheck(t, "LogSigmoidLoss", [][]int{{6, 1}}, 3, 3, func(g *autograd.Graph, in []*autograd.Var) *autograd.Var {
		return LogSigmoidLoss(g, in[0])
	})
	// The clipping masks are piecewise: keep the ratios away from the boundaries so the finite
	// differences do not straddle one.
	old := []float32{0.05, -0.3, 0.6, -0.5, 0.0, 0.25}
	adv := []float32{1, -1, 0.5, 2, -0.7, -1.5}
	gradCheck(t, "PPOPolicyLoss", [][]int{{6, 1}}, 0.3, 4, func(g *autograd.Graph, in []*autograd.Var) *autograd.Var {
		l, _ := PPOPolicyLoss(g, in[0], old, adv, 0.2)
		return l
	})
	oldV := []float32{0.5, -0.2, 0.9, 0.0}
	ret := []float32{1, 0.3, -0.4, 0.05}
	gradCheck(t, "PPOValueLoss", [][]int{{4, 1}}, 0.5, 5, func(g *autograd.Graph, in []*autograd.Var) *autograd.Var {
		return PPOValueLoss(g, in[0], oldV, ret, 0.2)
	})
}

func TestLossValues(t *testing.T) {
	g := autograd.NewGraph()
	g.SetGrad(false)
	// log softmax of [0, ln 3] at target 1 is ln(3/4).
	lp := TokenLogProbs(g, constant(g, []float32{0, float32(math.Log(3)), 1e4, 0}, 2, 2), []int{1, 1})
	if got := lp.Value.Data(); math.Abs(float64(got[0])-math.Log(0.75)) > 1e-6 || got[1] != -1e4 {
		t.Fatalf("TokenLogProbs = %v, want [ln 0.75, -1e4] (finite for a vanishing probability)", got)
	}
	// softplus(−x): large |x| stays finite and exact.
	sp := Softplus(g, constant(g, []float32{-100, 0, 100}, 3)).Value.Data()
	if math.Abs(float64(sp[0])) > 1e-30 || math.Abs(float64(sp[1])-math.Ln2) > 1e-6 || sp[2] != 100 {
		t.Fatalf("Softplus = %v", sp)
	}
	// Ratio 1.5 with a positive advantage is clipped to 1.2: loss −1.2, clip fraction 1.
	l, cf := PPOPolicyLoss(g, constant(g, []float32{float32(math.Log(1.5))}, 1, 1), []float32{0}, []float32{1}, 0.2)
	if math.Abs(float64(l.Value.Item())+1.2) > 1e-6 || cf != 1 {
		t.Fatalf("clipped loss %v, clip fraction %v", l.Value.Item(), cf)
	}
}

func TestWhitenAndGAE(t *testing.T) {
	w := whiten([]float64{1, 2, 3}, true)
	if math.Abs(mean(w)) > 1e-9 || math.Abs(w[2]-math.Sqrt(1.5)) > 1e-6 {
		t.Fatalf("whiten = %v", w)
	}
	if w := whiten([]float64{1, 2, 3}, false); math.Abs(mean(w)-2) > 1e-9 {
		t.Fatalf("whiten without shift keeps the mean: %v", w)
	}
}
