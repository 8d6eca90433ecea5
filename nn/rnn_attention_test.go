package nn

import (
	"math"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tensor"
)

// Each score function against its formula computed in float64, with a padded source: the
// weights are a distribution over the real positions only, and the context is their
// weighted sum of encoder states.
func TestRNNAttentionScores(t *testing.T) {
	const b, tq, s, q, a = 2, 3, 4, 5, 6
	lengths := []int{4, 2}
	for _, score := range []Score{ScoreAdditive, ScoreDot, ScoreGeneral} {
		k := 7
		if score == ScoreDot {
			k = q
		}
		var ps Params
		at := NewRNNAttention(&ps, "attn", score, q, k, a)
		rng := tensor.NewRNG(uint64(11 + score))
		for _, p := range ps.List() {
			tensor.Uniform(p.Var.Value, -1, 1, rng)
		}
		qt, h := tensor.New(b, tq, q), tensor.New(b, s, k)
		tensor.Uniform(qt, -1, 1, rng)
		tensor.Uniform(h, -1, 1, rng)
		g := autograd.NewGraph()
		hv := g.Const(h)
		c, alpha := at.Forward(g, g.Const(qt), at.Keys(g, hv), hv, LengthMask(nil, lengths, s))
		if got := alpha.Shape(); got[0] != b || got[1] != tq || got[2] != s {
			t.Fatalf("%v: weights of shape %v, want (B, T, S) = (%d, %d, %d)", score, got, b, tq, s)
		}
		for bi := 0; bi < b; bi++ {
			for ti := 0; ti < tq; ti++ {
				want := make([]float64, s)
				var z float64
				for j := 0; j < lengths[bi]; j++ {
					want[j] = math.Exp(scoreOf(at, qt, h, bi, ti, j))
					z += want[j]
				}
				for j := range want {
					want[j] /= z
					if got := float64(alpha.Value.At(bi, ti, j)); math.Abs(got-want[j]) > 1e-5 {
						t.Fatalf("%v: α[%d,%d,%d] = %g, want %g", score, bi, ti, j, got, want[j])
					}
				}
				for d := 0; d < k; d++ {
					var cw float64
					for j := range want {
						cw += want[j] * float64(h.At(bi, j, d))
					}
					if got := float64(c.Value.At(bi, ti, d)); math.Abs(got-cw) > 1e-5 {
						t.Fatalf("%v: c[%d,%d,%d] = %g, want %g", score, bi, ti, d, got, cw)
					}
				}
			}
		}
	}
}

// scoreOf is score(q_t, h_s) in float64.
func scoreOf(at *RNNAttention, q, h *tensor.Tensor, b, t, s int) float64 {
	nq, nk := q.Dim(2), h.Dim(2)
	switch at.Score {
	case ScoreDot:
		var d float64
		for i := 0; i < nq; i++ {
			d += float64(q.At(b, t, i)) * float64(h.At(b, s, i))
		}
		return d
	case ScoreGeneral:
		var d float64
		for i := 0; i < nq; i++ {
			for j := 0; j < nk; j++ {
				d += float64(q.At(b, t, i)) * float64(at.Key.Weight.Value.At(i, j)) * float64(h.At(b, s, j))
			}
		}
		return d
	}
	var sum float64
	for u := 0; u < at.V.Value.Len(); u++ {
		e := float64(at.Key.Bias.Value.At(u))
		for i := 0; i < nq; i++ {
			e += float64(at.Query.Weight.Value.At(u, i)) * float64(q.At(b, t, i))
		}
		for j := 0; j < nk; j++ {
			e += float64(at.Key.Weight.Value.At(u, j)) * float64(h.At(b, s, j))
		}
		sum += float64(at.V.Value.At(u)) * math.Tanh(e)
	}
	return sum
}

// Gradients of every parameter, the queries and the encoder states against central
// differences; the padded positions of the source receive none.
func TestRNNAttentionGradients(t *testing.T) {
	const b, tq, s, q = 2, 2, 3, 4
	lengths := []int{3, 1}
	for _, score := range []Score{ScoreAdditive, ScoreDot, ScoreGeneral} {
		var ps Params
		at := NewRNNAttention(&ps, "", score, q, q, 5)
		rng := tensor.NewRNG(uint64(21 + score))
		qp, hp := autograd.NewParam(tensor.New(b, tq, q)), autograd.NewParam(tensor.New(b, s, q))
		vars := []*autograd.Var{qp, hp}
		for _, p := range ps.List() {
			vars = append(vars, p.Var)
		}
		for _, v := range vars {
			tensor.Uniform(v.Value, -1, 1, rng)
		}
		r := tensor.New(b, tq, q+s)
		tensor.Uniform(r, -1, 1, rng)
		mask := LengthMask(nil, lengths, s)
		g := autograd.NewGraph()
		loss := func() *autograd.Var {
			g.Reset()
			c, alpha := at.Forward(g, qp, at.Keys(g, hp), hp, mask)
			return g.Sum(g.Mul(g.Concat(2, c, alpha), g.Const(r)))
		}
		g.Backward(loss())
		for vi, v := range vars {
			d, an := v.Value.Data(), v.Grad().Data()
			for j := range d {
				if num := testenv.CentralDifference(d, j, 1e-2, func() float64 { return float64(loss().Value.Item()) }); math.Abs(num-float64(an[j])) > 2e-3*max(1, math.Abs(num)) {
					t.Fatalf("%v: input %d element %d: numeric %g, analytic %g", score, vi, j, num, an[j])
				}
			}
		}
		if m := hp.Grad().At(1, 2, 0); m != 0 {
			t.Fatalf("%v: a padded encoder state received gradient %g", score, m)
		}
	}
}

func TestParseScore(t *testing.T) {
	for _, s := range []Score{ScoreAdditive, ScoreDot, ScoreGeneral} {
		if got, err := ParseScore(s.String()); err != nil || got != s {
			t.Fatalf("ParseScore(%q) = %v, %v", s.String(), got, err)
		}
	}
	if _, err := ParseScore("location"); err == nil {
		t.Fatal("an unknown score was accepted")
	}
}
