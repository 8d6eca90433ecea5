package decode

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/tensor"
)

// markov2 is a toy second-order Markov model per source: log p(v | y_{t-2}, y_{t-1}, source),
// with the start token as index V. A row's state is its source and its token before last, so
// the search must reorder rows correctly for the model to see the right history.
type markov2 struct {
	v     int
	trans [][][][]float32 // (sources, V+1, V+1, V)
	src   []int           // (H) the source of each row
	prev  []int           // (H) each row's token before the one Step receives
	calls int
}

const eos = 0

// newMarkov2 makes a seeded random model over v tokens (EOS = 0) for the given sources, each
// distribution a log-softmax of logits drawn from N(0, spread²).
func newMarkov2(v int, sources []int, seed uint64, spread float64) *markov2 {
	rng := tensor.NewRNG(seed)
	m := &markov2{v: v}
	nsrc := slices.Max(sources) + 1
	m.trans = make([][][][]float32, nsrc)
	for s := range m.trans {
		m.trans[s] = make([][][]float32, v+1)
		for a := range m.trans[s] {
			m.trans[s][a] = make([][]float32, v+1)
			for b := range m.trans[s][a] {
				logits := make([]float64, v)
				for i := range logits {
					logits[i] = spread * rng.NormFloat64()
				}
				m.trans[s][a][b] = logSoftmax(logits)
			}
		}
	}
	m.reset(sources)
	return m
}

func (m *markov2) reset(sources []int) {
	m.src = slices.Clone(sources)
	m.prev = make([]int, len(sources))
	for i := range m.prev {
		m.prev[i] = m.v
	}
}

func logSoftmax(logits []float64) []float32 {
	mx := slices.Max(logits)
	var z float64
	for _, l := range logits {
		z += math.Exp(l - mx)
	}
	out := make([]float32, len(logits))
	for i, l := range logits {
		out[i] = float32(l - mx - math.Log(z))
	}
	return out
}

func (m *markov2) Step(tokens []int) ([][]float32, error) {
	m.calls++
	if len(tokens) != len(m.src) {
		return nil, errors.New("markov2: one token per row expected")
	}
	out := make([][]float32, len(tokens))
	for h, tok := range tokens {
		out[h] = m.trans[m.src[h]][m.prev[h]][tok]
		m.prev[h] = tok
	}
	return out, nil
}

func (m *markov2) Reorder(rows []int) {
	src, prev := make([]int, len(rows)), make([]int, len(rows))
	for i, r := range rows {
		src[i], prev[i] = m.src[r], m.prev[r]
	}
	m.src, m.prev = src, prev
}

// logProb is log p(y | source) under the model, summed in generation order as beam search
// sums it.
func (m *markov2) logProb(source int, y []int) float64 {
	a, b := m.v, m.v
	var s float64
	for _, tok := range y {
		s += float64(m.trans[source][a][b][tok])
		a, b = b, tok
	}
	return s
}

// exhaustive scores every output of up to maxLen tokens (EOS only last; at maxLen EOS is
// optional, as beam search ends hypotheses there) and returns them best first.
func exhaustive(m *markov2, source int, cfg Config) []Hypothesis {
	var all []Hypothesis
	var walk func(y []int)
	walk = func(y []int) {
		if len(y) > 0 && (y[len(y)-1] == eos || len(y) == cfg.MaxLen) {
			lp := m.logProb(source, y)
			if !math.IsInf(lp, -1) {
				all = append(all, Hypothesis{Tokens: slices.Clone(y), LogProb: lp, Score: lp / cfg.LengthPenalty.Of(len(y))})
			}
			return
		}
		for v := range m.v {
			walk(append(y, v))
		}
	}
	walk(nil)
	f := finishedSet{hyps: all}
	return f.sorted()
}

