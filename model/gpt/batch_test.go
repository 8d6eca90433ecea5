package gpt

import (
	"fmt"
	"math"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// A batched step gives each sequence the logits its own Generator gives, while sequences of
// different lengths join and leave between steps.
func TestForwardBatchMatchesGenerator(t *testing.T) {
	for _, format := range []tensor.WeightFormat{tensor.FP32, tensor.BF16} {
		m, err := New(tinyConfig(), 7)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Pack(format); err != nil {
			t.Fatal(err)
		}
		prompts := [][]int{{3, 1, 4}, {1, 5, 9, 2, 6, 5, 3}, {8}, {9, 7, 9, 3, 2}}
		type live struct {
			b    BatchSeq
			gen  *Generator
			want []float32
			left int
		}
		g := autograd.NewGraph()
		g.SetGrad(false)
		var seqs []*live
		join := func(p []int, steps int) {
			gen := m.NewGenerator()
			want, err := gen.Start(p)
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, &live{b: BatchSeq{Caches: m.NewSeqCaches(len(p) + steps), IDs: p}, gen: gen, want: append([]float32(nil), want...), left: steps})
		}
		join(prompts[0], 6)
		join(prompts[1], 3)
		join(prompts[2], 8)
		for step := 0; len(seqs) > 0; step++ {
			if step == 2 {
				join(prompts[3], 4) // joins mid-flight with a multi-token prompt
			}
			g.Reset()
			batch := make([]BatchSeq, len(seqs))
			for i, s := range seqs {
				batch[i] = s.b
			}
			out, err := m.ForwardBatch(g, batch)
			if err != nil {
				t.Fatal(err)
			}
			V := m.Config.VocabSize
			data := out.Value.Data()
			kept := seqs[:0]
			for i, s := range seqs {
				got := data[i*V : (i+1)*V]
				for j := range got {
					if d := math.Abs(float64(got[j] - s.want[j])); d > 1e-4 {
						t.Fatalf("%v step %d seq %d: logit %d differs by %g", format, step, i, j, d)
					}
				}
				next := (step*7 + i*3) % V
				s.left--
				if s.left == 0 {
					continue // leaves the batch
				}
				w, err := s.gen.Next(next)
				if err != nil {
					t.Fatal(err)
				}
				s.want = append(s.want[:0], w...)
				s.b.IDs = []int{next}
				kept = append(kept, s)
			}
			seqs = kept
		}
	}
}

// Bad input is an error that leaves the caches untouched.
func TestForwardBatchErrors(t *testing.T) {
	m, _ := New(tinyConfig(), 1)
	g := autograd.NewGraph()
	g.SetGrad(false)
	ok := BatchSeq{Caches: m.NewSeqCaches(4), IDs: []int{1, 2}}
	for name, seqs := range map[string][]BatchSeq{
		"none":         nil,
		"empty":        {ok, {Caches: m.NewSeqCaches(4)}},
		"out of vocab": {ok, {Caches: m.NewSeqCaches(4), IDs: []int{1, 37}}},
		"negative":     {ok, {Caches: m.NewSeqCaches(4), IDs: []int{-1}}},
		"overflow":     {ok, {Caches: m.NewSeqCaches(2), IDs: []int{1, 2, 3}}},
		"no caches":    {ok, {IDs: []int{1}}},
	} {
		if _, err := m.ForwardBatch(g, seqs); err == nil {
			t.Errorf("%s: no error", name)
		}
		if ok.Caches[0].Len != 0 {
			t.Fatalf("%s: a cache changed", name)
		}
	}
	gg := autograd.NewGraph()
	if _, err := m.ForwardBatch(gg, []BatchSeq{ok}); err == nil {
		t.Error("a recording graph was accepted")
	}
}

// Attention maps are causal probability rows, and the last layer's output matches Forward's.
func TestAttentionMaps(t *testing.T) {
	m, _ := New(tinyConfig(), 3)
	ids := []int{4, 8, 15, 16, 23}
	maps, err := m.AttentionMaps(ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != m.Config.NLayer {
		t.Fatalf("%d maps, want %d", len(maps), m.Config.NLayer)
	}
	for l, w := range maps {
		nh, T := w.Dim(0), w.Dim(1)
		for h := 0; h < nh; h++ {
			for i := 0; i < T; i++ {
				var sum float64
				for j := 0; j < T; j++ {
					p := float64(w.At(h, i, j))
					if j > i && p != 0 {
						t.Fatalf("layer %d head %d: position %d attends to future %d", l, h, i, j)
					}
					sum += p
				}
				if math.Abs(sum-1) > 1e-5 {
					t.Fatalf("layer %d head %d row %d sums to %g", l, h, i, sum)
				}
			}
		}
	}
	if _, err := m.AttentionMaps(nil); err == nil {
		t.Error("empty input accepted")
	}
	if _, err := m.AttentionMaps([]int{99}); err == nil {
		t.Error("out-of-vocabulary token accepted")
	}
}

// BenchmarkForwardBatch: one decoding step of GPT-2 124M shapes for 1 and 8 sequences (each
// with 32 cached positions); tokens/s is what continuous batching gains.
func BenchmarkForwardBatch(b *testing.B) {
	cfg := Config{VocabSize: 50257, NPositions: 1024, NEmbd: 768, NLayer: 12, NHead: 12, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}
	m, err := New(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, format := range []tensor.WeightFormat{tensor.FP32, tensor.BF16} {
		if err := m.Pack(format); err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1, 8} {
			benchmarkStep(b, m, format, n)
		}
	}
}

func benchmarkStep(b *testing.B, m *Model, format tensor.WeightFormat, n int) {
	{
		b.Run(fmt.Sprintf("%v/seqs=%d", format, n), func(b *testing.B) {
			g := autograd.NewGraph()
			g.SetGrad(false)
			seqs := make([]BatchSeq, n)
			for i := range seqs {
				seqs[i] = BatchSeq{Caches: m.NewSeqCaches(64), IDs: make([]int, 32)}
			}
			if _, err := m.ForwardBatch(g, seqs); err != nil { // prefill
				b.Fatal(err)
			}
			for b.Loop() {
				for i := range seqs {
					seqs[i].IDs = []int{i}
					for _, c := range seqs[i].Caches {
						c.Len = 32
					}
				}
				g.Reset()
				if _, err := m.ForwardBatch(g, seqs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
