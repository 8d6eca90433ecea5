package transformer

import (
	"slices"
	"strings"
	"testing"
)

func TestMakeBatch(t *testing.T) {
	m := testModel(t, nil) // eos 0, pad = decoder start = 39
	b, err := m.MakeBatch([][]int{{5, 6, 7}, {8}}, [][]int{{1, 2}, {3, 4, 5}})
	if err != nil {
		t.Fatal(err)
	}
	const p, x = 39, -100
	for _, c := range []struct {
		name      string
		got, want []int
	}{
		{"input_ids", b.InputIDs, []int{5, 6, 7, 8, p, p}},
		{"attention_mask", b.AttentionMask, []int{1, 1, 1, 1, 0, 0}},
		{"labels", b.Labels, []int{1, 2, 0, x, 3, 4, 5, 0}},
		{"decoder_input_ids", b.DecoderInputIDs, []int{p, 1, 2, 0, p, 3, 4, 5}},
		{"sizes", []int{b.B, b.S, b.T}, []int{2, 3, 4}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if b, err := m.MakeBatch([][]int{{1}}, nil); err != nil || b.Labels != nil || b.T != 0 {
		t.Errorf("sources only: %+v, %v", b, err)
	}
	for _, c := range []struct {
		name     string
		src, tgt [][]int
		want     string
	}{
		{"no sources", nil, nil, "at least one source"},
		{"count mismatch", [][]int{{1}}, [][]int{{1}, {2}}, "one per source"},
		{"empty source", [][]int{{1}, {}}, nil, "source 1 is empty"},
		{"source id", [][]int{{1, 40}}, nil, "outside the vocabulary"},
		{"target id", [][]int{{1}}, [][]int{{-100}}, "target 0: token -100"},
		{"too long", [][]int{make([]int, 25)}, nil, "max_position_embeddings"},
		{"target too long", [][]int{{1}}, [][]int{make([]int, 24)}, "max_position_embeddings"},
	} {
		if _, err := m.MakeBatch(c.src, c.tgt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: MakeBatch = %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
