package auto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRunCheckpoint writes RUN/checkpoints/step-N with every file a checkpoint holds and its
// manifest, and points latest at it.
func writeRunCheckpoint(t *testing.T, run string, step int) string {
	t.Helper()
	dir := filepath.Join(run, "checkpoints", fmt.Sprintf("step-%06d", step))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]any{}
	for name, text := range map[string]string{
		"config.json": `{"model_type":"gpt2"}`, "model.safetensors": fmt.Sprint("weights ", step),
		"optimizer.safetensors": "moments", "qkv_tokenizer.json": "{}", "trainer_state.json": fmt.Sprintf(`{"step":%d}`, step),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(text))
		files[name] = map[string]any{"size": len(text), "sha256": hex.EncodeToString(sum[:])}
	}
	man, _ := json.Marshal(map[string]any{"step": step, "files": files})
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), man, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "latest"), []byte(filepath.Join("checkpoints", filepath.Base(dir))+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A reference that looks like a path never reaches the Hub, and the error says what was
// looked for; a Hub id does.
func TestResolveKeepsPathsLocal(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile("corpus.txt", []byte("text"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir("models", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ref, want string
	}{
		{"runs/typo", "runs/typo: no such model folder (looked for a run folder, a checkpoint or a model folder); Hub ids look like ORG/NAME"},
		{"runs", "runs: no such model folder"},
		{"./mymodel", "no such model folder"},
		{"../org/name", "no such model folder"},
		{"/nonexistent/org", "no such model folder"},
		{"~/models/x", "no such model folder"},
		{"models/gpt", "models/gpt: no such model folder"},
		{"a/b/c", "no such model folder"},
		{"corpus.txt", "corpus.txt is a file, not a model"},
	} {
		fetched := false
		fetch := func(context.Context, string) (string, error) { fetched = true; return "", nil }
		_, err := Resolve(context.Background(), c.ref, fetch, &bytes.Buffer{})
		if fetched || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Resolve(%q) = %v, fetched %v; want a local error containing %q", c.ref, err, fetched, c.want)
		}
	}
	var asked string
	fetch := func(_ context.Context, repo string) (string, error) { asked = repo; return "/cache/x", nil }
	if dir, err := Resolve(context.Background(), "openai-community/gpt2", fetch, &bytes.Buffer{}); err != nil || dir != "/cache/x" || asked != "openai-community/gpt2" {
		t.Fatalf("Resolve(Hub id) = %q, %v, asked %q", dir, err, asked)
	}
}

// Every checkpoint Resolve hands out is verified: a damaged one named directly is an error, and
// a run that falls back past one says so.
func TestResolveVerifiesCheckpoints(t *testing.T) {
	run := t.TempDir()
	step20 := writeRunCheckpoint(t, run, 20)
	step40 := writeRunCheckpoint(t, run, 40)
	if err := os.WriteFile(filepath.Join(step40, "model.safetensors"), []byte("weights 41"), 0o644); err != nil {
		t.Fatal(err)
	}
	noFetch := func(context.Context, string) (string, error) { t.Fatal("fetched"); return "", nil }
	if _, err := Resolve(context.Background(), step40, noFetch, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "model.safetensors is damaged") {
		t.Fatalf("Resolve(damaged checkpoint) = %v", err)
	}
	if _, err := Load(step40); err == nil || !strings.Contains(err.Error(), "model.safetensors is damaged") {
		t.Fatalf("Load(damaged checkpoint) = %v", err)
	}
	var warn bytes.Buffer
	dir, err := Resolve(context.Background(), run, noFetch, &warn)
	if err != nil || dir != step20 {
		t.Fatalf("Resolve(run) = %q, %v; want %s", dir, err, step20)
	}
	if !strings.Contains(warn.String(), "warning: passed over a newer checkpoint") || !strings.Contains(warn.String(), step40) {
		t.Fatalf("no warning about the damaged checkpoint: %q", warn.String())
	}
}
