package bench

import (
	"context"
	"fmt"

	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// runW1: C = A·B with A (M, K) and B (K, N) row-major, filled with standard normals from a fixed
// seed, C preallocated; GFLOP/s = 2·M·K·N / median seconds per call.
func runW1(ctx context.Context, cs, _ string, threads int) ([]Result, error) {
	var m, k, n int
	if _, err := fmt.Sscanf(cs, "%dx%dx%d", &m, &k, &n); err != nil || m <= 0 || k <= 0 || n <= 0 {
		return nil, errCase("W1", cs)
	}
	kernel.SetThreads(threads)
	rng := tensor.NewRNG(0)
	a, b, c := tensor.New(m, k), tensor.New(k, n), tensor.New(m, n)
	tensor.Normal(a, 0, 1, rng)
	tensor.Normal(b, 0, 1, rng)
	ad, bd, cd := a.Data(), b.Data(), c.Data()
	fn := func() { kernel.Sgemm(false, false, m, n, k, 1, ad, k, bd, n, 0, cd, n) }
	inner := innerFor(fn, sampleSeconds)
	samples, err := timeCalls(ctx, fn, 2, 7, inner)
	if err != nil {
		return nil, err
	}
	sec := median(samples)
	return []Result{{Workload: "W1", Case: cs, Threads: threads, Metric: "gflops", Value: 2 * float64(m) * float64(k) * float64(n) / sec / 1e9, PeakRSSMB: PeakRSSMB()}}, nil
}
