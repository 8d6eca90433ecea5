package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The W1 shapes (M, K, N) of ../../../shared/bench/WORKLOADS.md.
var w1Shapes = [][3]int{{1024, 1024, 1024}, {4096, 768, 3072}, {1, 768, 3072}}

// benchGemm times C = A·B on the given shape and reports GFLOP/s.
func benchGemm(b *testing.B, transA, transB bool, m, k, n int) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, bm, c := randFloats(rng, m*k), randFloats(rng, k*n), make([]float32, m*n)
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	Sgemm(transA, transB, m, n, k, 1, a, lda, bm, ldb, 0, c, n) // warm up the buffers
	b.ResetTimer()
	for b.Loop() {
		Sgemm(transA, transB, m, n, k, 1, a, lda, bm, ldb, 0, c, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm runs the W1 shapes at 1 and 2 threads.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range w1Shapes {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%dx%dx%d/threads=%d", s[0], s[1], s[2], threads), func(b *testing.B) {
				withThreads(threads, func() { benchGemm(b, false, false, s[0], s[1], s[2]) })
			})
		}
	}
}

// BenchmarkSgemmTrans runs the four transpositions at a training-like shape: the forward
// x·Wᵀ (NT) and the two backward products dX = dY·W (NN) and dW = dYᵀ·X (TN).
func BenchmarkSgemmTrans(b *testing.B) {
	const m, k, n = 2048, 384, 1536
	for _, tr := range []struct {
		name           string
		transA, transB bool
	}{{"NN", false, false}, {"NT", false, true}, {"TN", true, false}, {"TT", true, true}} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d/threads=%d", tr.name, m, k, n, threads), func(b *testing.B) {
				withThreads(threads, func() { benchGemm(b, tr.transA, tr.transB, m, k, n) })
			})
		}
	}
}

// BenchmarkSgemv streams a (K, N) weight (N layout, GPT-2 Conv1D) or an (N, K) weight
// (T layout, nn.Linear / LM head) past one input row and reports weight GB/s.
func BenchmarkSgemv(b *testing.B) {
	for _, s := range [][2]int{{768, 50257}, {768, 3072}} {
		k, n := s[0], s[1]
		rng := rand.New(rand.NewPCG(2, 2))
		w, x, y := randFloats(rng, k*n), randFloats(rng, k), make([]float32, n)
		for _, trans := range []bool{false, true} {
			layout, ldw := "N", n
			if trans {
				layout, ldw = "T", k
			}
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%dx%d/threads=%d", layout, k, n, threads), func(b *testing.B) {
					withThreads(threads, func() {
						b.SetBytes(int64(4 * k * n))
						for b.Loop() {
							Sgemv(trans, k, n, 1, x, w, ldw, 0, y)
						}
						b.ReportMetric(4*float64(k)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
					})
				})
			}
		}
	}
}

// BenchmarkSgemmModelShapes runs products of the models in the nn.Linear layout (x·Wᵀ):
// a 64-token GPT-2 prefill (QKV projection), a BERT FFN at batch 1, and attention scores of
// one head over 256 positions.
func BenchmarkSgemmModelShapes(b *testing.B) {
	for _, s := range [][3]int{{64, 768, 2304}, {128, 768, 3072}, {256, 64, 256}} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("NT/%dx%dx%d/threads=%d", s[0], s[1], s[2], threads), func(b *testing.B) {
				withThreads(threads, func() { benchGemm(b, false, true, s[0], s[1], s[2]) })
			})
		}
	}
}
