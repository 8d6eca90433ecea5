package main

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/qkvdev/qkv/bench"
)

// inProcessBench runs bench children in this process on tiny W2 shapes until the test ends.
func inProcessBench(t *testing.T) {
	t.Helper()
	child, w2 := runBenchChild, maps.Clone(bench.W2Configs)
	t.Cleanup(func() { runBenchChild, bench.W2Configs = child, w2 })
	for cs := range bench.W2Configs {
		bench.W2Configs[cs] = bench.W2Config{Vocab: 11, Layers: 1, Heads: 2, Embd: 16, Block: 8, Batch: 2}
	}
	runBenchChild = func(ctx context.Context, spec string, threads int) ([]byte, error) {
		out, err := run(t, "", "bench", "--child", spec, "--threads", "1")
		if err != nil {
			return nil, err
		}
		return []byte(out), nil
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestBench(t *testing.T) {
	inProcessBench(t)

	// --json: one object per case and metric, with the documented fields.
	out, err := run(t, "", "bench", "W2", "--json", "--threads", "1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var cases []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue // progress lines go to stderr, which run merges
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		for _, key := range []string{"workload", "case", "threads", "metric", "value", "peak_rss_mb"} {
			if _, ok := r[key]; !ok {
				t.Errorf("%s lacks %q", line, key)
			}
		}
		if r["workload"] != "W2" || r["metric"] != "tokens_per_s" || r["threads"] != 1.0 {
			t.Errorf("unexpected result %s", line)
		}
		cases = append(cases, r["case"].(string))
	}
	if want := []string{"small", "shakespeare"}; strings.Join(cases, ",") != strings.Join(want, ",") {
		t.Errorf("cases %v, want %v", cases, want)
	}

	// The table: a header and a row per result.
	out, err = run(t, "", "bench", "w2", "--case", "small", "--threads", "1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "workload") || !strings.Contains(out, "tokens_per_s") || !strings.Contains(out, "allocations per step") || strings.Contains(out, "shakespeare") {
		t.Errorf("table:\n%s", out)
	}

	// Bad requests are errors that say what is valid, before anything runs.
	for _, args := range [][]string{
		{"bench", "W2", "--case", "nonexistent"},
		{"bench", "W2", "--case", "batch8"},
		{"bench", "--case", "nonexistent"},
		{"bench", "W9"},
		{"bench", "--child", "W2/nonexistent", "--threads", "1"},
		{"bench", "W2", "--threads", "0"},
	} {
		out, err := run(t, "", args...)
		if err == nil {
			t.Errorf("%v: no error\n%s", args, out)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "small") && !strings.Contains(msg, "W1") && !strings.Contains(msg, "threads") {
			t.Errorf("%v: error %q does not say what is valid", args, msg)
		}
		if strings.Contains(out, "tokens_per_s") {
			t.Errorf("%v: printed results\n%s", args, out)
		}
	}

	// A failed write is an error, in the table, the JSON lines and a child's output.
	for _, args := range [][]string{
		{"bench", "W2", "--case", "small", "--threads", "1"},
		{"bench", "W2", "--case", "small", "--threads", "1", "--json"},
		{"bench", "--child", "W2/small", "--threads", "1"},
	} {
		root := newRoot()
		root.SetOut(failingWriter{})
		root.SetErr(failingWriter{})
		root.SetArgs(args)
		if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%v into a failing writer: %v", args, err)
		}
	}
}

// A case still running at --timeout is stopped, and its error carries the stacks its
// goroutines printed (a Go process prints them on SIGQUIT), so that a hang says where it
// waits; an interrupt kills the case without them.
func TestBenchCaseTimeout(t *testing.T) {
	child := runBenchChild
	t.Cleanup(func() { runBenchChild = child })
	runBenchChild = func(ctx context.Context, spec string, threads int) ([]byte, error) {
		hang := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		hang.Env = append(os.Environ(), "QKV_TEST_HANG=1")
		return runChild(ctx, hang)
	}
	start := time.Now()
	_, err := runBenchCase(context.Background(), "W3/gpt2-124m", 1, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "still running after 300ms, so it was stopped") || !strings.Contains(err.Error(), "time.Sleep") {
		t.Fatalf("a case past its time: error %v; want it stopped, with its goroutines' stacks", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the case was stopped after %v", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	_, err = runBenchCase(ctx, "W3/gpt2-124m", 1, time.Hour)
	if err == nil || strings.Contains(err.Error(), "goroutine") {
		t.Fatalf("an interrupted case: error %v; want it killed, without stacks", err)
	}
}
