package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/qkvdev/qkv/internal/sysmem"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tokenizer"
)

// trainTiny trains a character-level model for 4 steps in dir/run, with checkpoints at steps 2
// and 4.
func trainTiny(t *testing.T, dir string) string {
	t.Helper()
	corpus := writeFile(t, dir, "corpus.txt", strings.Repeat("to be or not to be, that is the question. ", 80))
	runDir := filepath.Join(dir, "run")
	if out, err := run(t, "", "train", "--data", corpus, "--preset", "tiny", "--block", "16", "--iters", "4",
		"--eval-interval", "2", "--sample-tokens", "0", "--out", runDir); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return runDir
}

// noHub points the Hub endpoint at a server that fails the test when it is asked anything.
func noHub(t *testing.T) *atomic.Int32 {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Error(w, "no", http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("QKV_ENDPOINT", srv.URL)
	t.Setenv("HF_ENDPOINT", srv.URL)
	return &asked
}

func flipByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// generate verifies every checkpoint it loads: a damaged one named directly is an error, and a
// run folder falls back past it with a warning; a manifest that lists nothing vouches for nothing.
func TestGenerateVerifiesCheckpoints(t *testing.T) {
	noHub(t)
	runDir := trainTiny(t, t.TempDir())
	step4 := filepath.Join(runDir, "checkpoints", "step-000004")
	gen := func(model string) (string, error) {
		return run(t, "", "generate", "--model", model, "--temperature", "0", "--max-tokens", "3", "to be")
	}
	if out, err := gen(step4); err != nil {
		t.Fatalf("intact checkpoint: %v\n%s", err, out)
	}
	// A lying manifest beside a flipped bit.
	if err := os.WriteFile(filepath.Join(step4, "manifest.json"), []byte(`{"step":4,"files":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	flipByte(t, filepath.Join(step4, "model.safetensors"))
	if out, err := gen(step4); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("generate --model %s with a damaged checkpoint: %v\n%s", step4, err, out)
	}
	out, err := gen(runDir)
	if err != nil || !strings.Contains(out, "warning: passed over a newer checkpoint") || !strings.Contains(out, "step-000002") {
		t.Fatalf("generate --model RUN past a damaged checkpoint: %v\n%s", err, out)
	}
}

// A model reference that looks like a path never reaches the Hub.
func TestModelPathsStayLocal(t *testing.T) {
	asked := noHub(t)
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, dir, "corpus.txt", "text")
	for _, c := range []struct{ model, want string }{
		{"corpus.txt", "corpus.txt is a file, not a model"},
		{"runs/typo", "runs/typo: no such model folder (looked for a run folder, a checkpoint or a model folder); Hub ids look like ORG/NAME"},
		{"./typo", "./typo: no such model folder"},
		{filepath.Join(dir, "nothing"), "no such model folder"},
	} {
		for _, verb := range [][]string{{"generate", "--model", c.model, "hi"}, {"convert", "--model", c.model, "--out", "x"}} {
			if out, err := run(t, "", verb...); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v: %v\n%s; want %q", verb, err, out, c.want)
			}
		}
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("the Hub was asked %d times for local paths", n)
	}
}

// generate refuses a model whose weights and key/value cache over its whole context do not fit
// in memory, before allocating them: here 8 MiB of weights, but 32 MiB of cache for 65,536
// positions.
func TestGenerateRefusesCacheBeyondMemory(t *testing.T) {
	dir := t.TempDir()
	tok, err := tokenizer.NewChar("to be or not to be")
	if err != nil {
		t.Fatal(err)
	}
	cfg := gpt.Config{VocabSize: tok.VocabSize(), NPositions: 1 << 16, NEmbd: 32, NLayer: 2, NHead: 4, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}
	m, err := gpt.New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	t.Setenv(sysmem.LimitEnv, "24M")
	out, err := run(t, "", "generate", "--model", dir, "--max-tokens", "2", "to")
	if err == nil || !strings.Contains(err.Error(), "key/value cache (2 layers × 65536 positions × 32 wide)") || !strings.Contains(err.Error(), "24.0 MiB available") {
		t.Fatalf("generate with a cache beyond memory: %v\n%s", err, out)
	}
	t.Setenv(sysmem.LimitEnv, "1G")
	if out, err := run(t, "", "generate", "--model", dir, "--max-tokens", "2", "to"); err != nil {
		t.Fatalf("generate within memory: %v\n%s", err, out)
	}
}
