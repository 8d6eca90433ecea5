package bert

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/testenv"
)

// referenceCase reads the inputs and expected outputs of a reference folder.
func referenceCase(t *testing.T, dir string) (*Batch, func(name string) []float32) {
	t.Helper()
	in := readInputs(t, dir)
	exp, err := safetensors.Open(filepath.Join(dir, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exp.Close() })
	b := &Batch{B: len(in.InputIDs), T: len(in.InputIDs[0]), InputIDs: testenv.Flatten(in.InputIDs), TokenTypeIDs: testenv.Flatten(in.TokenTypeIDs), AttentionMask: testenv.Flatten(in.AttentionMask)}
	return b, func(name string) []float32 {
		v, err := exp.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// checkpointVariant is a way real BERT checkpoints differ from the reference's
// BertForPreTraining folder.
type checkpointVariant struct {
	name    string
	arch    string              // architectures[0] of config.json
	rename  func(string) string // a tensor's name in the variant, "" to leave it out
	dtype   safetensors.DType   // of the weights
	buffers bool                // position_ids and token_type_ids int64 buffers too
	head    Head                // the head Load gives
	warn    string              // in Load's warning, "" for none
	pooled  bool                // pooler_output matches the reference
	tol     float64             // on last_hidden_state (and the heads' logits)
}

func keep(n string) string { return n }

var checkpointVariants = []checkpointVariant{
	{name: "pretraining", arch: "BertForPreTraining", rename: keep, dtype: safetensors.DTypeF32, head: HeadPretraining, pooled: true, tol: 1e-4},
	{name: "bertmodel without prefix", arch: "BertModel", dtype: safetensors.DTypeF32, head: HeadNone, pooled: true, tol: 1e-4,
		rename: func(n string) string {
			if strings.HasPrefix(n, "cls.") {
				return ""
			}
			return strings.TrimPrefix(n, "bert.")
		}},
	{name: "legacy gamma beta", arch: "BertForPreTraining", dtype: safetensors.DTypeF32, head: HeadPretraining, pooled: true, tol: 1e-4,
		rename: func(n string) string {
			n = strings.Replace(n, "LayerNorm.weight", "LayerNorm.gamma", 1)
			return strings.Replace(n, "LayerNorm.bias", "LayerNorm.beta", 1)
		}},
	{name: "buffers and tied decoder", arch: "BertForPreTraining", rename: keep, dtype: safetensors.DTypeF32, buffers: true, head: HeadPretraining, pooled: true, tol: 1e-4},
	{name: "masked lm without pooler or nsp", arch: "BertForMaskedLM", dtype: safetensors.DTypeF32, head: HeadPretraining, tol: 1e-4,
		warn: "bert.pooler.dense, cls.seq_relationship",
		rename: func(n string) string {
			if strings.HasPrefix(n, "bert.pooler.") || strings.HasPrefix(n, "cls.seq_relationship.") {
				return ""
			}
			return n
		}},
	{name: "encoder without pooler", arch: "BertModel", dtype: safetensors.DTypeF32, head: HeadNone, tol: 1e-4, warn: "bert.pooler.dense",
		rename: func(n string) string {
			if strings.HasPrefix(n, "cls.") || strings.HasPrefix(n, "bert.pooler.") {
				return ""
			}
			return n
		}},
	// Half-precision weights: the outputs are those of the rounded weights, so the tolerance is
	// the rounding's (about 2^-11 and 2^-8 relative per weight).
	{name: "f16", arch: "BertForPreTraining", rename: keep, dtype: safetensors.DTypeF16, head: HeadPretraining, pooled: true, tol: 2e-2},
	{name: "bf16", arch: "BertForPreTraining", rename: keep, dtype: safetensors.DTypeBF16, head: HeadPretraining, pooled: true, tol: 1e-1},
}

// writeVariant writes the reference weights of dir as variant v into a new folder.
func writeVariant(t *testing.T, dir string, v checkpointVariant) string {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []safetensors.Tensor
	for _, info := range f.Tensors() {
		name := v.rename(info.Name)
		if name == "" {
			continue
		}
		data, err := f.Float32(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		switch v.dtype {
		case safetensors.DTypeF16:
			ts = append(ts, safetensors.F16(name, info.Shape, data))
		case safetensors.DTypeBF16:
			ts = append(ts, safetensors.BF16(name, info.Shape, data))
		default:
			ts = append(ts, safetensors.F32(name, info.Shape, data))
		}
		if v.buffers && info.Name == "bert.embeddings.word_embeddings.weight" {
			ts = append(ts, safetensors.F32(v.rename("cls.predictions.decoder.weight"), info.Shape, data))
		}
	}
	if v.buffers {
		cfg, err := os.ReadFile(filepath.Join(dir, ConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		pos := make([]int64, c.MaxPositionEmbeddings)
		for i := range pos {
			pos[i] = int64(i)
		}
		ts = append(ts, safetensors.I64(v.rename("bert.embeddings.position_ids"), []int{1, len(pos)}, pos),
			safetensors.I64(v.rename("bert.embeddings.token_type_ids"), []int{1, len(pos)}, make([]int64, len(pos))))
	}
	out := t.TempDir()
	if err := safetensors.WriteFile(filepath.Join(out, WeightsFile), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	data, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["architectures"] = []string{v.arch}
	data, err = json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, ConfigFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// Each variant of a real checkpoint loads with the head its weights hold, warns about what it
// initialised, and gives the reference's outputs; saved again and reloaded it gives the same.
func TestLoadCheckpointVariants(t *testing.T) {
	for _, ref := range testenv.ReferenceModels(t, "bert") {
		for _, v := range checkpointVariants {
			t.Run(filepath.Base(ref)+"/"+v.name, func(t *testing.T) {
				dir := writeVariant(t, ref, v)
				var warn bytes.Buffer
				m, err := LoadWith(dir, LoadOptions{Warn: &warn, Seed: 1})
				if err != nil {
					t.Fatal(err)
				}
				if m.Config.Head != v.head {
					t.Errorf("head %s, want %s", m.Config.Head, v.head)
				}
				if v.warn == "" && warn.Len() > 0 || v.warn != "" && !strings.Contains(warn.String(), v.warn) {
					t.Errorf("warnings %q, want %q", warn.String(), v.warn)
				}
				b, want := referenceCase(t, ref)
				checkOutputs(t, m, b, want, v)
				// Saved by qkv (HuggingFace names, "bert." prefix, F32) and loaded again: the same.
				saved := t.TempDir()
				if err := m.Save(saved); err != nil {
					t.Fatal(err)
				}
				warn.Reset()
				back, err := LoadWith(saved, LoadOptions{Warn: &warn})
				if err != nil {
					t.Fatal(err)
				}
				if back.Config.Head != v.head || warn.Len() > 0 {
					t.Errorf("saved and reloaded: head %s, warnings %q", back.Config.Head, warn.String())
				}
				g := autograd.NewGraph()
				if d := testenv.MaxDiff(back.Encode(g, b, nil, nil).Pooled.Value.Data(), m.Encode(g, b, nil, nil).Pooled.Value.Data()); d != 0 {
					t.Errorf("pooled output after a save and load differs by %.3g", d)
				}
			})
		}
	}
}

func checkOutputs(t *testing.T, m *Model, b *Batch, want func(string) []float32, v checkpointVariant) {
	t.Helper()
	g := autograd.NewGraph()
	out := m.Encode(g, b, nil, nil)
	got := map[string]*autograd.Var{"last_hidden_state": out.Hidden}
	if v.pooled {
		got["pooler_output"] = out.Pooled
	}
	if m.Transform != nil {
		got["mlm_logits"] = m.MLMLogits(g, out.Hidden)
		if v.pooled {
			got["nsp_logits"] = m.NSPLogits(g, out.Pooled)
		}
	}
	for name, x := range got {
		if d := testenv.RelDiff(x.Value.Contiguous().Data(), want(name)); d > v.tol {
			t.Errorf("%s differs from the reference by %.3g (tolerance %g)", name, d, v.tol)
		}
	}
}

// Checkpoints that do not fit: an encoder tensor missing, a classifier of other classes, a
// tensor of another architecture.
func TestLoadRefusesBrokenCheckpoints(t *testing.T) {
	for _, ref := range testenv.ReferenceModels(t, "bert") {
		for _, tc := range []struct {
			name, want string
			v          checkpointVariant
		}{
			{"missing encoder tensor", "missing tensors bert.encoder.layer.1.output.dense.weight", checkpointVariant{arch: "BertModel", rename: func(n string) string {
				if n == "bert.encoder.layer.1.output.dense.weight" {
					return ""
				}
				return n
			}}},
			{"foreign tensor", "not a parameter of this model", checkpointVariant{arch: "BertModel", rename: func(n string) string {
				return strings.Replace(n, "attention.self", "attention.other", 1)
			}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.v.dtype = safetensors.DTypeF32
				_, err := LoadWith(writeVariant(t, ref, tc.v), LoadOptions{})
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Load = %v, want an error containing %q", err, tc.want)
				}
			})
		}
	}
}
