package seq2seq

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/train"
)

var _ train.Task = (*Task)(nil)

// variants are the model shapes the tests cover: both cells, every attention, one and two
// layers, one and two directions, with and without input feeding.
func variants() []Config {
	var out []Config
	for i, v := range []struct {
		cell, att string
		layers    int
		bi, feed  bool
	}{
		{"gru", "additive", 1, true, false}, {"lstm", "additive", 2, true, false}, {"gru", "dot", 2, false, false},
		{"lstm", "general", 1, false, false}, {"gru", "none", 2, true, false}, {"lstm", "none", 1, true, false},
		{"gru", "additive", 1, true, true}, {"lstm", "dot", 2, false, true},
	} {
		c := toyConfig(v.cell, v.att)
		c.EmbedSize, c.HiddenSize, c.NumLayers, c.Bidirectional, c.InputFeeding = 5, 6, v.layers, v.bi, v.feed
		c.AttentionSize = 3 * (i % 2)
		out = append(out, c)
	}
	return out
}

func batchOf(t testing.TB, m *Model, seed uint64, n int) *Batch {
	t.Helper()
	rng := tensor.NewRNG(seed)
	src, tgt := make([][]int, n), make([][]int, n)
	for i := range src {
		src[i] = toySequence(rng)
		tgt[i] = toySequence(rng)[:1+rng.IntN(toyMin)]
	}
	var bt Batch
	if err := m.MakeBatch(&bt, src, tgt); err != nil {
		t.Fatal(err)
	}
	return &bt
}

// The gradient of the loss with respect to every parameter tensor (a few elements of each)
// against central differences, for every variant.
func TestLossGradients(t *testing.T) {
	for _, cfg := range variants() {
		m, err := New(cfg, 4)
		if err != nil {
			t.Fatal(err)
		}
		bt := batchOf(t, m, 5, 3)
		g := autograd.NewGraph()
		loss := func() float64 {
			g.Reset()
			return float64(m.Loss(g, bt).Value.Item())
		}
		g.Reset()
		g.Backward(m.Loss(g, bt))
		rng := tensor.NewRNG(6)
		for _, p := range m.Params.List() {
			d := p.Var.Value.Data()
			for range 3 {
				j := rng.IntN(len(d))
				an := float64(p.Var.Grad().Data()[j])
				if num := testenv.CentralDifference(d, j, 1e-2, loss); math.Abs(num-an) > 2e-3*max(1, math.Abs(num)) {
					t.Fatalf("%s/%s: %s[%d]: numeric %g, analytic %g", cfg.Cell, cfg.Attention, p.Name, j, num, an)
				}
			}
		}
	}
}

// Greedy decoding one step at a time agrees with the teacher-forced pass over what it
// decoded: the same next tokens and the same attention weights. The models are trained a
// little on copying, so that they decode sequences of several different tokens.
func TestGreedyMatchesTeacherForcing(t *testing.T) {
	for _, cfg := range variants() {
		m, err := New(cfg, 7)
		if err != nil {
			t.Fatal(err)
		}
		trainToy(t, m, false, 30, 3e-2, 8)
		src := [][]int{{3, 9, 4}, {5, 11, 7, 3, 8, 8, 9, 10}, {10, 6, 6, 4}}
		d, err := m.Greedy(context.Background(), src, 0)
		if err != nil {
			t.Fatal(err)
		}
		var bt Batch
		if err := m.MakeBatch(&bt, src, d.Tokens); err != nil {
			t.Fatal(err)
		}
		g := autograd.NewGraph()
		g.SetGrad(false)
		logits, alpha := m.Forward(g, &bt, nil)
		for b, toks := range d.Tokens {
			for i := 0; i < bt.TgtLen[b] && i < cfg.MaxLength-1; i++ {
				want := cfg.EOSTokenID
				if i < len(toks) {
					want = toks[i]
				}
				if got := tensor.Argmax(logits.Value.Narrow(0, b, 1).Narrow(1, i, 1)); got != want {
					t.Fatalf("%s/%s: sequence %d step %d: teacher forcing predicts %d, greedy chose %d", cfg.Cell, cfg.Attention, b, i, got, want)
				}
				if alpha == nil {
					continue
				}
				if i >= d.Attention.Dim(1) {
					t.Fatalf("attention has %d steps, sequence %d decoded %d tokens", d.Attention.Dim(1), b, len(toks))
				}
				a, w := d.Attention.Narrow(0, b, 1).Narrow(1, i, 1).Contiguous().Data(), alpha.Value.Narrow(0, b, 1).Narrow(1, i, 1).Contiguous().Data()
				if diff := testenv.MaxDiff(a, w); diff > 1e-5 {
					t.Fatalf("%s/%s: sequence %d step %d: attention differs by %g", cfg.Cell, cfg.Attention, b, i, diff)
				}
			}
		}
		if (alpha == nil) != (d.Attention == nil) {
			t.Fatalf("%s/%s: attention from Forward %v, from Greedy %v", cfg.Cell, cfg.Attention, alpha != nil, d.Attention != nil)
		}
	}
}

