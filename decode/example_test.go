package decode_test

import (
	"context"
	"fmt"
	"math"

	"github.com/qkvdev/qkv/decode"
)

// bigram is a model whose next token depends on the last one only, so it keeps no state per
// row and Reorder has nothing to do. A real model would reorder its key/value cache there.
type bigram [][]float32 // (V+1, V): log p(next | last), the last row for the start token

func (m bigram) Step(tokens []int) ([][]float32, error) {
	out := make([][]float32, len(tokens)) // (H, V)
	for h, tok := range tokens {
		out[h] = m[tok]
	}
	return out, nil
}

func (m bigram) Reorder([]int) {}

func logs(ps ...float64) []float32 {
	out := make([]float32, len(ps))
	for i, p := range ps {
		out[i] = float32(math.Log(p))
	}
	return out
}

// Greedy search takes "a" (0.6) and then "a" forever; two beams also keep "b" (0.4), whose
// EOS (0.9) makes "b EOS" the most likely sentence (0.36); the runner-up is "a b EOS"
// (0.6 · 0.35 · 0.9 = 0.189).
func ExampleBeamSearch() {
	const eos, a, b, bos = 0, 1, 2, 3
	m := bigram{
		eos: logs(1, 1e-9, 1e-9),
		a:   logs(0.3, 0.35, 0.35),
		b:   logs(0.9, 0.05, 0.05),
		bos: logs(1e-9, 0.6, 0.4),
	}
	greedy, _ := decode.Greedy(context.Background(), m, 1, 4, bos, eos)
	fmt.Println("greedy:", greedy[0])

	cfg := decode.Config{Beams: 2, NBest: 2, MaxLen: 4, BOS: bos, EOS: eos, EarlyStopping: decode.StopNever}
	hyps, _ := decode.BeamSearch(context.Background(), m, 1, cfg)
	for _, h := range hyps[0] {
		fmt.Printf("beam: %v p=%.3f\n", h.Tokens, math.Exp(h.LogProb))
	}
	// Output:
	// greedy: [1 1 1 1]
	// beam: [2 0] p=0.360
	// beam: [1 2 0] p=0.189
}
