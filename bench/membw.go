package bench

import (
	"context"

	"github.com/qkvdev/qkv/tensor/kernel"
)

// MemoryBandwidth measures how fast the threads stream bufs from memory, in GB/s: every
// element is read once per pass through a dot-product kernel, in parallel over 256 KiB chunks;
// median of 5 passes after one. bufs should total far more than the caches (W3 passes the
// model's own weights, about 500 MB).
func MemoryBandwidth(ctx context.Context, threads int, bufs [][]float32) (float64, error) {
	kernel.SetThreads(threads)
	const chunk = 1 << 16
	type piece struct{ b []float32 }
	var pieces []piece
	var total int
	for _, b := range bufs {
		for i := 0; i < len(b); i += chunk {
			pieces = append(pieces, piece{b[i:min(len(b), i+chunk)]})
		}
		total += len(b)
	}
	sink := make([]float32, len(pieces))
	pass := func() {
		kernel.Parallel(len(pieces), 16, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				sink[i] = kernel.Dot(pieces[i].b, pieces[i].b)
			}
		})
	}
	samples, err := timeCalls(ctx, pass, 1, 5, 1)
	if err != nil {
		return 0, err
	}
	return float64(total*4) / median(samples) / 1e9, nil
}
