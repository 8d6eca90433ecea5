package bench

import (
	"context"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// BERTBase is the BERT-base shape of W4.
var BERTBase = bert.Config{VocabSize: 30522, HiddenSize: 768, NumHiddenLayers: 12, NumAttentionHeads: 12, IntermediateSize: 3072, MaxPositionEmbeddings: 512, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}

// runW4: BERT-base encoder forward (random weights, no padding, dropout off, no gradients) on
// random ids, sequence 128, batch 1 or 8: median ms per batch over 10 (batch 1) or 5 (batch 8)
// repetitions after 2 warm-ups.
func runW4(ctx context.Context, cs, _ string, threads int) ([]Result, error) {
	var b, reps int
	switch cs {
	case "batch1":
		b, reps = 1, 10
	case "batch8":
		b, reps = 8, 5
	default:
		return nil, errCase("W4", cs)
	}
	kernel.SetThreads(threads)
	m, err := bert.New(BERTBase, 1337)
	if err != nil {
		return nil, err
	}
	if err := m.PackForCompute(); err != nil { // as qkv embed does
		return nil, err
	}
	const T = 128
	rng := tensor.NewRNG(1338)
	ids := make([]int, b*T)
	for i := range ids {
		ids[i] = rng.IntN(BERTBase.VocabSize)
	}
	g := autograd.NewGraph()
	g.SetGrad(false)
	batch := &bert.Batch{B: b, T: T, InputIDs: ids}
	fwd := func() {
		g.Reset()
		m.Encode(g, batch, nil, nil)
	}
	samples, err := timeCalls(ctx, fwd, 2, reps, 1)
	if err != nil {
		return nil, err
	}
	med := median(samples)
	rss := PeakRSSMB()
	return []Result{
		{Workload: "W4", Case: cs, Threads: threads, Metric: "ms_per_batch", Value: med * 1e3, PeakRSSMB: rss},
		{Workload: "W4", Case: cs, Threads: threads, Metric: "seqs_per_s", Value: float64(b) / med, PeakRSSMB: rss},
	}, nil
}
