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

// gemmShape is one product C (m, n) = op(A)·op(B) with depth k.
type gemmShape struct {
	transA, transB bool
	m, k, n        int
	beta           float32
}

func (s gemmShape) String() string {
	tr := func(t bool) string {
		if t {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s:%dx%dx%d", tr(s.transA), tr(s.transB), s.m, s.k, s.n)
}

// trainingShapes returns the products of one GPT block's Linear layers in a training step
// with rows tokens and width c (QKV c→3c, attention projection c→c, MLP c→4c→c), in the
// GPT-2 Conv1D layout W (in, out): the forward y = x·W (NN, onto the bias: beta 1), the input
// gradient dx = dy·Wᵀ (NT) and the weight gradient dW += xᵀ·dy (TN, k = rows).
func trainingShapes(rows, c int) []gemmShape {
	var s []gemmShape
	for _, io := range [][2]int{{c, 3 * c}, {c, c}, {c, 4 * c}, {4 * c, c}} {
		in, out := io[0], io[1]
		s = append(s,
			gemmShape{false, false, rows, in, out, 1},
			gemmShape{false, true, rows, out, in, 0},
			gemmShape{true, false, in, rows, out, 1})
	}
	return s
}

// trainingConfigs are the W2 configurations: B·T rows of width C.
var trainingConfigs = []struct {
	name    string
	rows, c int
}{{"small", 2048, 128}, {"shakespeare", 2048, 384}}

// BenchmarkSgemmTraining runs the Linear products of a W2 training step one by one, and all
// of one block together ("block"), at 1 and 2 threads.
func BenchmarkSgemmTraining(b *testing.B) {
	for _, cfg := range trainingConfigs {
		shapes := trainingShapes(cfg.rows, cfg.c)
		for _, threads := range []int{1, 2} {
			for _, s := range shapes {
				b.Run(fmt.Sprintf("%s/threads=%d/%v", cfg.name, threads, s), func(b *testing.B) {
					withThreads(threads, func() { benchShapes(b, []gemmShape{s}) })
				})
			}
			b.Run(fmt.Sprintf("%s/threads=%d/block", cfg.name, threads), func(b *testing.B) {
				withThreads(threads, func() { benchShapes(b, shapes) })
			})
		}
	}
}

// benchShapes times the products one after another, each on its own operands, and reports
// GFLOP/s over all of them.
func benchShapes(b *testing.B, shapes []gemmShape) {
	rng := rand.New(rand.NewPCG(3, 3))
	type operands struct{ a, b, c []float32 }
	ops := make([]operands, len(shapes))
	flops := 0.0
	for i, s := range shapes {
		ops[i] = operands{randFloats(rng, s.m*s.k), randFloats(rng, s.k*s.n), randFloats(rng, s.m*s.n)}
		flops += 2 * float64(s.m) * float64(s.n) * float64(s.k)
	}
	run := func() {
		for i, s := range shapes {
			lda, ldb := s.k, s.n
			if s.transA {
				lda = s.m
			}
			if s.transB {
				ldb = s.k
			}
			Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, ops[i].a, lda, ops[i].b, ldb, s.beta, ops[i].c, s.n)
		}
	}
	run()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// attentionShapes returns the per-head products of causal attention over t positions with
// head size hs, as the fused attention kernels issue them: the scores Q·Kᵀ in blocks of 64
// query rows, P·V, and the backward dV = Pᵀ·dO, dP = dO·Vᵀ, dQ = dS·K and dK = dSᵀ·Q.
func attentionShapes(t, hs int) []gemmShape {
	var s []gemmShape
	for t0 := 0; t0 < t; t0 += 64 {
		s = append(s, gemmShape{false, true, min(64, t-t0), hs, min(t, t0+64), 0})
	}
	return append(s,
		gemmShape{false, false, t, t, hs, 0},
		gemmShape{true, false, t, t, hs, 1},
		gemmShape{false, true, t, hs, t, 0},
		gemmShape{false, false, t, t, hs, 1},
		gemmShape{true, false, t, t, hs, 1})
}

// BenchmarkSgemmAttention runs the per-head products of one attention head of the W2
// configurations on one thread, as each thread of the attention kernels does.
func BenchmarkSgemmAttention(b *testing.B) {
	for _, cfg := range []struct {
		name  string
		t, hs int
	}{{"small", 64, 32}, {"shakespeare", 256, 64}} {
		b.Run(cfg.name, func(b *testing.B) {
			withThreads(1, func() { benchShapes(b, attentionShapes(cfg.t, cfg.hs)) })
		})
	}
}

// BenchmarkSgemmBF16 runs products with bfloat16 compute at 1 and 2 threads (skipped where
// the CPU lacks AVX512-BF16): the W1 shapes, a 64-token GPT-2 prefill in the Conv1D (NN) and
// Linear (NT) layouts, and the three products of a training step's MLP (as in
// BenchmarkSgemmTrans).
func BenchmarkSgemmBF16(b *testing.B) {
	if err := SetCompute(BF16Compute); err != nil {
		b.Skip(err)
	}
	defer SetCompute(FP32Compute)
	for _, s := range []gemmShape{
		{false, false, 1024, 1024, 1024, 0}, {false, false, 4096, 768, 3072, 0},
		{false, false, 64, 768, 2304, 0}, {false, true, 64, 768, 2304, 0},
		{false, false, 2048, 384, 1536, 0}, {false, true, 2048, 1536, 384, 0}, {true, false, 384, 2048, 1536, 0},
	} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", s, threads), func(b *testing.B) {
				withThreads(threads, func() { benchGemm(b, s.transA, s.transB, s.m, s.k, s.n) })
			})
		}
	}
}

// BenchmarkGemmPanels runs products on weights packed ahead for bfloat16 compute (skipped
// where the CPU lacks AVX512-BF16): a 64-token GPT-2 prefill (QKV and MLP), a 128-token BERT
// FFN, and one row (a decoding step, reported as weight GB/s).
func BenchmarkGemmPanels(b *testing.B) {
	if err := SetCompute(BF16Compute); err != nil {
		b.Skip(err)
	}
	defer SetCompute(FP32Compute)
	rng := rand.New(rand.NewPCG(3, 3))
	for _, s := range [][3]int{{64, 768, 2304}, {64, 768, 3072}, {128, 768, 3072}, {1, 768, 3072}} {
		m, k, n := s[0], s[1], s[2]
		p, err := NewPanelMatrix(randFloats(rng, n*k), n, k, true)
		if err != nil {
			b.Fatal(err)
		}
		x, y := randFloats(rng, m*k), make([]float32, m*n)
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%dx%dx%d/threads=%d", m, k, n, threads), func(b *testing.B) {
				withThreads(threads, func() {
					for b.Loop() {
						GemmPanels(p, m, 1, x, k, 0, y, n)
					}
				})
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				b.ReportMetric(float64(p.Bytes())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}
