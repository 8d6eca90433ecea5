package tensor

import (
	"math"
	"testing"
)

// naiveAttention is the textbook formula, one (batch, head, query) at a time.
func naiveAttention(q, k, v *Tensor, scale float32, causal bool, mask AttentionMask) *Tensor {
	B, nh, T, hs := q.Dim(0), q.Dim(1), q.Dim(2), q.Dim(3)
	S := k.Dim(2)
	out := New(B, T, nh, hs)
	for b := 0; b < B; b++ {
		for h := 0; h < nh; h++ {
			for t := 0; t < T; t++ {
				n := S
				if causal {
					n = max(0, t+S-T+1)
				}
				if n == 0 {
					continue // no visible key: zeros
				}
				sc := make([]float64, n)
				m := math.Inf(-1)
				for j := 0; j < n; j++ {
					var d float64
					for i := 0; i < hs; i++ {
						d += float64(q.At(b, h, t, i)) * float64(k.At(b, h, j, i))
					}
					sc[j] = d * float64(scale)
					if mask != nil {
						sc[j] += float64(mask[b*S+j])
					}
					m = max(m, sc[j])
				}
				var z float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - m)
					z += sc[j]
				}
				for i := 0; i < hs; i++ {
					var o float64
					for j := range sc {
						o += sc[j] / z * float64(v.At(b, h, j, i))
					}
					out.Set(float32(o), b, t, h, i)
				}
			}
		}
	}
	return out
}

// attentionCase is one shape of the attention tests: B batch, nh heads, T queries, S keys, hs
// head size, with a causal mask and/or a padding mask.
type attentionCase struct {
	name            string
	B, nh, T, S, hs int
	causal, mask    bool
}

// inputs draws q, k and v from rng and builds the padding mask (batch row b drops its last
// b+1 keys but the first) when the case has one.
func (c attentionCase) inputs(rng *RNG) (q, k, v *Tensor, mask AttentionMask) {
	q, k, v = New(c.B, c.nh, c.T, c.hs), New(c.B, c.nh, c.S, c.hs), New(c.B, c.nh, c.S, c.hs)
	for _, x := range []*Tensor{q, k, v} {
		Uniform(x, -1, 1, rng)
	}
	if c.mask {
		mask = make(AttentionMask, c.B*c.S)
		for i := range mask {
			if i%c.S >= c.S-i/c.S-1 && i%c.S != 0 {
				mask[i] = -1e30
			}
		}
	}
	return q, k, v, mask
}

func TestAttentionMatchesNaive(t *testing.T) {
	rng := NewRNG(3)
	cases := []attentionCase{
		{"self", 2, 3, 9, 9, 8, false, false},
		{"causal", 2, 2, 70, 70, 16, true, false},
		{"causal, cached prefix", 1, 4, 3, 200, 8, true, false},
		{"causal, blocks, cached prefix", 1, 2, 100, 170, 8, true, false},
		{"causal, more queries than keys", 1, 2, 140, 70, 8, true, false},
		{"decode one token", 1, 12, 1, 300, 64, true, false},
		{"padding mask", 3, 2, 6, 6, 4, false, true},
	}
	for _, c := range cases {
		q, k, v, mask := c.inputs(rng)
		scale := float32(1 / math.Sqrt(float64(c.hs)))
		want := naiveAttention(q, k, v, scale, c.causal, mask)
		args := AttentionArgs{Q: q, K: k, V: v, Scale: scale, Causal: c.causal, Mask: mask}
		args.Out = New(c.B, c.T, c.nh, c.hs)
		AttentionForward(&args, New(c.B, c.nh, c.T, c.S))
		fwd := args.Out
		args.Out = New(c.B, c.T, c.nh, c.hs)
		AttentionInfer(&args)
		for name, got := range map[string]*Tensor{"forward": fwd, "online": args.Out} {
			var d float64
			for i, x := range got.Data() {
				d = max(d, math.Abs(float64(x-want.Data()[i])))
			}
			if d > 2e-5 {
				t.Errorf("%s: %s differs from the naive formula by %.3g", c.name, name, d)
			}
		}
	}
}

