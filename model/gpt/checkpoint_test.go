package gpt

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/hf/safetensors"
)

func saveTiny(t *testing.T) (*Model, string) {
	t.Helper()
	m, err := New(tinyConfig(), 11)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	return m, dir
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m, dir := saveTiny(t)
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Config != m.Config {
		t.Fatalf("config %+v, saved %+v", back.Config, m.Config)
	}
	for _, p := range m.Params.List() {
		q, _ := back.Params.Get(p.Name)
		a, b := p.Var.Value.Data(), q.Var.Value.Data()
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d]: %g after round trip, %g before", p.Name, i, b[i], a[i])
			}
		}
	}
}

// stored is one tensor of a weights file, decoded.
type stored struct {
	name  string
	shape []int
	v     []float32
}

// rewrite loads the tiny model's tensors, lets edit turn them into new ones, and writes those.
func rewrite(t *testing.T, dir string, edit func(ts []stored) []safetensors.Tensor) {
	t.Helper()
	path := filepath.Join(dir, WeightsFile)
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var ts []stored
	for _, info := range f.Tensors() {
		v, err := f.Float32(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, stored{info.Name, info.Shape, v})
	}
	f.Close()
	if err := safetensors.WriteFile(path, edit(ts), nil); err != nil {
		t.Fatal(err)
	}
}

// f32 re-encodes every stored tensor unchanged, except those replace maps to something else.
func f32(ts []stored, replace func(s stored) (safetensors.Tensor, bool)) []safetensors.Tensor {
	var out []safetensors.Tensor
	for _, s := range ts {
		if replace != nil {
			if r, ok := replace(s); ok {
				if r.Name != "" {
					out = append(out, r)
				}
				continue
			}
		}
		out = append(out, safetensors.F32(s.name, s.shape, s.v))
	}
	return out
}

// What real hub checkpoints carry loads: the transformer. prefix, attention-mask buffers, an
// explicit lm_head equal to wte, F16/BF16 tensors.
func TestLoadHubVariants(t *testing.T) {
	m, dir := saveTiny(t)
	rewrite(t, dir, func(ts []stored) []safetensors.Tensor {
		var out []safetensors.Tensor
		for _, x := range ts {
			switch {
			case strings.HasSuffix(x.name, "ln_1.weight"):
				out = append(out, safetensors.BF16("transformer."+x.name, x.shape, x.v)) // 1s are exact in BF16
			case x.name == "wte.weight":
				out = append(out, safetensors.F32("transformer."+x.name, x.shape, x.v), safetensors.F32("lm_head.weight", x.shape, x.v))
			default:
				out = append(out, safetensors.F32("transformer."+x.name, x.shape, x.v))
			}
		}
		out = append(out, safetensors.F32("transformer.h.0.attn.bias", []int{1, 1, 24, 24}, make([]float32, 24*24)))
		out = append(out, safetensors.F32("transformer.h.1.attn.masked_bias", []int{}, []float32{-1e4}))
		return out
	})
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := back.Params.Get("h.1.mlp.c_fc.weight")
	q, _ := m.Params.Get("h.1.mlp.c_fc.weight")
	if p.Var.Value.Data()[5] != q.Var.Value.Data()[5] {
		t.Fatal("weights changed through the prefixed file")
	}
}

