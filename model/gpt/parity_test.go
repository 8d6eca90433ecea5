package gpt

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tensor"
)

// Parity with the PyTorch reference: for every gpt2 folder of the reference directory, logits
// within 1e-4, loss within 1e-5, every gradient within 1e-3 of that tensor's largest magnitude,
// and greedy generation token-exact.

type referenceInputs struct {
	InputIDs [][]int `json:"input_ids"`
	Targets  [][]int `json:"targets"`
	Generate struct {
		Prompt       []int `json:"prompt"`
		GreedyTokens int   `json:"greedy_tokens"`
		Expected     []int `json:"expected"`
	} `json:"generate"`
}

func TestReferenceParity(t *testing.T) {
	for _, dir := range testenv.ReferenceModels(t, "gpt2") {
		t.Run(filepath.Base(dir), func(t *testing.T) { checkParity(t, dir) })
	}
}

func checkParity(t *testing.T, dir string) {
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var in referenceInputs
	data, err := os.ReadFile(filepath.Join(dir, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &in); err != nil {
		t.Fatal(err)
	}
	exp, err := safetensors.Open(filepath.Join(dir, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Close()
	var names []string
	for _, info := range exp.Tensors() {
		names = append(names, info.Name)
	}
	expected := testenv.NewExpected(names, exp.Float32)
	want := func(name string) []float32 { return expected.Get(t, name) }

	b, tt := len(in.InputIDs), len(in.InputIDs[0])
	ids, targets := testenv.Flatten(in.InputIDs), testenv.Flatten(in.Targets)
	g := autograd.NewGraph()
	logits := m.Forward(g, ids, b, tt, nil)
	loss := m.Loss(g, logits, targets)

	if d := testenv.MaxDiff(logits.Value.Data(), want("logits")); d > 1e-4 {
		t.Errorf("logits differ by %.3g (tolerance 1e-4)", d)
	}
	if d := math.Abs(float64(loss.Value.Item() - want("loss")[0])); d > 1e-5 {
		t.Errorf("loss %.7f, reference %.7f", loss.Value.Item(), want("loss")[0])
	}

	g.Backward(loss)
	for _, p := range m.Params.List() {
		ref := want("grad." + p.Name)
		scale := float64(0)
		for _, v := range ref {
			scale = max(scale, math.Abs(float64(v)))
		}
		if d := testenv.MaxDiff(p.Var.Grad().Data(), ref); d > 1e-3*scale {
			t.Errorf("grad %s differs by %.3g (tolerance %.3g)", p.Name, d, 1e-3*scale)
		}
	}
	// Every grad.* of the reference is some parameter's: the model has all of them.
	expected.CheckAllCompared(t)

	// Greedy generation, with and without the KV cache.
	gen := in.Generate
	for _, cached := range []bool{true, false} {
		got := greedy(m, gen.Prompt, gen.GreedyTokens, cached)
		if !equalInts(got, gen.Expected) {
			t.Errorf("greedy (cache %v) = %v, reference %v", cached, got, gen.Expected)
		}
	}
}

func greedy(m *Model, prompt []int, n int, cached bool) []int {
	seq := append([]int(nil), prompt...)
	g := autograd.NewGraph()
	g.SetGrad(false)
	var s *State
	if cached {
		s = &State{Caches: m.NewCaches(1), LastOnly: true}
	}
	next := seq
	for i := 0; i < n; i++ {
		g.Reset()
		var logits *tensor.Tensor
		if cached {
			logits = m.Forward(g, next, 1, len(next), s).Value
		} else {
			logits = m.Forward(g, seq, 1, len(seq), &State{LastOnly: true}).Value
		}
		id := tensor.Argmax(logits.Reshape(-1))
		seq = append(seq, id)
		next = []int{id}
	}
	return seq
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
