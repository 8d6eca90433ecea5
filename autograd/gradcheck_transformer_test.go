package autograd

import (
	"math"
	"testing"

	"github.com/qkvdev/qkv/tensor"
)

// Finite-difference checks of the Transformer primitives (ops_transformer.go), with the
// helpers of gradcheck_test.go. ReLU's inputs are shifted so that none lies within the
// difference step of its kink at 0 (seeded draws; the check fails loudly if one ever does).
func TestTransformerGradients(t *testing.T) {
	targets := []int{1, 5, tensor.IgnoreIndex, 0, 3}
	cases := []gradCase{
		{name: "ReLU", inputs: [][]int{{3, 7}}, scale: 2, fn: func(g *Graph, in []*Var) *Var { return g.ReLU(in[0]) }},
		{name: "ReLU/strided", inputs: [][]int{{4, 3}}, scale: 2, fn: func(g *Graph, in []*Var) *Var { return g.ReLU(g.Transpose(in[0], 0, 1)) }},
		{name: "SiLU", inputs: [][]int{{3, 7}}, scale: 3, fn: func(g *Graph, in []*Var) *Var { return g.SiLU(in[0]) }},
		{name: "SiLU/accumulates", inputs: [][]int{{2, 5}}, scale: 3, fn: func(g *Graph, in []*Var) *Var {
			return g.Add(g.SiLU(in[0]), g.Mul(in[0], in[0])) // x receives two gradients
		}},
		{name: "LabelSmoothedCrossEntropy/eps0", inputs: [][]int{{5, 6}}, scale: 2, fn: func(g *Graph, in []*Var) *Var {
			return g.LabelSmoothedCrossEntropy(in[0], targets, 0)
		}},
		{name: "LabelSmoothedCrossEntropy/eps0.1", inputs: [][]int{{5, 6}}, scale: 2, fn: func(g *Graph, in []*Var) *Var {
			return g.LabelSmoothedCrossEntropy(in[0], targets, 0.1)
		}},
		{name: "LabelSmoothedCrossEntropy/eps0.6-3d", inputs: [][]int{{1, 5, 6}}, scale: 2, fn: func(g *Graph, in []*Var) *Var {
			return g.LabelSmoothedCrossEntropy(in[0], targets, 0.6)
		}},
		{name: "LabelSmoothedCrossEntropy/strided", inputs: [][]int{{6, 5}}, scale: 2, fn: func(g *Graph, in []*Var) *Var {
			return g.LabelSmoothedCrossEntropy(g.Transpose(in[0], 0, 1), targets, 0.2)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name[:4] == "ReLU" {
				requireAwayFromKink(t, c)
			}
			checkGradients(t, c)
		})
	}
}

// requireAwayFromKink fails if checkGradients' seeded inputs for c put an element within the
// finite-difference step of 0, where ReLU's difference quotient is meaningless.
func requireAwayFromKink(t *testing.T, c gradCase) {
	t.Helper()
	rng := tensor.NewRNG(42) // as checkGradients draws them
	for _, s := range c.inputs {
		p := tensor.New(s...)
		tensor.Uniform(p, -c.scale, c.scale, rng)
		for _, v := range p.Data() {
			if math.Abs(float64(v)) < 2e-2 {
				t.Fatalf("input element %g lies at ReLU's kink; change the case's shape or scale", v)
			}
		}
	}
}

// Label smoothing against the definition, spelled out in float64: the smoothed target
// distribution q (1 − ε + ε/V on the target, ε/V elsewhere) against log-softmax, averaged over
// the rows that are not ignored.
func TestLabelSmoothedCrossEntropyValue(t *testing.T) {
	rng := tensor.NewRNG(3)
	const v = 7
	logits := tensor.New(4, v)
	tensor.Uniform(logits, -4, 4, rng)
	targets := []int{2, tensor.IgnoreIndex, 6, 0}
	for _, eps := range []float32{0, 0.1, 0.5} {
		g := NewGraph()
		got := g.LabelSmoothedCrossEntropy(g.Const(logits), targets, eps).Value.Item()
		var want float64
		count := 0
		for r, tg := range targets {
			if tg < 0 {
				continue
			}
			row := logits.Data()[r*v : r*v+v]
			var m, s float64 = math.Inf(-1), 0
			for _, z := range row {
				m = max(m, float64(z))
			}
			for _, z := range row {
				s += math.Exp(float64(z) - m)
			}
			lse := m + math.Log(s)
			for j, z := range row {
				q := float64(eps) / v
				if j == tg {
					q += 1 - float64(eps)
				}
				want -= q * (float64(z) - lse)
			}
			count++
		}
		want /= float64(count)
		if math.Abs(float64(got)-want) > 1e-5 {
			t.Errorf("eps %g: loss %.7f, want %.7f", eps, got, want)
		}
		if eps == 0 {
			if ce := g.CrossEntropy(g.Const(logits), targets).Value.Item(); ce != got {
				t.Errorf("eps 0: %.7f differs from CrossEntropy %.7f", got, ce)
			}
		}
	}
}

// Every target ignored: the loss is 0 and no gradient flows (no division by zero).
func TestLabelSmoothedCrossEntropyAllIgnored(t *testing.T) {
	x := NewParam(tensor.FromData([]float32{1, 2, 3, 4}, 2, 2))
	g := NewGraph()
	loss := g.LabelSmoothedCrossEntropy(x, []int{tensor.IgnoreIndex, tensor.IgnoreIndex}, 0.1)
	if loss.Value.Item() != 0 {
		t.Fatalf("loss %g, want 0", loss.Value.Item())
	}
	g.Backward(loss)
	if x.Grad() != nil && tensor.SumSquares(x.Grad()) != 0 {
		t.Fatalf("gradient %v, want none", x.Grad().Data())
	}
}
