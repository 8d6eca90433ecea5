// Package decode searches a sequence model for likely outputs: beam search (Sutskever et al.,
// 2014; Wu et al., 2016, §7) batched across sources and beams, and greedy search. It sees the
// model only through Stepper, so an encoder–decoder translating a batch of sentences and a
// decoder-only model continuing prompts decode the same way.
//
// Notation: B sources (sentences to translate, prompts), K beams per source, V the vocabulary,
// H the live rows the model holds (at most B·K), y_1..y_t the tokens generated so far after
// the start token, log p(y) = Σ log p(y_i | y_<i, x) a hypothesis' log-probability.
package decode

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Stepper is a model decoding H rows at once, each row one partial hypothesis with its own
// state (its source's encoding, its key/value cache).
type Stepper interface {
	// Step appends tokens[h], the last token of row h, to each row and returns the
	// log-probabilities of the next token for every row: (H, V), each row of length V. The
	// search does not change tokens or the returned rows afterwards.
	Step(tokens []int) ([][]float32, error)
	// Reorder keeps rows: row i of the next step continues row rows[i] of this one. Rows may
	// repeat (a hypothesis with two good continuations) or be left out (pruned or finished).
	Reorder(rows []int)
}

// PenaltyKind selects how a hypothesis' log-probability is normalised by its length, so that
// beam search does not favour short outputs merely because every token costs probability.
type PenaltyKind int

const (
	// Power divides by |Y|^α, as HuggingFace's generate does (length_penalty=α, default 1).
	Power PenaltyKind = iota
	// GNMT divides by ((5 + |Y|) / 6)^α (Wu et al., 2016, eq. 14; α = 0.6 to 0.7 there).
	GNMT
)

// LengthPenalty is lp(|Y|) with score(Y) = log p(Y) / lp(|Y|), where |Y| counts the generated
// tokens including the final EOS (not the start token). α = 0 ranks by log p(Y) alone; α > 0
// favours longer outputs. The zero value is Power with α = 0; DefaultConfig uses Power with
// α = 1, HuggingFace's default, so that qkv's beams match transformers' generate.
type LengthPenalty struct {
	Kind  PenaltyKind
	Alpha float64
}

// Of is lp(n).
func (lp LengthPenalty) Of(n int) float64 {
	if lp.Kind == GNMT {
		return math.Pow((5+float64(n))/6, lp.Alpha)
	}
	return math.Pow(float64(n), lp.Alpha)
}

// EarlyStopping says when a source's search ends, with HuggingFace's three meanings of
// early_stopping.
type EarlyStopping int

const (
	// StopHeuristic (early_stopping=False, HF's default) ends a source once it has K
	// finished hypotheses and the best live beam, normalised at its current length, scores
	// no better than the worst of them. Later, longer hypotheses might still have won.
	StopHeuristic EarlyStopping = iota
	// StopEarly (early_stopping=True) ends a source as soon as it has K finished hypotheses.
	StopEarly
	// StopNever (early_stopping="never") ends a source only when no live beam can still beat
	// the worst finished one: for α > 0 its log-probability normalised at MaxLen, the
	// highest score it could reach. With enough beams the search is then exact.
	StopNever
)

// Config are beam search's settings.
type Config struct {
	Beams         int // K ≥ 1
	NBest         int // hypotheses returned per source, 1..K (0: 1)
	MaxLen        int // most tokens generated per hypothesis, EOS included
	BOS, EOS      int // the start token fed first, and the end token
	LengthPenalty LengthPenalty
	EarlyStopping EarlyStopping
}

