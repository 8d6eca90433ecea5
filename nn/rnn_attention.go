package nn

import (
	"fmt"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// Attention over the states of a recurrent encoder, as in neural machine translation:
// additive (Bahdanau et al., 2015) and multiplicative, "dot" and "general" (Luong et al.,
// 2015). For decoder queries q_t and encoder states h_s (the keys and the values),
//
//	additive:  score(q_t, h_s) = vᵀ·tanh(W_q·q_t + W_k·h_s + b)
//	dot:       score(q_t, h_s) = q_tᵀ·h_s
//	general:   score(q_t, h_s) = q_tᵀ·W_a·h_s
//	α_t = softmax_s(score(q_t, h_s) + mask_s),  c_t = Σ_s α_ts·h_s
//
// Notation: B batch, T queries (decoder steps), S source positions, Q query size, K key
// (encoder state) size, A the additive attention's hidden size.

// Score is an attention score function.
type Score int

const (
	ScoreAdditive Score = iota // Bahdanau: vᵀ·tanh(W_q·q + W_k·h)
	ScoreDot                   // Luong dot: qᵀ·h (Q = K)
	ScoreGeneral               // Luong general: qᵀ·W_a·h
)

// ParseScore reads "additive" (also "bahdanau"), "dot" or "general".
func ParseScore(s string) (Score, error) {
	switch s {
	case "additive", "bahdanau":
		return ScoreAdditive, nil
	case "dot":
		return ScoreDot, nil
	case "general":
		return ScoreGeneral, nil
	}
	return 0, fmt.Errorf("unknown attention score %q (want additive, dot or general)", s)
}

// String is the name ParseScore reads.
func (s Score) String() string {
	switch s {
	case ScoreDot:
		return "dot"
	case ScoreGeneral:
		return "general"
	}
	return "additive"
}

// RNNAttention is attention of decoder queries over encoder states with one of the score
// functions.
type RNNAttention struct {
	Score Score
	Query *Linear       // additive: W_q (A, Q), no bias
	Key   *Linear       // additive: W_k (A, K) with b (A); general: W_a (Q, K), no bias
	V     *autograd.Var // additive: v (A)
}

// NewRNNAttention registers the score's parameters under prefix in ps (torch layout):
// query.weight, key.weight, key.bias and v for additive attention, key.weight for general,
// none for dot, which needs q and k of one size.
func NewRNNAttention(ps *Params, prefix string, score Score, q, k, a int) *RNNAttention {
	at := &RNNAttention{Score: score}
	switch score {
	case ScoreAdditive:
		at.Query = NewLinear(ps, join(prefix, "query"), q, a, false, true)
		at.Key = NewLinear(ps, join(prefix, "key"), k, a, true, true)
		at.V = ps.Add(join(prefix, "v"), true, a)
	case ScoreGeneral:
		at.Key = NewLinear(ps, join(prefix, "key"), k, q, false, true)
	case ScoreDot:
		if q != k {
			panic(fmt.Sprintf("nn.NewRNNAttention: dot attention needs queries and keys of one size, got %d and %d", q, k))
		}
	}
	return at
}

// Keys computes, once per source, the part of the scores that depends on the encoder states
// h (B, S, K) only: W_k·h + b (B, S, A) for additive attention, W_a·h (B, S, Q) for general,
// h itself for dot.
func (at *RNNAttention) Keys(g *autograd.Graph, h *autograd.Var) *autograd.Var {
	if at.Key == nil {
		return h
	}
	return at.Key.Forward(g, h)
}

// Forward attends from queries q (B, T, Q) over keys (from Keys) and values h (B, S, K), the
// encoder states. mask, if set, holds B·S values added to the scores: 0 for real source
// positions, a large negative number for padding (see LengthMask); it must stay unchanged
// until Backward. It returns the context vectors c (B, T, K) and the attention weights
// α (B, T, S).
func (at *RNNAttention) Forward(g *autograd.Graph, q, keys, h *autograd.Var, mask tensor.AttentionMask) (c, alpha *autograd.Var) {
	b, s := q.Value.Dim(0), h.Value.Dim(1)
	var scores *autograd.Var // (B, T, S)
	switch at.Score {
	case ScoreAdditive:
		// vᵀ·tanh(W_q·q + keys), fused: no (B, T, S, A) tensor is formed or kept
		scores = g.AdditiveScores(at.Query.Forward(g, q), keys, at.V) // (B, T, A), (B, S, A), (A) → (B, T, S)
	default:
		scores = g.MatMul(q, g.Transpose(keys, 1, 2)) // (B, T, Q)·(B, Q, S) → (B, T, S)
	}
	if mask != nil {
		if len(mask) != b*s {
			panic(fmt.Sprintf("nn.RNNAttention: mask of %d values for B·S = %d·%d", len(mask), b, s))
		}
		scores = g.Add(scores, g.Const(g.Arena().Wrap(mask, b, 1, s)))
	}
	alpha = g.Softmax(scores, false) // (B, T, S)
	return g.MatMul(alpha, h), alpha // (B, T, K)
}

// LengthMask fills dst (reallocated if too short) with the additive mask of a batch of
// sequences of the given lengths padded to s: 0 at positions < lengths[b], −1e9 beyond.
func LengthMask(dst tensor.AttentionMask, lengths []int, s int) tensor.AttentionMask {
	n := len(lengths) * s
	if cap(dst) < n {
		dst = make(tensor.AttentionMask, n)
	}
	dst = dst[:n]
	for b, l := range lengths {
		for j := 0; j < s; j++ {
			dst[b*s+j] = 0
			if j >= l {
				dst[b*s+j] = -1e9
			}
		}
	}
	return dst
}
