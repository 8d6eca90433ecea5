package autograd

import (
	"math"
	"testing"

	"github.com/qkvdev/qkv/tensor"
)

// Finite-difference checks of the recurrent-network primitives (see checkGradients).
func TestRNNGradients(t *testing.T) {
	lengths := []int{3, 1, 2} // at step t = 1 the second row has ended
	cases := []gradCase{
		{name: "Sigmoid", inputs: [][]int{{3, 5}}, scale: 3, fn: func(g *Graph, in []*Var) *Var { return g.Sigmoid(in[0]) }},
		{name: "Sigmoid/strided", inputs: [][]int{{4, 3}}, scale: 3, fn: func(g *Graph, in []*Var) *Var { return g.Sigmoid(g.Transpose(in[0], 0, 1)) }},
		{name: "Exp", inputs: [][]int{{3, 5}}, scale: 2, fn: func(g *Graph, in []*Var) *Var { return g.Exp(in[0]) }},
		{name: "Log", inputs: [][]int{{3, 5}}, shift: 2, fn: func(g *Graph, in []*Var) *Var { return g.Log(in[0]) }},
		{name: "Concat/last", inputs: [][]int{{2, 3}, {2, 2}, {2, 1}}, fn: func(g *Graph, in []*Var) *Var { return g.Concat(-1, in[0], in[1], in[2]) }},
		{name: "Concat/first-strided", inputs: [][]int{{2, 3}, {3, 4}}, fn: func(g *Graph, in []*Var) *Var {
			return g.Concat(0, in[0], g.Transpose(in[1], 0, 1)) // (2, 3) and a (4, 3) view
		}},
		{name: "Concat/same-input-twice", inputs: [][]int{{2, 3}}, fn: func(g *Graph, in []*Var) *Var {
			return g.Mul(g.Concat(1, in[0], in[0]), g.Concat(1, in[0], g.Scale(in[0], 2)))
		}},
		{name: "LSTMCell", inputs: [][]int{{3, 8}, {3, 8}, {3, 4}}, scale: 2, fn: func(g *Graph, in []*Var) *Var {
			return g.LSTMCell(in[0], in[1], in[2], nil, 0)
		}},
		{name: "LSTMCell/padded", inputs: [][]int{{3, 8}, {3, 8}, {3, 4}}, scale: 2, fn: func(g *Graph, in []*Var) *Var {
			return g.LSTMCell(in[0], in[1], in[2], lengths, 1)
		}},
		{name: "LSTMCell/views", inputs: [][]int{{2, 3, 8}, {3, 8}, {3, 6}}, fn: func(g *Graph, in []*Var) *Var {
			// gx a step of a time-major (T, B, 4H) projection, the state a column slice
			gx := g.Reshape(g.Narrow(in[0], 0, 1, 1), 3, 8)
			return g.LSTMCell(gx, in[1], g.Narrow(in[2], 1, 1, 4), lengths, 2)
		}},
		{name: "GRUCell", inputs: [][]int{{3, 6}, {3, 6}, {3, 2}}, scale: 2, fn: func(g *Graph, in []*Var) *Var {
			return g.GRUCell(in[0], in[1], in[2], nil, 0)
		}},
		{name: "GRUCell/padded", inputs: [][]int{{3, 6}, {3, 6}, {3, 2}}, scale: 2, fn: func(g *Graph, in []*Var) *Var {
			return g.GRUCell(in[0], in[1], in[2], lengths, 1)
		}},
		{name: "GRUCell/two-steps", inputs: [][]int{{3, 6}, {6, 2}, {3, 2}}, fn: func(g *Graph, in []*Var) *Var {
			h := in[2]
			for step := 0; step < 2; step++ {
				h = g.GRUCell(in[0], g.MatMul(h, g.Transpose(in[1], 0, 1)), h, lengths, step+1)
			}
			return h
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGradients(t, c) })
	}
}

// The cell steps against the same formulas composed from primitives, in float64.
func TestCellsMatchFormulas(t *testing.T) {
	rng := tensor.NewRNG(3)
	const b, h = 2, 3
	rand := func(n int) *tensor.Tensor {
		x := tensor.New(b, n)
		tensor.Uniform(x, -2, 2, rng)
		return x
	}
	sig := func(x float32) float64 { return 1 / (1 + math.Exp(-float64(x))) }
	g := NewGraph()
	gx, gh, s := rand(4*h), rand(4*h), rand(2*h)
	out := g.LSTMCell(g.Const(gx), g.Const(gh), g.Const(s), nil, 0).Value
	for r := 0; r < b; r++ {
		for j := 0; j < h; j++ {
			a := func(k int) float32 { return gx.At(r, k*h+j) + gh.At(r, k*h+j) }
			c := sig(a(1))*float64(s.At(r, h+j)) + sig(a(0))*math.Tanh(float64(a(2)))
			hv := sig(a(3)) * math.Tanh(c)
			if math.Abs(hv-float64(out.At(r, j))) > 1e-6 || math.Abs(c-float64(out.At(r, h+j))) > 1e-6 {
				t.Fatalf("LSTM row %d unit %d: got h %g c %g, want %g %g", r, j, out.At(r, j), out.At(r, h+j), hv, c)
			}
		}
	}
	gx, gh, s = rand(3*h), rand(3*h), rand(h)
	out = g.GRUCell(g.Const(gx), g.Const(gh), g.Const(s), []int{1, 0}, 0).Value
	for j := 0; j < h; j++ {
		rg, z := sig(gx.At(0, j)+gh.At(0, j)), sig(gx.At(0, h+j)+gh.At(0, h+j))
		n := math.Tanh(float64(gx.At(0, 2*h+j)) + rg*float64(gh.At(0, 2*h+j)))
		want := (1-z)*n + z*float64(s.At(0, j))
		if math.Abs(want-float64(out.At(0, j))) > 1e-6 {
			t.Fatalf("GRU unit %d: got %g, want %g", j, out.At(0, j), want)
		}
		if out.At(1, j) != s.At(1, j) {
			t.Fatalf("GRU: the finished row changed its state: %g, was %g", out.At(1, j), s.At(1, j))
		}
	}
}
