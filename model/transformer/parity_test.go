package transformer

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tensor"
)

// Parity with the PyTorch reference: for every marian folder of the reference directory, the
// encoder output and logits within 1e-4, the loss within 1e-5, every gradient the reference
// holds within 1e-3 of that tensor's largest magnitude, and greedy decoding token-exact with
// and without the KV cache.

type referenceInputs struct {
	InputIDs        [][]int `json:"input_ids"`
	AttentionMask   [][]int `json:"attention_mask"`
	DecoderInputIDs [][]int `json:"decoder_input_ids"`
	Labels          [][]int `json:"labels"`
	Generate        struct {
		SourceRow    int   `json:"source_row"`
		GreedyTokens int   `json:"greedy_tokens"`
		Expected     []int `json:"expected"`
	} `json:"generate"`
}

func TestReferenceParity(t *testing.T) {
	for _, dir := range testenv.ReferenceModels(t, "marian") {
		t.Run(filepath.Base(dir), func(t *testing.T) { checkParity(t, dir) })
	}
}

func readInputs(t *testing.T, dir string) (referenceInputs, *Batch) {
	t.Helper()
	var in referenceInputs
	data, err := os.ReadFile(filepath.Join(dir, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &in); err != nil {
		t.Fatal(err)
	}
	b := &Batch{
		B: len(in.InputIDs), S: len(in.InputIDs[0]), T: len(in.Labels[0]),
		InputIDs:        testenv.Flatten(in.InputIDs),
		AttentionMask:   testenv.Flatten(in.AttentionMask),
		DecoderInputIDs: testenv.Flatten(in.DecoderInputIDs),
		Labels:          testenv.Flatten(in.Labels),
	}
	return in, b
}

func checkParity(t *testing.T, dir string) {
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	in, b := readInputs(t, dir)
	exp, err := safetensors.Open(filepath.Join(dir, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	want := func(name string) []float32 {
		v, err := exp.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	// The decoder inputs are the labels shifted right, as the reference made them.
	if got := ShiftTokensRight(b.Labels, b.B, b.T, m.Config.DecoderStartTokenID, m.Config.PadTokenID); !slices.Equal(got, b.DecoderInputIDs) {
		t.Errorf("ShiftTokensRight = %v, reference decoder_input_ids %v", got, b.DecoderInputIDs)
	}

	g := autograd.NewGraph()
	enc := m.Encode(g, b, nil)
	logits := m.Decode(g, enc, b, nil)
	loss := m.Loss(g, logits, b.Labels, 0)
	for name, got := range map[string]*autograd.Var{"encoder_last_hidden_state": enc, "logits": logits} {
		if d := testenv.MaxDiff(got.Value.Data(), want(name)); d > 1e-4 {
			t.Errorf("%s differs by %.3g (tolerance 1e-4)", name, d)
		}
	}
	if d := math.Abs(float64(loss.Value.Item() - want("loss")[0])); d > 1e-5 {
		t.Errorf("loss %.7f, reference %.7f", loss.Value.Item(), want("loss")[0])
	}

	g.Backward(loss)
	// The key biases' gradient is zero in exact arithmetic (softmax ignores a shift shared by
	// every key), so both sides hold rounding noise: the tolerance has a floor of 1e-6 of the
	// largest gradient anywhere in the model.
	var global float64
	for _, info := range exp.Tensors() {
		if strings.HasPrefix(info.Name, "grad.") {
			global = max(global, testenv.MaxAbs(want(info.Name)))
		}
	}
	compared := map[string]bool{}
	for _, info := range exp.Tensors() {
		name, ok := strings.CutPrefix(info.Name, "grad.")
		if !ok {
			continue
		}
		p, ok := m.Params.Get(name)
		if !ok {
			t.Errorf("the reference has a gradient for %s, which is not a parameter", name)
			continue
		}
		if p.Var.Grad() == nil {
			t.Errorf("%s received no gradient", name)
			continue
		}
		ref := want(info.Name)
		tol := max(1e-3*testenv.MaxAbs(ref), 1e-6*global)
		if d := testenv.MaxDiff(p.Var.Grad().Data(), ref); d > tol {
			t.Errorf("grad %s differs by %.3g (tolerance %.3g)", name, d, tol)
		}
		compared[name] = true
	}
	// Every trainable parameter was compared, and only final_logits_bias has no gradient.
	for _, p := range m.Params.List() {
		if p.Var.RequiresGrad() != compared[p.Name] {
			t.Errorf("%s: trainable %v, compared %v", p.Name, p.Var.RequiresGrad(), compared[p.Name])
		}
	}
	if len(compared) == 0 || len(compared) != len(m.Trainable()) {
		t.Fatalf("compared %d gradients of %d trainable parameters", len(compared), len(m.Trainable()))
	}

	// Greedy decoding of one source row, with and without the KV cache.
	gen := in.Generate
	r := gen.SourceRow
	src := &Batch{B: 1, S: b.S, InputIDs: b.InputIDs[r*b.S : (r+1)*b.S], AttentionMask: b.AttentionMask[r*b.S : (r+1)*b.S]}
	cached, err := m.Greedy(context.Background(), src, GreedyOptions{MaxTokens: gen.GreedyTokens})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cached[0], gen.Expected) {
		t.Errorf("greedy (cached) = %v, reference %v", cached[0], gen.Expected)
	}
	if got := greedyUncached(m, src, gen.GreedyTokens); !slices.Equal(got, gen.Expected) {
		t.Errorf("greedy (uncached) = %v, reference %v", got, gen.Expected)
	}
}

// greedyUncached decodes one source by running the whole decoder over the prefix at every step.
func greedyUncached(m *Model, src *Batch, n int) []int {
	seq := []int{m.Config.DecoderStartTokenID}
	g := autograd.NewGraph()
	g.SetGrad(false)
	V := m.Config.TargetVocab()
	for i := 0; i < n; i++ {
		g.Reset()
		b := *src
		b.T, b.DecoderInputIDs = len(seq), seq
		logits := m.Decode(g, m.Encode(g, &b, nil), &b, nil).Value.Data() // (1, T, V)
		seq = append(seq, tensor.Argmax(tensor.FromData(logits[(len(seq)-1)*V:], V)))
	}
	return seq
}
