package nn

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tensor"
)

// rnnReference is one model written by scripts/reference/rnn_reference.py.
type rnnReference struct {
	Mode          string `json:"mode"`
	InputSize     int    `json:"input_size"`
	HiddenSize    int    `json:"hidden_size"`
	NumLayers     int    `json:"num_layers"`
	Bidirectional bool   `json:"bidirectional"`
	Batch         int    `json:"batch"`
	SeqLen        int    `json:"seq_len"`
	Lengths       []int  `json:"lengths"`

	f *safetensors.File
}

func loadRNNReference(t *testing.T, name string) *rnnReference {
	t.Helper()
	root, ok := testenv.ModuleRoot()
	if !ok {
		t.Fatal("no go.mod above the working directory")
	}
	dir := filepath.Join(root, "testdata", "rnn")
	data, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 scripts/reference/rnn_reference.py)", err)
	}
	var r rnnReference
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if r.f, err = safetensors.Open(filepath.Join(dir, name+".safetensors")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.f.Close() })
	return &r
}

// tensor reads a tensor of the reference file.
func (r *rnnReference) tensor(t *testing.T, name string) *tensor.Tensor {
	t.Helper()
	info, ok := r.f.Info(name)
	if !ok {
		t.Fatalf("reference has no tensor %q", name)
	}
	d, err := r.f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return tensor.FromData(d, info.Shape...)
}

// Parity with torch.nn.GRU and torch.nn.LSTM (two layers, bidirectional, a padded batch):
// outputs and final states within 1e-5, gradients of every weight and of the input within
// 1e-4 (relative where larger than 1).
func TestRNNMatchesPyTorch(t *testing.T) {
	for _, name := range []string{"gru", "lstm"} {
		t.Run(name, func(t *testing.T) {
			ref := loadRNNReference(t, name)
			kind, err := ParseCellKind(map[string]string{"GRU": "gru", "LSTM": "lstm"}[ref.Mode])
			if err != nil {
				t.Fatal(err)
			}
			var ps Params
			rnn := NewRNN(&ps, "", kind, ref.InputSize, ref.HiddenSize, ref.NumLayers, ref.Bidirectional)
			for _, p := range ps.List() {
				w := ref.tensor(t, p.Name)
				if !slices.Equal(w.Shape(), p.Var.Shape()) {
					t.Fatalf("%s: reference shape %v, parameter %v", p.Name, w.Shape(), p.Var.Shape())
				}
				copy(p.Var.Value.Data(), w.Data())
			}
			x := autograd.NewParam(ref.tensor(t, "x"))
			g := autograd.NewGraph()
			out, finals := rnn.Forward(g, x, ref.Lengths, nil)

			// loss = Σ out·r.output + Σ h_n·r.h_n [+ Σ c_n·r.c_n], as the script computes it
			weighted := func(v *autograd.Var, r *tensor.Tensor) *autograd.Var { return g.Sum(g.Mul(v, g.Const(r))) }
			loss := weighted(out, ref.tensor(t, "r.output"))
			parts := map[string]func(*autograd.Var) *autograd.Var{"h_n": func(s *autograd.Var) *autograd.Var { return rnn.H(g, s) }}
			if kind == LSTM {
				parts["c_n"] = func(s *autograd.Var) *autograd.Var { return rnn.C(g, s) }
			}
			compare(t, "output", out.Value, ref.tensor(t, "output"), 1e-5)
			for part, get := range parts {
				want, r := ref.tensor(t, part), ref.tensor(t, "r."+part)
				for k, s := range finals {
					v := get(s)
					compare(t, part, v.Value, want.Narrow(0, k, 1).Reshape(ref.Batch, ref.HiddenSize), 1e-5)
					loss = g.Add(loss, weighted(v, r.Narrow(0, k, 1).Reshape(ref.Batch, ref.HiddenSize).Contiguous()))
				}
			}
			g.Backward(loss)
			for _, p := range ps.List() {
				compare(t, "grad."+p.Name, p.Var.Grad(), ref.tensor(t, "grad."+p.Name), 1e-4)
			}
			compare(t, "grad.x", x.Grad(), ref.tensor(t, "grad.x"), 1e-4)
		})
	}
}