func TestLoadRejectsBadCheckpoints(t *testing.T) {
	cases := []struct {
		name    string
		corrupt func(t *testing.T, dir string)
		want    string
	}{
		{"missing weights", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, WeightsFile)) }, "model.safetensors"},
		{"missing config", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ConfigFile)) }, "config.json"},
		{"truncated weights", func(t *testing.T, dir string) {
			p := filepath.Join(dir, WeightsFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-100], 0o644)
		}, "model.safetensors"},
		{"shape disagrees with config", func(t *testing.T, dir string) {
			rewrite(t, dir, func(ts []stored) []safetensors.Tensor {
				return f32(ts, func(s stored) (safetensors.Tensor, bool) {
					return safetensors.F32(s.name, []int{128, 32}, s.v), s.name == "h.0.mlp.c_fc.weight"
				})
			})
		}, `"h.0.mlp.c_fc.weight" has shape [128 32]`},
		{"missing tensor", func(t *testing.T, dir string) {
			rewrite(t, dir, func(ts []stored) []safetensors.Tensor {
				return f32(ts, func(s stored) (safetensors.Tensor, bool) { return safetensors.Tensor{}, s.name == "ln_f.bias" })
			})
		}, "missing tensors ln_f.bias"},
		{"unknown tensor", func(t *testing.T, dir string) {
			rewrite(t, dir, func(ts []stored) []safetensors.Tensor {
				return append(f32(ts, nil), safetensors.F32("encoder.layer.0.weight", []int{2}, []float32{1, 2}))
			})
		}, `"encoder.layer.0.weight" is not a parameter`},
		{"integer weights", func(t *testing.T, dir string) {
			rewrite(t, dir, func(ts []stored) []safetensors.Tensor {
				return f32(ts, func(s stored) (safetensors.Tensor, bool) {
					return safetensors.I32("ln_f.bias", []int{32}, make([]int32, 32)), s.name == "ln_f.bias"
				})
			})
		}, "dtype I32"},
		{"untied lm_head", func(t *testing.T, dir string) {
			rewrite(t, dir, func(ts []stored) []safetensors.Tensor {
				return append(f32(ts, nil), safetensors.F32("lm_head.weight", []int{37, 32}, make([]float32, 37*32)))
			})
		}, "lm_head.weight differs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, dir := saveTiny(t)
			c.corrupt(t, dir)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v does not mention %q", err, c.want)
			}
		})
	}
}

// Hostile config.json values are refused before anything is allocated.
func TestParseConfigRejects(t *testing.T) {
	base := `"model_type":"gpt2","n_positions":16,"n_embd":32,"n_layer":2,"n_head":4`
	cases := []struct{ json, want string }{
		{`{` + base + `,"vocab_size":2147483648}`, "vocab_size"},
		{`{` + base + `,"vocab_size":-5}`, "vocab_size"},
		{`{` + base + `,"vocab_size":50.5}`, "config.json"},
		{`{` + base + `,"vocab_size":"big"}`, "config.json"},
		{`{"model_type":"gpt2","vocab_size":10,"n_positions":16,"n_embd":30,"n_layer":2,"n_head":4}`, "divisible"},
		{`{"model_type":"llama","vocab_size":10}`, "model_type"},
		{`{` + base + `,"vocab_size":10,"auto_map":{"AutoModel":"x.Model"}}`, "auto_map"},
		{`{` + base + `,"vocab_size":10,"activation_function":"relu"}`, "activation"},
		{`{` + base + `,"vocab_size":10,"layer_norm_epsilon":-1}`, "layer_norm_epsilon"},
		{`{` + base + `,"vocab_size":10,"resid_pdrop":1.5}`, "resid_pdrop"},
		{`[1,2]`, "config.json"},
		{``, "config.json"},
	}
	for _, c := range cases {
		if _, err := ParseConfig([]byte(c.json)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseConfig(%s): error %v does not mention %q", c.json, err, c.want)
		}
	}
}

// A checkpoint sharded over two files with an index loads like a single file.
func TestLoadSharded(t *testing.T) {
	m, dir := saveTiny(t)
	path := filepath.Join(dir, WeightsFile)
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var shards [2][]safetensors.Tensor
	index := map[string]string{}
	for i, info := range f.Tensors() {
		tt, err := f.Tensor(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		shards[i%2] = append(shards[i%2], tt)
		index[info.Name] = fmt.Sprintf("model-%05d-of-00002.safetensors", i%2+1)
	}
	f.Close()
	os.Remove(path)
	for i, s := range shards {
		if err := safetensors.WriteFile(filepath.Join(dir, fmt.Sprintf("model-%05d-of-00002.safetensors", i+1)), s, nil); err != nil {
			t.Fatal(err)
		}
	}
	idx, _ := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": index})
	os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), idx, 0o644)
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := back.Params.Get("h.1.attn.c_proj.weight")
	q, _ := m.Params.Get("h.1.attn.c_proj.weight")
	if p.Var.Value.Data()[7] != q.Var.Value.Data()[7] {
		t.Fatal("sharded weights differ")
	}
	// An index naming a file outside the folder is refused.
	idx, _ = json.Marshal(map[string]any{"weight_map": map[string]string{"wte.weight": "../x.safetensors"}})
	os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), idx, 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a file name inside") {
		t.Fatalf("want a refusal, got %v", err)
	}
}