func TestSaveLoad(t *testing.T) {
	for _, cfg := range variants() {
		m, err := New(cfg, 9)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
		back, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if back.Config != cfg {
			t.Fatalf("config %+v came back as %+v", cfg, back.Config)
		}
		bt := batchOf(t, m, 10, 4)
		g := autograd.NewGraph()
		a, b := m.Loss(g, bt).Value.Item(), back.Loss(g, bt).Value.Item()
		if a != b {
			t.Fatalf("%s/%s: loss %g before saving, %g after loading", cfg.Cell, cfg.Attention, a, b)
		}
	}
}

func TestLoadRefuses(t *testing.T) {
	m, err := New(toyConfig("gru", "additive"), 1)
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(toyConfig("gru", "none"), 1)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, want string
		setup      func(dir string)
	}{
		{"no folder", "no such file", func(dir string) { os.RemoveAll(dir) }},
		{"other model type", `model_type "gpt2"`, func(dir string) {
			os.WriteFile(filepath.Join(dir, ConfigFile), []byte(`{"model_type":"gpt2"}`), 0o644)
		}},
		{"weights missing", "no model.safetensors", func(dir string) { os.Remove(filepath.Join(dir, WeightsFile)) }},
		{"weights of another shape", "missing tensors decoder.attention", func(dir string) {
			if err := other.Save(filepath.Join(dir, "x")); err != nil {
				t.Fatal(err)
			}
			os.Rename(filepath.Join(dir, "x", WeightsFile), filepath.Join(dir, WeightsFile))
		}},
	}
	for _, c := range cases {
		dir := t.TempDir()
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
		c.setup(dir)
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one that says %q", c.name, err, c.want)
		}
	}
}

