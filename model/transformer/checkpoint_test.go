package transformer

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/nn"
)

// Save then Load gives the same config, the same weights and the same translations, for each
// layout (shared or separate embeddings, tied or own LM head, post-LN or pre-LN).
func TestSaveLoadRoundTrip(t *testing.T) {
	for name, edit := range configs {
		t.Run(name, func(t *testing.T) {
			m := testModel(t, edit)
			dir := t.TempDir()
			if err := m.Save(dir); err != nil {
				t.Fatal(err)
			}
			back, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if back.Config != m.Config {
				t.Fatalf("config %+v, saved %+v", back.Config, m.Config)
			}
			if !slices.Equal(back.Params.Names(), m.Params.Names()) {
				t.Fatalf("parameters %v, saved %v", back.Params.Names(), m.Params.Names())
			}
			for _, p := range m.Params.List() {
				q, _ := back.Params.Get(p.Name)
				if !slices.Equal(q.Var.Value.Data(), p.Var.Value.Data()) {
					t.Fatalf("%s changed in the round trip", p.Name)
				}
			}
			if back.FinalLogitsBias.RequiresGrad() {
				t.Fatal("final_logits_bias is trainable after loading")
			}
			b := testSources(m)
			want, _ := m.Greedy(context.Background(), b, GreedyOptions{MaxTokens: 5})
			got, err := back.Greedy(context.Background(), b, GreedyOptions{MaxTokens: 5})
			if err != nil || !slices.Equal(slices.Concat(got...), slices.Concat(want...)) {
				t.Fatalf("loaded model decodes %v (%v), saved one %v", got, err, want)
			}
		})
	}
}

// A saved model holds exactly the tensors transformers' MarianMTModel stores: those of the
// reference checkpoint, with its shapes.
func TestSavedNamesMatchReference(t *testing.T) {
	for _, dir := range testenv.ReferenceModels(t, "marian") {
		m, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		if err := m.Save(out); err != nil {
			t.Fatal(err)
		}
		ref, saved := tensorShapes(t, filepath.Join(dir, WeightsFile)), tensorShapes(t, filepath.Join(out, WeightsFile))
		if len(ref) != len(saved) {
			t.Errorf("saved %d tensors, the reference has %d", len(saved), len(ref))
		}
		for name, shape := range ref {
			if !slices.Equal(saved[name], shape) {
				t.Errorf("%s: saved shape %v, reference %v", name, saved[name], shape)
			}
		}
	}
}

func tensorShapes(t *testing.T, path string) map[string][]int {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]int{}
	for _, info := range f.Tensors() {
		out[info.Name] = info.Shape
	}
	return out
}

// Checkpoints that repeat tied tensors or the fixed positions load when the copies agree and
// are refused when they do not; missing or foreign tensors are refused with their names.
func TestLoadAliasesAndErrors(t *testing.T) {
	m := testModel(t, nil)
	shared := m.SrcEmbed.Weight.Value
	positions := m.Positions.Table
	wrong := shared.Clone()
	wrong.Data()[7] += 1
	for _, tc := range []struct {
		name  string
		extra []safetensors.Tensor
		drop  string
		err   string // "" if it must load
	}{
		{name: "tied copies", extra: []safetensors.Tensor{
			safetensors.F32("lm_head.weight", shared.Shape(), shared.Data()),
			safetensors.F32("model.encoder.embed_tokens.weight", shared.Shape(), shared.Data()),
			safetensors.F32("model.decoder.embed_positions.weight", positions.Shape(), positions.Data()),
		}},
		{name: "untied head", extra: []safetensors.Tensor{safetensors.F32("lm_head.weight", wrong.Shape(), wrong.Data())}, err: "lm_head.weight differs"},
		{name: "learnt positions", extra: []safetensors.Tensor{safetensors.F32("model.encoder.embed_positions.weight", wrong.Shape(), wrong.Data())}, err: "embed_positions.weight has"},
		{name: "foreign tensor", extra: []safetensors.Tensor{safetensors.F32("model.encoder.layernorm_embedding.weight", []int{32}, make([]float32, 32))}, err: "not a parameter"},
		{name: "missing tensor", drop: "model.decoder.layers.1.fc2.bias", err: "missing tensors model.decoder.layers.1.fc2.bias"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := m.Save(dir); err != nil {
				t.Fatal(err)
			}
			var ts []safetensors.Tensor
			for _, p := range m.Params.List() {
				if p.Name != tc.drop {
					ts = append(ts, safetensors.F32(p.Name, p.Var.Value.Shape(), p.Var.Value.Data()))
				}
			}
			if err := safetensors.WriteFile(filepath.Join(dir, WeightsFile), append(ts, tc.extra...), nil); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("Load = %v, want an error containing %q", err, tc.err)
			}
		})
	}
}

// A config.json for another family, or one with an invalid field, is refused before any
// weight is read, naming the file.
func TestLoadRefusesBadConfig(t *testing.T) {
	m := testModel(t, nil)
	for _, tc := range []struct{ config, want string }{
		{`{"model_type": "gpt2"}`, `model_type "gpt2"`},
		{`{"model_type": "marian", "d_model": 30, "encoder_attention_heads": 4}`, "d_model = 30 is not divisible"},
		{`not json`, "not a valid config.json"},
	} {
		dir := t.TempDir()
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(tc.config), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ConfigFile) {
			t.Errorf("config %s: Load = %v, want an error naming config.json and %q", tc.config, err, tc.want)
		}
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("an empty folder loaded")
	}
}

// Trainable holds every parameter but final_logits_bias, the buffer.
func TestTrainable(t *testing.T) {
	m := testModel(t, nil)
	tr := m.Trainable()
	if len(tr) != len(m.Params.List())-1 || slices.ContainsFunc(tr, func(p *nn.Param) bool { return p.Name == "final_logits_bias" }) {
		t.Fatalf("%d trainable of %d parameters", len(tr), len(m.Params.List()))
	}
}
