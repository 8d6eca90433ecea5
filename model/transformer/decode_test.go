package transformer

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/decode"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tensor"
)

// testModel is a small model with random weights large enough that its outputs differ from
// token to token (so greedy decoding is not trivially constant).
func testModel(t *testing.T, edit func(c *Config)) *Model {
	t.Helper()
	c, err := Preset("tiny", 40)
	if err != nil {
		t.Fatal(err)
	}
	c.DModel, c.EncoderFFNDim, c.DecoderFFNDim, c.MaxPositionEmbeddings = 32, 48, 48, 24
	c.Dropout, c.InitStd = 0, 0.2
	if edit != nil {
		edit(&c)
	}
	m, err := New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	tensor.Uniform(m.FinalLogitsBias.Value, -0.5, 0.5, tensor.NewRNG(2))
	return m
}

// testSources are three sources of different lengths, padded at the end: (B, S) = (3, 6).
func testSources(m *Model) *Batch {
	pad := m.Config.PadTokenID
	return &Batch{B: 3, S: 6,
		InputIDs:      []int{5, 9, 12, 3, 7, 0, 4, 4, 8, 0, pad, pad, 31, 2, 0, pad, pad, pad},
		AttentionMask: []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0},
	}
}

// row returns source r of b alone, without its padding.
func row(b *Batch, r int) *Batch {
	n := 0
	for _, v := range b.AttentionMask[r*b.S : (r+1)*b.S] {
		n += v
	}
	return &Batch{B: 1, S: n, InputIDs: b.InputIDs[r*b.S : r*b.S+n]}
}

var configs = map[string]func(c *Config){
	"post-LN": nil,
	"pre-LN/separate/untied": func(c *Config) {
		c.PreLayerNorm, c.ShareEncoderDecoderEmbeddings, c.TieWordEmbeddings, c.DecoderVocabSize = true, false, false, 45
	},
	"swish/unscaled/3-layers": func(c *Config) { c.ActivationFunction, c.ScaleEmbedding, c.DecoderLayers = "swish", false, 3 },
}

// Step, with the KV cache, gives the log-softmax of the logits a full teacher-forced Decode
// computes, at every position and for every padded source.
func TestStepMatchesDecode(t *testing.T) {
	for name, edit := range configs {
		t.Run(name, func(t *testing.T) {
			m := testModel(t, edit)
			b := testSources(m)
			b.T = 5
			b.DecoderInputIDs = []int{39, 3, 17, 8, 1, 39, 22, 5, 5, 30, 39, 0, 11, 2, 9}
			g := autograd.NewGraph()
			g.SetGrad(false)
			logits := m.Decode(g, m.Encode(g, b, nil), b, nil).Value.Data() // (B, T, V)
			V := m.Config.TargetVocab()
			want := make([]float32, len(logits))
			decode.LogSoftmax(want, logits, V)

			c, err := m.NewCache(b, b.T)
			if err != nil {
				t.Fatal(err)
			}
			for pos := 0; pos < b.T; pos++ {
				tokens := []int{b.DecoderInputIDs[pos], b.DecoderInputIDs[b.T+pos], b.DecoderInputIDs[2*b.T+pos]}
				logp, err := m.Step(c, tokens)
				if err != nil {
					t.Fatal(err)
				}
				for r := 0; r < b.B; r++ {
					got, ref := logp.Data()[r*V:(r+1)*V], want[(r*b.T+pos)*V:(r*b.T+pos+1)*V]
					if d := testenv.MaxDiff(got, ref); d > 1e-4 {
						t.Fatalf("position %d row %d: log-probs differ by %g", pos, r, d)
					}
				}
			}
			if _, err := m.Step(c, []int{1, 2, 3}); err == nil || !strings.Contains(err.Error(), "all are used") {
				t.Fatalf("a step past the cache's length: %v", err)
			}
		})
	}
}

