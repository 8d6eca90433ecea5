package gpt

import (
	"slices"
	"testing"
)

func TestGrowVocab(t *testing.T) {
	cfg := Config{VocabSize: 10, NPositions: 8, NEmbd: 8, NLayer: 1, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	g, err := m.GrowVocab(3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if g.Config.VocabSize != 13 || m.Config.VocabSize != 10 {
		t.Fatalf("vocab %d (grown), %d (original)", g.Config.VocabSize, m.Config.VocabSize)
	}
	old, grown := m.Wte.Weight.Value.Data(), g.Wte.Weight.Value.Data()
	if !slices.Equal(old, grown[:len(old)]) {
		t.Fatal("existing embedding rows changed")
	}
	for _, v := range grown[len(old):] {
		if v == 0 {
			t.Fatal("a new embedding row was left at zero")
		}
	}
	p, _ := m.Params.Get("h.0.mlp.c_fc.weight")
	q, _ := g.Params.Get("h.0.mlp.c_fc.weight")
	if !slices.Equal(p.Var.Value.Data(), q.Var.Value.Data()) {
		t.Fatal("a block weight changed")
	}
	if _, err := m.GrowVocab(-1, 0); err == nil {
		t.Fatal("shrinking was accepted")
	}
}
