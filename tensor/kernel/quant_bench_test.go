package kernel

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"testing"
)

// quantBenchFormats are the weight formats the benchmarks compare: float32 (Sgemv and Sgemm
// in the same (N, K) layout, x·Wᵀ), bfloat16, bfloat16 packed as the panels of bfloat16
// compute (PanelMatrix; only where the CPU has AVX512-BF16) and int8.
var quantBenchFormats = []string{"fp32", "bf16", "bf16-panels", "int8"}

// quantBenchWeights returns n·k uniform weights in [-0.1, 0.1), quickly.
func quantBenchWeights(seed uint64, n, k int) []float32 {
	rng := rand.New(rand.NewPCG(seed, seed))
	w := make([]float32, n*k)
	for i := range w {
		w[i] = float32(rng.Uint32()>>8)*(0.2/(1<<24)) - 0.1
	}
	return w
}

// quantBenchMatrix is one weight matrix of a benchmark in one format, with its GEMV and GEMM.
type quantBenchMatrix struct {
	n, k  int
	bytes int64
	gemv  func(x, y []float32)
	gemm  func(m int, x, y []float32)
}

// newQuantBenchMatrix converts the (n, k) weights w to format (fp32 keeps w itself). Where
// the CPU cannot run the format, gemv and gemm are nil.
func newQuantBenchMatrix(format string, w []float32, n, k int) quantBenchMatrix {
	m := quantBenchMatrix{n: n, k: k}
	switch format {
	case "fp32":
		m.bytes = int64(4 * n * k)
		m.gemv = func(x, y []float32) { Sgemv(true, k, n, 1, x, w, k, 0, y) }
		m.gemm = func(M int, x, y []float32) { Sgemm(false, true, M, n, k, 1, x, k, w, k, 0, y, n) }
	case "bf16":
		b := NewBF16Matrix(w, n, k, false)
		m.bytes = b.Bytes()
		m.gemv = func(x, y []float32) { GemvBF16(b, 1, x, 0, y) }
		m.gemm = func(M int, x, y []float32) { GemmBF16(b, M, 1, x, k, 0, y, n) }
	case "bf16-panels":
		old := computeBF16
		computeBF16 = true
		p, err := NewPanelMatrix(w, n, k, false)
		computeBF16 = old
		if err != nil {
			return m // this CPU has no bfloat16 compute: gemv stays nil
		}
		m.bytes = p.Bytes()
		m.gemv = func(x, y []float32) { GemmPanels(p, 1, 1, x, k, 0, y, n) }
		m.gemm = func(M int, x, y []float32) { GemmPanels(p, M, 1, x, k, 0, y, n) }
	case "int8":
		q := NewQ8Matrix(w, n, k, false)
		m.bytes = q.Bytes()
		m.gemv = func(x, y []float32) { GemvQ8(q, 1, x, 0, y) }
		m.gemm = func(M int, x, y []float32) { GemmQ8(q, M, 1, x, k, 0, y, n) }
	}
	return m
}

// BenchmarkQuantGemv streams one (N, K) weight matrix past one input row in each format and
// reports the weight bytes read per second: K×N = 768×3072 (4.5–9 MiB, mostly in cache) and
// 768×50257 (the GPT-2 LM head, 37–147 MiB, from DRAM).
func BenchmarkQuantGemv(b *testing.B) {
	for _, s := range [][2]int{{768, 3072}, {768, 50257}} {
		k, n := s[0], s[1]
		w := quantBenchWeights(3, n, k)
		x, y := quantBenchWeights(4, 1, k), make([]float32, n)
		for _, format := range quantBenchFormats {
			m := newQuantBenchMatrix(format, w, n, k)
			if m.gemv == nil {
				continue
			}
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%dx%d/threads=%d", format, k, n, threads), func(b *testing.B) {
					withThreads(threads, func() {
						b.SetBytes(m.bytes)
						for b.Loop() {
							m.gemv(x, y)
						}
						b.ReportMetric(float64(m.bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
					})
				})
			}
		}
	}
}

// BenchmarkQuantDecode runs the matrix–vector products of decoding one token with GPT-2 124M
// (12 layers of the K×N products 768×2304, 768×768, 768×3072 and 3072×768, then the 768×50257
// tied LM head) on distinct weights for every layer, so that they stream from DRAM as in a
// real decode, and reports tokens per second and the weight bandwidth. It leaves out
// attention and the row kernels: it is the bound the weight format sets.
func BenchmarkQuantDecode(b *testing.B) {
	const layers = 12
	shapes := [][2]int{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}} // (K, N)
	for _, format := range quantBenchFormats {
		b.Run(format, func(b *testing.B) {
			// Start each format on memory fresh from the OS, as a model loaded once would
			// be: weights placed in memory the heap has just freed stream markedly slower
			// here, which would make the comparison depend on the order of the formats.
			debug.FreeOSMemory()
			var seq []quantBenchMatrix
			var bytes int64
			add := func(w []float32, n, k int) {
				if format == "fp32" {
					w = append([]float32(nil), w...) // a copy of its own for each layer
				}
				m := newQuantBenchMatrix(format, w, n, k)
				if m.gemv == nil {
					b.Skipf("skipped: this CPU cannot run %s", format)
				}
				seq = append(seq, m)
				bytes += m.bytes
			}
			for i, s := range shapes {
				w := quantBenchWeights(uint64(10+i), s[1], s[0])
				for range layers {
					add(w, s[1], s[0])
				}
			}
			// Layer order: each layer's four products in turn.
			ordered := make([]quantBenchMatrix, 0, len(seq)+1)
			for l := range layers {
				for i := range shapes {
					ordered = append(ordered, seq[i*layers+l])
				}
			}
			seq = ordered
			add(quantBenchWeights(20, 50257, 768), 50257, 768)
			runtime.GC()
			defer debug.FreeOSMemory()
			x, y := quantBenchWeights(21, 1, 3072), make([]float32, 50257)
			b.SetBytes(bytes)
			b.ResetTimer()
			for b.Loop() {
				for _, m := range seq {
					m.gemv(x[:m.k], y[:m.n])
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/sec, "tokens/s")
			b.ReportMetric(float64(bytes)*float64(b.N)/sec/1e9, "GB/s")
			b.ReportMetric(float64(bytes)/1e6, "MB/token")
		})
	}
}

