package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/model/auto"
)

func tensorInfos(t *testing.T, path string) []safetensors.TensorInfo {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	infos := f.Tensors()
	slices.SortFunc(infos, func(a, b safetensors.TensorInfo) int { return strings.Compare(a.Name, b.Name) })
	return infos
}

// An export of each reference model has exactly the reference's tensor names, shapes and dtypes,
// and importing it back gives bit-identical weights.
func TestConvertMatchesReferenceLayout(t *testing.T) {
	converted := 0
	for _, ref := range testenv.References(t) {
		src, name := ref.Dir, filepath.Base(ref.Dir)
		a, err := auto.Load(src)
		if err != nil && strings.Contains(err.Error(), "is not supported") {
			t.Logf("%s: model_type %s is not supported, not converted", name, ref.ModelType)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		converted++
		out := filepath.Join(t.TempDir(), name)
		if o, err := run(t, "", "convert", "--model", src, "--out", out); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, o)
		}
		want, got := tensorInfos(t, filepath.Join(src, "model.safetensors")), tensorInfos(t, filepath.Join(out, "model.safetensors"))
		if len(want) != len(got) {
			t.Fatalf("%s: %d tensors exported, reference has %d", name, len(got), len(want))
		}
		for i := range want {
			if want[i].Name != got[i].Name || want[i].DType != got[i].DType || !slices.Equal(want[i].Shape, got[i].Shape) {
				t.Errorf("%s: exported %s %s %v, reference %s %s %v", name, got[i].Name, got[i].DType, got[i].Shape, want[i].Name, want[i].DType, want[i].Shape)
			}
		}
		b, err := auto.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range a.Parameters().List() {
			q, _ := b.Parameters().Get(p.Name)
			if !slices.Equal(p.Var.Value.Data(), q.Var.Value.Data()) {
				t.Errorf("%s: %s changed in the round trip", name, p.Name)
			}
		}
	}
	if converted == 0 {
		testenv.Absent(t, "no reference folder of a supported model_type")
	}
}

// A trained qkv model exports with its BPE tokenizer, in float16 too, and loads back.
func TestConvertTrainedModel(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("QKV_TOKENIZER_DIR", testenv.RequireDataDir(t))
	corpus := writeFile(t, dir, "c.txt", strings.Repeat("Some text to learn from, over and over. ", 40))
	runDir := filepath.Join(dir, "run")
	if o, err := run(t, "", "train", "--data", corpus, "--tokenizer", "gpt2", "--preset", "tiny", "--block", "16", "--iters", "3", "--out", runDir, "--sample-tokens", "0", "--eval-interval", "0"); err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	for _, dtype := range []string{"float32", "float16"} {
		out := filepath.Join(dir, "export-"+dtype)
		o, err := run(t, "", "convert", "--model", runDir, "--out", out, "--dtype", dtype)
		if err != nil || !strings.Contains(o, "gpt2-bpe tokenizer") {
			t.Fatalf("%v\n%s", err, o)
		}
		for _, f := range []string{"config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Errorf("%s: export lacks %s", dtype, f)
			}
		}
		back, err := run(t, "", "generate", "--model", out, "--temperature", "0", "--max-tokens", "3", "Some")
		if err != nil || !strings.HasPrefix(back, "Some") {
			t.Fatalf("generate from the %s export: %q, %v", dtype, back, err)
		}
	}
	if _, err := run(t, "", "convert", "--model", runDir, "--out", filepath.Join(dir, "x"), "--dtype", "int4"); err == nil {
		t.Fatal("bad dtype accepted")
	}
}

// convert never writes where the model would shadow a run's checkpoints or overwrite saved data:
// not the run folder or a folder inside it, not inside the model folder being converted, not a
// file, not a folder that already holds files. Each refusal leaves everything as it was.
func TestConvertRefusesUnsafeOut(t *testing.T) {
	noHub(t)
	dir := t.TempDir()
	runDir := trainTiny(t, dir)
	step4 := filepath.Join(runDir, "checkpoints", "step-000004")
	exported := filepath.Join(dir, "exported")
	if out, err := run(t, "", "convert", "--model", runDir, "--out", exported); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	kept := writeFile(t, dir, "notes.txt", "keep me")
	for _, c := range []struct{ model, out, want string }{
		{runDir, runDir, "inside the training run"},
		{runDir, filepath.Join(runDir, "export"), "inside the training run"},
		{runDir, step4, "inside the training run"},
		{step4, filepath.Join(step4, "sub"), "inside the training run"},
		{exported, filepath.Join(exported, "sub"), "inside the model folder"},
		{exported, exported, "inside the model folder"},
		{runDir, kept, "is a file"},
		{runDir, filepath.Dir(kept), "already holds files"},
	} {
		out, err := run(t, "", "convert", "--model", c.model, "--out", c.out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("convert --model %s --out %s: %v\n%s; want %q", c.model, c.out, err, out, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(runDir, "config.json")); err == nil {
		t.Fatal("a model was written at the run's root")
	}
	if b, err := os.ReadFile(kept); err != nil || string(b) != "keep me" {
		t.Fatalf("%s changed: %q, %v", kept, b, err)
	}
	// An empty folder is fine.
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, "", "convert", "--model", step4, "--out", empty); err != nil {
		t.Fatalf("convert into an empty folder: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(empty, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
}