// TestExhaustive checks that beam search with beams enough to hold every prefix and
// StopNever finds exactly the n best outputs, under each length penalty.
func TestExhaustive(t *testing.T) {
	for _, lp := range []LengthPenalty{{Power, 0}, {Power, 1}, {Power, 0.5}, {GNMT, 0.6}, {GNMT, 2}, {Power, -0.5}} {
		for seed := uint64(1); seed <= 5; seed++ {
			m := newMarkov2(4, []int{0}, seed, 2)
			cfg := Config{Beams: 400, NBest: 10, MaxLen: 5, BOS: 4, EOS: eos, LengthPenalty: lp, EarlyStopping: StopNever}
			got, err := BeamSearch(context.Background(), m, 1, cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := exhaustive(m, 0, cfg)[:10]
			if !reflect.DeepEqual(got[0], want) {
				t.Fatalf("%+v seed %d:\n beam %v\nexact %v", lp, seed, got[0], want)
			}
		}
	}
}

// TestSmallBeams checks what narrower beams promise: every returned hypothesis is a real
// output with its true log-probability and score, the list is sorted, and the best is never
// better than the exact best; beams never get worse as they widen under StopNever here.
func TestSmallBeams(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		for _, stop := range []EarlyStopping{StopHeuristic, StopEarly, StopNever} {
			m := newMarkov2(5, []int{0}, seed, 1.5)
			cfg := Config{Beams: 3, NBest: 3, MaxLen: 6, BOS: 5, EOS: eos, LengthPenalty: LengthPenalty{Power, 1}, EarlyStopping: stop}
			exact := exhaustive(m, 0, cfg)[0]
			m.reset([]int{0})
			got, err := BeamSearch(context.Background(), m, 1, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, h := range got[0] {
				lp := m.logProb(0, h.Tokens)
				if h.LogProb != lp || h.Score != lp/cfg.LengthPenalty.Of(len(h.Tokens)) || len(h.Tokens) > cfg.MaxLen {
					t.Fatalf("seed %d: hypothesis %+v, true log p %v", seed, h, lp)
				}
				if slices.Contains(h.Tokens[:len(h.Tokens)-1], eos) {
					t.Fatalf("EOS inside %v", h.Tokens)
				}
				if i > 0 && h.Score > got[0][i-1].Score {
					t.Fatalf("n-best not sorted: %v", got[0])
				}
			}
			if got[0][0].Score > exact.Score {
				t.Fatalf("seed %d: beam %v beats the exact best %v", seed, got[0][0], exact)
			}
		}
	}
}

// TestKnownBest is a model where greedy search fails: after "a" every continuation is
// unlikely, after "b" EOS is likely, so p(b EOS) = 0.4·0.9 = 0.36 beats every output that
// starts with "a" (at most 0.6·0.35 = 0.21).
func TestKnownBest(t *testing.T) {
	const a, b, bos = 1, 2, 3
	p := func(ps ...float64) []float32 {
		out := make([]float32, len(ps))
		for i, x := range ps {
			out[i] = float32(math.Log(x))
		}
		return out
	}
	m := &markov2{v: 3, trans: [][][][]float32{make([][][]float32, 4)}}
	for prev := range 4 {
		m.trans[0][prev] = [][]float32{
			eos: p(1, math.SmallestNonzeroFloat64, math.SmallestNonzeroFloat64),
			a:   p(0.3, 0.35, 0.35),
			b:   p(0.9, 0.05, 0.05),
			bos: p(math.SmallestNonzeroFloat64, 0.6, 0.4),
		}
	}
	m.reset([]int{0})
	greedy, err := Greedy(context.Background(), m, 1, 4, bos, eos)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(greedy[0], []int{a, a, a, a}) {
		t.Fatalf("greedy %v, want a a a a (the ties go to the lower id)", greedy[0])
	}
	m.reset([]int{0})
	got, err := BeamSearch(context.Background(), m, 1, Config{Beams: 2, MaxLen: 4, BOS: bos, EOS: eos, EarlyStopping: StopNever})
	if err != nil {
		t.Fatal(err)
	}
	if h := got[0][0]; !slices.Equal(h.Tokens, []int{b, eos}) || math.Abs(h.LogProb-math.Log(0.36)) > 1e-6 {
		t.Fatalf("beam 2 found %+v, want b EOS with log 0.36", h)
	}

	// HuggingFace's rule: an EOS ranked K-th or lower does not end a hypothesis, even before
	// K beams are chosen. Two beams, tokens EOS, a, b, c and six others: the start gives a or
	// b (0.5 each); after a come EOS 0.5 and c 0.3, after b EOS 0.25, after c anything 0.1.
	// Step 2 ranks a·EOS 0.25, a·c 0.15, b·EOS 0.125, b·a 0.042: b·EOS is third and is
	// dropped, so the second-best output is b·a·EOS (0.021) found at step 3, not b·EOS.
	const v = 10
	row := func(fill float64, set map[int]float64) []float32 {
		ps := make([]float64, v)
		for i := range ps {
			ps[i] = fill
		}
		for tok, x := range set {
			ps[tok] = x
		}
		return p(ps...)
	}
	const c = 3
	tiny := math.SmallestNonzeroFloat64
	m = &markov2{v: v, trans: [][][][]float32{make([][][]float32, v+1)}}
	for prev := range v + 1 {
		m.trans[0][prev] = make([][]float32, v+1)
		for last := range v + 1 {
			m.trans[0][prev][last] = row(0.1, nil)
		}
		m.trans[0][prev][v] = row(tiny, map[int]float64{a: 0.5, b: 0.5})
		m.trans[0][prev][a] = row(0.2/8, map[int]float64{eos: 0.5, c: 0.3})
		m.trans[0][prev][b] = row(0.75/9, map[int]float64{eos: 0.25})
	}
	m.reset([]int{0})
	got, err = BeamSearch(context.Background(), m, 1, Config{Beams: 2, NBest: 2, MaxLen: 3, BOS: v, EOS: eos, EarlyStopping: StopNever})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[0][0].Tokens, []int{a, eos}) || !slices.Equal(got[0][1].Tokens, []int{b, a, eos}) {
		t.Fatalf("two beams found %+v, want a·EOS then b·a·EOS (b·EOS ranked third of two)", got[0])
	}
}

