package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/internal/hubtest"
)

// run executes the qkv command line in-process and returns its output and error.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTrainRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty.txt", "")
	short := writeFile(t, dir, "short.txt", "tiny corpus, much shorter than a block")
	emptyDir := filepath.Join(dir, "nothing")
	os.Mkdir(emptyDir, 0o755)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"empty corpus", []string{"train", "--data", empty}, "empty"},
		{"folder without text", []string{"train", "--data", emptyDir}, "no text files"},
		{"missing corpus", []string{"train", "--data", filepath.Join(dir, "absent.txt")}, "no such file"},
		{"block longer than corpus", []string{"train", "--data", short, "--block", "64"}, "--block"},
		{"unknown flag", []string{"train", "--no-such-flag"}, "unknown flag"},
		{"unknown preset", []string{"train", "--preset", "huge"}, "unknown --preset"},
		{"unknown tokenizer", []string{"train", "--data", short, "--tokenizer", "words"}, "unknown --tokenizer"},
		{"heads do not divide width", []string{"train", "--n-embd", "100", "--n-head", "3"}, "not divisible by --n-head"},
		{"bad time", []string{"train", "--time", "soon"}, "--time"},
		{"bad lr", []string{"train", "--lr", "-1"}, "--lr"},
		{"unknown arch", []string{"train", "--arch", "rnn"}, "--arch"},
		{"resume of a non-run", []string{"train", "--resume", dir}, "not a training run"},
		{"generate without model", []string{"generate", "hi"}, "required flag"},
		{"generate from a non-model", []string{"generate", "--model", dir, "hi"}, "holds no model"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := run(t, "", c.args...)
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// Train a tiny model, generate from its run folder, resume it further.
func TestTrainGenerateResume(t *testing.T) {
	dir := t.TempDir()
	corpus := writeFile(t, dir, "corpus.txt", strings.Repeat("to be or not to be, that is the question. ", 80))
	runDir := filepath.Join(dir, "run")
	out, err := run(t, "", "train", "--data", corpus, "--preset", "tiny", "--block", "32", "--iters", "30",
		"--eval-interval", "10", "--out", runDir, "--sample-tokens", "20", "--lr", "3e-3", "--warmup", "5")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"corpus:", "tokenizer: char", "val loss (whole split)", "sample (temperature 0.8)", "step-000030"} {
		if !strings.Contains(out, want) {
			t.Errorf("train output lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"run.json", "metrics.jsonl", "latest", "checkpoints/step-000030/model.safetensors", "checkpoints/step-000030/qkv_tokenizer.json", "checkpoints/step-000030/optimizer.safetensors"} {
		if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
	}

	gen := func(args ...string) string {
		out, err := run(t, "", append([]string{"generate", "--model", runDir}, args...)...)
		if err != nil {
			t.Fatalf("generate %v: %v\n%s", args, err, out)
		}
		return out
	}
	a := gen("--temperature", "0", "--max-tokens", "25", "to be")
	b := gen("--temperature", "0", "--max-tokens", "25", "to be")
	if a != b || !strings.HasPrefix(a, "to be") || len(a) < len("to be")+20 {
		t.Fatalf("greedy generation not repeatable or too short: %q vs %q", a, b)
	}
	s1 := gen("--seed", "4", "--max-tokens", "25", "to")
	s2 := gen("--seed", "4", "--max-tokens", "25", "to")
	if s1 != s2 {
		t.Fatalf("same seed, different text: %q vs %q", s1, s2)
	}
	stopped := gen("--temperature", "0", "--max-tokens", "200", "--stop", "e", "to b")
	if strings.Contains(strings.TrimPrefix(stopped, "to b"), "e") {
		t.Fatalf("stop sequence printed: %q", stopped)
	}
	// A character-level model knows only the characters of its corpus: others are refused, not
	// silently dropped.
	if out, err := run(t, "", "generate", "--model", runDir, "--max-tokens", "5", "to bé or"); err == nil ||
		!strings.Contains(err.Error(), "1 character(s)") || !strings.Contains(err.Error(), "'é'") {
		t.Fatalf("prompt with an unknown character: %v\n%s", err, out)
	}
	piped, err := run(t, "to be", "generate", "--model", runDir, "--temperature", "0", "--max-tokens", "25")
	if err != nil || piped != a {
		t.Fatalf("prompt from stdin: %q, %v (want %q)", piped, err, a)
	}

	// qkv eval on the validation split reproduces the run's closing figure; smaller weight
	// formats cost little; characters the model does not know are reported.
	var valLoss float64
	i := strings.LastIndex(out, "val loss ") // done: … val loss X (whole split)
	if i < 0 {
		t.Fatalf("train output has no val loss:\n%s", out)
	}
	if _, err := fmt.Sscanf(out[i+len("val loss "):], "%f", &valLoss); err != nil {
		t.Fatalf("reading the val loss: %v\n%s", err, out)
	}
	evalOut, err := run(t, "", "eval", "--model", runDir, "--data", corpus, "--weights", "fp32,bf16,int8")
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, evalOut)
	}
	losses := map[string]float64{}
	for _, line := range strings.Split(evalOut, "\n") {
		var name string
		var loss, ppl float64
		if n, _ := fmt.Sscanf(line, "%s %f %f", &name, &loss, &ppl); n == 3 {
			losses[name] = loss
			if math.Abs(ppl-math.Exp(loss)) > 1e-3*ppl {
				t.Errorf("eval %s: perplexity %g is not exp(loss %g)", name, ppl, loss)
			}
		}
	}
	if len(losses) != 3 || math.Abs(losses["fp32"]-valLoss) > 1e-4 {
		t.Fatalf("eval losses %v, want fp32 = the run's val loss %.4f:\n%s", losses, valLoss, evalOut)
	}
	for _, f := range []string{"bf16", "int8"} {
		if d := math.Abs(losses[f] - valLoss); d > 0.05 {
			t.Errorf("eval %s: loss %.4f, %.4f from fp32", f, losses[f], d)
		}
	}
	strange := writeFile(t, dir, "strange.txt", strings.Repeat("to bé or not to bé. ", 40))
	if evalOut, err := run(t, "", "eval", "--model", runDir, "--data", strange, "--split", "all"); err != nil ||
		!strings.Contains(evalOut, "warning: 80 characters of the corpus (the first 'é')") {
		t.Fatalf("eval of text with unknown characters: %v\n%s", err, evalOut)
	}
	if _, err := run(t, "", "eval", "--model", runDir, "--data", corpus, "--weights", "fp16"); err == nil {
		t.Fatalf("eval accepted --weights fp16")
	}

	out, err = run(t, "", "train", "--resume", runDir, "--iters", "40", "--sample-tokens", "0")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "resuming") || !strings.Contains(out, "step-000040") {
		t.Fatalf("resume output:\n%s", out)
	}
	if _, err := run(t, "", "train", "--resume", runDir, "--lr", "1"); err == nil || !strings.Contains(err.Error(), "cannot change") {
		t.Fatalf("changing settings on resume: %v", err)
	}
}

