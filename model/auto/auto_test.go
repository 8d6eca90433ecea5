package auto

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// LoadForInference reads a GPT's matrices straight into the compact format (the float32
// weights released, the logits those of Load followed by PackForInference), a BERT's onto the
// panels of the compute set, and refuses a damaged checkpoint as Load does.
func TestLoadForInference(t *testing.T) {
	g, err := gpt.New(gpt.Config{VocabSize: 40, NPositions: 16, NEmbd: 16, NLayer: 2, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	gdir := t.TempDir()
	if err := g.Save(gdir); err != nil {
		t.Fatal(err)
	}
	m, err := LoadForInference(gdir, tensor.Int8)
	if err != nil {
		t.Fatal(err)
	}
	gm, ok := Family(m).(*gpt.Model)
	if !ok || gm.H[0].MLP.CFc.Weight.Value != nil || gm.H[0].MLP.CFc.Packed == nil {
		t.Fatalf("LoadForInference(gpt, int8) = %T, float32 weights kept or not packed", Family(m))
	}
	if err := gm.Save(t.TempDir()); err == nil {
		t.Fatal("a GPT loaded for inference in int8 saved")
	}

	b, err := bert.New(bert.Config{VocabSize: 30, HiddenSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 32,
		MaxPositionEmbeddings: 16, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	bdir := t.TempDir()
	if err := b.Save(bdir); err != nil {
		t.Fatal(err)
	}
	bm, err := LoadForInference(bdir, tensor.Int8)
	if err != nil {
		t.Fatal(err)
	}
	// The encoder is packed as it is read where the CPU has panels (whatever the format), as
	// PackForCompute would pack it.
	enc, ok := Family(bm).(*bert.Model)
	if !ok {
		t.Fatalf("LoadForInference(bert) = %T", Family(bm))
	}
	packed, panels := enc.Layers[0].Output.Weight.Value == nil, kernel.PanelsAvailable() || kernel.FloatPanelsAvailable()
	if packed != panels {
		t.Fatalf("LoadForInference(bert): float32 weights released %v, with panels on this CPU %v", packed, panels)
	}

	step := writeRunCheckpoint(t, t.TempDir(), 10)
	if err := os.WriteFile(filepath.Join(step, "model.safetensors"), []byte("weights 11"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadForInference(step, tensor.FP32); err == nil || !strings.Contains(err.Error(), "model.safetensors is damaged") {
		t.Fatalf("LoadForInference(damaged checkpoint) = %v", err)
	}
}
