package gpt

import (
	"fmt"
	"math"
	"testing"

	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// decodeLogits starts a generator on prompt and decodes next, returning every step's logits,
// with the fused step on or off; before, if set, runs before each step i.
func decodeLogits(t *testing.T, m *Model, prompt, next []int, fused bool, before func(i int)) [][]float32 {
	t.Helper()
	defer func(old bool) { fusedDecode = old }(fusedDecode)
	fusedDecode = fused
	gen := m.NewGenerator()
	if _, err := gen.Start(prompt); err != nil {
		t.Fatal(err)
	}
	var steps [][]float32
	for i, id := range next {
		if before != nil {
			before(i)
		}
		l, err := gen.Next(id)
		if err != nil {
			t.Fatal(err)
		}
		if packed := m.head != nil && m.head.HoldsWeights(); fused && packed != (gen.dec != nil) {
			t.Fatalf("packed weights %v, fused decoding step %v: want it on packed weights only", packed, gen.dec != nil)
		}
		steps = append(steps, append([]float32(nil), l...))
		if got := gen.Logits(); &got[0] != &l[0] {
			t.Fatal("Logits() is not the slice Next returned")
		}
	}
	return steps
}

// TestFusedDecodeMatchesGraph checks the fused decoding step (one parallel region per token)
// against Model.Forward through the graph, bit for bit on packed weights (int8, bf16 rows,
// bf16 panels, fp32 panels), where both run the same kernels on the same rows; float32
// weights in their own layout keep the graph. Both GELU forms, one and three threads, past
// the context length (the cache is rebuilt).
func TestFusedDecodeMatchesGraph(t *testing.T) {
	prompt := []int{5, 3, 8, 1, 9, 2, 6}
	next := make([]int, 30) // past NPositions = 24: a refill, then fused steps again
	for i := range next {
		next[i] = (7*i + 3) % 37
	}
	for _, format := range []string{"fp32", "int8", "bf16", "bf16 panels", "fp32 panels"} {
		for _, act := range []string{"gelu_new", "gelu"} {
			for _, threads := range []int{1, 3} {
				t.Run(fmt.Sprintf("%s/%s/threads=%d", format, act, threads), func(t *testing.T) {
					if format == "bf16 panels" {
						if err := kernel.SetCompute(kernel.BF16Compute); err != nil {
							t.Skipf("skipped: %v", err)
						}
						defer kernel.SetCompute(kernel.FP32Compute)
					}
					if format == "fp32 panels" && !kernel.FloatPanelsAvailable() {
						t.Skip("skipped: this CPU (or QKV_CPU) has no float32 panels (AVX2 or AVX-512)")
					}
					defer kernel.SetThreads(kernel.Threads())
					kernel.SetThreads(threads)
					cfg := tinyConfig()
					cfg.Activation = act
					m, err := New(cfg, 4)
					if err != nil {
						t.Fatal(err)
					}
					switch format {
					case "fp32":
					case "fp32 panels":
						if err := m.PackForInference(tensor.FP32); err != nil {
							t.Fatal(err)
						}
					default:
						f := tensor.Int8
						if format != "int8" {
							f = tensor.BF16
						}
						if err := m.Pack(f); err != nil {
							t.Fatal(err)
						}
					}
					want := decodeLogits(t, m, prompt, next, false, nil)
					got := decodeLogits(t, m, prompt, next, true, nil)
					for i := range want {
						for j, w := range want[i] {
							g := got[i][j]
							if math.Float32bits(g) != math.Float32bits(w) {
								t.Fatalf("step %d: logit %d = %g, the graph gives %g", i, j, g, w)
							}
						}
					}
				})
			}
		}
	}
}

// TestFusedDecodeFollowsRepacking checks that a generator notices the model's weights were
// packed again after its fused step was built, and decodes on the new ones: the same steps
// through the graph give the same logits.
func TestFusedDecodeFollowsRepacking(t *testing.T) {
	run := func(fused bool) []float32 {
		m, err := New(tinyConfig(), 4)
		if err != nil {
			t.Fatal(err)
		}
		steps := decodeLogits(t, m, []int{1, 2, 3}, []int{4, 5}, fused, func(i int) {
			if i == 1 {
				if err := m.Pack(tensor.Int8); err != nil {
					t.Fatal(err)
				}
			}
		})
		return steps[1]
	}
	got, want := run(true), run(false)
	for j := range want {
		if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
			t.Fatalf("logit %d = %g after packing as int8, want %g", j, got[j], want[j])
		}
	}
}

// TestFusedDecodeNoAlloc checks that a steady-state fused decoding step allocates nothing.
func TestFusedDecodeNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, format := range []tensor.WeightFormat{tensor.Int8, tensor.FP32} {
		if format == tensor.FP32 && !kernel.FloatPanelsAvailable() {
			t.Log("fp32 panels skipped: this CPU (or QKV_CPU) has no float32 panels (AVX2 or AVX-512)")
			continue
		}
		m, err := New(tinyConfig(), 4)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.PackForInference(format); err != nil {
			t.Fatal(err)
		}
		gen := m.NewGenerator()
		if _, err := gen.Start([]int{1, 2, 3}); err != nil {
			t.Fatal(err)
		}
		if _, err := gen.Next(4); err != nil {
			t.Fatal(err)
		}
		if gen.dec == nil {
			t.Fatalf("%s: no fused decoding step", format)
		}
		id := 0
		allocs := testing.AllocsPerRun(10, func() {
			id = (id + 1) % 37
			if _, err := gen.Next(id); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 0 {
			t.Fatalf("%s: a fused decoding step allocates %.1f times", format, allocs)
		}
	}
}
