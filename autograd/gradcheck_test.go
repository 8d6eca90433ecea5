package autograd

import (
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tensor"
)

// Finite-difference gradient checks: every primitive's backward rule against central
// differences of its forward pass. The loss is Σ out·R for a fixed random R, so that every
// output element contributes with a different weight.

type gradCase struct {
	name   string
	inputs [][]int // shapes of the inputs that receive gradients
	fn     func(g *Graph, in []*Var) *Var
	scale  float64 // input scale (default 1)
	shift  float64 // added to inputs (e.g. keep divisors away from 0)
}

func TestGradients(t *testing.T) {
	causalScores := func(g *Graph, in []*Var) *Var { return g.Softmax(in[0], true) }
	cases := []gradCase{
		{name: "MatMul", inputs: [][]int{{3, 4}, {4, 5}}, fn: func(g *Graph, in []*Var) *Var { return g.MatMul(in[0], in[1]) }},
		{name: "MatMul/batched", inputs: [][]int{{2, 3, 4}, {2, 4, 5}}, fn: func(g *Graph, in []*Var) *Var { return g.MatMul(in[0], in[1]) }},
		{name: "MatMul/broadcast", inputs: [][]int{{2, 3, 3, 4}, {4, 2}}, fn: func(g *Graph, in []*Var) *Var { return g.MatMul(in[0], in[1]) }},
		{name: "MatMul/transposed-views", inputs: [][]int{{2, 4, 3}, {2, 5, 4}}, fn: func(g *Graph, in []*Var) *Var {
			return g.MatMul(g.Transpose(in[0], 1, 2), g.Transpose(in[1], 1, 2))
		}},
		{name: "MatMul/heads", inputs: [][]int{{2, 5, 12}}, fn: func(g *Graph, in []*Var) *Var {
			// (B, T, 3C) → q, k as (B, nh, T, hs) strided views; q·kᵀ
			q := g.Transpose(g.Reshape(g.Contiguous(g.Narrow(in[0], 2, 0, 4)), 2, 5, 2, 2), 1, 2)
			k := g.Transpose(g.Reshape(g.Contiguous(g.Narrow(in[0], 2, 4, 4)), 2, 5, 2, 2), 1, 2)
			return g.MatMul(q, g.Transpose(k, 2, 3))
		}},
		{name: "MatMul/strided-no-copy", inputs: [][]int{{2, 5, 12}}, fn: func(g *Graph, in []*Var) *Var {
			q := g.Narrow(in[0], 2, 0, 4)
			k := g.Narrow(in[0], 2, 4, 4)
			return g.MatMul(q, g.Transpose(k, 1, 2))
		}},
		{name: "Linear/conv1d", inputs: [][]int{{2, 3, 4}, {4, 6}, {6}}, fn: func(g *Graph, in []*Var) *Var { return g.Linear(in[0], in[1], in[2], false) }},
		{name: "Linear/torch", inputs: [][]int{{5, 4}, {6, 4}, {6}}, fn: func(g *Graph, in []*Var) *Var { return g.Linear(in[0], in[1], in[2], true) }},
		{name: "Linear/no-bias", inputs: [][]int{{5, 4}, {4, 3}}, fn: func(g *Graph, in []*Var) *Var { return g.Linear(in[0], in[1], nil, false) }},
		{name: "Linear/strided-input", inputs: [][]int{{4, 5}, {4, 3}, {3}}, fn: func(g *Graph, in []*Var) *Var {
			return g.Linear(g.Transpose(in[0], 0, 1), in[1], in[2], false)
		}},
		{name: "Add/broadcast", inputs: [][]int{{2, 3, 4}, {4}}, fn: func(g *Graph, in []*Var) *Var { return g.Add(in[0], in[1]) }},
		{name: "Add/broadcast-middle", inputs: [][]int{{2, 3, 4}, {2, 1, 4}}, fn: func(g *Graph, in []*Var) *Var { return g.Add(in[0], in[1]) }},
		{name: "Sub", inputs: [][]int{{3, 4}, {3, 1}}, fn: func(g *Graph, in []*Var) *Var { return g.Sub(in[0], in[1]) }},
		{name: "Mul", inputs: [][]int{{3, 4}, {1, 4}}, fn: func(g *Graph, in []*Var) *Var { return g.Mul(in[0], in[1]) }},
		{name: "Div", inputs: [][]int{{3, 4}, {3, 4}}, shift: 3, fn: func(g *Graph, in []*Var) *Var { return g.Div(in[0], in[1]) }},
		{name: "Scale", inputs: [][]int{{3, 4}}, fn: func(g *Graph, in []*Var) *Var { return g.Scale(in[0], -0.7) }},
		{name: "Contiguous", inputs: [][]int{{3, 4, 2}}, fn: func(g *Graph, in []*Var) *Var { return g.Contiguous(g.Permute(in[0], 2, 0, 1)) }},
		{name: "Sum", inputs: [][]int{{3, 4}}, fn: func(g *Graph, in []*Var) *Var { return g.Sum(in[0]) }},
		{name: "Mean", inputs: [][]int{{3, 4}}, fn: func(g *Graph, in []*Var) *Var { return g.Mean(in[0]) }},
		{name: "Tanh", inputs: [][]int{{3, 4}}, fn: func(g *Graph, in []*Var) *Var { return g.Tanh(in[0]) }},
		{name: "LayerNorm", inputs: [][]int{{2, 3, 8}, {8}, {8}}, fn: func(g *Graph, in []*Var) *Var { return g.LayerNorm(in[0], in[1], in[2], 1e-5) }},
		{name: "LayerNorm/no-bias", inputs: [][]int{{4, 8}, {8}}, fn: func(g *Graph, in []*Var) *Var { return g.LayerNorm(in[0], in[1], nil, 1e-5) }},
		{name: "GELU/tanh", inputs: [][]int{{3, 7}}, scale: 2, fn: func(g *Graph, in []*Var) *Var { return g.GELU(in[0], tensor.GELUTanh) }},
		{name: "GELU/erf", inputs: [][]int{{3, 7}}, scale: 2, fn: func(g *Graph, in []*Var) *Var { return g.GELU(in[0], tensor.GELUErf) }},
		{name: "Softmax", inputs: [][]int{{3, 6}}, fn: func(g *Graph, in []*Var) *Var { return g.Softmax(in[0], false) }},
		{name: "Softmax/causal", inputs: [][]int{{2, 5, 5}}, fn: causalScores},
		{name: "Softmax/causal-offset", inputs: [][]int{{2, 3, 5}}, fn: causalScores},
		{name: "CrossEntropy", inputs: [][]int{{4, 6}}, scale: 2, fn: func(g *Graph, in []*Var) *Var {
			return g.CrossEntropy(in[0], []int{1, 5, tensor.IgnoreIndex, 0})
		}},
		{name: "Embedding", inputs: [][]int{{5, 3}}, fn: func(g *Graph, in []*Var) *Var { return g.Embedding(in[0], []int{4, 0, 4, 2}) }},
		{name: "Attention", inputs: [][]int{{2, 3, 5, 4}, {2, 3, 6, 4}, {2, 3, 6, 4}}, fn: func(g *Graph, in []*Var) *Var {
			return g.Attention(in[0], in[1], in[2], 0.5, false, nil, nil)
		}},
		{name: "Attention/causal", inputs: [][]int{{2, 2, 5, 4}, {2, 2, 7, 4}, {2, 2, 7, 4}}, fn: func(g *Graph, in []*Var) *Var {
			return g.Attention(in[0], in[1], in[2], 0.5, true, nil, nil)
		}},
		{name: "Attention/mask", inputs: [][]int{{2, 2, 3, 4}, {2, 2, 5, 4}, {2, 2, 5, 4}}, fn: func(g *Graph, in []*Var) *Var {
			return g.Attention(in[0], in[1], in[2], 0.5, false, tensor.AttentionMask{0, 0, 0, -1e9, -1e9, 0, 0, 0, 0, -1e9}, nil)
		}},
		{name: "Attention/fused-qkv-views", inputs: [][]int{{2, 70, 12}}, fn: func(g *Graph, in []*Var) *Var {
			// q, k, v read in place from a (B, T, 3C) tensor, T above the query block size
			split := func(i int) *Var { return g.Transpose(g.SplitDim(g.Narrow(in[0], 2, 4*i, 4), 2, 2), 1, 2) }
			return g.Attention(split(0), split(1), split(2), 0.7, true, nil, nil)
		}},
		{name: "Dropout", inputs: [][]int{{4, 5}}, fn: func(g *Graph, in []*Var) *Var {
			return g.Dropout(in[0], 0.3, tensor.NewRNG(7)) // same mask on every evaluation
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGradients(t, c) })
	}
}

