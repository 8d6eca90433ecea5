package align

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// sftTextTask is a checked SFT task on the arithmetic conversations (rows of 24 tokens, batch
// 8) with text (random ids of the base vocabulary when nil) mixed in at ratio.
func sftTextTask(t *testing.T, text []int, ratio float64) *SFTTask {
	t.Helper()
	m, tok, enc := tinyChat(t, 21)
	var exs []Example
	for _, c := range ArithSFT(16, 0, 22) {
		ex, err := enc.Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		exs = append(exs, ex)
	}
	if text == nil {
		rng := tensor.NewRNG(23)
		text = make([]int, 300)
		for i := range text {
			text[i] = rng.IntN(tok.Base.VocabSize())
		}
	}
	task := &SFTTask{Model: m, Tok: tok, Template: enc.Template, Train: exs[:12], Val: exs[12:], Batch: 8, Block: 24, Pack: true, Text: text, TextRatio: ratio}
	if err := task.Check(); err != nil {
		t.Fatal(err)
	}
	return task
}

// TestSFTWithoutTextDrawsTheSameRows: with TextRatio 0 the rows, the loss and the RNG's
// state after drawing them are those of a task without text (the draws before plain text
// could be mixed in), so that existing runs resume and reproduce unchanged.
func TestSFTWithoutTextDrawsTheSameRows(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		withText := sftTextTask(t, nil, 0)
		plain := *withText
		plain.Text = nil
		g := autograd.NewGraph()
		rng := tensor.NewRNG(seed)
		loss, tokens := withText.Loss(g, rng, nil)
		// The rows the loop drew before: one IntN over the rows for each of the B rows.
		ref := tensor.NewRNG(seed)
		wantTokens := 0
		for b := range withText.Batch {
			r := ref.IntN(len(withText.train))
			T := withText.Block
			if !slices.Equal(withText.x[b*T:(b+1)*T], withText.train[r]) || !slices.Equal(withText.y[b*T:(b+1)*T], withText.trainY[r]) {
				t.Fatalf("seed %d: row %d is not training row %d", seed, b, r)
			}
			for _, y := range withText.trainY[r] {
				if y >= 0 {
					wantTokens++
				}
			}
		}
		if tokens != wantTokens || rng.Uint64() != ref.Uint64() {
			t.Fatalf("seed %d: %d tokens (want %d), or the RNG drew more than the rows", seed, tokens, wantTokens)
		}
		g2 := autograd.NewGraph()
		loss2, tokens2 := plain.Loss(g2, tensor.NewRNG(seed), nil)
		if loss.Value.Item() != loss2.Value.Item() || tokens != tokens2 {
			t.Fatalf("seed %d: loss %v over %d tokens with TextRatio 0, %v over %d without text", seed, loss.Value.Item(), tokens, loss2.Value.Item(), tokens2)
		}
	}
}

// TestSFTMixesTextRows: with a ratio, some rows are windows of Text whose targets are all its
// next tokens, the rest conversation rows; tokens counts the positions of both.
func TestSFTMixesTextRows(t *testing.T) {
	for _, tc := range []struct {
		ratio    float64
		min, max int // text rows of the 4×8 drawn
	}{
		{0.25, 3, 14},
		{0.5, 9, 23},
		{0.9, 24, 32},
	} {
		task := sftTextTask(t, nil, tc.ratio)
		rng := tensor.NewRNG(7)
		T := task.Block
		textRows := 0
		for range 4 {
			g := autograd.NewGraph()
			loss, tokens := task.Loss(g, rng, nil)
			if v := float64(loss.Value.Item()); math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("ratio %g: loss %v", tc.ratio, v)
			}
			want := 0
			for b := range task.Batch {
				x, y := task.x[b*T:(b+1)*T], task.y[b*T:(b+1)*T]
				if at := window(task.Text, x); at >= 0 {
					if !slices.Equal(y, task.Text[at+1:at+T+1]) {
						t.Fatalf("ratio %g: a text row's targets are not the next tokens of the text", tc.ratio)
					}
					textRows++
					want += T
					continue
				}
				if !slices.ContainsFunc(task.trainY, func(r []int) bool { return slices.Equal(r, y) }) {
					t.Fatalf("ratio %g: row %d is neither a text window nor a conversation row", tc.ratio, b)
				}
				for _, v := range y {
					if v >= 0 {
						want++
					}
				}
			}
			if tokens != want {
				t.Fatalf("ratio %g: %d tokens, want %d", tc.ratio, tokens, want)
			}
		}
		if textRows < tc.min || textRows > tc.max {
			t.Errorf("ratio %g: %d of 32 rows are text, want %d..%d", tc.ratio, textRows, tc.min, tc.max)
		}
	}
}

// window is where x occurs in text, or -1.
func window(text, x []int) int {
	for i := 0; i+len(x) < len(text); i++ {
		if slices.Equal(text[i:i+len(x)], x) {
			return i
		}
	}
	return -1
}

func TestSFTTextRejectsBadInput(t *testing.T) {
	good := sftTextTask(t, nil, 0.25)
	V := good.Model.Config.VocabSize
	for _, tc := range []struct {
		name  string
		text  []int
		ratio float64
		want  string
	}{
		{"negative ratio", good.Text, -0.1, "ratio -0.1"},
		{"ratio 1", good.Text, 1, "ratio 1"},
		{"NaN ratio", good.Text, math.NaN(), "ratio NaN"},
		{"infinite ratio", good.Text, math.Inf(1), "ratio +Inf"},
		{"text shorter than a row", good.Text[:good.Block], 0.25, "needs 25"},
		{"no text", nil, 0.5, "is 0 tokens"},
		{"negative id", append([]int{-1}, good.Text...), 0.25, "id -1"},
		{"id past the vocabulary", append(slices.Clone(good.Text), V), 0.25, "outside the model's vocabulary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := *good
			task.Text, task.TextRatio = tc.text, tc.ratio
			if err := task.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
