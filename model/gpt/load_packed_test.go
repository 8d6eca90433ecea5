package gpt

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/sample"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// prefillLogits returns the last position's logits for a fixed prompt.
func prefillLogits(t *testing.T, m *Model) []float32 {
	t.Helper()
	logits, err := m.NewGenerator().Start([]int{3, 1, 4, 1, 5, 9, 2, 6})
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), logits...)
}

// LoadForInference gives the model that Load followed by PackForInference gives, bit for
// bit, in every format, also from hub-style files (prefixed names, a tied lm_head, BF16
// tensors, mask buffers).
func TestLoadForInferenceMatchesPack(t *testing.T) {
	for _, hub := range []bool{false, true} {
		_, dir := saveTiny(t)
		if hub {
			rewrite(t, dir, func(ts []stored) []safetensors.Tensor {
				var out []safetensors.Tensor
				for _, x := range ts {
					switch {
					case strings.HasSuffix(x.name, "ln_1.weight") || x.name == "h.1.attn.c_attn.weight":
						bf := make([]float32, len(x.v)) // values exact in bfloat16
						for i, v := range x.v {
							bf[i] = math.Float32frombits(math.Float32bits(v) &^ 0xffff)
						}
						out = append(out, safetensors.BF16("transformer."+x.name, x.shape, bf))
					case x.name == "wte.weight":
						out = append(out, safetensors.F32("transformer."+x.name, x.shape, x.v), safetensors.F32("lm_head.weight", x.shape, x.v))
					default:
						out = append(out, safetensors.F32("transformer."+x.name, x.shape, x.v))
					}
				}
				return append(out, safetensors.F32("transformer.h.0.attn.bias", []int{1, 1, 24, 24}, make([]float32, 24*24)))
			})
		}
		for _, format := range []tensor.WeightFormat{tensor.FP32, tensor.BF16, tensor.Int8} {
			ref, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := ref.PackForInference(format); err != nil {
				t.Fatal(err)
			}
			m, err := LoadForInference(dir, format)
			if err != nil {
				t.Fatalf("hub=%v %s: %v", hub, format, err)
			}
			want, got := prefillLogits(t, ref), prefillLogits(t, m)
			for i := range want {
				if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
					t.Fatalf("hub=%v %s: logit %d = %g, PackForInference gives %g", hub, format, i, got[i], want[i])
				}
			}
			if format == tensor.FP32 {
				continue
			}
			if !m.packedOnly || m.Wte.Weight.Value != nil || m.H[0].MLP.CFc.Weight.Value != nil || m.H[0].MLP.CFc.Packed == nil {
				t.Fatalf("%s: the float32 matrices are still held", format)
			}
			if err := m.Save(t.TempDir()); err == nil {
				t.Fatalf("%s: a packed-only model saved", format)
			}
		}
	}
}

