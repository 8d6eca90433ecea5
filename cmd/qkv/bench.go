package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/bench"
	"github.com/qkvdev/qkv/tensor/kernel"
)

type benchOptions struct {
	threads int
	json    bool
	child   string
	cases   []string
	tune    bool
	timeout time.Duration
}

func newBenchCmd() *cobra.Command {
	o := &benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench [W1 W2 W3 W4 W5]",
		Short: "Measure the workloads W1–W5 (SGEMM, GPT training, GPT-2 decoding, BERT forward and training)",
		Long: `Measure qkv on the workloads W1–W5, defined as the PyTorch baselines in
../shared/bench/ define them, and print a table (or JSON lines with --json):

  W1  fp32 SGEMM C = A·B for 1024×1024×1024, 4096×768×3072 and 1×768×3072, at 1 and N threads
  W2  GPT training step (forward, backward, clip, AdamW), configs small and shakespeare
  W3  GPT-2 124M: prefill a 64-token prompt, then greedy KV-cache decoding of 128 tokens
  W4  BERT-base encoder forward, sequence 128, batch 1 and 8
  W5  BERT pretraining step (MLM + NSP, backward, clip, AdamW), configs mini and base

Each case runs in its own process, so its peak RSS is its own. Measurements warm up first and
report the median of several repetitions.`,
		Example: `  qkv bench
  qkv bench W1 W3 --threads 2
  qkv bench W2 --case small --json
  qkv bench --tune`,
		RunE: func(cmd *cobra.Command, args []string) error { return runBench(cmd, o, args) },
	}
	f := cmd.Flags()
	f.IntVar(&o.threads, "threads", runtime.NumCPU(), "threads (W1 also runs on 1)")
	f.BoolVar(&o.json, "json", false, "print one JSON object per line")
	f.StringArrayVar(&o.cases, "case", nil, "run only this case (repeatable), e.g. small or batch8")
	f.BoolVar(&o.tune, "tune", false, "measure SGEMM cache blocks around the CPU's defaults on --threads threads and keep the fastest in the user's cache folder, which later runs load (QKV_TUNE=off ignores it); then run the workloads named, if any")
	f.DurationVar(&o.timeout, "timeout", 30*time.Minute, "the longest one case may run; a case still running then is stopped, and what its goroutines were doing is printed with the error (0: no limit)")
	f.StringVar(&o.child, "child", "", "run one WORKLOAD/CASE in this process (internal)")
	f.MarkHidden("child")
	return cmd
}

func runBench(cmd *cobra.Command, o *benchOptions, args []string) error {
	ctx := cmd.Context()
	if o.threads < 1 {
		return fmt.Errorf("--threads %d: want at least 1", o.threads)
	}
	if o.tune && o.child == "" {
		if err := runTune(ctx, cmd.OutOrStdout(), o.threads); err != nil || len(args) == 0 {
			return err
		}
	}
	if o.child != "" {
		id, rest, _ := strings.Cut(o.child, "/")
		cs, variant, _ := strings.Cut(rest, "@")
		w, ok := bench.Find(id)
		if !ok {
			return fmt.Errorf("unknown workload %q", id)
		}
		res, err := w.Run(ctx, cs, variant, o.threads)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(cmd.OutOrStdout())
		info := kernel.CPU()
		for _, r := range res {
			r.CPU, r.Kernels, r.Compute = info.Model, kernel.Kernels(), string(kernel.ActiveCompute())
			if err := enc.Encode(r); err != nil {
				return fmt.Errorf("writing results: %w", err)
			}
		}
		return nil
	}
	var workloads []bench.Workload
	if len(args) == 0 {
		workloads = bench.Workloads()
	}
	for _, a := range args {
		w, ok := bench.Find(a)
		if !ok {
			return fmt.Errorf("unknown workload %q (want W1, W2, W3, W4 or W5)", a)
		}
		workloads = append(workloads, w)
	}
	if err := checkCases(workloads, o.cases); err != nil {
		return err
	}
	var results []bench.Result
	out := cmd.OutOrStdout()
	for _, w := range workloads {
		for _, cs := range w.Cases {
			if len(o.cases) > 0 && !slices.Contains(o.cases, cs) {
				continue
			}
			threads := []int{o.threads}
			if w.ID == "W1" && o.threads > 1 {
				threads = []int{1, o.threads}
			}
			variants := w.Variants
			if len(variants) == 0 {
				variants = []string{""}
			}
			for _, t := range threads {
				for _, v := range variants {
					spec, label := w.ID+"/"+cs, cs
					if v != "" {
						spec, label = spec+"@"+v, cs+" "+v
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "bench: %s %s, %d threads…\n", w.ID, label, t)
					stdout, err := runBenchCase(ctx, spec, t, o.timeout)
					if err != nil {
						return fmt.Errorf("%s %s: %w", w.ID, cs, err)
					}
					sc := bufio.NewScanner(bytes.NewReader(stdout))
					for sc.Scan() {
						var r bench.Result
						if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
							return fmt.Errorf("%s %s: bad output %q", w.ID, cs, sc.Text())
						}
						results = append(results, r)
						if o.json {
							if err := json.NewEncoder(out).Encode(r); err != nil {
								return fmt.Errorf("writing results: %w", err)
							}
						}
					}
				}
			}
		}
	}
	if !o.json {
		if err := printBenchTable(out, results); err != nil {
			return fmt.Errorf("writing results: %w", err)
		}
	}
	return nil
}

