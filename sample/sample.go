// Package sample picks the next token from a model's logits: greedy (argmax), or sampling with
// temperature, top-k, nucleus (top-p) filtering and a repetition penalty, from a seeded source
// so that the same seed gives the same text.
package sample

import (
	"fmt"
	"math"
	"slices"

	"github.com/qkvdev/qkv/tensor"
)

// Options control decoding.
type Options struct {
	Temperature       float64 // 0 means greedy; otherwise logits are divided by it
	TopK              int     // keep the k most likely tokens (0 = all)
	TopP              float64 // keep the smallest set whose probability reaches p (0 or 1 = all)
	RepetitionPenalty float64 // > 1 discourages tokens already seen (CTRL-style); 0 or 1 = off
	Seed              uint64
}

// Validate checks the options' ranges.
func (o Options) Validate() error {
	switch {
	case math.IsNaN(o.Temperature) || o.Temperature < 0 || o.Temperature > 100:
		return fmt.Errorf("temperature %g must be in [0, 100] (0 is greedy)", o.Temperature)
	case o.TopK < 0:
		return fmt.Errorf("top-k %d must not be negative (0 keeps every token)", o.TopK)
	case math.IsNaN(o.TopP) || o.TopP < 0 || o.TopP > 1:
		return fmt.Errorf("top-p %g must be in [0, 1]", o.TopP)
	case math.IsNaN(o.RepetitionPenalty) || o.RepetitionPenalty < 0 || o.RepetitionPenalty > 100:
		return fmt.Errorf("repetition penalty %g must be in [0, 100] (1 is off)", o.RepetitionPenalty)
	}
	return nil
}

// Sampler draws tokens according to its options. It is not safe for concurrent use.
type Sampler struct {
	opts  Options
	rng   *tensor.RNG
	logit []float64
	cand  []int
	seen  []bool
}

// New returns a sampler, or an error for out-of-range options.
func New(o Options) (*Sampler, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Sampler{opts: o, rng: tensor.NewRNG(o.Seed)}, nil
}

// Greedy reports whether the sampler always takes the argmax.
func (s *Sampler) Greedy() bool { return s.opts.Temperature == 0 }

// Next picks a token id from logits (one per vocabulary entry); history is the sequence so far,
// used by the repetition penalty. A NaN logit is excluded (it counts as −∞). A +∞ logit takes
// all the probability mass: when some logits are +∞ the draw is uniform among them (after
// top-k and top-p, which treat them as equal logits), and greedy takes the first. It returns −1
// if every logit is −∞ or NaN.
func (s *Sampler) Next(logits []float32, history []int) int {
	n := len(logits)
	if cap(s.logit) < n {
		s.logit = make([]float64, n)
		s.cand = make([]int, n)
	}
	z := s.logit[:n]
	for i, v := range logits {
		f := float64(v)
		if math.IsNaN(f) {
			f = math.Inf(-1)
		}
		z[i] = f
	}
	if p := s.opts.RepetitionPenalty; p > 0 && p != 1 {
		// Each distinct token of history is penalised once, however often it occurs.
		if cap(s.seen) < n {
			s.seen = make([]bool, n)
		}
		seen := s.seen[:n]
		for _, id := range history {
			if id < 0 || id >= n || seen[id] {
				continue
			}
			seen[id] = true
			if z[id] > 0 {
				z[id] /= p
			} else {
				z[id] *= p
			}
		}
		for _, id := range history {
			if id >= 0 && id < n {
				seen[id] = false
			}
		}
	}
	best := -1
	for i, v := range z {
		if !math.IsInf(v, -1) && (best < 0 || v > z[best]) {
			best = i
		}
	}
	if best < 0 || s.Greedy() {
		return best
	}
	// Candidates sorted by logit, best first; cut by top-k.
	cand := s.cand[:0]
	for i, v := range z {
		if !math.IsInf(v, -1) {
			cand = append(cand, i)
		}
	}
	slices.SortFunc(cand, func(a, b int) int {
		switch {
		case z[a] > z[b]:
			return -1
		case z[a] < z[b]:
			return 1
		}
		return a - b
	})
	if k := s.opts.TopK; k > 0 && k < len(cand) {
		cand = cand[:k]
	}
	// Softmax at temperature over the candidates. At a +∞ maximum, the limit of the softmax is
	// uniform over the +∞ logits (z − maxz would be NaN for them).
	t := s.opts.Temperature
	maxz := z[cand[0]]
	var sum float64
	for _, i := range cand {
		switch {
		case !math.IsInf(maxz, 1):
			z[i] = math.Exp((z[i] - maxz) / t)
		case math.IsInf(z[i], 1):
			z[i] = 1
		default:
			z[i] = 0
		}
		sum += z[i]
	}
	// Nucleus: the smallest prefix whose mass reaches p.
	if p := s.opts.TopP; p > 0 && p < 1 {
		var acc float64
		for j, i := range cand {
			acc += z[i] / sum
			if acc >= p {
				cand = cand[:j+1]
				break
			}
		}
		sum = 0
		for _, i := range cand {
			sum += z[i]
		}
	}
	r := s.rng.Float64() * sum
	last := cand[0] // the last candidate with mass; cand[0] always has mass 1
	for _, i := range cand {
		if z[i] == 0 {
			continue
		}
		last = i
		r -= z[i]
		if r < 0 {
			return i
		}
	}
	// Rounding left r ≥ 0 after the whole sum: the draw was at the very top of the range.
	return last
}