// LoadForInference refuses what Load refuses, with the same messages, and weights int8
// cannot hold.
func TestLoadForInferenceRejects(t *testing.T) {
	cases := []struct {
		name string
		edit func(ts []stored) []safetensors.Tensor
		want string
	}{
		{"shape disagrees with config", func(ts []stored) []safetensors.Tensor {
			return f32(ts, func(s stored) (safetensors.Tensor, bool) {
				return safetensors.F32(s.name, []int{128, 32}, s.v), s.name == "h.0.mlp.c_fc.weight"
			})
		}, `"h.0.mlp.c_fc.weight" has shape [128 32]`},
		{"missing matrix", func(ts []stored) []safetensors.Tensor {
			return f32(ts, func(s stored) (safetensors.Tensor, bool) {
				return safetensors.Tensor{}, s.name == "h.1.attn.c_proj.weight"
			})
		}, "missing tensors h.1.attn.c_proj.weight"},
		{"missing vector", func(ts []stored) []safetensors.Tensor {
			return f32(ts, func(s stored) (safetensors.Tensor, bool) { return safetensors.Tensor{}, s.name == "ln_f.bias" })
		}, "missing tensors ln_f.bias"},
		{"duplicate", func(ts []stored) []safetensors.Tensor {
			out := f32(ts, nil)
			for _, s := range ts {
				if s.name == "h.0.mlp.c_fc.weight" {
					out = append(out, safetensors.F32("transformer."+s.name, s.shape, s.v))
				}
			}
			return out
		}, "both give parameter"},
		{"unknown tensor", func(ts []stored) []safetensors.Tensor {
			return append(f32(ts, nil), safetensors.F32("encoder.layer.0.weight", []int{2}, []float32{1, 2}))
		}, `"encoder.layer.0.weight" is not a parameter`},
		{"integer weights", func(ts []stored) []safetensors.Tensor {
			return f32(ts, func(s stored) (safetensors.Tensor, bool) {
				return safetensors.I32(s.name, s.shape, make([]int32, len(s.v))), s.name == "h.0.attn.c_attn.weight"
			})
		}, "dtype I32"},
		{"untied lm_head", func(ts []stored) []safetensors.Tensor {
			return append(f32(ts, nil), safetensors.F32("lm_head.weight", []int{37, 32}, make([]float32, 37*32)))
		}, "lm_head.weight differs"},
		{"lm_head of another size", func(ts []stored) []safetensors.Tensor {
			return append(f32(ts, nil), safetensors.F32("lm_head.weight", []int{36, 32}, make([]float32, 36*32)))
		}, "must be tied"},
		{"NaN weight", func(ts []stored) []safetensors.Tensor {
			return f32(ts, func(s stored) (safetensors.Tensor, bool) {
				v := append([]float32(nil), s.v...)
				v[7] = float32(math.NaN())
				return safetensors.F32(s.name, s.shape, v), s.name == "h.1.mlp.c_proj.weight"
			})
		}, `"h.1.mlp.c_proj.weight"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, dir := saveTiny(t)
			rewrite(t, dir, c.edit)
			_, err := LoadForInference(dir, tensor.Int8)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v does not mention %q", err, c.want)
			}
		})
	}
	_, dir := saveTiny(t)
	if _, err := LoadForInference(dir, "fp16"); err == nil || !strings.Contains(err.Error(), "fp16") {
		t.Fatalf("format fp16: error %v", err)
	}
}

// Under bfloat16 compute, loading fp32 weights for inference packs their panels beside them
// (the prompt's products then skip rounding and packing the weights), with the logits of the
// plain load, bit for bit.
func TestLoadForInferenceFP32Panels(t *testing.T) {
	if err := kernel.SetCompute(kernel.BF16Compute); err != nil {
		t.Skipf("skipped: %v", err)
	}
	defer kernel.SetCompute(kernel.FP32Compute)
	_, dir := saveTiny(t)
	ref, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadForInference(dir, tensor.FP32)
	if err != nil {
		t.Fatal(err)
	}
	if m.head == nil || m.head.Format != tensor.FP32 || m.H[0].Attn.CAttn.Packed == nil || m.packedOnly {
		t.Fatal("fp32 weights loaded under bfloat16 compute have no panels beside them")
	}
	want, got := prefillLogits(t, ref), prefillLogits(t, m)
	if d := testenv.MaxDiff(got, want); d != 0 {
		t.Fatalf("logits on the panels differ from the plain load's by %g", d)
	}
}

// TestLoadForInferenceFloatPanels checks fp32 loaded for inference under float32 compute on a
// CPU with float32 panels (skipped elsewhere): each matrix is packed as them and its float32
// weight released (inference only), the prompt's logits stay within float32 rounding of the
// plain load's, and greedy decoding picks the same tokens.
func TestLoadForInferenceFloatPanels(t *testing.T) {
	if !kernel.FloatPanelsAvailable() {
		t.Skip("skipped: this CPU (or QKV_CPU) has no float32 panels (AVX2 or AVX-512)")
	}
	_, dir := saveTiny(t)
	ref, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadForInference(dir, tensor.FP32)
	if err != nil {
		t.Fatal(err)
	}
	if !m.packedOnly || m.Wte.Weight.Value != nil || m.H[0].MLP.CFc.Weight.Value != nil || m.head == nil || !m.head.HoldsWeights() {
		t.Fatal("fp32 loaded for inference kept its float32 matrices beside the panels")
	}
	want, got := prefillLogits(t, ref), prefillLogits(t, m)
	if d := testenv.MaxDiff(got, want); d > 1e-5*testenv.MaxAbs(want) {
		t.Fatalf("logits on float32 panels differ from the plain load's by %g", d)
	}
	greedy := func(m *Model) []int {
		s, err := sample.New(sample.Options{Temperature: 0})
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Generate(context.Background(), []int{5, 3, 8}, 12, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b := greedy(ref), greedy(m)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("greedy tokens on float32 panels %v, plain load %v", b, a)
	}
	if err := m.Save(t.TempDir()); err == nil {
		t.Fatal("a model on float32 panels saved without its float32 weights")
	}
}