// DefaultConfig is 4 beams, the best hypothesis only, HuggingFace's length penalty (|Y|^1)
// and early stopping (heuristic), up to maxLen tokens.
func DefaultConfig(bos, eos, maxLen int) Config {
	return Config{Beams: 4, NBest: 1, MaxLen: maxLen, BOS: bos, EOS: eos, LengthPenalty: LengthPenalty{Power, 1}}
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Beams < 1:
		return fmt.Errorf("beam search: %d beams: want at least 1", c.Beams)
	case c.NBest < 0 || c.NBest > c.Beams:
		return fmt.Errorf("beam search: %d best hypotheses from %d beams: want 1..%d", c.NBest, c.Beams, c.Beams)
	case c.MaxLen < 1:
		return fmt.Errorf("beam search: maximum length %d: want at least 1 token", c.MaxLen)
	case math.IsNaN(c.LengthPenalty.Alpha) || math.IsInf(c.LengthPenalty.Alpha, 0):
		return fmt.Errorf("beam search: length penalty α = %g: want a finite number", c.LengthPenalty.Alpha)
	case c.LengthPenalty.Kind != Power && c.LengthPenalty.Kind != GNMT:
		return fmt.Errorf("beam search: unknown length penalty kind %d", c.LengthPenalty.Kind)
	case c.EarlyStopping < StopHeuristic || c.EarlyStopping > StopNever:
		return fmt.Errorf("beam search: unknown early-stopping mode %d", c.EarlyStopping)
	}
	return nil
}

// Hypothesis is one output of the search.
type Hypothesis struct {
	Tokens  []int   // y_1..y_|Y|: without the start token; ends in EOS unless MaxLen cut it
	LogProb float64 // log p(Y)
	Score   float64 // log p(Y) / lp(|Y|), the quantity beams are ranked by
}

// ErrBadLogProbs is returned when the model's log-probabilities hold NaN or +Inf.
var ErrBadLogProbs = errors.New("the model returned a NaN or +Inf log-probability")

// BeamSearch decodes B = sources sources at once. The stepper starts with one row per source
// (its state before any token); the first step feeds every row BOS, then each source keeps
// its K best continuations as K rows. At each step every live beam k with log-probability
// s_k is extended by every token v to s_k + log p(v | beam k); of these candidates, sorted
// best first (ties: lower beam, then lower token), an EOS within the first K finishes a
// hypothesis and the first K others become the next beams (HuggingFace's rule). A source ends
// according to cfg.EarlyStopping, or at MaxLen, when its live beams count as finished too.
// It returns cfg.NBest hypotheses per source, best first: (B, NBest).
func BeamSearch(ctx context.Context, s Stepper, sources int, cfg Config) ([][]Hypothesis, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sources < 1 {
		return nil, fmt.Errorf("beam search: %d sources: want at least 1", sources)
	}
	return search(ctx, s, sources, cfg)
}

// runToMaxLen is a stopping rule for tests: every source runs to MaxLen, so that the
// others can be compared with the search they cut short.
const runToMaxLen EarlyStopping = -1

// search is BeamSearch on a valid configuration.
func search(ctx context.Context, s Stepper, sources int, cfg Config) ([][]Hypothesis, error) {
	k := cfg.Beams
	finished := make([]finishedSet, sources)
	// live[b] are source b's beams; rows of the stepper follow them in source order.
	live := make([][]beam, sources)
	for b := range live {
		live[b] = []beam{{}}
	}
	tokens := make([]int, sources)
	for i := range tokens {
		tokens[i] = cfg.BOS
	}
	for t := 1; ; t++ { // t: tokens generated once this step's are chosen
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		logp, err := s.Step(tokens) // (H, V)
		if err != nil {
			return nil, fmt.Errorf("beam search: step %d: %w", t, err)
		}
		if err := checkRows(logp, len(tokens)); err != nil {
			return nil, fmt.Errorf("beam search: step %d: %w", t, err)
		}
		var rows []int
		tokens = nil // the stepper may still hold the last slice
		row := 0
		for b := range live {
			n := len(live[b])
			if n == 0 {
				continue
			}
			next, best := extend(live[b], logp[row:row+n], row, t, cfg, &finished[b])
			live[b] = next
			if t == cfg.MaxLen { // out of room: the live beams end here, without EOS
				for _, bm := range next {
					finished[b].add(bm.tokens, bm.logp, cfg.LengthPenalty.Of(t), k)
				}
				live[b] = nil
			} else if len(next) == 0 || finished[b].done(best, t, cfg) {
				live[b] = nil
			}
			for _, bm := range live[b] {
				rows = append(rows, bm.row)
				tokens = append(tokens, bm.tokens[len(bm.tokens)-1])
			}
			row += n
		}
		if len(rows) == 0 {
			break
		}
		// Row indices now refer to the beams' parents; renumber the kept beams 0..H'-1.
		s.Reorder(rows)
	}
	out := make([][]Hypothesis, sources)
	for b := range out {
		hyps := finished[b].sorted()
		if len(hyps) == 0 { // every continuation had probability 0
			return nil, fmt.Errorf("beam search: source %d: every token has log-probability -Inf", b)
		}
		out[b] = hyps[:min(max(cfg.NBest, 1), len(hyps))]
	}
	return out, nil
}