// TestBatched checks that decoding three sources together gives what decoding each alone
// gives, bit for bit, whatever the beam count and stopping rule.
func TestBatched(t *testing.T) {
	for _, k := range []int{1, 2, 5} {
		for _, stop := range []EarlyStopping{StopHeuristic, StopEarly, StopNever} {
			cfg := Config{Beams: k, NBest: k, MaxLen: 7, BOS: 6, EOS: eos, LengthPenalty: LengthPenalty{GNMT, 0.6}, EarlyStopping: stop}
			sources := []int{0, 1, 2}
			m := newMarkov2(6, sources, 42, 1.5)
			batched, err := BeamSearch(context.Background(), m, 3, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sources {
				m.reset([]int{s})
				alone, err := BeamSearch(context.Background(), m, 1, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(alone[0], batched[s]) {
					t.Fatalf("k=%d stop=%d source %d: alone %v, batched %v", k, stop, s, alone[0], batched[s])
				}
			}
		}
	}
}

// TestBeamOneIsGreedy: one beam that stops at its first finished hypothesis is greedy search;
// so is one beam ranked by log-probability alone (α = 0), whatever the stopping rule.
func TestBeamOneIsGreedy(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		sources := []int{0, 1, 2, 3}
		m := newMarkov2(5, sources, seed, 2)
		want, err := Greedy(context.Background(), m, 4, 8, 5, eos)
		if err != nil {
			t.Fatal(err)
		}
		for _, cfg := range []Config{
			{Beams: 1, MaxLen: 8, BOS: 5, EOS: eos, LengthPenalty: LengthPenalty{Power, 1}, EarlyStopping: StopEarly},
			{Beams: 1, MaxLen: 8, BOS: 5, EOS: eos, EarlyStopping: StopHeuristic},
			{Beams: 1, MaxLen: 8, BOS: 5, EOS: eos, EarlyStopping: StopNever},
		} {
			m.reset(sources)
			got, err := BeamSearch(context.Background(), m, 4, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for s := range sources {
				if !slices.Equal(got[s][0].Tokens, want[s]) {
					t.Fatalf("seed %d source %d %+v: beam %v, greedy %v", seed, s, cfg, got[s][0].Tokens, want[s])
				}
			}
		}
	}
}

// TestStopNeverIsSafe: StopNever ends a source only when no live beam can enter its K best,
// so it returns exactly what running every beam to MaxLen returns, for any α.
func TestStopNeverIsSafe(t *testing.T) {
	stopped := 0
	for seed := uint64(1); seed <= 20; seed++ {
		for _, lp := range []LengthPenalty{{Power, 1}, {Power, 0}, {GNMT, 0.6}, {Power, 2}, {Power, -0.5}} {
			cfg := Config{Beams: 3, NBest: 3, MaxLen: 10, BOS: 4, EOS: eos, LengthPenalty: lp, EarlyStopping: StopNever}
			m := newMarkov2(4, []int{0, 1}, seed, 1.5)
			got, err := BeamSearch(context.Background(), m, 2, cfg)
			if err != nil {
				t.Fatal(err)
			}
			never := m.calls
			cfg.EarlyStopping = runToMaxLen
			m = newMarkov2(4, []int{0, 1}, seed, 1.5)
			want, err := search(context.Background(), m, 2, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d %+v: StopNever %v, run to MaxLen %v", seed, lp, got, want)
			}
			if never < m.calls {
				stopped++
			}
		}
	}
	if stopped == 0 {
		t.Fatal("StopNever never ended a search before MaxLen: the test checks nothing")
	}
}

// TestEarlyStopping: with StopEarly a source ends at its K-th finished hypothesis, so it
// never takes more steps than StopHeuristic, which never takes more than StopNever; and each
// rule is sometimes strictly quicker than the next.
func TestEarlyStopping(t *testing.T) {
	quicker := [2]int{}
	for seed := uint64(1); seed <= 20; seed++ {
		calls := map[EarlyStopping]int{}
		for _, stop := range []EarlyStopping{StopEarly, StopHeuristic, StopNever} {
			m := newMarkov2(4, []int{0}, seed, 1)
			cfg := Config{Beams: 3, MaxLen: 12, BOS: 4, EOS: eos, LengthPenalty: LengthPenalty{Power, 1}, EarlyStopping: stop}
			if _, err := BeamSearch(context.Background(), m, 1, cfg); err != nil {
				t.Fatal(err)
			}
			calls[stop] = m.calls
		}
		if calls[StopEarly] > calls[StopHeuristic] || calls[StopHeuristic] > calls[StopNever] {
			t.Fatalf("seed %d: steps early %d, heuristic %d, never %d", seed, calls[StopEarly], calls[StopHeuristic], calls[StopNever])
		}
		if calls[StopEarly] < calls[StopHeuristic] {
			quicker[0]++
		}
		if calls[StopHeuristic] < calls[StopNever] {
			quicker[1]++
		}
	}
	if quicker[0] == 0 || quicker[1] == 0 {
		t.Fatalf("early quicker than heuristic %d times, heuristic than never %d times: want both", quicker[0], quicker[1])
	}
}

func TestLengthPenalty(t *testing.T) {
	for _, tc := range []struct {
		lp   LengthPenalty
		n    int
		want float64
	}{
		{LengthPenalty{Power, 1}, 7, 7},
		{LengthPenalty{Power, 0}, 7, 1},
		{LengthPenalty{Power, 2}, 3, 9},
		{LengthPenalty{GNMT, 1}, 1, 1},  // (5+1)/6
		{LengthPenalty{GNMT, 1}, 7, 2},  // (5+7)/6
		{LengthPenalty{GNMT, 2}, 13, 9}, // ((5+13)/6)²
	} {
		if got := tc.lp.Of(tc.n); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%+v.Of(%d) = %v, want %v", tc.lp, tc.n, got, tc.want)
		}
	}
}

// badStepper returns what it is told to.
type badStepper struct {
	out [][]float32
	err error
}

func (b *badStepper) Step([]int) ([][]float32, error) { return b.out, b.err }
func (b *badStepper) Reorder([]int)                   {}

func TestErrors(t *testing.T) {
	ok := Config{Beams: 2, MaxLen: 3, BOS: 3, EOS: 0}
	for _, cfg := range []Config{
		{Beams: 0, MaxLen: 3}, {Beams: 2, NBest: 3, MaxLen: 3}, {Beams: 2, NBest: -1, MaxLen: 3},
		{Beams: 2, MaxLen: 0}, {Beams: 2, MaxLen: 3, LengthPenalty: LengthPenalty{Power, math.NaN()}},
		{Beams: 2, MaxLen: 3, LengthPenalty: LengthPenalty{Power, math.Inf(1)}},
		{Beams: 2, MaxLen: 3, LengthPenalty: LengthPenalty{Kind: 7}}, {Beams: 2, MaxLen: 3, EarlyStopping: 9},
	} {
		if _, err := BeamSearch(context.Background(), &badStepper{}, 1, cfg); err == nil || !strings.Contains(err.Error(), "beam search:") {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	ninf := float32(math.Inf(-1))
	for _, tc := range []struct {
		name string
		s    *badStepper
		want string
	}{
		{"NaN", &badStepper{out: [][]float32{{0, float32(math.NaN()), 0}}}, "NaN or +Inf"},
		{"+Inf", &badStepper{out: [][]float32{{0, float32(math.Inf(1)), 0}}}, "NaN or +Inf"},
		{"rows", &badStepper{out: [][]float32{{0}, {0}}}, "2 rows of log-probabilities for 1 hypotheses"},
		{"ragged", &badStepper{out: [][]float32{{}}}, "has 0 entries"},
		{"all -Inf", &badStepper{out: [][]float32{{ninf, ninf}}}, "every token has log-probability -Inf"},
		{"step error", &badStepper{err: errors.New("out of memory")}, "step 1: out of memory"},
	} {
		_, err := BeamSearch(context.Background(), tc.s, 1, ok)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: beam search error %v, want %q", tc.name, err, tc.want)
		}
		_, err = Greedy(context.Background(), tc.s, 1, 3, 3, 0)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: greedy error %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := BeamSearch(context.Background(), &badStepper{}, 0, ok); err == nil {
		t.Error("0 sources accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := BeamSearch(ctx, newMarkov2(3, []int{0}, 1, 1), 1, ok); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
