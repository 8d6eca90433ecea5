package transformer_test

import (
	"context"
	"fmt"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/model/transformer"
)

// One training step's loss with teacher forcing, then greedy decoding through the KV cache.
func Example() {
	cfg, err := transformer.Preset("tiny", 16) // eos 0, pad = decoder start = 15
	if err != nil {
		panic(err)
	}
	m, err := transformer.New(cfg, 1)
	if err != nil {
		panic(err)
	}
	// Two source sentences and their targets, as token ids without eos.
	b, err := m.MakeBatch([][]int{{3, 4, 5}, {6, 7}}, [][]int{{5, 4, 3}, {7, 6}})
	if err != nil {
		panic(err)
	}
	fmt.Println("decoder inputs:", b.DecoderInputIDs)
	fmt.Println("labels:", b.Labels)

	g := autograd.NewGraph()
	enc := m.Encode(g, b, nil)               // (B, S, C)
	logits := m.Decode(g, enc, b, nil)       // (B, T, V)
	loss := m.Loss(g, logits, b.Labels, 0.1) // label smoothing 0.1, as in the paper
	fmt.Printf("loss ≈ log V: %.1f\n", loss.Value.Item())
	g.Backward(loss) // gradients in m.Params, for an optimiser over m.Trainable()

	out, err := m.Greedy(context.Background(), b, transformer.GreedyOptions{MaxTokens: 4})
	if err != nil {
		panic(err)
	}
	fmt.Println("rows decoded:", len(out), "tokens each:", len(out[0]))
	// Output:
	// decoder inputs: [15 5 4 3 15 7 6 0]
	// labels: [5 4 3 0 7 6 0 -100]
	// loss ≈ log V: 2.8
	// rows decoded: 2 tokens each: 5
}
