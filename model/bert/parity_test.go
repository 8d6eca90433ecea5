package bert

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/testenv"
)

// Parity with the PyTorch reference for every bert folder: last_hidden_state, pooler_output,
// MLM and NSP logits within 1e-4 (relative for large values), losses within 1e-5, every
// gradient within 1e-3 of that tensor's largest magnitude.

type referenceInputs struct {
	InputIDs      [][]int `json:"input_ids"`
	TokenTypeIDs  [][]int `json:"token_type_ids"`
	AttentionMask [][]int `json:"attention_mask"`
	MLMLabels     [][]int `json:"mlm_labels"`
	NSPLabels     []int   `json:"nsp_labels"`
}

func TestReferenceParity(t *testing.T) {
	for _, dir := range testenv.ReferenceModels(t, "bert") {
		t.Run(filepath.Base(dir), func(t *testing.T) { checkParity(t, dir) })
	}
}

// readInputs reads a reference folder's inputs.json.
func readInputs(t *testing.T, dir string) referenceInputs {
	t.Helper()
	var in referenceInputs
	data, err := os.ReadFile(filepath.Join(dir, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &in); err != nil {
		t.Fatal(err)
	}
	return in
}

func checkParity(t *testing.T, dir string) {
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := readInputs(t, dir)
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
	b := &Batch{B: len(in.InputIDs), T: len(in.InputIDs[0]), InputIDs: testenv.Flatten(in.InputIDs), TokenTypeIDs: testenv.Flatten(in.TokenTypeIDs), AttentionMask: testenv.Flatten(in.AttentionMask)}
	g := autograd.NewGraph()
	out := m.Encode(g, b, nil, nil)
	mlm := m.MLMLogits(g, out.Hidden)
	nsp := m.NSPLogits(g, out.Pooled)
	mlmLoss, nspLoss, loss := m.PretrainingLoss(g, mlm, nsp, testenv.Flatten(in.MLMLabels), in.NSPLabels)

	for name, got := range map[string]*autograd.Var{"last_hidden_state": out.Hidden, "pooler_output": out.Pooled, "mlm_logits": mlm, "nsp_logits": nsp} {
		if d := testenv.RelDiff(got.Value.Contiguous().Data(), want(name)); d > 1e-4 {
			t.Errorf("%s differs by %.3g", name, d)
		}
	}
	for name, got := range map[string]*autograd.Var{"mlm_loss": mlmLoss, "nsp_loss": nspLoss, "loss": loss} {
		if d := math.Abs(float64(got.Value.Item() - want(name)[0])); d > 1e-5 {
			t.Errorf("%s = %.7f, reference %.7f", name, got.Value.Item(), want(name)[0])
		}
	}
	g.Backward(loss)
	// The key biases' gradient is zero in exact arithmetic (a per-row constant shift of the
	// scores leaves the softmax unchanged), so both sides hold only rounding noise there; the
	// tolerance has a floor of 1e-6 of the largest gradient anywhere in the model.
	global := 0.0
	for _, p := range m.Params.List() {
		for _, v := range want("grad." + p.Name) {
			global = max(global, math.Abs(float64(v)))
		}
	}
	for _, p := range m.Params.List() {
		ref := want("grad." + p.Name)
		scale := 0.0
		for _, v := range ref {
			scale = max(scale, math.Abs(float64(v)))
		}
		tol := max(1e-3*scale, 1e-6*global)
		if d := testenv.MaxDiff(p.Var.Grad().Data(), ref); d > tol {
			t.Errorf("grad %s differs by %.3g (tolerance %.3g)", p.Name, d, tol)
		}
	}
	// Every grad.* of the reference is some parameter's: the model has all of them.
	expected.CheckAllCompared(t)
	// The inference path (no recording: online-softmax attention) gives the same hidden states.
	g2 := autograd.NewGraph()
	g2.SetGrad(false)
	if d := testenv.RelDiff(m.Encode(g2, b, nil, nil).Hidden.Value.Data(), want("last_hidden_state")); d > 1e-4 {
		t.Errorf("inference last_hidden_state differs by %.3g", d)
	}
}

// relDiff is the largest difference, relative for values above 1.
