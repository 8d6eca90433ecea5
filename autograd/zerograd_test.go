package autograd

import (
	"math"
	"testing"

	"github.com/qkvdev/qkv/tensor"
)

// TestZeroGradIsLazy checks the gradients of parameters across ZeroGrad, which marks a
// buffer stale instead of clearing it: a second backward pass without ZeroGrad adds to the
// first; after ZeroGrad a pass gives exactly its own gradient, whether the first rule to
// reach a parameter overwrites it (a linear layer's weight and bias) or adds to it (the
// embedding sharing that weight, before or after the linear layer); and a parameter no
// gradient reaches after ZeroGrad reads zeros.
func TestZeroGradIsLazy(t *testing.T) {
	rng := tensor.NewRNG(9)
	newParam := func(shape ...int) *Var {
		x := tensor.New(shape...)
		tensor.Uniform(x, -1, 1, rng)
		return NewParam(x)
	}
	x := tensor.New(5, 4)
	tensor.Uniform(x, -1, 1, rng)
	w, b, unused := newParam(6, 4), newParam(6), newParam(3)
	ids := []int{1, 4, 4}
	// loss = Σ (x·Wᵀ + b) + Σ Embedding(W, ids)·c, in either order of the two terms.
	c := tensor.New(3, 4)
	tensor.Uniform(c, -1, 1, rng)
	pass := func(g *Graph, embeddingFirst, tied bool) {
		g.Reset()
		var terms []*Var
		lin := func() *Var { return g.Sum(g.Linear(g.Const(x), w, b, true)) }
		emb := func() *Var { return g.Sum(g.Mul(g.Embedding(w, ids), g.Const(c))) }
		if embeddingFirst && tied {
			terms = append(terms, emb(), lin())
		} else if tied {
			terms = append(terms, lin(), emb())
		} else {
			terms = append(terms, lin())
		}
		loss := terms[0]
		for _, t := range terms[1:] {
			loss = g.Add(loss, t)
		}
		g.Backward(loss)
	}
	snapshot := func() [][]float32 {
		return [][]float32{append([]float32(nil), w.Grad().Data()...), append([]float32(nil), b.Grad().Data()...)}
	}
	for _, tc := range []struct {
		name                 string
		embeddingFirst, tied bool
	}{{"linear only", false, false}, {"tied, linear first", false, true}, {"tied, embedding first", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGraph()
			for _, p := range []*Var{w, b, unused} {
				p.ZeroGrad()
			}
			pass(g, tc.embeddingFirst, tc.tied)
			once := snapshot()
			pass(g, tc.embeddingFirst, tc.tied) // no ZeroGrad: adds
			twice := snapshot()
			for _, p := range []*Var{w, b} {
				p.ZeroGrad()
			}
			pass(g, tc.embeddingFirst, tc.tied)
			again := snapshot()
			for i := range once {
				for j := range once[i] {
					if d := math.Abs(float64(twice[i][j] - 2*once[i][j])); d > 1e-5 {
						t.Fatalf("param %d element %d: two passes give %v, want twice %v", i, j, twice[i][j], once[i][j])
					}
					if again[i][j] != once[i][j] {
						t.Fatalf("param %d element %d after ZeroGrad: %v, want %v (a stale gradient kept)", i, j, again[i][j], once[i][j])
					}
				}
			}
		})
	}
	// A parameter given a gradient, then ZeroGrad and no gradient: zeros.
	unused.grad = tensor.New(3)
	tensor.Uniform(unused.grad, 1, 2, rng)
	unused.ZeroGrad()
	for i, v := range unused.Grad().Data() {
		if v != 0 {
			t.Fatalf("unused parameter after ZeroGrad: grad[%d] = %v, want 0", i, v)
		}
	}
}