// Greedy decoding of a padded batch through one cache gives, row by row, what decoding each
// source alone without padding and without a cache gives.
func TestGreedyBatchedMatchesUnpadded(t *testing.T) {
	m := testModel(t, nil)
	b := testSources(m)
	got, err := m.Greedy(context.Background(), b, GreedyOptions{MaxTokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[int]bool{}
	for r := 0; r < b.B; r++ {
		want := greedyUncached(m, row(b, r), 10)
		if !slices.Equal(got[r], want) {
			t.Errorf("row %d: batched %v, alone %v", r, got[r], want)
		}
		for _, id := range want {
			distinct[id] = true
		}
	}
	if len(distinct) < 4 {
		t.Fatalf("the test model decodes only %d distinct tokens; the comparison is too weak", len(distinct))
	}
}

// After Reorder(indices), stepping the cache continues hypotheses indices[i]: the same
// log-probabilities as a fresh cache over those hypotheses' sources fed the same prefixes.
// The reorders fan out (3 → 4 rows), permute (buffers reused), and narrow (4 → 2).
func TestReorder(t *testing.T) {
	m := testModel(t, nil)
	b := testSources(m)
	c, err := m.NewCache(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	start := m.Config.DecoderStartTokenID
	source := []int{0, 1, 2}                      // the source of each hypothesis
	history := [][]int{{start}, {start}, {start}} // the tokens each hypothesis was fed
	step := func(tokens []int) []float32 {
		for i := range history {
			history[i] = append(history[i], tokens[i])
		}
		logp, err := m.Step(c, tokens)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Clone(logp.Data())
	}
	reorder := func(indices []int) {
		if err := c.Reorder(indices); err != nil {
			t.Fatal(err)
		}
		src, hist := make([]int, len(indices)), make([][]int, len(indices))
		for i, r := range indices {
			src[i], hist[i] = source[r], slices.Clone(history[r])
		}
		source, history = src, hist
	}
	if _, err := m.Step(c, []int{start, start, start}); err != nil {
		t.Fatal(err)
	}
	step([]int{4, 9, 13})
	for _, r := range []struct {
		indices, next []int
	}{
		{[]int{2, 0, 2, 1}, []int{7, 8, 9, 10}},
		{[]int{3, 1, 0, 2}, []int{1, 2, 3, 4}},
		{[]int{1, 1}, []int{5, 6}},
	} {
		reorder(r.indices)
		got := step(r.next)
		if want := replay(t, m, b, source, history); testenv.MaxDiff(got, want) > 1e-5 {
			t.Fatalf("after Reorder(%v): log-probs differ by %g from a fresh cache", r.indices, testenv.MaxDiff(got, want))
		}
	}
	if c.Len() != len(history[0]) || c.Rows() != 2 {
		t.Fatalf("Len = %d, B = %d; want %d and 2", c.Len(), c.Rows(), len(history[0]))
	}
}

// replay feeds each hypothesis's history to a fresh cache over its source and returns the last
// step's log-probabilities.
func replay(t *testing.T, m *Model, b *Batch, source []int, history [][]int) []float32 {
	t.Helper()
	re := &Batch{B: len(source), S: b.S}
	for _, r := range source {
		re.InputIDs = append(re.InputIDs, b.InputIDs[r*b.S:(r+1)*b.S]...)
		re.AttentionMask = append(re.AttentionMask, b.AttentionMask[r*b.S:(r+1)*b.S]...)
	}
	c, err := m.NewCache(re, 0)
	if err != nil {
		t.Fatal(err)
	}
	var logp *tensor.Tensor
	for pos := range history[0] {
		tokens := make([]int, len(history))
		for i, h := range history {
			tokens[i] = h[pos]
		}
		if logp, err = m.Step(c, tokens); err != nil {
			t.Fatal(err)
		}
	}
	return logp.Data()
}

// With StopAtEOS a row ends at its first eos (kept); without it, decoding runs MaxTokens.
func TestGreedyStopsAtEOS(t *testing.T) {
	m := testModel(t, nil)
	b := testSources(m)
	m.FinalLogitsBias.Value.Set(1e4, 0, m.Config.EOSTokenID) // eos always wins
	got, err := m.Greedy(context.Background(), b, GreedyOptions{MaxTokens: 6, StopAtEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	start, eos := m.Config.DecoderStartTokenID, m.Config.EOSTokenID
	for r := range got {
		if !slices.Equal(got[r], []int{start, eos}) {
			t.Errorf("row %d: %v, want [start eos]", r, got[r])
		}
	}
	got, err = m.Greedy(context.Background(), b, GreedyOptions{MaxTokens: 6})
	if err != nil || len(got[0]) != 7 {
		t.Fatalf("without StopAtEOS: %v, %v", got, err)
	}
}

// Bad calls are refused with errors that say what was wrong.
func TestDecodeErrors(t *testing.T) {
	m := testModel(t, nil)
	b := testSources(m)
	c, err := m.NewCache(b, 4)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, err := range map[string]error{
		"wrong token count":   stepErr(m, c, []int{1, 2}),
		"token out of vocab":  stepErr(m, c, []int{1, 2, 400}),
		"negative token":      stepErr(m, c, []int{1, -1, 2}),
		"reorder empty":       c.Reorder(nil),
		"reorder out of rows": c.Reorder([]int{0, 3}),
		"cache too long":      second(m.NewCache(b, 100)),
		"bad source id":       second(m.NewCache(&Batch{B: 1, S: 2, InputIDs: []int{1, 99}}, 0)),
		"bad mask value":      second(m.NewCache(&Batch{B: 1, S: 2, InputIDs: []int{1, 2}, AttentionMask: []int{1, 2}}, 0)),
		"source too long":     second(m.NewCache(&Batch{B: 1, S: 30, InputIDs: make([]int, 30)}, 0)),
		"B·S overflows":       second(m.NewCache(&Batch{B: 1 << 62, S: 4}, 0)),
		"no source":           second(m.NewCache(&Batch{}, 0)),
		"MaxTokens 0":         second(m.Greedy(context.Background(), b, GreedyOptions{})),
		"MaxTokens too many":  second(m.Greedy(context.Background(), b, GreedyOptions{MaxTokens: 24})),
		"cancelled":           second(m.Greedy(ctx, b, GreedyOptions{MaxTokens: 3})),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := m.Step(c, []int{1, 2, 3}); err != nil {
		t.Fatalf("a failed call left the cache unusable: %v", err)
	}
}

func stepErr(m *Model, c *Cache, tokens []int) error {
	_, err := m.Step(c, tokens)
	return err
}

func second[T any](_ T, err error) error { return err }

// Non-finite weights give an error, not a made-up token.
func TestGreedyNonFinite(t *testing.T) {
	m := testModel(t, nil)
	m.Decoder[0].FFN.FC2.Bias.Value.Set(float32(math.NaN()), 3)
	if _, err := m.Greedy(context.Background(), testSources(m), GreedyOptions{MaxTokens: 3}); err == nil || !strings.Contains(err.Error(), "no finite logit") {
		t.Fatalf("Greedy with a NaN weight: %v", err)
	}
}