func compare(t *testing.T, name string, got, want *tensor.Tensor, tol float64) {
	t.Helper()
	if !slices.Equal(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape(), want.Shape())
	}
	if d := testenv.RelDiff(got.Contiguous().Data(), want.Contiguous().Data()); d > tol {
		t.Errorf("%s: differs from PyTorch by %.3g (tolerance %g)", name, d, tol)
	}
}

// A padded batch gives each sequence what it gives alone, whatever the padding holds, and
// no gradient reaches the padding.
func TestRNNPadding(t *testing.T) {
	lengths := []int{4, 2, 1}
	const b, tt, in, hidden = 3, 4, 3, 5
	for _, kind := range []CellKind{LSTM, GRU} {
		for _, bi := range []bool{false, true} {
			var ps Params
			rnn := NewRNN(&ps, "rnn", kind, in, hidden, 2, bi)
			rnn.Init(tensor.NewRNG(5))
			x := tensor.New(b, tt, in)
			tensor.Uniform(x, -1, 1, tensor.NewRNG(6))
			run := func(x *tensor.Tensor, lengths []int) (*autograd.Var, []*autograd.Var, *autograd.Var, *autograd.Graph) {
				g := autograd.NewGraph()
				xp := autograd.NewParam(x)
				out, finals := rnn.Forward(g, xp, lengths, nil)
				loss := g.Sum(g.Mul(out, out))
				for _, s := range finals {
					loss = g.Add(loss, g.Sum(s))
				}
				g.Backward(loss)
				return out, slices.Clone(finals), xp, g // Forward reuses its slice of final states
			}
			out, finals, xp, _ := run(x, lengths)
			for r, n := range lengths {
				one := tensor.New(1, n, in)
				tensor.CopyInto(one, x.Narrow(0, r, 1).Narrow(1, 0, n))
				o1, f1, x1, _ := run(one, nil)
				compare(t, "alone output", out.Value.Narrow(0, r, 1).Narrow(1, 0, n), o1.Value, 1e-6)
				for k := range finals {
					compare(t, "alone final state", finals[k].Value.Narrow(0, r, 1), f1[k].Value, 1e-6)
				}
				compare(t, "alone input gradient", xp.Grad().Narrow(0, r, 1).Narrow(1, 0, n), x1.Grad(), 1e-5)
				for s := n; s < tt; s++ {
					if m := testenv.MaxAbs(out.Value.Narrow(0, r, 1).Narrow(1, s, 1).Contiguous().Data()); m != 0 {
						t.Fatalf("%v bi %v: padded output of row %d at step %d is %g, want 0", kind, bi, r, s, m)
					}
					if m := testenv.MaxAbs(xp.Grad().Narrow(0, r, 1).Narrow(1, s, 1).Contiguous().Data()); m != 0 {
						t.Fatalf("%v bi %v: gradient %g reached padding of row %d at step %d", kind, bi, m, r, s)
					}
				}
			}
		}
	}
}

// Stepping a unidirectional network one position at a time gives what Forward gives.
func TestRNNStepMatchesForward(t *testing.T) {
	for _, kind := range []CellKind{LSTM, GRU} {
		var ps Params
		rnn := NewRNN(&ps, "", kind, 3, 4, 2, false)
		rnn.Init(tensor.NewRNG(8))
		x := tensor.New(2, 5, 3)
		tensor.Uniform(x, -1, 1, tensor.NewRNG(9))
		g := autograd.NewGraph()
		out, finals := rnn.Forward(g, g.Const(x), nil, nil)
		states := []*autograd.Var{rnn.Cells[0][0].ZeroState(g, 2), rnn.Cells[1][0].ZeroState(g, 2)}
		for s := 0; s < 5; s++ {
			h := rnn.Step(g, g.Const(x.Narrow(1, s, 1).Contiguous().Reshape(2, 3)), states)
			compare(t, "step output", h.Value, out.Value.Narrow(1, s, 1).Contiguous().Reshape(2, 4), 1e-6)
		}
		for l := range states {
			compare(t, "step final state", states[l].Value, finals[l].Value, 1e-6)
		}
	}
}

func TestParseCellKind(t *testing.T) {
	for _, k := range []CellKind{LSTM, GRU} {
		if got, err := ParseCellKind(k.String()); err != nil || got != k {
			t.Fatalf("ParseCellKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := ParseCellKind("rnn_tanh"); err == nil {
		t.Fatal("an unknown cell was accepted")
	}
}
