package autograd

import (
	"math"
	"testing"

	"github.com/qkvdev/qkv/tensor"
)

// Finite-difference checks of AdditiveScores (see checkGradients): q (B, T, A), k (B, S, A),
// v (A), with the one-step decoder (B = T = 1), a single source position, hidden sizes that
// leave vector tails, strided views and keys shared by several calls.
func TestAdditiveScoresGradients(t *testing.T) {
	scores := func(g *Graph, in []*Var) *Var { return g.AdditiveScores(in[0], in[1], in[2]) }
	cases := []gradCase{
		{name: "small", inputs: [][]int{{2, 3, 5}, {2, 4, 5}, {5}}, fn: scores},
		{name: "one-step", inputs: [][]int{{1, 1, 19}, {1, 6, 19}, {19}}, fn: scores},
		{name: "one-source", inputs: [][]int{{3, 2, 17}, {3, 1, 17}, {17}}, fn: scores},
		{name: "tails", inputs: [][]int{{2, 4, 37}, {2, 3, 37}, {37}}, scale: 0.5, fn: scores},
		{name: "saturated", inputs: [][]int{{2, 2, 9}, {2, 3, 9}, {9}}, scale: 2, fn: scores},
		{name: "strided", inputs: [][]int{{2, 3, 8}, {2, 6, 4}, {6}}, fn: func(g *Graph, in []*Var) *Var {
			q := g.Narrow(in[0], 2, 1, 6)        // (2, 3, 6) of a (2, 3, 8)
			k := g.Transpose(in[1], 1, 2)        // (2, 4, 6) of a (2, 6, 4)
			return g.AdditiveScores(q, k, in[2]) // (2, 3, 4)
		}},
		{name: "decoder-steps", inputs: [][]int{{3, 7}, {3, 5, 7}, {7}}, fn: func(g *Graph, in []*Var) *Var {
			// the keys of one source scored by two decoder steps, each (B, 1, A) from (B, A)
			s1 := g.AdditiveScores(g.SplitDim(in[0], 0, 3), in[1], in[2])
			s2 := g.AdditiveScores(g.SplitDim(g.Tanh(in[0]), 0, 3), in[1], in[2])
			return g.Concat(1, s1, s2)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGradients(t, c) })
	}
}

// additiveComposed is the unfused composition AdditiveScores replaces: tanh(q + k)·v with q and
// k broadcast to (B, T, S, A).
func additiveComposed(g *Graph, q, k, v *Var) *Var {
	b, t, s, a := q.Value.Dim(0), q.Value.Dim(1), k.Value.Dim(1), q.Value.Dim(2)
	e := g.Tanh(g.Add(g.Reshape(q, b, t, 1, a), g.Reshape(k, b, 1, s, a))) // (B, T, S, A)
	return g.Reshape(g.MatMul(e, g.Reshape(v, a, 1)), b, t, s)             // (B, T, S)
}

// Values and gradients of AdditiveScores against the composition, on shapes up to a training
// step's hidden size.
func TestAdditiveScoresMatchesComposition(t *testing.T) {
	for _, sh := range [][4]int{{2, 3, 4, 5}, {1, 1, 7, 16}, {3, 2, 1, 33}, {2, 5, 9, 512}} {
		b, tq, s, a := sh[0], sh[1], sh[2], sh[3]
		vars, r := additiveInputs(uint64(7+a), b, tq, s, a)
		run := func(f func(g *Graph, q, k, v *Var) *Var) (out *tensor.Tensor, grads []*tensor.Tensor) {
			for _, v := range vars {
				v.ZeroGrad()
			}
			g := NewGraph()
			y := f(g, vars[0], vars[1], vars[2])
			g.Backward(g.Sum(g.Mul(y, g.Const(r))))
			for _, v := range vars {
				grads = append(grads, v.Grad().Clone())
			}
			return y.Value.Clone(), grads
		}
		got, gotGrads := run((*Graph).AdditiveScores)
		want, wantGrads := run(additiveComposed)
		const tol = 1e-5
		if d := maxRelDiff(got, want); d > tol {
			t.Errorf("%v: scores differ from the composition by %.3g (relative to max(1, |s|))", sh, d)
		}
		for i := range vars {
			if d := maxRelDiff(gotGrads[i], wantGrads[i]); d > 10*tol {
				t.Errorf("%v: gradient of input %d differs from the composition's by %.3g", sh, i, d)
			}
		}
	}
}

// additiveInputs draws parameters q (B, T, A), k (B, S, A), v (A) and loss weights r (B, T, S)
// uniformly from [−1, 1].
func additiveInputs(seed uint64, b, t, s, a int) (vars []*Var, r *tensor.Tensor) {
	rng := tensor.NewRNG(seed)
	for _, shape := range [][]int{{b, t, a}, {b, s, a}, {a}, {b, t, s}} {
		x := tensor.New(shape...)
		tensor.Uniform(x, -1, 1, rng)
		vars = append(vars, NewParam(x))
	}
	return vars[:3], vars[3].Value
}

// maxRelDiff is max |x − y| / max(1, |y|) over the elements.
func maxRelDiff(x, y *tensor.Tensor) float64 {
	var m float64
	yd := y.Data()
	for i, v := range x.Data() {
		m = max(m, math.Abs(float64(v-yd[i]))/max(1, math.Abs(float64(yd[i]))))
	}
	return m
}

// Without gradients the op records nothing; inputs that need none get none.
func TestAdditiveScoresTracking(t *testing.T) {
	q, k, v := tensor.New(2, 3, 5), tensor.New(2, 4, 5), tensor.New(5)
	rng := tensor.NewRNG(5)
	for _, x := range []*tensor.Tensor{q, k, v} {
		tensor.Uniform(x, -1, 1, rng)
	}
	vp := NewParam(v)
	g := NewGraph()
	g.SetGrad(false)
	if y := g.AdditiveScores(g.Const(q), g.Const(k), vp); y.RequiresGrad() || len(g.nodes) != 0 {
		t.Fatal("an operation was recorded with gradients off")
	}
	g.SetGrad(true)
	if y := g.AdditiveScores(g.Const(q), g.Const(k), g.Const(v)); y.RequiresGrad() || len(g.nodes) != 0 {
		t.Fatal("an operation on constants was recorded")
	}
	kp := NewParam(k)
	g.Backward(g.Sum(g.AdditiveScores(g.Const(q), kp, vp)))
	if kp.Grad() == nil || vp.Grad() == nil {
		t.Fatal("a parameter received no gradient")
	}
}
