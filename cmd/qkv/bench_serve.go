package main

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/serve"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// newBenchServeCmd is `qkv bench serve`: the server's continuous batching measured by clients
// on loopback, one stream against several.
func newBenchServeCmd() *cobra.Command {
	var (
		streams        []int
		prompt, tokens int
		asJSON         bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Measure qkv serve: aggregate tokens/s, time to first token and inter-token latency",
		Long: `Serves GPT-2 124M shapes with random weights on loopback and runs each --streams count of
concurrent streaming completions (--prompt tokens in, --tokens out) against it, with the same
decoding loop and HTTP handlers as qkv serve. It prints the aggregate tokens/s, the time to the
first token and the inter-token latency (p50 and p99) per stream count, and the speed-up of the
largest count over one stream.`,
		Example: `  qkv bench serve
  qkv bench serve --streams 1 --streams 8 --tokens 64 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if prompt < 1 || tokens < 1 || prompt+tokens > serve.GPT2Small().NPositions {
				return fmt.Errorf("--prompt %d and --tokens %d: want each ≥ 1 and together ≤ %d", prompt, tokens, serve.GPT2Small().NPositions)
			}
			for _, n := range streams {
				if n < 1 || n > 256 {
					return fmt.Errorf("--streams %d: want 1..256", n)
				}
			}
			m, err := serve.BenchModel(serve.GPT2Small())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var first, last serve.BenchResult
			for i, n := range streams {
				r, err := serve.Bench(cmd.Context(), m, serve.BenchOptions{Streams: n, Prompt: prompt, Tokens: tokens})
				if err != nil {
					return err
				}
				if i == 0 {
					first = r
				}
				last = r
				if asJSON {
					for _, mv := range []struct {
						metric string
						value  float64
					}{
						{"tokens_per_s", r.TokensPerSec},
						{"ttft_p50_ms", ms(r.TTFT[0].Seconds())}, {"ttft_p99_ms", ms(r.TTFT[1].Seconds())},
						{"itl_p50_ms", ms(r.ITL[0].Seconds())}, {"itl_p99_ms", ms(r.ITL[1].Seconds())},
					} {
						b, _ := json.Marshal(map[string]any{"workload": "serve", "case": fmt.Sprintf("streams%d", n), "threads": runtime.GOMAXPROCS(0),
							"metric": mv.metric, "value": mv.value, "cpu": kernel.CPU().Model})
						if _, err := fmt.Fprintln(out, string(b)); err != nil {
							return err
						}
					}
				} else if _, err := fmt.Fprintln(out, r); err != nil {
					return err
				}
			}
			if !asJSON && len(streams) > 1 && first.TokensPerSec > 0 {
				_, err := fmt.Fprintf(out, "%d streams / %d: %.2f× the aggregate tokens/s\n", last.Streams, first.Streams, last.TokensPerSec/first.TokensPerSec)
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntSliceVar(&streams, "streams", []int{1, 8}, "concurrent streams per measurement (repeatable)")
	f.IntVar(&prompt, "prompt", 32, "prompt tokens per stream")
	f.IntVar(&tokens, "tokens", 32, "generated tokens per stream")
	f.BoolVar(&asJSON, "json", false, "one JSON object per stream count and metric")
	return cmd
}

func ms(s float64) float64 { return s * 1000 }

// withBenchServe adds `qkv bench serve` to the bench command.
func withBenchServe(bench *cobra.Command) *cobra.Command {
	bench.AddCommand(newBenchServeCmd())
	return bench
}
