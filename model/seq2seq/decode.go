package seq2seq

import (
	"context"
	"fmt"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// Decoded is the result of greedy decoding.
type Decoded struct {
	Tokens [][]int // per source, the target tokens, EOS excluded
	// Attention holds α (B, T, S) of every decoding step — row t of source b is where the
	// decoder looked when it chose token t of Tokens[b] (or the EOS after them); rows after a
	// sequence's EOS are zero. Nil without attention.
	Attention *tensor.Tensor
}

// Greedy decodes each source by always taking the most probable next token, until EOS or
// maxLen tokens (maxLen ≤ 0 or above max_length − 1: max_length − 1). It stops with ctx's
// error when ctx is done.
func (m *Model) Greedy(ctx context.Context, src [][]int, maxLen int) (Decoded, error) {
	c := m.Config
	var bt Batch
	if err := m.MakeBatch(&bt, src, nil); err != nil {
		return Decoded{}, err
	}
	if maxLen <= 0 || maxLen > c.MaxLength-1 {
		maxLen = c.MaxLength - 1
	}
	b, s := bt.B, bt.S
	g := autograd.NewGraph()
	g.SetGrad(false)
	enc := m.Encode(g, &bt, nil)
	var feed *autograd.Var // h̃_{t−1}, with input feeding
	if c.InputFeeding {
		feed = g.Const(g.Arena().Zeros(b, c.HiddenSize))
	}
	prev := make([]int, b)
	fill(prev, c.BOSTokenID)
	out := Decoded{Tokens: make([][]int, b)}
	done := make([]bool, b)
	var alphas []float32 // (T, B, S) as the steps come
	for t := 0; t < maxLen; t++ {
		if err := ctx.Err(); err != nil {
			return Decoded{}, err
		}
		ht, alpha := m.step(g, m.TgtEmbed.Forward(g, prev), feed, enc) // (B, 1, H), (B, 1, S)
		logits := m.logits(g, ht, nil)                                 // (B, 1, V_t)
		if c.InputFeeding {
			feed = g.Reshape(ht, b, c.HiddenSize)
		}
		if alpha != nil {
			a := alpha.Value.Contiguous().Data()
			for r := range done {
				if done[r] {
					alphas = append(alphas, make([]float32, s)...)
				} else {
					alphas = append(alphas, a[r*s:(r+1)*s]...)
				}
			}
		}
		lv := logits.Value.Contiguous()
		finished := true
		for r := range done {
			if done[r] {
				continue
			}
			id := tensor.Argmax(lv.Narrow(0, r, 1))
			if id < 0 {
				return Decoded{}, fmt.Errorf("seq2seq: greedy decoding of source %d: every logit is NaN at step %d (the weights are damaged or diverged)", r, len(out.Tokens[r]))
			}
			if id == c.EOSTokenID {
				done[r] = true
			} else {
				out.Tokens[r] = append(out.Tokens[r], id)
			}
			finished = finished && done[r]
			prev[r] = id
		}
		if finished {
			break
		}
	}
	if alphas != nil {
		steps := len(alphas) / (b * s)
		out.Attention = tensor.New(b, steps, s)
		tensor.CopyInto(out.Attention, tensor.FromData(alphas, steps, b, s).Transpose(0, 1))
	}
	return out, nil
}
