package nn

import (
	"math"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// The fused primitive and the attention spelled out in primitives agree, in value and gradient.
func TestFusedAttentionMatchesComposed(t *testing.T) {
	rng := tensor.NewRNG(1)
	x := tensor.New(2, 10, 3*16) // (B, T, 3C) with nh = 4, hs = 4
	tensor.Uniform(x, -1, 1, rng)
	mask := make(tensor.AttentionMask, 2*10)
	mask[9], mask[18], mask[19] = -1e9, -1e9, -1e9
	for _, causal := range []bool{true, false} {
		var outs [2][]float32
		var grads [2][]float32
		for i, fused := range []bool{true, false} {
			p := autograd.NewParam(x.Clone())
			g := autograd.NewGraph()
			split := func(j int) *autograd.Var { return SplitHeads(g, g.Narrow(p, 2, 16*j, 16), 4) }
			q, k, v := split(0), split(1), split(2)
			o := AttentionOptions{Causal: causal, Mask: mask}
			var y *autograd.Var
			if fused {
				y = Attention(g, q, k, v, o)
			} else {
				y = MergeHeads(g, composedAttention(g, q, k, v, 0.5, o))
			}
			g.Backward(g.Sum(g.Mul(y, y)))
			outs[i], grads[i] = y.Value.Contiguous().Data(), p.Grad().Data()
		}
		for _, pair := range [][2][]float32{outs, grads} {
			for j := range pair[0] {
				if math.Abs(float64(pair[0][j]-pair[1][j])) > 1e-5 {
					t.Fatalf("causal %v: fused and composed differ at %d: %g vs %g", causal, j, pair[0][j], pair[1][j])
				}
			}
		}
	}
}
