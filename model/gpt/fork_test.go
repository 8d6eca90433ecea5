package gpt

import (
	"slices"
	"testing"
)

// TestCopyFrom checks that a generator copied after the prompt continues exactly as the
// original does.
func TestCopyFrom(t *testing.T) {
	m, err := New(Config{VocabSize: 17, NPositions: 16, NEmbd: 16, NLayer: 2, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	a := m.NewGenerator()
	if _, err := a.Start([]int{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	b := m.NewGenerator()
	b.CopyFrom(a)
	for _, id := range []int{4, 5, 6} {
		la, _ := a.Next(id)
		la = slices.Clone(la)
		lb, _ := b.Next(id)
		if !slices.Equal(la, lb) {
			t.Fatalf("after %d: logits differ", id)
		}
	}
	if !slices.Equal(a.Sequence(), b.Sequence()) {
		t.Fatal("sequences differ")
	}
}
