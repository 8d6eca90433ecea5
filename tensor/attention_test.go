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
					n = t + S - T + 1
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

func TestAttentionMatchesNaive(t *testing.T) {
	rng := NewRNG(3)
	cases := []struct {
		name            string
		B, nh, T, S, hs int
		causal, mask    bool
	}{
		{"self", 2, 3, 9, 9, 8, false, false},
		{"causal", 2, 2, 70, 70, 16, true, false},
		{"causal, cached prefix", 1, 4, 3, 200, 8, true, false},
		{"decode one token", 1, 12, 1, 300, 64, true, false},
		{"padding mask", 3, 2, 6, 6, 4, false, true},
	}
	for _, c := range cases {
		q, k, v := New(c.B, c.nh, c.T, c.hs), New(c.B, c.nh, c.S, c.hs), New(c.B, c.nh, c.S, c.hs)
		for _, x := range []*Tensor{q, k, v} {
			Uniform(x, -1, 1, rng)
		}
		var mask AttentionMask
		if c.mask {
			mask = make(AttentionMask, c.B*c.S)
			for i := range mask {
				if i%c.S >= c.S-i/c.S-1 && i%c.S != 0 { // row b drops its last b+... keys
					mask[i] = -1e30
				}
			}
		}
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
