package bench

import (
	"context"
	"time"

	"github.com/qkvdev/qkv/autograd"
)

// timeTraining measures a training workload: warmup untimed steps, then steps timed ones. next
// builds each step's batch (untimed); step runs one training step on g and returns its loss.
// The result is tokens (per step) / median step time, with the first and last losses, the heap
// objects the timed steps allocated per step, and the size of g's arena.
func timeTraining(ctx context.Context, id, cs string, threads, tokens, warmup, steps int, g *autograd.Graph, next func(), step func() float32) ([]Result, error) {
	times := make([]float64, 0, steps)
	var first, last float32
	allocs0, allocs1 := uint64(0), uint64(0)
	for i := 0; i < warmup+steps; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		next()
		if i == warmup {
			allocs0 = readMallocs()
		}
		t0 := time.Now()
		loss := step()
		dt := time.Since(t0).Seconds()
		if i == warmup+steps-1 {
			allocs1 = readMallocs()
		}
		if i == 0 {
			first = loss
		}
		last = loss
		if i >= warmup {
			times = append(times, dt)
		}
	}
	tps := float64(tokens) / median(times)
	extra := map[string]any{"loss_first": first, "loss_last": last, "allocs_per_step": float64(allocs1-allocs0) / float64(len(times)), "steps_timed": len(times), "arena_mb": float64(g.Bytes()) / (1 << 20)}
	return []Result{{Workload: id, Case: cs, Threads: threads, Metric: "tokens_per_s", Value: tps, PeakRSSMB: PeakRSSMB(), Extra: extra}}, nil
}
