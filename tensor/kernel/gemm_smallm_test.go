package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSgemmSmallM checks the few-rows path on every kernel path: both layouts of B, every m it
// takes, widths and depths that leave partial stripes and blocks, strides, alpha and beta.
func TestSgemmSmallM(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 11))
		for _, threads := range []int{1, 2, 3} {
			withThreads(threads, func() {
				for _, m := range []int{2, 3, 5, 8} {
					for _, nk := range [][2]int{{512, 128}, {1000, 77}, {77, 1000}, {2304, 64}, {4099, 17}} {
						tc := gemmCase{
							transB: rng.IntN(2) == 1, m: m, n: nk[0], k: nk[1],
							alpha: []float32{1, 0.5}[rng.IntN(2)], beta: []float32{0, 1, -0.25}[rng.IntN(3)],
							padA: rng.IntN(3), padB: rng.IntN(5), padC: rng.IntN(3),
						}
						if !useSmallM(tc.transA, tc.m, tc.n, tc.k) {
							t.Fatalf("%v does not take the few-rows path", tc)
						}
						checkGemm(t, rng, tc, rng.IntN(4) == 0)
					}
				}
			})
		}
	})
}

// BenchmarkSgemmFewRows: a decoding step of m sequences at once through GPT-2 124M's weight
// shapes, by the few-rows path and by the blocked GEMM. GB/s counts B once.
func BenchmarkSgemmFewRows(b *testing.B) {
	shapes := []struct {
		name   string
		transB bool
		k, n   int
	}{
		{"attn-768x2304", false, 768, 2304},
		{"mlp-768x3072", false, 768, 3072},
		{"proj-3072x768", false, 3072, 768},
		{"head-50257x768T", true, 768, 50257},
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range shapes {
		w := randFloats(rng, s.k*s.n)
		for _, m := range []int{1, 4, 8, 16} {
			x := randFloats(rng, m*s.k)
			y := make([]float32, m*s.n)
			ldb := s.n
			if s.transB {
				ldb = s.k
			}
			for _, path := range []string{"fewrows", "blocked"} {
				if m == 1 && path == "blocked" {
					continue
				}
				b.Run(s.name+fmt.Sprintf("/m=%d/", m)+path, func(b *testing.B) {
					defer func(on bool) { smallMOn = on }(smallMOn)
					smallMOn = path == "fewrows"
					b.SetBytes(int64(4 * s.k * s.n))
					for b.Loop() {
						Sgemm(false, s.transB, m, s.n, s.k, 1, x, s.k, w, ldb, 0, y, s.n)
					}
				})
			}
		}
	}
}
