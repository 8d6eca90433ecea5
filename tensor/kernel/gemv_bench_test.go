package kernel

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// decodeWeights are the weight matrices of GPT-2 124M that one decoded token multiplies, each
// in its own buffer so that the sequence streams ~495 MB from DRAM as real decoding does:
// per layer the Conv1D weights (in, out) of the QKV projection (768, 2304), the attention
// projection (768, 768), the MLP up (768, 3072) and down (3072, 768) projections, and the
// tied LM head (50257, 768) in the Linear layout.
type decodeWeights struct {
	layers [12][4][]float32
	head   []float32
}

// decodeShapes are the (in, out) sizes of the four Conv1D weights of a layer.
var decodeShapes = [4][2]int{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}}

const (
	decodeEmbd  = 768
	decodeVocab = 50257
)

var decodeOnce = sync.OnceValue(func() *decodeWeights {
	rng := rand.New(rand.NewPCG(5, 5))
	w := new(decodeWeights)
	for l := range w.layers {
		for i, s := range decodeShapes {
			w.layers[l][i] = randFloats(rng, s[0]*s[1])
		}
	}
	w.head = randFloats(rng, decodeVocab*decodeEmbd)
	return w
})

// bytes is the size of all the weights.
func (w *decodeWeights) bytes() int {
	n := len(w.head)
	for _, l := range w.layers {
		for _, m := range l {
			n += len(m)
		}
	}
	return 4 * n
}

// BenchmarkDecodeGemv runs the matrix–vector products of one GPT-2 124M decoding step, as a
// KV-cache decoder issues them back to back (48 Conv1D products, then the LM head), and
// reports tokens/s and the weight bandwidth in GB/s.
func BenchmarkDecodeGemv(b *testing.B) {
	w := decodeOnce()
	rng := rand.New(rand.NewPCG(6, 6))
	x := randFloats(rng, 3072)
	y := make([]float32, 3072)
	logits := make([]float32, decodeVocab)
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			withThreads(threads, func() {
				step := func() {
					for l := range w.layers {
						for i, s := range decodeShapes {
							Sgemv(false, s[0], s[1], 1, x[:s[0]], w.layers[l][i], s[1], 0, y[:s[1]])
						}
					}
					Sgemv(true, decodeEmbd, decodeVocab, 1, x[:decodeEmbd], w.head, decodeEmbd, 0, logits)
				}
				step()
				b.ResetTimer()
				for b.Loop() {
					step()
				}
				sec := b.Elapsed().Seconds()
				b.ReportMetric(float64(b.N)/sec, "tokens/s")
				b.ReportMetric(float64(w.bytes())*float64(b.N)/sec/1e9, "GB/s")
			})
		})
	}
}
