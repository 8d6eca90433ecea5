package align

import (
	"math"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// The objectives of alignment, composed from autograd's primitives (so each inherits their
// tested gradient rules; align's tests check the compositions against finite differences).
// Where an objective chooses between two branches (PPO's clipping, the max of two losses) the
// choice is made on the forward values and enters as a constant 0/1 mask: the gradient is then
// that of the branch taken, which is the derivative everywhere but on the branch boundary.
//
// Notation: R rows (token positions), V vocabulary, B sequences.

// constant returns a graph constant holding vals, shaped shape.
func constant(g *autograd.Graph, vals []float32, shape ...int) *autograd.Var {
	t := g.Arena().New(shape...)
	copy(t.Data(), vals)
	return g.Const(t)
}

// filled returns a graph constant of shape shape with every element v.
func filled(g *autograd.Graph, v float32, shape ...int) *autograd.Var {
	t := g.Arena().New(shape...)
	tensor.Fill(t, v)
	return g.Const(t)
}

// rowSums returns the sums of x (R, V) along its rows, (R, 1).
func rowSums(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	return g.Linear(x, filled(g, 1, x.Value.Dim(1), 1), nil, false)
}

// TokenLogProbs returns log softmax(logits[r])[targets[r]] for logits (R, V): (R, 1). The
// log-sum-exp subtracts each row's maximum (a constant) so it neither overflows nor takes the
// log of an underflowed probability. Every target must be a valid id.
func TokenLogProbs(g *autograd.Graph, logits *autograd.Var, targets []int) *autograd.Var {
	L := logits.Value.Contiguous()
	R, V := L.Dim(0), L.Dim(1)
	ld := L.Data()
	m := make([]float32, R)
	hot := make([]float32, R*V)
	for r := range R {
		row := ld[r*V : (r+1)*V]
		mx := float32(math.Inf(-1))
		for _, v := range row {
			mx = max(mx, v)
		}
		m[r] = mx
		hot[r*V+targets[r]] = 1
	}
	z := g.Sub(logits, constant(g, m, R, 1))           // (R, V), each row's max at 0
	lse := g.Log(rowSums(g, g.Exp(z)))                 // (R, 1)
	zy := rowSums(g, g.Mul(z, constant(g, hot, R, V))) // (R, 1): the target's shifted logit
	return g.Sub(zy, lse)                              // (R, 1)
}

// segmentSums returns, for x (R, 1) and seg[r] the segment of row r (in 0..n-1), the sum of
// each segment's rows: (n, 1).
func segmentSums(g *autograd.Graph, x *autograd.Var, seg []int, n int) *autograd.Var {
	R := len(seg)
	s := make([]float32, n*R)
	for r, k := range seg {
		s[k*R+r] = 1
	}
	return g.MatMul(constant(g, s, n, R), x) // (n, R)·(R, 1)
}

// Softplus returns log(1 + eˣ) element-wise, computed as max(x, 0) + log(1 + e^−|x|) so that
// it neither overflows nor loses its gradient for large |x|.
func Softplus(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	X := x.Value.Contiguous().Data()
	sign := make([]float32, len(X))
	for i, v := range X {
		sign[i] = 1
		if v < 0 {
			sign[i] = -1
		}
	}
	shape := x.Value.Shape()
	abs := g.Mul(x, constant(g, sign, shape...))
	return g.Add(g.ReLU(x), g.Log(g.Add(g.Exp(g.Scale(abs, -1)), filled(g, 1, shape...))))
}

// LogSigmoidLoss returns mean(−log σ(x)) = mean(softplus(−x)): the Bradley–Terry loss of reward
// differences x, and DPO's loss of β-scaled log-ratio differences.
func LogSigmoidLoss(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	return g.Mean(Softplus(g, g.Scale(x, -1)))
}

// mask returns a constant of x's shape with 1 where keep(value) holds, else 0.
func mask(g *autograd.Graph, x *autograd.Var, keep func(i int, v float32) bool) *autograd.Var {
	X := x.Value.Contiguous().Data()
	m := make([]float32, len(X))
	for i, v := range X {
		if keep(i, v) {
			m[i] = 1
		}
	}
	return constant(g, m, x.Value.Shape()...)
}

// selectVar returns m·a + (1−m)·b for a constant 0/1 mask m.
func selectVar(g *autograd.Graph, m, a, b *autograd.Var) *autograd.Var {
	inv := g.Sub(filled(g, 1, m.Value.Shape()...), m)
	return g.Add(g.Mul(a, m), g.Mul(b, inv))
}

// maxVar returns the element-wise maximum of a and b (the gradient goes to the larger).
func maxVar(g *autograd.Graph, a, b *autograd.Var) *autograd.Var {
	B := b.Value.Contiguous().Data()
	return selectVar(g, mask(g, a, func(i int, v float32) bool { return v >= B[i] }), a, b)
}

// clampVar returns x limited to [lo, hi] (no gradient where it is clamped).
func clampVar(g *autograd.Graph, x *autograd.Var, lo, hi float32) *autograd.Var {
	X := x.Value.Contiguous().Data()
	bound := make([]float32, len(X))
	for i, v := range X {
		bound[i] = min(max(v, lo), hi)
	}
	inside := mask(g, x, func(_ int, v float32) bool { return v >= lo && v <= hi })
	return selectVar(g, inside, x, constant(g, bound, x.Value.Shape()...))
}

// PPOPolicyLoss is the clipped surrogate objective (Schulman et al. 2017), negated for
// minimisation and averaged over the R tokens: mean(max(−A·ρ, −A·clip(ρ, 1−ε, 1+ε))) with
// ρ = exp(logp − oldLogp). logp is (R, 1); oldLogp and adv have R values. It also returns the
// fraction of tokens where the clipped branch was taken (the clip fraction).
func PPOPolicyLoss(g *autograd.Graph, logp *autograd.Var, oldLogp, adv []float32, eps float32) (*autograd.Var, float64) {
	R := len(adv)
	ratio := g.Exp(g.Sub(logp, constant(g, oldLogp, R, 1))) // (R, 1)
	negA := make([]float32, R)
	for i, a := range adv {
		negA[i] = -a
	}
	na := constant(g, negA, R, 1)
	l1 := g.Mul(ratio, na)
	l2 := g.Mul(clampVar(g, ratio, 1-eps, 1+eps), na)
	L1, L2 := l1.Value.Data(), l2.Value.Data()
	clipped := 0
	for i := range L1 {
		if L2[i] > L1[i] {
			clipped++
		}
	}
	return g.Mean(maxVar(g, l1, l2)), float64(clipped) / float64(max(R, 1))
}

// PPOValueLoss is the clipped value loss of PPO as in OpenAI's baselines and TRL:
// ½·mean(max((v − R)², (clip(v, v_old ± ε) − R)²)) over the R tokens, values (R, 1).
func PPOValueLoss(g *autograd.Graph, values *autograd.Var, oldValues, returns []float32, eps float32) *autograd.Var {
	R := len(returns)
	old := constant(g, oldValues, R, 1)
	ret := constant(g, returns, R, 1)
	vclip := g.Add(clampVar(g, g.Sub(values, old), -eps, eps), old)
	d1, d2 := g.Sub(values, ret), g.Sub(vclip, ret)
	return g.Scale(g.Mean(maxVar(g, g.Mul(d1, d1), g.Mul(d2, d2))), 0.5)
}

// autogradInference returns a graph that records nothing.
func autogradInference() *autograd.Graph {
	g := autograd.NewGraph()
	g.SetGrad(false)
	return g
}
