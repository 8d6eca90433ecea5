package tensor

import (
	"fmt"
	"testing"
)

// BenchmarkAttentionDecode is one decoding step of GPT-2 124M's attention in one layer: a single
// query per head (12 heads of 64) over a KV cache of S positions, read in place from cache rows
// of a longer buffer, as the KV cache stores them.
func BenchmarkAttentionDecode(b *testing.B) {
	const nh, hs, ctx = 12, 64, 1024
	rng := NewRNG(1)
	q, kc, vc := New(1, nh, 1, hs), New(1, nh, ctx, hs), New(1, nh, ctx, hs)
	for _, t := range []*Tensor{q, kc, vc} {
		Normal(t, 0, 1, rng)
	}
	out := New(1, 1, nh, hs)
	for _, S := range []int{64, 128, 512, 1024} {
		b.Run(fmt.Sprintf("S=%d", S), func(b *testing.B) {
			args := AttentionArgs{Q: q, K: kc.Narrow(2, 0, S), V: vc.Narrow(2, 0, S), Out: out, Scale: 0.125, Causal: true}
			b.SetBytes(int64(2 * nh * S * hs * 4)) // the cache rows read
			for b.Loop() {
				AttentionInfer(&args)
			}
		})
	}
}
