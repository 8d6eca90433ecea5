package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/tensor"
)

// toyParallel writes n pairs of a toy language pair (the target spells the source's words in
// capitals) as src and tgt files, and returns their paths.
func toyParallel(t *testing.T, dir, name string, n int, seed uint64) (src, tgt string) {
	t.Helper()
	words := []string{"cat", "dog", "sees", "the", "a", "big", "small", "bird", "runs", "jumps"}
	rng := tensor.NewRNG(seed)
	var s, g strings.Builder
	for range n {
		var line []string
		for range 3 + rng.IntN(5) {
			line = append(line, words[rng.IntN(len(words))])
		}
		fmt.Fprintln(&s, strings.Join(line, " "))
		fmt.Fprintln(&g, strings.ToUpper(strings.Join(line, " ")))
	}
	return writeFile(t, dir, name+".src", s.String()), writeFile(t, dir, name+".tgt", g.String())
}

// Both encoder–decoders train through qkv train (validation loss and BLEU in the metrics, a
// model folder model/auto loads), resume, translate a stream with an empty and an over-long
// line, and draw their attention and curves.
func TestTranslationEndToEnd(t *testing.T) {
	dir := t.TempDir()
	src, tgt := toyParallel(t, dir, "train", 300, 1)
	vsrc, vtgt := toyParallel(t, dir, "valid", 20, 2)
	for _, arch := range [][]string{
		{"--arch", "transformer", "--preset", "tiny"},
		{"--arch", "seq2seq", "--preset", "tiny", "--attention", "luong-general"},
	} {
		t.Run(arch[1], func(t *testing.T) {
			runDir := filepath.Join(dir, arch[1])
			args := append([]string{"train", "--src", src, "--tgt", tgt, "--valid-src", vsrc, "--valid-tgt", vtgt,
				"--vocab-size", "300", "--batch-tokens", "256", "--max-len", "24", "--iters", "6", "--eval-interval", "3",
				"--eval-pairs", "8", "--threads", "1", "--out", runDir}, arch...)
			if out, err := run(t, "", args...); err != nil {
				t.Fatalf("train: %v\n%s", err, out)
			}
			metrics, err := os.ReadFile(filepath.Join(runDir, "metrics.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{`"val_bleu":`, `"val_loss":`, `"val_bleu_full":`, `"val_loss_full":`} {
				if !strings.Contains(string(metrics), key) {
					t.Fatalf("metrics.jsonl has no %s record:\n%s", key, metrics)
				}
			}
			if _, err := auto.Load(runDir); err != nil {
				t.Fatalf("auto.Load of the run: %v", err)
			}
			if out, err := run(t, "", "train", "--resume", runDir, "--iters", "8"); err != nil || !strings.Contains(out, "resuming") || !strings.Contains(out, "done: 8 steps") {
				t.Fatalf("resume: %v\n%s", err, out)
			}

			long := strings.Repeat("cat ", 40)
			out, err := run(t, "the cat sees a dog\n\n"+long+"\n", "translate", "--model", runDir, "--beam", "2", "--max-len", "10")
			if err != nil {
				t.Fatalf("translate: %v\n%s", err, out)
			}
			if !strings.Contains(out, "standard input line 3 has") {
				t.Fatalf("no warning naming the over-long line 3:\n%s", out)
			}
			var lines []string
			for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
				if !strings.HasPrefix(l, "warning:") {
					lines = append(lines, l)
				}
			}
			if len(lines) != 3 || lines[1] != "" {
				t.Fatalf("translate wrote %q; want 3 lines, the second empty", lines)
			}

			for _, name := range []string{"att.png", "att.json"} {
				if out, err := run(t, "", "attention", "--model", runDir, "the cat runs", "--target", "THE CAT RUNS", "--out", filepath.Join(dir, arch[1]+name)); err != nil {
					t.Fatalf("attention %s: %v\n%s", name, err, out)
				}
			}
			if out, err := run(t, "", "plot", runDir, "--out", filepath.Join(dir, arch[1]+"curves.png")); err != nil {
				t.Fatalf("plot: %v\n%s", err, out)
			}
		})
	}
}

// Bad input to translation training and translation: clear errors naming the file or flag,
// and nothing created.
func TestTranslationBadInput(t *testing.T) {
	dir := t.TempDir()
	src, tgt := toyParallel(t, dir, "train", 20, 1)
	short := writeFile(t, dir, "short.tgt", "ONE\nTWO\n")
	base := []string{"train", "--arch", "seq2seq", "--preset", "tiny", "--iters", "2", "--vocab-size", "300"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--src", src, "--tgt", short, "--valid-src", src, "--valid-tgt", tgt}, "short.tgt has 2"},
		{[]string{"--src", src, "--tgt", tgt, "--valid-src", src}, "--valid-tgt"},
		{[]string{"--src", src, "--tgt", tgt, "--valid-src", src, "--valid-tgt", tgt, "--attention", "cosine"}, "--attention"},
		{[]string{"--src", src, "--tgt", tgt, "--valid-src", src, "--valid-tgt", tgt, "--block", "64"}, "--block does not apply"},
		{[]string{"--src", src, "--tgt", tgt, "--valid-src", src, "--valid-tgt", tgt, "--label-smoothing", "NaN"}, "--label-smoothing"},
		{[]string{"--src", src, "--tgt", tgt, "--valid-src", src, "--valid-tgt", tgt, "--preset", "huge"}, "--preset"},
		{[]string{"--src", filepath.Join(dir, "missing"), "--tgt", tgt, "--valid-src", src, "--valid-tgt", tgt}, "missing"},
	} {
		runDir := filepath.Join(dir, "run")
		out, err := run(t, "", append(append(base, c.args...), "--out", runDir)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%v: %v\n%s; want an error containing %q", c.args, err, out, c.want)
		}
		if _, err := os.Stat(filepath.Join(runDir, "metrics.jsonl")); err == nil {
			t.Fatalf("%v: a refused run left a metrics log", c.args)
		}
	}
	if _, err := run(t, "", "train", "--data", src, "--src", src, "--iters", "1"); err == nil || !strings.Contains(err.Error(), "--src does not apply") {
		t.Fatalf("a GPT run with --src: %v", err)
	}
	for _, args := range [][]string{
		{"translate", "--model", dir, "--beam", "0"},
		{"translate", "--model", filepath.Join(dir, "none")},
		{"translate", "--model", dir, "--length-penalty", "NaN"},
	} {
		if _, err := run(t, "", args...); err == nil {
			t.Fatalf("%v: no error", args)
		}
	}
}
