package serve

import (
	"context"
	"testing"
)

// BenchmarkServe: GPT-2 124M shapes with random weights on loopback, one stream and then 8
// concurrent ones (continuous batching), reporting aggregate tokens/s, time to first token and
// inter-token latency.
//
//	go test -run XXX -bench Serve -benchtime 1x ./serve
func BenchmarkServe(b *testing.B) {
	m, err := BenchModel(GPT2Small())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var single float64
		for _, streams := range []int{1, 8} {
			r, err := Bench(context.Background(), m, BenchOptions{Streams: streams, Prompt: 32, Tokens: 32})
			if err != nil {
				b.Fatal(err)
			}
			b.Log(r)
			if streams == 1 {
				single = r.TokensPerSec
				b.ReportMetric(r.TokensPerSec, "tok/s-1")
			} else {
				b.ReportMetric(r.TokensPerSec, "tok/s-8")
				b.ReportMetric(r.TokensPerSec/single, "x-8-vs-1")
				b.ReportMetric(float64(r.TTFT[0].Microseconds())/1e3, "ttft-p50-ms")
				b.ReportMetric(float64(r.TTFT[1].Microseconds())/1e3, "ttft-p99-ms")
				b.ReportMetric(float64(r.ITL[0].Microseconds())/1e3, "itl-p50-ms")
				b.ReportMetric(float64(r.ITL[1].Microseconds())/1e3, "itl-p99-ms")
			}
		}
	}
}

// Bench runs and counts every token (tiny shapes; correctness, not speed).
func TestBench(t *testing.T) {
	m, err := BenchModel(tinyGPTConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, streams := range []int{1, 4} {
		r, err := Bench(context.Background(), m, BenchOptions{Streams: streams, Prompt: 5, Tokens: 7})
		if err != nil {
			t.Fatal(err)
		}
		if r.Tokens != streams*7 || r.TTFT[0] <= 0 || r.ITL[0] <= 0 || r.TokensPerSec <= 0 {
			t.Errorf("%d streams: %+v", streams, r)
		}
	}
}
