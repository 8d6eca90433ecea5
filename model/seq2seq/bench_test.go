package seq2seq

import (
	"testing"

	"github.com/qkvdev/qkv/autograd"
)

// BenchmarkTrainStep is one forward and backward pass of the toy reversal model (B = 32,
// sources of 3 to 8 symbols) with attention and without.
func BenchmarkTrainStep(b *testing.B) {
	for _, att := range []string{"additive", "none"} {
		b.Run(att, func(b *testing.B) {
			m, err := New(toyConfig("gru", att), 1)
			if err != nil {
				b.Fatal(err)
			}
			bt := batchOf(b, m, 2, toyBatch)
			g := autograd.NewGraph()
			for b.Loop() {
				g.Reset()
				m.Params.ZeroGrad()
				g.Backward(m.Loss(g, bt))
			}
		})
	}
}