// beam is a live partial hypothesis.
type beam struct {
	tokens []int
	logp   float64
	row    int // its parent's row in the step that made it
}

// candidate is beam `beam` extended by token tok.
type candidate struct {
	logp      float64
	beam, tok int
}

// better orders candidates best first, ties broken by beam then token, so the search is
// deterministic.
func better(a, b candidate) bool {
	if a.logp != b.logp {
		return a.logp > b.logp
	}
	if a.beam != b.beam {
		return a.beam < b.beam
	}
	return a.tok < b.tok
}

// extend chooses one source's next beams from its live beams and their next-token
// log-probabilities logp (n, V), whose first row is stepper row row0, adding hypotheses that
// end in EOS to fin. best is the best candidate's log-probability, EOS or not (what
// HuggingFace's stopping test compares with), or -Inf when there is none.
func extend(beams []beam, logp [][]float32, row0, t int, cfg Config, fin *finishedSet) (next []beam, best float64) {
	k := cfg.Beams
	top := topCandidates(beams, logp, 2*k) // with at most K EOS among them, K others remain
	if len(top) == 0 {
		return nil, math.Inf(-1)
	}
	for rank, c := range top {
		bm := beams[c.beam]
		if c.tok == cfg.EOS {
			if rank < k {
				fin.add(append(slices.Clip(bm.tokens), c.tok), c.logp, cfg.LengthPenalty.Of(t), k)
			}
			continue
		}
		next = append(next, beam{tokens: append(slices.Clip(bm.tokens), c.tok), logp: c.logp, row: row0 + c.beam})
		if len(next) == k {
			break
		}
	}
	return next, top[0].logp
}

// topCandidates returns the m best finite candidates, best first.
func topCandidates(beams []beam, logp [][]float32, m int) []candidate {
	top := make([]candidate, 0, m+1)
	for i, bm := range beams {
		for v, lp := range logp[i] {
			if math.IsInf(float64(lp), -1) {
				continue // impossible
			}
			c := candidate{bm.logp + float64(lp), i, v}
			if len(top) == m && !better(c, top[m-1]) {
				continue
			}
			j, _ := slices.BinarySearchFunc(top, c, func(a, b candidate) int {
				if better(a, b) {
					return -1
				}
				return 1
			})
			top = slices.Insert(top, j, c)
			if len(top) > m {
				top = top[:m]
			}
		}
	}
	return top
}

// checkRows checks the model's output: h rows of one common length, no NaN or +Inf.
func checkRows(logp [][]float32, h int) error {
	if len(logp) != h {
		return fmt.Errorf("the model returned %d rows of log-probabilities for %d hypotheses", len(logp), h)
	}
	for i, r := range logp {
		if len(r) == 0 || len(r) != len(logp[0]) {
			return fmt.Errorf("row %d of the log-probabilities has %d entries, row 0 has %d", i, len(r), len(logp[0]))
		}
		for v, x := range r {
			if x != x || math.IsInf(float64(x), 1) {
				return fmt.Errorf("row %d, token %d: %w", i, v, ErrBadLogProbs)
			}
		}
	}
	return nil
}

// finishedSet holds a source's best K finished hypotheses (HuggingFace's BeamHypotheses).
type finishedSet struct {
	hyps []Hypothesis
}