// BenchmarkQuantDecodePaths runs the int8 GEMVs of decoding one GPT-2 124M token (as
// BenchmarkQuantDecode) on one thread, on each int8 path this CPU has: VNNI and AVX-VNNI
// (activations quantised, VPDPBUSD), AVX-512 and AVX2 (activations float32). Besides wall time it reports the
// weight bandwidth in the thread's own CPU time (cpu-GB/s), which a machine shared with other
// work disturbs far less than wall time.
func BenchmarkQuantDecodePaths(b *testing.B) {
	shapes := [][2]int{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}} // (K, N)
	var seq []*Q8Matrix
	var bytes int64
	for l := range 12 {
		for i, s := range shapes {
			seq = append(seq, NewQ8Matrix(quantBenchWeights(uint64(10+4*l+i), s[1], s[0]), s[1], s[0], false))
		}
	}
	seq = append(seq, NewQ8Matrix(quantBenchWeights(20, 50257, 768), 50257, 768, false))
	for _, m := range seq {
		bytes += m.Bytes()
	}
	x, y := quantBenchWeights(21, 1, 3072), make([]float32, 50257)
	for _, p := range []struct {
		name                  string
		has                   bool
		avx512, vnni, avxvnni bool
	}{{"vnni", hasVNNI, true, true, false}, {"avx512", hasAVX512, true, false, false}, {"avxvnni", hasAVXVNNI, false, false, true}, {"avx2", hasAsm, false, false, false}} {
		b.Run(p.name, func(b *testing.B) {
			if !p.has {
				b.Skipf("skipped: this CPU (or QKV_CPU) has no %s path", p.name)
			}
			defer func(v, a, av bool) { useVNNI, useAVX512, useAVXVNNI = v, a, av }(useVNNI, useAVX512, useAVXVNNI)
			useVNNI, useAVX512, useAVXVNNI = p.vnni, p.avx512, p.avxvnni
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			withThreads(1, func() {
				b.SetBytes(bytes)
				c0, ok := threadCPUTime()
				for b.Loop() {
					for _, m := range seq {
						GemvQ8(m, 1, x[:m.K], 0, y[:m.N])
					}
				}
				if c1, _ := threadCPUTime(); ok && c1 > c0 {
					b.ReportMetric(float64(bytes)*float64(b.N)/(c1-c0).Seconds()/1e9, "cpu-GB/s")
				}
			})
		})
	}
}

// BenchmarkQuantGemm runs Y = X·Wᵀ for a 64-token GPT-2 prefill (M = 64) on the K×N shapes of a
// layer, in each format, and reports GFLOP/s. Where int8 runs the AVX-VNNI tiles (AVX-VNNI
// without AVX-512, e.g. QKV_CPU=avxvnni), int8-widened runs it with them turned off: the
// weights widened to float32 panels and multiplied by Sgemm, as before them.
func BenchmarkQuantGemm(b *testing.B) {
	const M = 64
	for _, s := range [][2]int{{768, 2304}, {768, 3072}, {3072, 768}} {
		k, n := s[0], s[1]
		w := quantBenchWeights(5, n, k)
		x, y := quantBenchWeights(6, M, k), make([]float32, M*n)
		for _, format := range quantBenchFormats {
			m := newQuantBenchMatrix(format, w, n, k)
			if m.gemv == nil {
				continue
			}
			names := []string{format}
			if format == "int8" && useAsm && !useAVX512 && useAVXVNNI {
				names = append(names, "int8-widened")
			}
			for _, name := range names {
				for _, threads := range []int{1, 2} {
					b.Run(fmt.Sprintf("%s/M=%d/%dx%d/threads=%d", name, M, k, n, threads), func(b *testing.B) {
						if name == "int8-widened" {
							defer func(v bool) { useAVXVNNI = v }(useAVXVNNI)
							useAVXVNNI = false
						}
						withThreads(threads, func() {
							m.gemm(M, x, y)
							for b.Loop() {
								m.gemm(M, x, y)
							}
							b.ReportMetric(2*M*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
						})
					})
				}
			}
		}
	}
}
