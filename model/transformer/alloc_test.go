package transformer

import (
	"testing"

	"github.com/qkvdev/qkv/autograd"
)

// Once warm, a decoding step, a reorder of the same width and a training step allocate
// nothing: activations come from the graph's arena and the cache reuses its buffers.
func TestStepsAllocateNothing(t *testing.T) {
	m := testModel(t, nil)
	b := testSources(m)
	c, err := m.NewCache(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	tokens, indices := []int{1, 2, 3}, []int{2, 0, 1}
	g := autograd.NewGraph()
	tb, err := m.MakeBatch([][]int{{5, 6, 7}, {8}}, [][]int{{1, 2}, {3, 4, 5}})
	if err != nil {
		t.Fatal(err)
	}
	train := func() {
		g.Reset()
		loss := m.Loss(g, m.Decode(g, m.Encode(g, tb, nil), tb, nil), tb.Labels, 0.1)
		g.Backward(loss)
	}
	for name, f := range map[string]func(){
		"Step":     func() { m.Step(c, tokens) },
		"Reorder":  func() { c.Reorder(indices) },
		"training": train,
	} {
		f() // warm up: first use sizes the buffers
		f()
		if n := testing.AllocsPerRun(5, f); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
}