// add keeps the hypothesis if fewer than k are held or it beats the worst (which then goes).
func (f *finishedSet) add(tokens []int, logp, lp float64, k int) {
	h := Hypothesis{Tokens: tokens, LogProb: logp, Score: logp / lp}
	if len(f.hyps) == k {
		w := f.worst()
		if h.Score <= f.hyps[w].Score {
			return
		}
		f.hyps = slices.Delete(f.hyps, w, w+1)
	}
	f.hyps = append(f.hyps, h)
}

// worst is the index of the lowest-scoring held hypothesis (the earliest added on a tie, the
// one HuggingFace drops).
func (f *finishedSet) worst() int {
	w := 0
	for i, h := range f.hyps {
		if h.Score < f.hyps[w].Score {
			w = i
		}
	}
	return w
}

// done reports whether the source's search may end, given the best log-probability best of
// this step's candidates, after t tokens: no live beam can beat the worst of K finished ones.
func (f *finishedSet) done(best float64, t int, cfg Config) bool {
	if len(f.hyps) < cfg.Beams {
		return false
	}
	worst := f.hyps[f.worst()].Score
	switch cfg.EarlyStopping {
	case runToMaxLen:
		return false
	case StopEarly:
		return true
	case StopNever:
		n := t
		if cfg.LengthPenalty.Alpha > 0 {
			n = cfg.MaxLen
		}
		return worst >= best/cfg.LengthPenalty.Of(n)
	}
	return worst >= best/cfg.LengthPenalty.Of(t)
}

// sorted returns the hypotheses best first (ties: higher log-probability, then shorter, then
// lexicographically smaller tokens).
func (f *finishedSet) sorted() []Hypothesis {
	out := slices.Clone(f.hyps)
	slices.SortStableFunc(out, func(a, b Hypothesis) int {
		switch {
		case a.Score != b.Score:
			return cmpDesc(a.Score, b.Score)
		case a.LogProb != b.LogProb:
			return cmpDesc(a.LogProb, b.LogProb)
		case len(a.Tokens) != len(b.Tokens):
			return len(a.Tokens) - len(b.Tokens)
		}
		return slices.Compare(a.Tokens, b.Tokens)
	})
	return out
}

func cmpDesc(a, b float64) int {
	if a > b {
		return -1
	}
	return 1
}

// Greedy decodes B = sources sources by always taking the most likely next token (the lowest
// id on a tie) until EOS or maxLen tokens: (B, ≤ maxLen). Finished sources leave the batch.
// It equals BeamSearch with one beam and StopEarly (or α = 0).
func Greedy(ctx context.Context, s Stepper, sources, maxLen, bos, eos int) ([][]int, error) {
	if sources < 1 || maxLen < 1 {
		return nil, fmt.Errorf("greedy search: %d sources up to %d tokens: want at least 1 of each", sources, maxLen)
	}
	out := make([][]int, sources)
	active := make([]int, sources) // row h decodes source active[h]
	tokens := make([]int, sources)
	for i := range active {
		active[i], tokens[i] = i, bos
	}
	for t := 1; t <= maxLen && len(active) > 0; t++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		logp, err := s.Step(tokens)
		if err != nil {
			return nil, fmt.Errorf("greedy search: step %d: %w", t, err)
		}
		if err := checkRows(logp, len(tokens)); err != nil {
			return nil, fmt.Errorf("greedy search: step %d: %w", t, err)
		}
		var rows, still []int
		tokens = nil
		for h, src := range active {
			v := argmax(logp[h])
			if v < 0 {
				return nil, fmt.Errorf("greedy search: source %d: every token has log-probability -Inf", src)
			}
			out[src] = append(out[src], v)
			if v != eos && t < maxLen {
				rows, still, tokens = append(rows, h), append(still, src), append(tokens, v)
			}
		}
		active = still
		if len(rows) > 0 {
			s.Reorder(rows)
		}
	}
	return out, nil
}

// argmax is the index of the largest finite entry (the first on a tie), or -1 if all are -Inf.
func argmax(x []float32) int {
	best := -1
	for i, v := range x {
		if !math.IsInf(float64(v), -1) && (best < 0 || v > x[best]) {
			best = i
		}
	}
	return best
}
