package transformer

import (
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/optim"
	"github.com/qkvdev/qkv/tensor"
)

// benchBatch is a batch of n random sentence pairs of lengths s and t over vocab.
func benchBatch(b *testing.B, m *Model, n, s, t int) *Batch {
	rng := tensor.NewRNG(1)
	src, tgt := make([][]int, n), make([][]int, n)
	for i := range src {
		src[i], tgt[i] = make([]int, s), make([]int, t-1)
		for j := range src[i] {
			src[i][j] = 1 + rng.IntN(m.Config.VocabSize-2)
		}
		for j := range tgt[i] {
			tgt[i][j] = 1 + rng.IntN(m.Config.VocabSize-2)
		}
	}
	batch, err := m.MakeBatch(src, tgt)
	if err != nil {
		b.Fatal(err)
	}
	return batch
}

// BenchmarkTrainStep measures one training step (forward, label-smoothed loss, backward, clip,
// AdamW) of the small preset, reporting target tokens/s.
func BenchmarkTrainStep(b *testing.B) {
	cfg, _ := Preset("small", 8000)
	m, err := New(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	batch := benchBatch(b, m, 16, 32, 32)
	opt := optim.NewAdamW(m.Trainable(), optim.AdamWConfig{Beta1: 0.9, Beta2: 0.98, Eps: 1e-9})
	g := autograd.NewGraph()
	rng := tensor.NewRNG(2)
	step := func() {
		g.Reset()
		m.Params.ZeroGrad()
		loss := m.Loss(g, m.Decode(g, m.Encode(g, batch, rng), batch, rng), batch.Labels, 0.1)
		g.Backward(loss)
		optim.ClipGradNorm(opt.Params, 1)
		opt.Step(1e-4)
	}
	step()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(batch.B*batch.T)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkStep measures one cached decoding step of the base preset for 4 hypotheses (a beam
// of 4 over one 32-token source), reordering the cache each step as beam search does.
func BenchmarkStep(b *testing.B) {
	cfg, _ := Preset("base", 32000)
	m, err := New(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	src := benchBatch(b, m, 4, 32, 2)
	tokens, indices := []int{5, 6, 7, 8}, []int{1, 0, 3, 2}
	var c *Cache
	restart := func() { // a fresh cache, warmed by one step and two reorders
		if c, err = m.NewCache(src, 0); err != nil {
			b.Fatal(err)
		}
		for _, err := range []error{stepErr(m, c, tokens), c.Reorder(indices), c.Reorder(indices)} {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	restart()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if c.Len() == cfg.MaxPositionEmbeddings {
			b.StopTimer()
			restart()
			b.StartTimer()
		}
		if _, err := m.Step(c, tokens); err != nil {
			b.Fatal(err)
		}
		if err := c.Reorder(indices); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(4*b.N)/b.Elapsed().Seconds(), "tokens/s")
}
