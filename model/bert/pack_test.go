package bert

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// encodeHidden runs the encoder without recording and returns last_hidden_state.
func encodeHidden(m *Model, b *Batch) []float32 {
	g := autograd.NewGraph()
	g.SetGrad(false)
	return append([]float32(nil), m.Encode(g, b, nil, nil).Hidden.Value.Data()...)
}

// packBatch is the batch the packing tests encode.
func packBatch() *Batch {
	return &Batch{B: 2, T: 5, InputIDs: []int{1, 7, 3, 9, 2, 4, 4, 8, 11, 5}}
}

// packedTiny returns the tiny test encoder (seed 3) packed in format f.
func packedTiny(t *testing.T, f tensor.WeightFormat) *Model {
	t.Helper()
	m, err := New(tinyConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Pack(f); err != nil {
		t.Fatal(err)
	}
	return m
}

// Packed (bf16, int8) weights give hidden states close to the float32 ones at inference, and a
// recording pass still uses the float32 weights.
func TestPack(t *testing.T) {
	m, err := New(tinyConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	b := packBatch()
	ref := encodeHidden(m, b)
	refTrain := append([]float32(nil), m.Encode(autograd.NewGraph(), b, nil, nil).Hidden.Value.Data()...)
	for _, f := range []tensor.WeightFormat{tensor.BF16, tensor.Int8} {
		if err := m.Pack(f); err != nil {
			t.Fatal(err)
		}
		got := encodeHidden(m, b)
		var worst float64
		for i := range ref {
			worst = max(worst, math.Abs(float64(got[i]-ref[i])))
		}
		// LayerNorm keeps the hidden states near unit scale.
		if worst > 0.05 || worst == 0 {
			t.Errorf("%s: hidden states differ by %.3g; want a small non-zero difference", f, worst)
		}
		g := autograd.NewGraph()
		if d := testenv.MaxDiff(m.Encode(g, b, nil, nil).Hidden.Value.Data(), refTrain); d != 0 {
			t.Errorf("%s: the recording pass changed by %g", f, d)
		}
	}
	if err := m.Pack(tensor.FP32); err != nil {
		t.Fatal(err)
	}
	if d := testenv.MaxDiff(encodeHidden(m, b), ref); d != 0 {
		t.Errorf("back to fp32: hidden states differ by %g", d)
	}
}

// The query, key and value products run as one on the joint packed matrix, with the bits of
// three products on their own packed weights, in each format and compute.
func TestPackJointQKV(t *testing.T) {
	b := packBatch()
	testenv.EachCompute(t, func(c kernel.Compute) {
		for _, f := range []tensor.WeightFormat{tensor.BF16, tensor.Int8} {
			m := packedTiny(t, f)
			joint := encodeHidden(m, b)
			for _, l := range m.Layers {
				if l.qkv == nil {
					t.Fatalf("%s %s: no joint query/key/value matrix", c, f)
				}
				l.qkv, l.qkvBias = nil, nil
				for _, lin := range l.linears()[:3] {
					if err := lin.Pack(f); err != nil {
						t.Fatal(err)
					}
				}
			}
			if d := testenv.MaxDiff(encodeHidden(m, b), joint); d != 0 {
				t.Errorf("%s %s: the joint product differs from three by %g", c, f, d)
			}
		}
	})
}

// PackForInference gives the hidden states of Pack, holds no float32 copy of the layers'
// weights, and refuses what needs them (training, saving, another format) with a clear
// message; under bf16 compute PackForCompute does the same with bf16 panels.
func TestPackForInference(t *testing.T) {
	b := packBatch()
	testenv.EachCompute(t, func(c kernel.Compute) {
		for _, f := range []tensor.WeightFormat{tensor.BF16, tensor.Int8} {
			m := packedTiny(t, f)
			want := encodeHidden(m, b)
			if err := m.PackForInference(f); err != nil {
				t.Fatal(err)
			}
			if d := testenv.MaxDiff(encodeHidden(m, b), want); d != 0 {
				t.Errorf("%s %s: hidden states differ from Pack's by %g", c, f, d)
			}
			for i, l := range m.Layers {
				for _, lin := range l.linears() {
					if lin.Weight.Value != nil {
						t.Fatalf("%s %s: layer %d keeps a float32 weight", c, f, i)
					}
				}
			}
			if err := m.Save(t.TempDir()); err == nil || !strings.Contains(err.Error(), "released") {
				t.Errorf("%s %s: Save = %v, want an error about the released weights", c, f, err)
			}
			if err := m.Pack(tensor.FP32); err == nil || !strings.Contains(err.Error(), "PackForInference") {
				t.Errorf("%s %s: Pack(fp32) = %v, want an error", c, f, err)
			}
			func() {
				defer func() {
					if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "only run inference") {
						t.Errorf("%s %s: a recording pass: panic %v, want one about inference", c, f, r)
					}
				}()
				m.Encode(autograd.NewGraph(), b, nil, nil)
			}()
		}
		m, err := New(tinyConfig(), 3)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.PackForCompute(); err != nil {
			t.Fatal(err)
		}
		if released := m.Layers[0].Output.Weight.Value == nil; released != (c == kernel.BF16Compute || kernel.FloatPanelsAvailable()) {
			t.Errorf("%s: PackForCompute released the float32 weights: %v", c, released)
		}
		if err := m.PackForCompute(); err != nil { // each embedder of a shared model calls it
			t.Errorf("%s: PackForCompute a second time: %v", c, err)
		}
	})
}

// TestPackFloatPanels checks fp32 packed for inference under float32 compute on a CPU with
// float32 panels (skipped elsewhere): the linear maps are packed as panels that hold the
// weights, the float32 weights are released, and the hidden states stay within float32
// rounding of the unpacked encoder's, bit for bit on a batch whose products Sgemm tiles.
func TestPackFloatPanels(t *testing.T) {
	if !kernel.FloatPanelsAvailable() {
		t.Skip("skipped: this CPU (or QKV_CPU) has no float32 panels (AVX2 or AVX-512)")
	}
	ids := make([]int, 4*20)
	for i := range ids {
		ids[i] = (7*i + 3) % 40
	}
	wide := tinyConfig()
	wide.HiddenSize, wide.IntermediateSize = 64, 256
	cases := []struct {
		cfg   Config
		b     *Batch
		tiled bool // Sgemm tiles the products: the bits of the unpacked encoder
	}{{tinyConfig(), &Batch{B: 1, T: 1, InputIDs: []int{7}}, false}, {tinyConfig(), packBatch(), true}, {wide, &Batch{B: 4, T: 20, InputIDs: ids}, true}}
	for _, tc := range cases {
		b := tc.b
		m, err := New(tc.cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		want := encodeHidden(m, b)
		C := m.Config.HiddenSize
		tiled := kernel.Tiled(b.B*b.T, C, C)
		if tiled != tc.tiled {
			t.Fatalf("kernel.Tiled(%d, %d, %d) = %v", b.B*b.T, C, C, tiled)
		}
		if err := m.PackForInference(tensor.FP32); err != nil {
			t.Fatal(err)
		}
		for i, l := range m.Layers {
			if l.qkv == nil || !l.qkv.HoldsWeights() || l.Output.Packed == nil || l.Output.Weight.Value != nil || l.Query.Weight.Value != nil {
				t.Fatalf("layer %d: not on float32 panels, or a float32 weight kept", i)
			}
		}
		got := encodeHidden(m, b)
		d := testenv.MaxDiff(got, want)
		if tiled && d != 0 || d > 1e-5*testenv.MaxAbs(want) {
			t.Fatalf("B=%d T=%d: hidden states on float32 panels differ by %g (bits expected: %v)", b.B, b.T, d, tiled)
		}
		if err := m.Save(t.TempDir()); err == nil {
			t.Fatal("saved an encoder whose float32 weights were released")
		}
	}
}

// With bfloat16 compute, bf16 packs the weights as the GEMM kernel's panels, once: the encoder
// then gives the bits of the float32 weights in bfloat16 compute.
func TestPackBF16Compute(t *testing.T) {
	if err := kernel.SetCompute(kernel.BF16Compute); err != nil {
		t.Skipf("skipped: %v", err)
	}
	defer kernel.SetCompute(kernel.FP32Compute)
	m, err := New(tinyConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	b := packBatch()
	want := encodeHidden(m, b)
	if err := m.Pack(tensor.BF16); err != nil {
		t.Fatal(err)
	}
	if d := testenv.MaxDiff(encodeHidden(m, b), want); d != 0 {
		t.Errorf("hidden states on panels differ from the float32 weights' by %g", d)
	}
}

// LoadForCompute gives the encoder that Load followed by PackForCompute gives, bit for bit,
// under each compute, with every layer's weights packed and none held in float32; from a
// checkpoint whose tensors come in another order, in BF16, and from a BertModel without
// heads alike.
func TestLoadForCompute(t *testing.T) {
	m, err := New(tinyConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	saved, reordered, missing := t.TempDir(), t.TempDir(), t.TempDir()
	for _, dir := range []string{saved, reordered, missing} {
		if err := m.Save(dir); err != nil {
			t.Fatal(err)
		}
	}
	// Tensors in the opposite order, the query weights in BF16; and one without a key weight.
	rewriteWeights(t, reordered, func(name string, shape []int, v []float32) (safetensors.Tensor, bool) {
		if strings.HasSuffix(name, "query.weight") {
			return safetensors.BF16(name, shape, v), true
		}
		return safetensors.F32(name, shape, v), true
	}, true)
	rewriteWeights(t, missing, func(name string, shape []int, v []float32) (safetensors.Tensor, bool) {
		return safetensors.F32(name, shape, v), !strings.HasSuffix(name, "layer.1.attention.self.key.weight")
	}, false)
	b := packBatch()
	testenv.EachCompute(t, func(c kernel.Compute) {
		if _, err := LoadForCompute(missing); err == nil || !strings.Contains(err.Error(), "missing tensors") {
			t.Fatalf("%s compute: a checkpoint without a key weight: %v", c, err)
		}
		for _, dir := range []string{saved, reordered} {
			loadForCompute(t, c, dir, b)
		}
	})
}

// loadForCompute checks LoadForCompute(dir) against Load and PackForCompute under compute c.
func loadForCompute(t *testing.T, c kernel.Compute, dir string, b *Batch) {
	t.Helper()
	{
		ref, err := LoadWith(dir, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ref.PackForCompute(); err != nil {
			t.Fatal(err)
		}
		got, err := LoadForCompute(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !kernel.FloatPanelsAvailable() && c == kernel.FP32Compute {
			if got.packedOnly {
				t.Fatal("packed without panels to pack on")
			}
		} else {
			if !got.packedOnly {
				t.Fatalf("%s compute: not packed", c)
			}
			for i, l := range got.Layers {
				for _, lin := range l.linears() {
					if lin.Weight.Value != nil {
						t.Fatalf("%s compute: layer %d holds a float32 weight", c, i)
					}
				}
				if l.qkv == nil || l.qkvBias == nil || l.AttnOut.Packed == nil || l.Intermediate.Packed == nil || l.Output.Packed == nil {
					t.Fatalf("%s compute: layer %d is not packed", c, i)
				}
			}
			// Packing again does nothing, as on an encoder PackForCompute packed.
			if err := got.PackForCompute(); err != nil {
				t.Fatal(err)
			}
		}
		if d := testenv.MaxDiff(encodeHidden(got, b), encodeHidden(ref, b)); d != 0 {
			t.Fatalf("%s compute: hidden states differ from Load + PackForCompute by %g", c, d)
		}
	}
}

// rewriteWeights rewrites the model.safetensors of dir, each tensor (read as float32) as encode
// makes it, or left out where encode says false; with reverse, in the opposite order.
func rewriteWeights(t *testing.T, dir string, encode func(name string, shape []int, v []float32) (safetensors.Tensor, bool), reverse bool) {
	t.Helper()
	path := filepath.Join(dir, WeightsFile)
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, info := range f.Tensors() {
		v, err := f.Float32(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		if x, keep := encode(info.Name, info.Shape, v); keep {
			ts = append(ts, x)
		}
	}
	f.Close()
	if reverse {
		slices.Reverse(ts)
	}
	if err := safetensors.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
}
