package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/internal/sysmem"
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

// run.json stores the corpus as an absolute path with its size and hash: a run resumes from
// any working directory, a changed corpus is reported, and an older run.json with a relative
// path still resumes from the directory it was started in.
func TestTrainResumeFromAnotherDirectory(t *testing.T) {
	home, elsewhere := t.TempDir(), t.TempDir()
	text := strings.Repeat("to be or not to be, that is the question. ", 40)
	writeFile(t, home, "corpus.txt", text)
	t.Chdir(home)
	args := []string{"--preset", "tiny", "--block", "16", "--eval-interval", "5", "--sample-tokens", "0"}
	if out, err := run(t, "", append([]string{"train", "--data", "corpus.txt", "--out", "run", "--iters", "5"}, args...)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	runDir := filepath.Join(home, "run")
	var saved map[string]any
	b, err := os.ReadFile(filepath.Join(runDir, "run.json"))
	if err != nil || json.Unmarshal(b, &saved) != nil {
		t.Fatalf("run.json: %v\n%s", err, b)
	}
	if saved["data"] != filepath.Join(home, "corpus.txt") || saved["corpus_bytes"] != float64(len(text)) || len(fmt.Sprint(saved["corpus_sha256"])) != 64 {
		t.Fatalf("run.json records data %v, %v bytes, sha256 %v", saved["data"], saved["corpus_bytes"], saved["corpus_sha256"])
	}

	t.Chdir(elsewhere)
	out, err := run(t, "", "train", "--resume", runDir, "--iters", "10", "--sample-tokens", "0")
	if err != nil || strings.Contains(out, "warning") {
		t.Fatalf("resume from another directory: %v\n%s", err, out)
	}
	writeFile(t, home, "corpus.txt", strings.Repeat("not to be or to be, that is the question. ", 40)) // the same characters
	out, err = run(t, "", "train", "--resume", runDir, "--iters", "15", "--sample-tokens", "0")
	if err != nil || !strings.Contains(out, "warning: the corpus changed since the run began") {
		t.Fatalf("resume with a changed corpus: %v\n%s", err, out)
	}

	// A run.json written before paths were made absolute: relative, no size or hash.
	delete(saved, "corpus_bytes")
	delete(saved, "corpus_sha256")
	saved["data"] = "corpus.txt"
	b, _ = json.Marshal(saved)
	writeFile(t, runDir, "run.json", string(b))
	if _, err := run(t, "", "train", "--resume", runDir, "--iters", "20", "--sample-tokens", "0"); err == nil || !strings.Contains(err.Error(), `run.json names it as "corpus.txt"`) {
		t.Fatalf("old run.json resumed from another directory: %v", err)
	}
	t.Chdir(home)
	if out, err := run(t, "", "train", "--resume", "run", "--iters", "20", "--sample-tokens", "0"); err != nil || strings.Contains(out, "warning") {
		t.Fatalf("old run.json resumed from its own directory: %v\n%s", err, out)
	}
	// A run.json edited by hand is checked as the flags are.
	for _, field := range []string{"beta1", "n_head", "batch_size"} {
		bad := maps.Clone(saved)
		bad[field] = 0.0
		if field == "beta1" {
			bad[field] = 1.5
		}
		b, _ = json.Marshal(bad)
		writeFile(t, runDir, "run.json", string(b))
		if _, err := run(t, "", "train", "--resume", "run", "--iters", "25", "--sample-tokens", "0"); err == nil || !strings.Contains(err.Error(), "resuming run: --") {
			t.Errorf("run.json with %s = %v: %v", field, bad[field], err)
		}
	}
}

// A folder corpus holds out whole files for validation, and qkv eval's validation split is the
// same text: it reproduces the run's closing validation loss.
func TestTrainFolderHoldsOutFiles(t *testing.T) {
	dir := t.TempDir()
	folder := filepath.Join(dir, "notes")
	os.Mkdir(folder, 0o755)
	words := []string{"to be or not to be", "that is the question", "whether tis nobler", "in the mind to suffer"}
	for i := range 20 {
		writeFile(t, folder, fmt.Sprintf("note%02d.txt", i), strings.Repeat(words[i%4]+fmt.Sprintf(" %d. ", i%10), 12))
	}
	runDir := filepath.Join(dir, "run")
	out, err := run(t, "", "train", "--data", folder, "--preset", "tiny", "--block", "16", "--iters", "10", "--out", runDir, "--sample-tokens", "0")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "of 20 files held out whole") {
		t.Fatalf("train output does not report the held-out files:\n%s", out)
	}
	i := strings.LastIndex(out, "val loss ")
	var valLoss float64
	if _, err := fmt.Sscanf(out[i+len("val loss "):], "%f", &valLoss); err != nil {
		t.Fatalf("reading the val loss: %v\n%s", err, out)
	}
	// A second new run into the same folder is refused before it touches the first one.
	saved, _ := os.ReadFile(filepath.Join(runDir, "run.json"))
	if _, err := run(t, "", "train", "--data", folder, "--preset", "tiny", "--block", "8", "--iters", "10", "--out", runDir); err == nil ||
		!strings.Contains(err.Error(), "already holds a training run") || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("a new run into a used folder: %v", err)
	}
	if now, _ := os.ReadFile(filepath.Join(runDir, "run.json")); string(now) != string(saved) {
		t.Fatal("the refused run rewrote run.json")
	}
	evalOut, err := run(t, "", "eval", "--model", runDir, "--data", folder)
	if err != nil || !strings.Contains(evalOut, fmt.Sprintf(" %.4f ", valLoss)) {
		t.Fatalf("eval of the folder's validation split, want loss %.4f: %v\n%s", valLoss, err, evalOut)
	}
}

// A model too large to train in the memory available is refused before it is built, not
// killed part-way by the out-of-memory killer.
func TestTrainRefusesModelLargerThanMemory(t *testing.T) {
	dir := t.TempDir()
	corpus := writeFile(t, dir, "corpus.txt", strings.Repeat("to be or not to be, that is the question. ", 40))
	t.Setenv(sysmem.LimitEnv, "64M")
	runDir := filepath.Join(dir, "run")
	out, err := run(t, "", "train", "--data", corpus, "--n-layer", "8", "--n-head", "8", "--n-embd", "1024", "--block", "64", "--iters", "5", "--out", runDir)
	if err == nil || !strings.Contains(err.Error(), "needs about") || !strings.Contains(err.Error(), "training this model") {
		t.Fatalf("a 100M-parameter model under a 64 MiB limit: %v\n%s", err, out)
	}
	if _, err := os.Stat(runDir); !os.IsNotExist(err) {
		t.Fatalf("the refused run left %s behind (%v)", runDir, err)
	}
}