// qkv pull fetches a model from a (fake) Hub; --model ORG/NAME then works offline.
func TestPullAndGenerateByRepoID(t *testing.T) {
	dir := t.TempDir()
	corpus := writeFile(t, dir, "corpus.txt", strings.Repeat("all that glitters is not gold. ", 60))
	runDir := filepath.Join(dir, "run")
	if out, err := run(t, "", "train", "--data", corpus, "--preset", "tiny", "--block", "32", "--iters", "10", "--out", runDir, "--sample-tokens", "0"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	model, err := checkpoint.Latest(runDir)
	if err != nil {
		t.Fatal(err)
	}
	hub := hubtest.New(map[string]string{"acme/tiny": model})
	defer hub.Close()
	t.Setenv("QKV_CACHE", filepath.Join(dir, "cache"))
	t.Setenv("QKV_ENDPOINT", hub.URL)
	out, err := run(t, "", "pull", "acme/tiny")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, filepath.Join(dir, "cache")) {
		t.Fatalf("pull printed %q", out)
	}
	want, err := run(t, "", "generate", "--model", runDir, "--temperature", "0", "--max-tokens", "12", "all")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "", "pull", "acme/missing"); err == nil || !strings.Contains(err.Error(), "acme/missing") {
		t.Fatalf("pulling an absent repository: %v", err)
	}
	t.Setenv("HF_HUB_OFFLINE", "1")
	before := hub.Requests.Load()
	got, err := run(t, "", "generate", "--model", "acme/tiny", "--temperature", "0", "--max-tokens", "12", "all")
	if err != nil || got != want {
		t.Fatalf("generate from the pulled model: %q, %v (want %q)", got, err, want)
	}
	if hub.Requests.Load() != before {
		t.Fatal("offline generate contacted the Hub")
	}
}
