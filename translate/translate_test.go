package translate

import (
	"context"
	"errors"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/data"
	"github.com/qkvdev/qkv/decode"
	"github.com/qkvdev/qkv/model/seq2seq"
	"github.com/qkvdev/qkv/model/transformer"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
	"github.com/qkvdev/qkv/train"
)

// Toy vocabulary: 12 words; <pad>, <s> and </s> (ids 0, 1, 2) and the symbols d…l.
const (
	toyVocab               = 12
	toyPad, toyBOS, toyEOS = 0, 1, 2
	toyMin, toyMax         = 3, 8
)

// wordTok is a tokenizer of space-separated words, one token each, so that BLEU sees the toy
// sequences as sentences.
type wordTok []string

func (w wordTok) Encode(text string) []int {
	var ids []int
	for _, f := range strings.Fields(text) {
		if id := slices.Index(w, f); id >= 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

func (w wordTok) Decode(ids []int) (string, error) {
	words := make([]string, len(ids))
	for i, id := range ids {
		if id < 0 || id >= len(w) {
			return "", fmt.Errorf("id %d out of range", id)
		}
		words[i] = w[id]
	}
	return strings.Join(words, " "), nil
}

func (w wordTok) VocabSize() int { return len(w) }
func (w wordTok) Kind() string   { return "word" }
func (w wordTok) Save(dir string) error {
	return os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(w, "\n")+"\n"), 0o644)
}

func toyTokenizer(*testing.T) tokenizer.Tokenizer {
	return wordTok{"<pad>", "<s>", "</s>", "d", "e", "f", "g", "h", "i", "j", "k", "l"}
}

