package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/tokenizer"
)

// bertInputs reads the reference batch of a bert folder.
func bertInputs(t *testing.T, dir string) *bert.Batch {
	t.Helper()
	var in struct {
		InputIDs      [][]int `json:"input_ids"`
		TokenTypeIDs  [][]int `json:"token_type_ids"`
		AttentionMask [][]int `json:"attention_mask"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &in); err != nil {
		t.Fatal(err)
	}
	return &bert.Batch{B: len(in.InputIDs), T: len(in.InputIDs[0]), InputIDs: testenv.Flatten(in.InputIDs), TokenTypeIDs: testenv.Flatten(in.TokenTypeIDs), AttentionMask: testenv.Flatten(in.AttentionMask)}
}

// hfBERTFolder writes the reference weights of dir as a HuggingFace folder of another layout:
// names through rename ("" drops a tensor), weights in dtype, the config's architectures set,
// and a WordPiece vocabulary of the model's size.
func hfBERTFolder(t *testing.T, dir, arch string, dtype safetensors.DType, rename func(string) string) string {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []safetensors.Tensor
	for _, info := range f.Tensors() {
		name := rename(info.Name)
		if name == "" {
			continue
		}
		data, err := f.Float32(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		if dtype == safetensors.DTypeF16 {
			ts = append(ts, safetensors.F16(name, info.Shape, data))
		} else {
			ts = append(ts, safetensors.F32(name, info.Shape, data))
		}
	}
	out := t.TempDir()
	if err := safetensors.WriteFile(filepath.Join(out, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["architectures"] = []string{arch}
	data, _ = json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(out, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	for i := len(vocab); i < int(cfg["vocab_size"].(float64)); i++ {
		vocab = append(vocab, fmt.Sprintf("w%d", i))
	}
	tok, err := tokenizer.NewWordPiece(vocab, tokenizer.WordPieceOptions{Lowercase: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Importing HuggingFace BERT folders of every layout (BertModel without the prefix, F16, with
// the pretraining heads) and exporting them again gives folders in BertForPreTraining's or
// BertModel's layout whose outputs are the reference's; the export imports back unchanged.
func TestConvertBERTRoundTrip(t *testing.T) {
	for _, ref := range testenv.ReferenceModels(t, "bert") {
		exp, err := safetensors.Open(filepath.Join(ref, "expected.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		defer exp.Close()
		b := bertInputs(t, ref)
		for _, tc := range []struct {
			name, arch string
			dtype      safetensors.DType
			rename     func(string) string
			head       bert.Head
			tol        float64
		}{
			{"pretraining", "BertForPreTraining", safetensors.DTypeF32, func(n string) string { return n }, bert.HeadPretraining, 1e-4},
			{"bertmodel", "BertModel", safetensors.DTypeF32, func(n string) string {
				if strings.HasPrefix(n, "cls.") {
					return ""
				}
				return strings.TrimPrefix(n, "bert.")
			}, bert.HeadNone, 1e-4},
			{"f16", "BertForPreTraining", safetensors.DTypeF16, func(n string) string { return n }, bert.HeadPretraining, 2e-2},
		} {
			t.Run(tc.name, func(t *testing.T) {
				src := hfBERTFolder(t, ref, tc.arch, tc.dtype, tc.rename)
				out := filepath.Join(t.TempDir(), "export")
				if o, err := run(t, "", "convert", "--model", src, "--out", out); err != nil {
					t.Fatalf("%v\n%s", err, o)
				}
				for _, f := range []string{"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"} {
					if _, err := os.Stat(filepath.Join(out, f)); err != nil {
						t.Errorf("the export lacks %s", f)
					}
				}
				var cfg map[string]any
				data, _ := os.ReadFile(filepath.Join(out, "config.json"))
				if err := json.Unmarshal(data, &cfg); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(cfg["architectures"], []any{string(tc.head)}) || cfg["torch_dtype"] != "float32" {
					t.Errorf("exported config: architectures %v, torch_dtype %v", cfg["architectures"], cfg["torch_dtype"])
				}
				for _, info := range tensorInfos(t, filepath.Join(out, "model.safetensors")) {
					if !strings.HasPrefix(info.Name, "bert.") && !strings.HasPrefix(info.Name, "cls.") || info.DType != safetensors.DTypeF32 {
						t.Errorf("exported tensor %s %s", info.Name, info.DType)
					}
				}
				m, err := bert.LoadWith(out, bert.LoadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				g := autograd.NewGraph()
				o := m.Encode(g, b, nil, nil)
				for name, got := range map[string]*autograd.Var{"last_hidden_state": o.Hidden, "pooler_output": o.Pooled} {
					want, err := exp.Float32(name)
					if err != nil {
						t.Fatal(err)
					}
					if d := testenv.RelDiff(got.Value.Data(), want); d > tc.tol {
						t.Errorf("%s of the export differs from the reference by %.3g", name, d)
					}
				}
				// Exported again: the same tensors, bit for bit.
				again := filepath.Join(t.TempDir(), "again")
				if o, err := run(t, "", "convert", "--model", out, "--out", again); err != nil {
					t.Fatalf("%v\n%s", err, o)
				}
				m2, err := bert.LoadWith(again, bert.LoadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range m.Params.List() {
					q, ok := m2.Params.Get(p.Name)
					if !ok || testenv.MaxDiff(p.Var.Value.Data(), q.Var.Value.Data()) != 0 {
						t.Errorf("%s changed in a second round trip", p.Name)
					}
				}
			})
		}
	}
}

// A fine-tuned classifier exports as BertForSequenceClassification with its classes, and the
// export classifies as the model did.
func TestConvertBERTClassifier(t *testing.T) {
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film"}
	src := t.TempDir()
	m, tok := saveTinyBERT(t, src, vocab, bert.Config{HiddenSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 32,
		MaxPositionEmbeddings: 16, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu", HiddenDropoutProb: 0.1,
		Head: bert.HeadClassification, NumLabels: 2, Labels: []string{"negative", "positive"}, ClassifierDropoutProb: 0.1}, 5)
	out := filepath.Join(t.TempDir(), "export")
	if o, err := run(t, "", "convert", "--model", src, "--out", out); err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	var cfg map[string]any
	data, _ := os.ReadFile(filepath.Join(out, "config.json"))
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"architectures": []any{"BertForSequenceClassification"},
		"id2label":      map[string]any{"0": "negative", "1": "positive"},
		"label2id":      map[string]any{"negative": 0.0, "positive": 1.0},
		"num_labels":    2.0,
		"problem_type":  "single_label_classification",
	} {
		if !reflect.DeepEqual(cfg[key], want) {
			t.Errorf("config.json %s = %v, want %v", key, cfg[key], want)
		}
	}
	back, err := bert.LoadWith(out, bert.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := tok.EncodeSingle("good film", tokenizer.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := &bert.Batch{B: 1, T: len(enc.IDs), InputIDs: enc.IDs}
	g := autograd.NewGraph()
	if d := testenv.MaxDiff(back.Classify(g, b, nil).Value.Data(), m.Classify(g, b, nil).Value.Data()); d != 0 {
		t.Errorf("the export's logits differ by %.3g", d)
	}
}