func checkGradients(t *testing.T, c gradCase) {
	t.Helper()
	rng := tensor.NewRNG(42)
	scale := c.scale
	if scale == 0 {
		scale = 1
	}
	params := make([]*Var, len(c.inputs))
	for i, s := range c.inputs {
		p := tensor.New(s...)
		tensor.Uniform(p, -scale, scale, rng)
		if c.shift != 0 {
			d := p.Data()
			for j := range d {
				d[j] += float32(c.shift)
			}
		}
		params[i] = NewParam(p)
	}
	g := NewGraph()
	out := c.fn(g, params)
	r := tensor.New(out.Shape()...)
	tensor.Uniform(r, -1, 1, rng)

	loss := func() float64 {
		g.Reset()
		o := c.fn(g, params).Value
		var s float64
		i := 0
		rd := r.Data()
		o = o.Contiguous()
		for _, v := range o.Data() {
			s += float64(v) * float64(rd[i])
			i++
		}
		return s
	}
	// Analytic: backward of Σ out·R.
	g.Reset()
	out = c.fn(g, params)
	weighted := g.Sum(g.Mul(out, g.Const(r)))
	g.Backward(weighted)

	const h = 1e-2
	for pi, p := range params {
		grad := p.Grad()
		if grad == nil {
			t.Fatalf("input %d received no gradient", pi)
		}
		maxErr, maxAbs := testenv.GradientError(p.Value.Data(), grad.Data(), h, loss)
		if maxErr > 2e-3*max(1, maxAbs) {
			t.Errorf("input %d %v: max |numeric - analytic| = %.3g (max |grad| %.3g)", pi, p.Shape(), maxErr, maxAbs)
		}
	}
}