func toySeq2seq(t *testing.T, cell, attention string, feeding bool, seed uint64) *seq2seq.Model {
	t.Helper()
	m, err := seq2seq.New(seq2seq.Config{
		SrcVocabSize: toyVocab, TgtVocabSize: toyVocab, EmbedSize: 16, HiddenSize: 32, NumLayers: 1,
		Cell: cell, Bidirectional: true, Attention: attention, InputFeeding: feeding, MaxLength: toyMax + 2,
		PadTokenID: toyPad, BOSTokenID: toyBOS, EOSTokenID: toyEOS,
	}, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func toyTransformer(t *testing.T, seed uint64) *transformer.Model {
	t.Helper()
	c, err := transformer.Preset("tiny", toyVocab)
	if err != nil {
		t.Fatal(err)
	}
	c.DModel, c.EncoderFFNDim, c.DecoderFFNDim, c.MaxPositionEmbeddings = 32, 64, 64, toyMax+2
	c.PadTokenID, c.DecoderStartTokenID, c.EOSTokenID = toyPad, toyBOS, toyEOS
	c.InitStd = 0.3 // outputs that differ from row to row
	m, err := transformer.New(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func toySequence(rng *tensor.RNG) []int {
	s := make([]int, toyMin+rng.IntN(toyMax-toyMin+1))
	for i := range s {
		s[i] = 3 + rng.IntN(toyVocab-3)
	}
	return s
}

// teacherLogProbs is log-softmax of the family's teacher-forced logits of one pair: (T, V).
func teacherLogProbs(t *testing.T, m any, src, tgt []int) [][]float32 {
	t.Helper()
	g := autograd.NewGraph()
	g.SetGrad(false)
	var logits *tensor.Tensor
	switch m := m.(type) {
	case *seq2seq.Model:
		var bt seq2seq.Batch
		if err := m.MakeBatch(&bt, [][]int{src}, [][]int{tgt}); err != nil {
			t.Fatal(err)
		}
		l, _ := m.Forward(g, &bt, nil)
		logits = l.Value.Contiguous()
	case *transformer.Model:
		b, err := m.MakeBatch([][]int{src}, [][]int{tgt})
		if err != nil {
			t.Fatal(err)
		}
		logits = m.Decode(g, m.Encode(g, b, nil), b, nil).Value.Contiguous()
	}
	v := logits.Dim(2)
	lp := make([]float32, logits.Len())
	decode.LogSoftmax(lp, logits.Data(), v)
	return splitRows(nil, lp, logits.Dim(1), v)
}

// The steppers' log-probabilities, step by step with the rows reordered (repeated, dropped,
// swapped) on the way, equal the teacher-forced forward pass of each row's own history; the
// padding and start tokens are −∞.
func TestStepperMatchesForward(t *testing.T) {
	tok := toyTokenizer(t)
	for _, tc := range []struct {
		name string
		m    any
	}{
		{"seq2seq-gru-additive", toySeq2seq(t, "gru", "additive", false, 1)},
		{"seq2seq-lstm-general-feeding", toySeq2seq(t, "lstm", "general", true, 2)},
		{"seq2seq-gru-none", toySeq2seq(t, "gru", "none", false, 3)},
		{"transformer", toyTransformer(t, 4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := New(tc.m, tok)
			if err != nil {
				t.Fatal(err)
			}
			rng := tensor.NewRNG(5)
			src := [][]int{toySequence(rng), toySequence(rng)}
			// Each row's history of fed tokens after BOS, and which source it belongs to.
			tgt := [][]int{toySequence(rng), toySequence(rng), toySequence(rng)}
			st, err := tr.family.stepper(src, toyMax+1)
			if err != nil {
				t.Fatal(err)
			}
			rows := []int{0, 1}             // row → source
			hist := [][]int{tgt[0], tgt[1]} // row → its target
			reorders := map[int][]int{1: {1, 1, 0}, 2: {2, 0}}
			for step := 0; step < toyMin; step++ {
				tokens := make([]int, len(rows))
				for r := range rows {
					tokens[r] = toyBOS
					if step > 0 {
						tokens[r] = hist[r][step-1]
					}
				}
				logp, err := st.Step(tokens)
				if err != nil {
					t.Fatal(err)
				}
				for r := range rows {
					want := teacherLogProbs(t, tc.m, src[rows[r]], hist[r])[step]
					for id, w := range want {
						got := logp[r][id]
						if id == toyPad || id == toyBOS {
							if !math.IsInf(float64(got), -1) {
								t.Fatalf("step %d row %d: token %d has log-probability %g, want −Inf", step, r, id, got)
							}
							continue
						}
						if math.Abs(float64(got-w)) > 1e-4 {
							t.Fatalf("step %d row %d token %d: stepper %g, forward %g", step, r, id, got, w)
						}
					}
				}
				if idx, ok := reorders[step]; ok {
					st.Reorder(idx)
					var nr []int
					var nh [][]int
					for i, from := range idx {
						nr = append(nr, rows[from])
						h := slices.Clone(hist[from][:step+1])
						nh = append(nh, append(h, tgt[i%len(tgt)][step+1:]...)) // same past, a new future
					}
					rows, hist = nr, nh
				}
			}
		})
	}
}

// copyPairs are n random pairs whose target copies the source, as data pairs and text.
func copyPairs(rng *tensor.RNG, n int) (pairs []data.Pair, text []string) {
	for i := range n {
		s := toySequence(rng)
		pairs = append(pairs, data.Pair{Src: s, Tgt: s, Line: i + 1})
		line, _ := toyTokenizer(nil).Decode(s)
		text = append(text, line)
	}
	return pairs, text
}

// A bidirectional LSTM encoder–decoder with additive attention, trained by the shared loop on
// the Task, learns to copy: beam search translates nearly every fresh sequence exactly, the
// validation BLEU the loop logs is high, and the attention is near-diagonal (the decoder looks
// at source position t as it writes token t) and draws a PNG heatmap.
func TestLearnsCopy(t *testing.T) {
	tok := toyTokenizer(t)
	tr, err := New(toySeq2seq(t, "lstm", "additive", false, 1), tok)
	if err != nil {
		t.Fatal(err)
	}
	rng := tensor.NewRNG(2)
	trainP, _ := copyPairs(rng, 2000)
	valP, valText := copyPairs(rng, 100)
	task, err := NewTask(tr, trainP, valP, valText, valText, 32*toyMax, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := train.Run(context.Background(), task, train.Config{Iters: 400, LR: 1e-2, MinLR: 1e-3, Warmup: 20, Beta1: 0.9, Beta2: 0.99, Clip: 1, Seed: 4, RunDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil || !strings.Contains(string(metrics), `"val_bleu_full":`) {
		t.Fatalf("metrics.jsonl has no val_bleu_full record (%v):\n%s", err, metrics)
	}
	scores, err := task.Scores(context.Background(), true)
	if err != nil || scores["bleu"] < 80 {
		t.Fatalf("validation BLEU %v (%v) after %d steps (loss %.3f); want ≥ 80", scores, err, res.Steps, res.ValLoss)
	}

	// Beam search on fresh sequences.
	fresh, text := copyPairs(tensor.NewRNG(5), 100)
	got, err := tr.Lines(context.Background(), text, Options{Beams: 3, LengthPenalty: 1})
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for i := range fresh {
		if got[i] == text[i] {
			right++
		}
	}
	if right < 90 {
		t.Fatalf("beam 3 copies %d of 100 fresh sequences exactly, want ≥ 90 (e.g. %q → %q)", right, text[0], got[0])
	}

	// Attention: rows peak on the diagonal.
	var peaks, rows int
	for _, s := range text[:20] {
		a, err := tr.Attention(context.Background(), s, s, Cross, DefaultOptions)
		if err != nil {
			t.Fatal(err)
		}
		w := a.Layers[0].Heads[0]
		n := len(strings.Fields(s))
		if len(w) != n+1 || len(w[0]) != n {
			t.Fatalf("attention of %q is %d×%d, want %d×%d", s, len(w), len(w[0]), n+1, n)
		}
		for i := range n {
			rows++
			if argmax(w[i]) == i {
				peaks++
			}
		}
	}
	if p := float64(peaks) / float64(rows); p < 0.9 {
		t.Fatalf("attention peaks on the diagonal in %.2f of rows, want ≥ 0.9", p)
	}
	a, err := tr.Attention(context.Background(), text[0], "", Cross, DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "a.png")
	if err := a.Save(path, 0, 0); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if cfg, err := png.DecodeConfig(f); err != nil || cfg.Width < 100 || cfg.Height < 100 {
		t.Fatalf("%s: %v, %d×%d pixels; want a PNG heatmap (plot's tests check it is not blank)", path, err, cfg.Width, cfg.Height)
	}
}

func argmax(row []float32) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

// Bad input: an empty sentence translates to "", an over-long one is cut, pairs the model
// cannot take are refused naming their line, and the kinds of attention a model lacks are
// refused.
func TestBadInput(t *testing.T) {
	tok := toyTokenizer(t)
	tr, err := New(toySeq2seq(t, "gru", "none", false, 1), tok)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tr.Lines(context.Background(), []string{"", "d e f", strings.Repeat("d ", 50)}, Options{Beams: 2})
	if err != nil || len(out) != 3 || out[0] != "" {
		t.Fatalf("Lines = %q, %v; want 3 lines, the first empty", out, err)
	}
	if s := tr.Prepare(strings.Repeat("d ", 50)); s.Truncated != 50-tr.MaxSource() || len(s.IDs) != tr.MaxSource() {
		t.Fatalf("Prepare of 50 tokens: %d ids, %d truncated; want %d and %d", len(s.IDs), s.Truncated, tr.MaxSource(), 50-tr.MaxSource())
	}
	if _, err := tr.IDs(context.Background(), [][]int{{}}, DefaultOptions); err == nil {
		t.Fatal("IDs of an empty source: no error")
	}
	long := data.Pair{Src: make([]int, 20), Tgt: []int{3}, Line: 7}
	ok := data.Pair{Src: []int{3}, Tgt: []int{3}, Line: 1}
	if _, err := NewTask(tr, []data.Pair{ok, long}, []data.Pair{ok}, []string{"d"}, []string{"d"}, 100, 0, 1); err == nil || !strings.Contains(err.Error(), "line 7") {
		t.Fatalf("NewTask with an over-long pair: %v; want an error naming line 7", err)
	}
	empty := data.Pair{Src: []int{3}, Line: 9}
	if _, err := NewTask(tr, []data.Pair{ok}, []data.Pair{empty}, []string{"d"}, []string{""}, 100, 0, 1); err == nil || !strings.Contains(err.Error(), "line 9") {
		t.Fatalf("NewTask with an empty target: %v; want an error naming line 9", err)
	}
	if _, err := tr.Attention(context.Background(), "d e f", "d e f", Cross, DefaultOptions); err == nil {
		t.Fatal("attention of a model without attention: no error")
	}
	if _, err := tr.Attention(context.Background(), "", "d e f", Cross, DefaultOptions); err == nil {
		t.Fatal("attention of an empty source: no error")
	}
	if _, err := New(struct{}{}, tok); err == nil {
		t.Fatal("New of a non-translation model: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.IDs(ctx, [][]int{{3, 4}}, DefaultOptions); !errors.Is(err, context.Canceled) {
		t.Fatalf("IDs with a cancelled context: %v", err)
	}
}

// The Transformer's attention has one layer per decoder (or encoder) layer and one matrix per
// head, each row a distribution over the positions it may see.
func TestTransformerAttention(t *testing.T) {
	tr, err := New(toyTransformer(t, 1), toyTokenizer(t))
	if err != nil {
		t.Fatal(err)
	}
	m := tr.Model().(*transformer.Model)
	for _, tc := range []struct {
		kind       string
		layers     int
		rows, cols int
	}{{Cross, len(m.Decoder), 4, 5}, {Self, len(m.Decoder), 4, 4}, {Encoder, len(m.Encoder), 5, 5}} {
		a, err := tr.Attention(context.Background(), "d e f g h", "i j k", tc.kind, DefaultOptions)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Layers) != tc.layers {
			t.Fatalf("%s: %d layers, want %d", tc.kind, len(a.Layers), tc.layers)
		}
		for _, l := range a.Layers {
			if len(l.Heads) != m.Config.DecoderAttentionHeads {
				t.Fatalf("%s layer %d: %d heads", tc.kind, l.Layer, len(l.Heads))
			}
			for _, h := range l.Heads {
				if len(h) != tc.rows || len(h[0]) != tc.cols {
					t.Fatalf("%s: head of %d×%d, want %d×%d", tc.kind, len(h), len(h[0]), tc.rows, tc.cols)
				}
				for i, row := range h {
					var sum float64
					for j, w := range row {
						sum += float64(w)
						if tc.kind == Self && j > i && w != 0 {
							t.Fatalf("self attention row %d sees later position %d (weight %g)", i, j, w)
						}
					}
					if math.Abs(sum-1) > 1e-4 {
						t.Fatalf("%s: a row sums to %g", tc.kind, sum)
					}
				}
			}
		}
	}
	for _, l := range m.Decoder {
		if l.CrossAttn.Inspect != nil || l.SelfAttn.Inspect != nil {
			t.Fatal("Attention left an inspection hook on a layer")
		}
	}
}
