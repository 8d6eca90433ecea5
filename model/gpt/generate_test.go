package gpt

import (
	"context"
	"math"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/sample"
)

func tinyConfig() Config {
	return Config{VocabSize: 37, NPositions: 24, NEmbd: 32, NLayer: 2, NHead: 4, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}
}

// Cached decoding gives the same logits as running the whole prefix each step.
func TestKVCacheMatchesFullForward(t *testing.T) {
	m, err := New(tinyConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	seq := []int{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8}
	gen := m.NewGenerator()
	logits, err := gen.Start(seq[:4])
	if err != nil {
		t.Fatal(err)
	}
	g := autograd.NewGraph()
	g.SetGrad(false)
	for n := 4; n <= len(seq); n++ {
		g.Reset()
		full := m.Forward(g, seq[:n], 1, n, &State{LastOnly: true}).Value.Data()
		for i := range full {
			if d := math.Abs(float64(full[i] - logits[i])); d > 1e-5 {
				t.Fatalf("prefix %d: cached logit %d differs by %g", n, i, d)
			}
		}
		if n < len(seq) {
			if logits, err = gen.Next(seq[n]); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Generation past the context length keeps going (the cache is rebuilt) and stays consistent.
func TestGeneratePastContext(t *testing.T) {
	m, _ := New(tinyConfig(), 2)
	s, _ := sample.New(sample.Options{Temperature: 1, Seed: 5})
	var streamed []int
	out, err := m.Generate(context.Background(), []int{1, 2, 3}, 60, s, func(id int) bool {
		streamed = append(streamed, id)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 60 || len(streamed) != 60 {
		t.Fatalf("generated %d tokens (streamed %d), want 60", len(out), len(streamed))
	}
	s2, _ := sample.New(sample.Options{Temperature: 1, Seed: 5})
	again, _ := m.Generate(context.Background(), []int{1, 2, 3}, 60, s2, nil)
	if !equalInts(out, again) {
		t.Fatal("same seed, different text")
	}
}

func TestGenerateStopsAndRejects(t *testing.T) {
	m, _ := New(tinyConfig(), 3)
	s, _ := sample.New(sample.Options{})
	out, err := m.Generate(context.Background(), []int{1}, 10, s, func(int) bool { return false })
	if err != nil || len(out) != 1 {
		t.Fatalf("emit=false: %v tokens, err %v", out, err)
	}
	if _, err := m.Generate(context.Background(), []int{99}, 3, s, nil); err == nil {
		t.Fatal("out-of-vocabulary prompt accepted")
	}
	if _, err := m.Generate(context.Background(), nil, 3, s, nil); err == nil {
		t.Fatal("empty prompt accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Generate(ctx, []int{1}, 3, s, nil); err == nil {
		t.Fatal("cancelled context ignored")
	}
}