func TestMakeBatch(t *testing.T) {
	m, err := New(toyConfig("gru", "dot"), 1)
	if err != nil {
		t.Fatal(err)
	}
	var bt Batch
	if err := m.MakeBatch(&bt, [][]int{{3, 4, 5}, {6}}, [][]int{{7, 8}, {}}); err != nil {
		t.Fatal(err)
	}
	ig := tensor.IgnoreIndex
	for _, c := range []struct {
		name      string
		got, want []int
	}{
		{"Src", bt.Src, []int{3, 4, 5, 6, 0, 0}},
		{"SrcLen", bt.SrcLen, []int{3, 1}},
		{"DecIn", bt.DecIn, []int{1, 7, 8, 1, 0, 0}},
		{"Targets", bt.Targets, []int{7, 8, 2, 2, ig, ig}},
		{"TgtLen", bt.TgtLen, []int{3, 1}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if bt.B != 2 || bt.S != 3 || bt.T != 3 || bt.Tokens != 4 {
		t.Errorf("B, S, T, Tokens = %d, %d, %d, %d; want 2, 3, 3, 4", bt.B, bt.S, bt.T, bt.Tokens)
	}
	long := make([]int, toyMax+3)
	for _, c := range []struct {
		name     string
		src, tgt [][]int
		want     string
	}{
		{"empty batch", nil, nil, "at least one pair"},
		{"unpaired", [][]int{{3}}, [][]int{{3}, {4}}, "one target per source"},
		{"empty source", [][]int{{}}, [][]int{{3}}, "source 0 is empty"},
		{"long source", [][]int{long}, [][]int{{3}}, "source 0 has 11 tokens"},
		{"long target", [][]int{{3}}, [][]int{long[:toyMax+2]}, "target 0 has 10 tokens, more than the 9"},
		{"negative id", [][]int{{3, -1}}, [][]int{{3}}, "token -1 at position 1"},
		{"id past vocabulary", [][]int{{3}}, [][]int{{toyVocab}}, "outside the vocabulary [0, 12)"},
	} {
		if err := m.MakeBatch(&bt, c.src, c.tgt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one that says %q", c.name, err, c.want)
		}
	}
	if _, err := m.Greedy(context.Background(), [][]int{{3, toyVocab}}, 0); err == nil {
		t.Error("Greedy accepted an id outside the vocabulary")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Greedy(ctx, [][]int{{3, 4}}, 0); err != context.Canceled {
		t.Errorf("Greedy with a cancelled context: error %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.HiddenSize = 0 }, "hidden_size = 0"},
		{func(c *Config) { c.HiddenSize = 31 }, "must be even"},
		{func(c *Config) { c.Cell = "rnn" }, "unknown recurrent cell"},
		{func(c *Config) { c.Attention = "" }, "unknown attention score"},
		{func(c *Config) { c.Dropout = float32(math.NaN()) }, "dropout"},
		{func(c *Config) { c.Attention, c.InputFeeding = "none", true }, "needs attention"},
		{func(c *Config) { c.EOSTokenID = 0 }, "both 0"},
		{func(c *Config) { c.BOSTokenID = toyVocab }, "bos_token_id = 12 is outside"},
		{func(c *Config) { c.SrcVocabSize, c.PadTokenID = 3, 3 }, "pad_token_id = 3 is outside"},
		{func(c *Config) { c.SrcVocabSize, c.EmbedSize = maxVocab, maxWidth }, "more than this tool can hold"},
	} {
		cfg := toyConfig("gru", "additive")
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one that says %q", cfg, err, c.want)
		}
	}
	for _, cfg := range variants() {
		data, err := MarshalConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := ParseConfig(data); err != nil || back != cfg {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, cfg)
		}
	}
}

// The task draws batches from its pairs, counts target tokens, evaluates the validation
// split, and refuses pairs the model cannot take.
func TestTask(t *testing.T) {
	m, err := New(toyConfig("lstm", "general"), 1)
	if err != nil {
		t.Fatal(err)
	}
	pairs := []Pair{{Src: []int{3, 4}, Tgt: []int{4, 3}}, {Src: []int{5, 6, 7}, Tgt: []int{7, 6, 5}}}
	if _, err := NewTask(m, pairs, []Pair{{Src: []int{3}, Tgt: []int{99}}}, 4); err == nil || !strings.Contains(err.Error(), "validation pair 0") {
		t.Fatalf("a bad validation pair: error %v", err)
	}
	if _, err := NewTask(m, nil, pairs, 4); err == nil {
		t.Fatal("a task with no training pairs was accepted")
	}
	task, err := NewTask(m, pairs, pairs, 4)
	if err != nil {
		t.Fatal(err)
	}
	g := autograd.NewGraph()
	loss, n := task.Loss(g, tensor.NewRNG(1), tensor.NewRNG(2))
	if n < 4*3 || n > 4*4 || loss.Value.Item() <= 0 {
		t.Fatalf("loss %g over %d tokens from 4 pairs of 2 or 3 tokens plus EOS", loss.Value.Item(), n)
	}
	full, err := task.Evaluate(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	var bt Batch
	if err := m.MakeBatch(&bt, [][]int{pairs[0].Src, pairs[1].Src}, [][]int{pairs[0].Tgt, pairs[1].Tgt}); err != nil {
		t.Fatal(err)
	}
	g.Reset()
	if want := float64(m.Loss(g, &bt).Value.Item()); math.Abs(full-want) > 1e-6 {
		t.Fatalf("Evaluate = %g, want the mean token loss %g", full, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := task.Evaluate(ctx, true); err == nil {
		t.Fatal("Evaluate ignored a cancelled context")
	}
	dir := t.TempDir()
	if err := task.SaveModel(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err != nil {
		t.Fatal(err)
	}
}
