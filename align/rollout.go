package align

import (
	"context"
	"fmt"
	"math"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tensor"
)

// SampleReplies continues every prompt by up to maxNew tokens, all prompts advancing together
// through the model's batched KV-cache decoding (gpt.Model.ForwardBatch): the prompts are
// prefilled in one pass, then each step decodes one token for every reply not yet finished. A
// reply ends after the eos token (kept as its last token; eos < 0: none) or at maxNew tokens.
// Tokens are drawn from softmax(logits / temperature) with rng; temperature 0 is greedy.
func SampleReplies(ctx context.Context, m *gpt.Model, prompts [][]int, maxNew int, temperature float64, eos int, rng *tensor.RNG) ([][]int, error) {
	if maxNew < 1 {
		return nil, fmt.Errorf("at most %d new tokens: want at least 1", maxNew)
	}
	g := autograd.NewGraph()
	g.SetGrad(false)
	replies := make([][]int, len(prompts))
	seqs := make([]gpt.BatchSeq, len(prompts))
	for i, p := range prompts {
		if len(p) == 0 || len(p)+maxNew > m.Config.NPositions {
			return nil, fmt.Errorf("prompt %d: %d tokens and %d new ones do not fit the context of %d", i+1, len(p), maxNew, m.Config.NPositions)
		}
		seqs[i] = gpt.BatchSeq{Caches: m.NewSeqCaches(len(p) + maxNew), IDs: p}
	}
	active := make([]int, len(prompts)) // the prompts still decoding, in seqs order
	for i := range active {
		active[i] = i
	}
	V := m.Config.VocabSize
	probs := make([]float64, V)
	for len(active) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch := make([]gpt.BatchSeq, len(active))
		for k, i := range active {
			batch[k] = seqs[i]
		}
		g.Reset()
		logits, err := m.ForwardBatch(g, batch)
		if err != nil {
			return nil, err
		}
		ld := logits.Value.Data()
		next := active[:0]
		for k, i := range active {
			id := pick(ld[k*V:(k+1)*V], temperature, rng, probs)
			if id < 0 {
				return nil, fmt.Errorf("the model produced no finite logit (non-finite weights?)")
			}
			replies[i] = append(replies[i], id)
			if id == eos || len(replies[i]) == maxNew {
				continue
			}
			seqs[i].IDs = []int{id}
			next = append(next, i)
		}
		active = next
	}
	return replies, nil
}

// pick draws a token from logits at temperature (0: the argmax); probs is scratch space of V.
// It returns -1 when no logit is finite.
func pick(logits []float32, temperature float64, rng *tensor.RNG, probs []float64) int {
	best, bestV := -1, math.Inf(-1)
	for i, v := range logits {
		if f := float64(v); f > bestV && !math.IsNaN(f) {
			best, bestV = i, f
		}
	}
	if best < 0 || math.IsInf(bestV, 1) || temperature == 0 {
		return best
	}
	var sum float64
	for i, v := range logits {
		p := 0.0
		if f := float64(v); !math.IsNaN(f) {
			p = math.Exp((f - bestV) / temperature)
		}
		probs[i] = p
		sum += p
	}
	u := rng.Float64() * sum
	for i, p := range probs[:len(logits)] {
		if u -= p; u < 0 {
			return i
		}
	}
	return best
}

// entropy returns the entropy (nats) of softmax(logits).
func entropy(logits []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	var z, s float64
	for _, v := range logits {
		e := math.Exp(float64(v) - mx)
		z += e
		s += e * (float64(v) - mx)
	}
	return math.Log(z) - s/z
}
