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
