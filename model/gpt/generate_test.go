package gpt

import (
	"context"
	"math"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/sample"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

func tinyConfig() Config {
	return Config{VocabSize: 37, NPositions: 24, NEmbd: 32, NLayer: 2, NHead: 4, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}
}

// Cached decoding gives the same logits as running the whole prefix each step.
func TestKVCacheMatchesFullForward(t *testing.T) {
	m, err := New(tinyConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	seq := []int{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8}
	gen := m.NewGenerator()
	logits, err := gen.Start(seq[:4])
	if err != nil {
		t.Fatal(err)
	}
	g := autograd.NewGraph()
	g.SetGrad(false)
	for n := 4; n <= len(seq); n++ {
		g.Reset()
		full := m.Forward(g, seq[:n], 1, n, &State{LastOnly: true}).Value.Data()
		for i := range full {
			if d := math.Abs(float64(full[i] - logits[i])); d > 1e-5 {
				t.Fatalf("prefix %d: cached logit %d differs by %g", n, i, d)
			}
		}
		if n < len(seq) {
			if logits, err = gen.Next(seq[n]); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Generation past the context length keeps going (the cache is rebuilt) and stays consistent.
func TestGeneratePastContext(t *testing.T) {
	m, _ := New(tinyConfig(), 2)
	s, _ := sample.New(sample.Options{Temperature: 1, Seed: 5})
	var streamed []int
	out, err := m.Generate(context.Background(), []int{1, 2, 3}, 60, s, func(id int) bool {
		streamed = append(streamed, id)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 60 || len(streamed) != 60 {
		t.Fatalf("generated %d tokens (streamed %d), want 60", len(out), len(streamed))
	}
	s2, _ := sample.New(sample.Options{Temperature: 1, Seed: 5})
	again, _ := m.Generate(context.Background(), []int{1, 2, 3}, 60, s2, nil)
	if !equalInts(out, again) {
		t.Fatal("same seed, different text")
	}
}

func TestGenerateStopsAndRejects(t *testing.T) {
	m, _ := New(tinyConfig(), 3)
	s, _ := sample.New(sample.Options{})
	out, err := m.Generate(context.Background(), []int{1}, 10, s, func(int) bool { return false })
	if err != nil || len(out) != 1 {
		t.Fatalf("emit=false: %v tokens, err %v", out, err)
	}
	if _, err := m.Generate(context.Background(), []int{99}, 3, s, nil); err == nil {
		t.Fatal("out-of-vocabulary prompt accepted")
	}
	if _, err := m.Generate(context.Background(), nil, 3, s, nil); err == nil {
		t.Fatal("empty prompt accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Generate(ctx, []int{1}, 3, s, nil); err == nil {
		t.Fatal("cancelled context ignored")
	}
}

// Packed (bf16, int8) weights give logits close to the float32 ones, at inference only.
func TestPackedWeights(t *testing.T) {
	m, err := New(tinyConfig(), 4)
	if err != nil {
		t.Fatal(err)
	}
	ids := []int{5, 3, 8, 1, 9, 2, 6}
	logits := func() []float32 {
		g := autograd.NewGraph()
		g.SetGrad(false)
		return append([]float32(nil), m.Forward(g, ids, 1, len(ids), nil).Value.Data()...)
	}
	ref := logits()
	refTrain := append([]float32(nil), m.Forward(autograd.NewGraph(), ids, 1, len(ids), nil).Value.Data()...)
	for _, c := range []struct {
		format tensor.WeightFormat
		tol    float64
	}{{tensor.BF16, 0.02}, {tensor.Int8, 0.05}} {
		if err := m.Pack(c.format); err != nil {
			t.Fatal(err)
		}
		got := logits()
		var worst, scale float64
		for i := range ref {
			worst = max(worst, math.Abs(float64(got[i]-ref[i])))
			scale = max(scale, math.Abs(float64(ref[i])))
		}
		if worst > c.tol*scale || worst == 0 {
			t.Errorf("%s: logits differ by %.3g (scale %.3g); want a small non-zero difference", c.format, worst, scale)
		}
		// Training (a recording graph) still uses the float32 weights.
		g := autograd.NewGraph()
		train := m.Forward(g, ids, 1, len(ids), nil).Value.Data()
		if d := testenv.MaxDiff(train, refTrain); d != 0 {
			t.Errorf("%s: the recording forward pass changed by %g", c.format, d)
		}
	}
	if err := m.Pack(tensor.FP32); err != nil {
		t.Fatal(err)
	}
	if d := testenv.MaxDiff(logits(), ref); d != 0 {
		t.Errorf("back to fp32: logits differ by %g", d)
	}
}

// With bfloat16 compute, bf16 weights are the GEMM kernel's panels, packed once: a prompt's
// logits (at every position) are then those of the float32 weights in bfloat16 compute, bit
// for bit (the products round the weights to bfloat16 either way), and decoding steps, whose
// one-row products run in float32 on float32 weights, stay close.
func TestPackedWeightsBF16Compute(t *testing.T) {
	if err := kernel.SetCompute(kernel.BF16Compute); err != nil {
		t.Skipf("skipped: %v", err)
	}
	defer kernel.SetCompute(kernel.FP32Compute)
	m, err := New(tinyConfig(), 4)
	if err != nil {
		t.Fatal(err)
	}
	prompt, next := []int{5, 3, 8, 1, 9, 2, 6}, []int{4, 7, 0}
	run := func() (pre []float32, steps [][]float32) {
		g := autograd.NewGraph()
		g.SetGrad(false)
		pre = append(pre, m.Forward(g, prompt, 1, len(prompt), nil).Value.Data()...) // every position
		gen := m.NewGenerator()
		if _, err := gen.Start(prompt); err != nil {
			t.Fatal(err)
		}
		for _, id := range next {
			l, err := gen.Next(id)
			if err != nil {
				t.Fatal(err)
			}
			steps = append(steps, append([]float32(nil), l...))
		}
		return pre, steps
	}
	wantPre, wantSteps := run()
	if err := m.Pack(tensor.BF16); err != nil {
		t.Fatal(err)
	}
	gotPre, gotSteps := run()
	if d := testenv.MaxDiff(gotPre, wantPre); d != 0 {
		t.Errorf("prompt logits on panels differ from the float32 weights' by %g", d)
	}
	for i := range next {
		var worst, scale float64
		for j, v := range gotSteps[i] {
			worst = max(worst, math.Abs(float64(v-wantSteps[i][j])))
			scale = max(scale, math.Abs(float64(wantSteps[i][j])))
		}
		if worst > 0.02*scale {
			t.Errorf("decoding step %d: logits differ by %.3g (scale %.3g)", i, worst, scale)
		}
	}
	// fp32 keeps the float32 weights and packs their panels beside them: the prompt runs on
	// the panels, decoding on the float32 weights, and every logit is that of the unpacked
	// model, bit for bit.
	if err := m.Pack(tensor.FP32); err != nil {
		t.Fatal(err)
	}
	if m.head == nil || m.head.Format != tensor.FP32 || m.H[0].MLP.CFc.Packed == nil {
		t.Fatal("fp32 under bfloat16 compute packed no panels")
	}
	gotPre, gotSteps = run()
	if d := testenv.MaxDiff(gotPre, wantPre); d != 0 {
		t.Errorf("fp32 panels: prompt logits differ from the unpacked model's by %g", d)
	}
	for i := range next {
		if d := testenv.MaxDiff(gotSteps[i], wantSteps[i]); d != 0 {
			t.Errorf("fp32 panels: decoding step %d differs from the unpacked model's by %g", i, d)
		}
	}
}

// After PackForInference the float32 weights are gone: inference still works (embeddings come
// from the packed head), training and saving are refused.
func TestPackForInference(t *testing.T) {
	m, _ := New(tinyConfig(), 4)
	ids := []int{5, 3, 8, 1}
	g := autograd.NewGraph()
	g.SetGrad(false)
	if err := m.Pack(tensor.Int8); err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), m.Forward(g, ids, 1, len(ids), nil).Value.Data()...)
	if err := m.PackForInference(tensor.Int8); err != nil {
		t.Fatal(err)
	}
	g.Reset()
	got := m.Forward(g, ids, 1, len(ids), nil).Value.Data()
	// The embeddings now come from the int8 head: close, not equal.
	if d := testenv.MaxDiff(got, want); d > 0.05*testenv.MaxAbs(want) {
		t.Fatalf("logits moved by %g", d)
	}
	if err := m.Save(t.TempDir()); err == nil {
		t.Fatal("saved a released model")
	}
	if err := m.Pack(tensor.BF16); err == nil {
		t.Fatal("re-packed a released model")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("training forward on a released model did not panic")
		}
	}()
	m.Forward(autograd.NewGraph(), ids, 1, len(ids), nil)
}