// A gradient that flows through two paths accumulates; Reset keeps parameter gradients.
func TestGradientAccumulates(t *testing.T) {
	x := NewParam(tensor.FromData([]float32{1, 2, 3}, 3))
	g := NewGraph()
	for step := 1; step <= 2; step++ {
		g.Reset()
		y := g.Sum(g.Add(g.Mul(x, x), x)) // Σ x² + x  ⇒  2x + 1
		g.Backward(y)
		for i, v := range x.Grad().Data() {
			want := float32(step) * (2*x.Value.Data()[i] + 1)
			if v != want {
				t.Fatalf("step %d: grad[%d] = %g, want %g", step, i, v, want)
			}
		}
	}
	x.ZeroGrad()
	if tensor.SumSquares(x.Grad()) != 0 {
		t.Fatal("ZeroGrad left a gradient")
	}
}

func TestNoGradRecordsNothing(t *testing.T) {
	x := NewParam(tensor.FromData([]float32{1, 2}, 2))
	g := NewGraph()
	g.SetGrad(false)
	y := g.Sum(g.Mul(x, x))
	if y.RequiresGrad() || len(g.nodes) != 0 {
		t.Fatal("an operation was recorded with gradients off")
	}
	if got := y.Value.Item(); got != 5 {
		t.Fatalf("value %g, want 5", got)
	}
}
