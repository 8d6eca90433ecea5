package autograd

import (
	"testing"
)

// BenchmarkAdditiveScores times a forward and backward pass of additive attention scores on a
// training-sized batch (B, T, S, A) = (64, 32, 32, 512), fused against the composition it
// replaces. arena-MB is the memory the graph holds for the step.
func BenchmarkAdditiveScores(b *testing.B) {
	const B, T, S, A = 64, 32, 32, 512
	vars, r := additiveInputs(1, B, T, S, A)
	for _, bc := range []struct {
		name string
		fn   func(g *Graph, q, k, v *Var) *Var
	}{{"fused", (*Graph).AdditiveScores}, {"composed", additiveComposed}} {
		b.Run(bc.name, func(b *testing.B) {
			g := NewGraph()
			b.ReportAllocs()
			for range b.N {
				g.Reset()
				y := bc.fn(g, vars[0], vars[1], vars[2])
				g.Backward(g.Sum(g.Mul(y, g.Const(r))))
			}
			b.ReportMetric(float64(g.Bytes())/(1<<20), "arena-MB")
		})
	}
}
