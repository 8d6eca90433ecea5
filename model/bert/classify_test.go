package bert

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/testenv"
)

func classifierConfig() Config {
	c := tinyConfig()
	c.Head, c.NumLabels, c.Labels = HeadClassification, 3, []string{"entailment", "neutral", "contradiction"}
	c.HiddenDropoutProb, c.ClassifierDropoutProb = 0.1, 0.1
	return c
}

// A classifier saves as transformers writes BertForSequenceClassification: the parameter names,
// and a config.json with architectures, num_labels, id2label, label2id and problem_type; it
// loads back the same.
func TestClassifierSaveLoad(t *testing.T) {
	m, err := New(classifierConfig(), 4)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"architectures":      []any{"BertForSequenceClassification"},
		"model_type":         "bert",
		"num_labels":         3.0,
		"id2label":           map[string]any{"0": "entailment", "1": "neutral", "2": "contradiction"},
		"label2id":           map[string]any{"entailment": 0.0, "neutral": 1.0, "contradiction": 2.0},
		"problem_type":       "single_label_classification",
		"classifier_dropout": 0.1,
	} {
		if !reflect.DeepEqual(cfg[key], want) {
			t.Errorf("config.json %s = %v, want %v", key, cfg[key], want)
		}
	}
	f, err := safetensors.Open(filepath.Join(dir, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, info := range f.Tensors() {
		names = append(names, info.Name)
	}
	f.Close()
	for _, want := range []string{"bert.embeddings.word_embeddings.weight", "bert.pooler.dense.weight", "bert.encoder.layer.1.output.LayerNorm.bias", "classifier.weight", "classifier.bias"} {
		if !slices.Contains(names, want) {
			t.Errorf("weights lack %s", want)
		}
	}
	if slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "cls.") }) {
		t.Errorf("a classifier's weights hold pretraining heads: %v", names)
	}
	var warn bytes.Buffer
	back, err := LoadWith(dir, LoadOptions{Warn: &warn})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Config, m.Config) || warn.Len() > 0 {
		t.Fatalf("loaded config %+v (warnings %q), saved %+v", back.Config, warn.String(), m.Config)
	}
	b, _, _ := tinyBatch(m.Config, 3, 8, 2)
	g := autograd.NewGraph()
	if d := testenv.MaxDiff(back.Classify(g, b, nil).Value.Data(), m.Classify(g, b, nil).Value.Data()); d != 0 {
		t.Fatalf("logits after a save and load differ by %.3g", d)
	}
}

// The classifier's gradient equals the exact one computed from the pooled output,
// dW = (softmax(z) − onehot(y))ᵀ·pooled / B, and the pooler's matches finite differences.
func TestClassifierGradient(t *testing.T) {
	cfg := classifierConfig()
	m, err := New(cfg, 9)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := tinyBatch(cfg, 4, 8, 3)
	labels := []int{0, 2, 1, 2}
	g := autograd.NewGraph()
	m.Params.ZeroGrad()
	loss, logits := m.Loss(g, b, labels, nil)
	g.Backward(loss)

	pooled := m.Encode(autograd.NewGraph(), b, nil, nil).Pooled.Value.Data() // (B, C)
	C, K := cfg.HiddenSize, cfg.NumLabels
	z := logits.Value.Data()
	dW, db := make([]float32, K*C), make([]float32, K)
	for r := range b.B {
		mx := math.Inf(-1)
		for k := range K {
			mx = max(mx, float64(z[r*K+k]))
		}
		sum := 0.0
		for k := range K {
			sum += math.Exp(float64(z[r*K+k]) - mx)
		}
		for k := range K {
			d := math.Exp(float64(z[r*K+k])-mx) / sum
			if k == labels[r] {
				d--
			}
			d /= float64(b.B)
			db[k] += float32(d)
			for c := range C {
				dW[k*C+c] += float32(d * float64(pooled[r*C+c]))
			}
		}
	}
	if d := testenv.MaxDiff(m.Classifier.Weight.Grad().Data(), dW); d > 1e-6 {
		t.Errorf("classifier.weight gradient differs by %.3g", d)
	}
	if d := testenv.MaxDiff(m.Classifier.Bias.Grad().Data(), db); d > 1e-6 {
		t.Errorf("classifier.bias gradient differs by %.3g", d)
	}

	// Finite differences on some pooler weights (central, in float32 arithmetic).
	w := m.Pooler.Weight.Value.Data()
	grad := m.Pooler.Weight.Grad().Data()
	lossAt := func() float64 {
		l, _ := m.Loss(autograd.NewGraph(), b, labels, nil)
		return float64(l.Value.Item())
	}
	const h = 1e-2
	for _, i := range []int{0, 7, 33, len(w) - 1} {
		fd := testenv.CentralDifference(w, i, h, lossAt)
		if d := math.Abs(fd - float64(grad[i])); d > 1e-3+1e-2*math.Abs(fd) {
			t.Errorf("pooler weight %d: gradient %.6g, finite differences %.6g", i, grad[i], fd)
		}
	}
}

// Fine-tuning starts from a pretrained checkpoint: the encoder and pooler load, the classifier is
// new (with a warning), the pretraining heads are left unused.
func TestClassifierFromPretrained(t *testing.T) {
	for _, ref := range testenv.ReferenceModels(t, "bert") {
		var warn bytes.Buffer
		m, err := LoadWith(ref, LoadOptions{Head: HeadClassification, Labels: []string{"no", "yes"}, Seed: 3, Warn: &warn})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(warn.String(), "has no classifier") || !strings.Contains(warn.String(), "left unused") {
			t.Errorf("warnings %q", warn.String())
		}
		if m.Transform != nil || m.Classifier == nil || m.Config.NumLabels != 2 {
			t.Fatalf("heads: transform %v, classifier %v, %d labels", m.Transform != nil, m.Classifier != nil, m.Config.NumLabels)
		}
		b, want := referenceCase(t, ref)
		if d := testenv.RelDiff(m.Encode(autograd.NewGraph(), b, nil, nil).Pooled.Value.Data(), want("pooler_output")); d > 1e-4 {
			t.Errorf("pooler_output differs from the reference by %.3g", d)
		}
		if _, err := LoadWith(ref, LoadOptions{Head: HeadClassification}); err == nil || !strings.Contains(err.Error(), "needs its classes") {
			t.Errorf("a new classifier without classes: %v", err)
		}
	}
}

// Labels that are not class ids, or not one per sequence, are refused before the forward pass.
func TestCheckLabels(t *testing.T) {
	m, err := New(classifierConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := tinyBatch(m.Config, 2, 5, 1)
	for _, labels := range [][]int{{0}, {0, 3}, {-1, 0}, {0, 1, 2}} {
		if err := m.CheckLabels(b, labels); err == nil {
			t.Errorf("labels %v accepted", labels)
		}
	}
	if err := m.CheckLabels(b, []int{2, 0}); err != nil {
		t.Error(err)
	}
	p, _ := New(tinyConfig(), 1)
	if err := p.CheckLabels(b, []int{0, 0}); err == nil {
		t.Error("a pretraining model accepts classification labels")
	}
}
