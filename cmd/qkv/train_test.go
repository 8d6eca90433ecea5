package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every numeric flag of qkv train is range-checked, NaN and ±Inf included, before anything is
// read or created; a flag set to 0 is refused rather than replaced by the preset's value.
func TestTrainRefusesOutOfRangeFlags(t *testing.T) {
	dir := t.TempDir()
	corpus := writeFile(t, dir, "corpus.txt", strings.Repeat("to be or not to be, that is the question. ", 40))
	cases := []struct {
		flag, value string
	}{
		{"val-fraction", "NaN"}, {"val-fraction", "0"}, {"val-fraction", "1"}, {"val-fraction", "Inf"},
		{"clip", "NaN"}, {"clip", "-1"}, {"clip", "Inf"},
		{"weight-decay", "Inf"}, {"weight-decay", "-0.1"}, {"weight-decay", "NaN"},
		{"beta1", "NaN"}, {"beta1", "1"}, {"beta2", "-Inf"},
		{"min-lr", "NaN"}, {"min-lr", "-1e-4"}, {"min-lr", "0.5"},
		{"lr", "NaN"}, {"lr", "Inf"}, {"lr", "0"},
		{"dropout", "NaN"}, {"dropout", "1"}, {"dropout", "-0.1"},
		{"n-head", "0"}, {"n-head", "-2"}, {"n-layer", "0"}, {"n-layer", "100000"}, {"n-embd", "0"},
		{"block", "0"}, {"block", "1000000"}, {"batch", "0"}, {"batch", "-3"},
		{"threads", "-1"}, {"threads", "1000000"},
		{"sample-tokens", "-5"}, {"sample-tokens", "100000000"},
		{"log-interval", "0"}, {"eval-interval", "-1"}, {"warmup", "-1"}, {"iters", "-1"},
		{"activation", "relu"},
	}
	for _, c := range cases {
		t.Run(c.flag+"="+c.value, func(t *testing.T) {
			runDir := filepath.Join(dir, "run")
			out, err := run(t, "", "train", "--data", corpus, "--preset", "tiny", "--iters", "5", "--out", runDir, "--"+c.flag, c.value)
			if err == nil {
				t.Fatalf("accepted; output:\n%s", out)
			}
			if !strings.Contains(err.Error(), "--"+c.flag) || !strings.Contains(err.Error(), "want") {
				t.Fatalf("error %q does not name --%s and its allowed range", err, c.flag)
			}
			if _, err := os.Stat(runDir); !os.IsNotExist(err) {
				t.Fatalf("a refused run left %s behind (%v)", runDir, err)
			}
			if strings.Contains(out, "corpus:") {
				t.Fatalf("the corpus was read before the flags were checked:\n%s", out)
			}
		})
	}
}