// checkCases fails for a --case that none of the workloads has, listing the cases they have.
func checkCases(workloads []bench.Workload, cases []string) error {
	for _, cs := range cases {
		if !slices.ContainsFunc(workloads, func(w bench.Workload) bool { return w.HasCase(cs) }) {
			var valid []string
			for _, w := range workloads {
				valid = append(valid, w.ID+": "+strings.Join(w.Cases, ", "))
			}
			return fmt.Errorf("--case %q: no such case (%s)", cs, strings.Join(valid, "; "))
		}
	}
	return nil
}

// caseTimeout is the cause of a case's context when the case ran out of time.
type caseTimeout struct{ limit time.Duration }

func (e caseTimeout) Error() string { return fmt.Sprintf("still running after %v", e.limit) }

// runBenchCase runs one case through runBenchChild, stopped after timeout (0: no limit).
func runBenchCase(ctx context.Context, spec string, threads int, timeout time.Duration) ([]byte, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, caseTimeout{timeout})
		defer cancel()
	}
	return runBenchChild(ctx, spec, threads)
}

// runBenchChild measures one WORKLOAD/CASE[@VARIANT] in a process of its own, so that its peak
// RSS is its own, and returns what it printed: one JSON result a line. Tests replace it.
var runBenchChild = func(ctx context.Context, spec string, threads int) ([]byte, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return runChild(ctx, exec.CommandContext(ctx, self, "bench", "--child", spec, "--threads", fmt.Sprint(threads), "--compute", string(kernel.ActiveCompute())))
}

// runChild runs child and returns its standard output; an error carries its standard error.
// When ctx ends for a caseTimeout, child is sent SIGQUIT, on which a Go process prints every
// goroutine's stack and exits: the error then says where a case that hung was waiting. Any
// other end of ctx (an interrupt) kills it.
func runChild(ctx context.Context, child *exec.Cmd) ([]byte, error) {
	child.Cancel = func() error {
		if errors.As(context.Cause(ctx), new(caseTimeout)) {
			return child.Process.Signal(syscall.SIGQUIT)
		}
		return child.Process.Kill()
	}
	child.WaitDelay = 30 * time.Second // then it is killed
	var stdout, stderr bytes.Buffer
	child.Stdout, child.Stderr = &stdout, &stderr
	if err := child.Run(); err != nil {
		var late caseTimeout
		if errors.As(context.Cause(ctx), &late) {
			return nil, fmt.Errorf("%w, so it was stopped (--timeout sets the limit); its goroutines were:\n%s", late, stderr.String())
		}
		return nil, fmt.Errorf("%v\n%s", err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// runTune measures the SGEMM blocks of this CPU's kernels on threads threads (kernel.Tune)
// and says what won.
func runTune(ctx context.Context, w io.Writer, threads int) error {
	info := kernel.CPU()
	fmt.Fprintf(w, "cpu: %s\nblocks now: %s\n", info.Model, kernel.Blocking())
	res, path, err := kernel.Tune(ctx, kernel.TuneOptions{Log: w, Threads: threads})
	if err != nil {
		return fmt.Errorf("--tune: %w", err)
	}
	for _, r := range res {
		clock := "per thread of CPU time"
		if r.Threads > 1 {
			clock = fmt.Sprintf("wall time on %d threads", r.Threads)
		}
		fmt.Fprintf(w, "%s: %s %.1f GFLOP/s (from the caches) → %s %.1f GFLOP/s (best of %d, %s)\n",
			r.Kernel, r.Default, r.DefaultGFLOPS, r.Best, r.BestGFLOPS, r.Candidates, clock)
	}
	fmt.Fprintf(w, "saved %s (QKV_TUNE=off ignores it)\n", path)
	return nil
}

func printBenchTable(w io.Writer, rs []bench.Result) error {
	info := kernel.CPU()
	fmt.Fprintf(w, "cpu: %s (has: %s; lacks: %s)\n", info.Model, strings.Join(info.Features, " "), strings.Join(info.Missing, " "))
	if info.Note != "" {
		fmt.Fprintf(w, "note: %s\n", info.Note)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tcase\tweights\tthreads\tmetric\tvalue\tpeak RSS (MiB)\tkernels\tcompute\t\tnote")
	for _, r := range rs {
		note := ""
		if m, ok := r.Extra.(map[string]any); ok {
			if f, ok := m["fraction_of_bound"].(float64); ok {
				note = fmt.Sprintf("%.0f%% of the memory bound (%.0f tokens/s for %.0f MB of weights)", 100*f, m["memory_bound_tokens_per_s"], m["weight_mb"])
			}
			if a, ok := m["allocs_per_step"].(float64); ok {
				note = fmt.Sprintf("%.0f allocations per step", a)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%.2f\t%.0f\t%s\t%s\t\t%s\n", r.Workload, r.Case, r.Weights, r.Threads, r.Metric, r.Value, r.PeakRSSMB, r.Kernels, r.Compute, note)
	}
	return tw.Flush()
}