// naiveAttentionGrads is the textbook backward pass in float64: with P = softmax(scale·q·kᵀ +
// mask) and dP = dO·vᵀ, dV = Pᵀ·dO, dS = P∘(dP − rowsum(P∘dP)), dQ = scale·dS·k, dK =
// scale·dSᵀ·q. It returns dq, dk, dv as flat (B, nh, T or S, hs) arrays.
func naiveAttentionGrads(q, k, v, dout *Tensor, scale float64, causal bool, mask AttentionMask) (dq, dk, dv []float64) {
	B, nh, T, hs := q.Dim(0), q.Dim(1), q.Dim(2), q.Dim(3)
	S := k.Dim(2)
	dq, dk, dv = make([]float64, B*nh*T*hs), make([]float64, B*nh*S*hs), make([]float64, B*nh*S*hs)
	for b := 0; b < B; b++ {
		for h := 0; h < nh; h++ {
			for t := 0; t < T; t++ {
				n := S
				if causal {
					n = max(0, t+S-T+1)
				}
				p := make([]float64, n)
				m := math.Inf(-1)
				for j := range p {
					for i := 0; i < hs; i++ {
						p[j] += float64(q.At(b, h, t, i)) * float64(k.At(b, h, j, i))
					}
					p[j] *= scale
					if mask != nil {
						p[j] += float64(mask[b*S+j])
					}
					m = max(m, p[j])
				}
				var z float64
				for j := range p {
					p[j] = math.Exp(p[j] - m)
					z += p[j]
				}
				dp := make([]float64, n)
				var rs float64
				for j := range p {
					p[j] /= z
					for i := 0; i < hs; i++ {
						g := float64(dout.At(b, t, h, i))
						dp[j] += g * float64(v.At(b, h, j, i))
						dv[((b*nh+h)*S+j)*hs+i] += p[j] * g
					}
					rs += p[j] * dp[j]
				}
				for j := range p {
					ds := p[j] * (dp[j] - rs) * scale
					for i := 0; i < hs; i++ {
						dq[((b*nh+h)*T+t)*hs+i] += ds * float64(k.At(b, h, j, i))
						dk[((b*nh+h)*S+j)*hs+i] += ds * float64(q.At(b, h, t, i))
					}
				}
			}
		}
	}
	return dq, dk, dv
}

// TestAttentionBackwardMatchesNaive checks the fused backward pass, which under a causal mask
// runs its products by blocks of queries and of keys, against the textbook formula: on shapes
// of several blocks with ragged ends, a cached prefix (S > T), more queries than keys (the
// first rows see nothing), and gradients accumulated onto what the tensors already hold.
func TestAttentionBackwardMatchesNaive(t *testing.T) {
	rng := NewRNG(5)
	cases := []attentionCase{
		{"self", 2, 2, 9, 9, 8, false, false},
		{"cross, many keys", 1, 2, 7, 150, 8, false, false},
		{"padding mask", 2, 2, 6, 6, 4, false, true},
		{"causal, one block", 2, 2, 40, 40, 8, true, false},
		{"causal, blocks with a ragged end", 1, 3, 150, 150, 16, true, false},
		{"causal, cached prefix", 1, 2, 100, 170, 8, true, false},
		{"causal, more queries than keys", 1, 2, 140, 70, 8, true, false},
	}
	for _, c := range cases {
		q, k, v, mask := c.inputs(rng)
		dout := New(c.B, c.T, c.nh, c.hs)
		Uniform(dout, -1, 1, rng)
		scale := 1 / math.Sqrt(float64(c.hs))
		args := AttentionArgs{Q: q, K: k, V: v, Out: New(c.B, c.T, c.nh, c.hs), Scale: float32(scale), Causal: c.causal, Mask: mask}
		p := New(c.B, c.nh, c.T, c.S)
		AttentionForward(&args, p)
		// Start from gradients already there: the pass adds to them.
		dq, dk, dv := New(c.B, c.nh, c.T, c.hs), New(c.B, c.nh, c.S, c.hs), New(c.B, c.nh, c.S, c.hs)
		for _, x := range []*Tensor{dq, dk, dv} {
			Uniform(x, -1, 1, rng)
		}
		before := [][]float32{append([]float32(nil), dq.Data()...), append([]float32(nil), dk.Data()...), append([]float32(nil), dv.Data()...)}
		AttentionBackward(&args, p, dout, dq, dk, dv)
		wq, wk, wv := naiveAttentionGrads(q, k, v, dout, scale, c.causal, mask)
		for i, g := range []struct {
			name string
			got  *Tensor
			want []float64
		}{{"dq", dq, wq}, {"dk", dk, wk}, {"dv", dv, wv}} {
			var d float64
			for j, x := range g.got.Data() {
				d = max(d, math.Abs(float64(x-before[i][j])-g.want[j]))
			}
			if d > 2e-5 {
				t.Errorf("%s: %s differs from the naive formula by %.3g", c.name, g.name, d)
			}
		}
	}
}
