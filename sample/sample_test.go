package sample

import (
	"math"
	"testing"
)

func TestGreedyAndNonFinite(t *testing.T) {
	s, _ := New(Options{})
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	cases := []struct {
		logits []float32
		want   int
	}{
		{[]float32{1, 3, 2}, 1},
		{[]float32{nan, 0.5, 0.1}, 1},
		{[]float32{0, inf, 1}, 1},
		{[]float32{float32(math.Inf(-1)), nan}, -1},
		{[]float32{2, 2, 1}, 0}, // first on ties
	}
	for _, c := range cases {
		if got := s.Next(c.logits, nil); got != c.want {
			t.Errorf("Next(%v) = %d, want %d", c.logits, got, c.want)
		}
	}
}

// Sampling frequencies follow softmax(z/T), restricted by top-k and top-p; the same seed gives
// the same draws.
func TestSamplingDistribution(t *testing.T) {
	logits := []float32{0, 1, 2, 3}
	softmax := func(temp float64, keep int) []float64 {
		p := make([]float64, len(logits))
		var sum float64
		for i := len(logits) - keep; i < len(logits); i++ {
			p[i] = math.Exp(float64(logits[i]) / temp)
			sum += p[i]
		}
		for i := range p {
			p[i] /= sum
		}
		return p
	}
	cases := []struct {
		name string
		opts Options
		want []float64
	}{
		{"temperature 1", Options{Temperature: 1, Seed: 1}, softmax(1, 4)},
		{"temperature 0.5", Options{Temperature: 0.5, Seed: 2}, softmax(0.5, 4)},
		{"top-k 2", Options{Temperature: 1, TopK: 2, Seed: 3}, softmax(1, 2)},
		// softmax(1,4) = .032 .087 .237 .644: top-p 0.8 keeps {3, 2}
		{"top-p 0.8", Options{Temperature: 1, TopP: 0.8, Seed: 4}, softmax(1, 2)},
	}
	const n = 40000
	for _, c := range cases {
		s, err := New(c.opts)
		if err != nil {
			t.Fatal(err)
		}
		counts := make([]float64, len(logits))
		for i := 0; i < n; i++ {
			counts[s.Next(logits, nil)]++
		}
		for i := range counts {
			if got := counts[i] / n; math.Abs(got-c.want[i]) > 0.01 {
				t.Errorf("%s: P(%d) = %.3f, want %.3f", c.name, i, got, c.want[i])
			}
		}
	}
	a, _ := New(Options{Temperature: 1, Seed: 9})
	b, _ := New(Options{Temperature: 1, Seed: 9})
	for i := 0; i < 100; i++ {
		if a.Next(logits, nil) != b.Next(logits, nil) {
			t.Fatal("same seed, different draws")
		}
	}
}

func TestRepetitionPenalty(t *testing.T) {
	s, _ := New(Options{RepetitionPenalty: 2})
	// token 0 (logit 3) seen twice: penalised once to 1.5 < 2 → token 1 wins.
	if got := s.Next([]float32{3, 2, -1}, []int{0, 0}); got != 1 {
		t.Fatalf("got %d, want 1", got)
	}
	// a negative logit is multiplied: -1 → -2, still last.
	if got := s.Next([]float32{-1.5, -1.8, -1}, []int{2}); got != 0 {
		t.Fatalf("got %d, want 0", got)
	}
}

func TestValidate(t *testing.T) {
	bad := []Options{{Temperature: -1}, {Temperature: math.NaN()}, {TopK: -1}, {TopP: 1.5}, {TopP: math.NaN()}, {RepetitionPenalty: -2}}
	for _, o := range bad {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// Non-finite logits on every path: +∞ takes all the mass (uniform among several +∞), NaN is
// excluded, and nothing finite is left to draw from gives −1.
func TestNonFiniteLogits(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	ninf := float32(math.Inf(-1))
	uniform := func(n int, ids ...int) []float64 {
		p := make([]float64, n)
		for _, id := range ids {
			p[id] = 1 / float64(len(ids))
		}
		return p
	}
	cases := []struct {
		name    string
		opts    Options
		logits  []float32
		history []int
		want    []float64 // nil: every draw is −1
	}{
		{"one +inf, temperature 1", Options{Temperature: 1}, []float32{0, inf, 1, -5}, nil, uniform(4, 1)},
		{"one +inf, temperature 100", Options{Temperature: 100}, []float32{0, inf, 1, -5}, nil, uniform(4, 1)},
		{"two +inf", Options{Temperature: 1}, []float32{inf, 3, 2, inf}, nil, uniform(4, 0, 3)},
		{"three +inf, top-k 2", Options{Temperature: 1, TopK: 2}, []float32{inf, inf, 9, inf}, nil, uniform(4, 0, 1)},
		{"two +inf, top-k 5", Options{Temperature: 1, TopK: 5}, []float32{1, inf, 2, inf}, nil, uniform(4, 1, 3)},
		{"two +inf, top-p 0.9", Options{Temperature: 1, TopP: 0.9}, []float32{inf, 5, inf}, nil, uniform(3, 0, 2)},
		{"two +inf, top-p 0.4", Options{Temperature: 1, TopP: 0.4}, []float32{inf, 5, inf}, nil, uniform(3, 0)},
		{"+inf penalised stays +inf", Options{Temperature: 1, RepetitionPenalty: 2}, []float32{0, 7, inf}, []int{2}, uniform(3, 2)},
		{"+inf with nan", Options{Temperature: 1}, []float32{nan, inf, nan, 4}, nil, uniform(4, 1)},
		{"nan excluded", Options{Temperature: 1}, []float32{nan, 2, nan}, nil, uniform(3, 1)},
		{"nan excluded, top-k 1", Options{Temperature: 1, TopK: 1}, []float32{nan, 2, 3}, nil, uniform(3, 2)},
		{"all -inf", Options{Temperature: 1}, []float32{ninf, ninf, ninf}, nil, nil},
		{"all nan", Options{Temperature: 1, TopK: 2, TopP: 0.5}, []float32{nan, nan}, nil, nil},
		{"-inf and nan, penalty", Options{Temperature: 1, RepetitionPenalty: 3}, []float32{ninf, nan}, []int{0, 1}, nil},
		{"greedy, all -inf", Options{}, []float32{ninf, nan}, nil, nil},
		{"greedy, +inf", Options{}, []float32{3, inf, inf}, nil, uniform(3, 1)},
		{"greedy, +inf penalised", Options{RepetitionPenalty: 5}, []float32{inf, 1e30}, []int{0}, uniform(2, 0)},
		{"empty", Options{Temperature: 1}, []float32{}, nil, nil},
	}
	const n = 20000
	for _, c := range cases {
		c.opts.Seed = 7
		s, err := New(c.opts)
		if err != nil {
			t.Fatal(err)
		}
		counts := make([]float64, len(c.logits))
		for i := 0; i < n; i++ {
			in := append([]float32(nil), c.logits...)
			id := s.Next(in, c.history)
			if c.want == nil {
				if id != -1 {
					t.Fatalf("%s: Next = %d, want -1", c.name, id)
				}
				continue
			}
			if id < 0 || id >= len(c.logits) {
				t.Fatalf("%s: Next = %d, out of range", c.name, id)
			}
			counts[id]++
		}
		if c.want == nil {
			continue
		}
		for i := range counts {
			if got := counts[i] / n; math.Abs(got-c.want[i]) > 0.02 {
				t.Errorf("%s: P(%d) = %.3f, want %.3f", c.name, i, got, c.want[i])
			}
		}
	}
}
