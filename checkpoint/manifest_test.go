package checkpoint

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// editManifest rewrites the manifest of the checkpoint dir with edit applied.
func editManifest(t *testing.T, dir string, edit func(m *manifest)) {
	t.Helper()
	path := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	if data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// twoCheckpoints writes a run with intact checkpoints at steps 20 and 40.
func twoCheckpoints(t *testing.T) (run, step20, step40 string) {
	t.Helper()
	run = t.TempDir()
	for _, step := range []int{20, 40} {
		dir, err := Write(run, step, fillCheckpoint(step))
		if err != nil {
			t.Fatal(err)
		}
		if step == 20 {
			step20 = dir
		} else {
			step40 = dir
		}
	}
	return run, step20, step40
}

// A manifest vouches only for what it lists: one that leaves out a file every checkpoint holds,
// or one beside a file it does not list, makes the checkpoint damaged, and the run falls back to
// the checkpoint before it (a missing trainer_state.json included).
func TestManifestMustListEveryFile(t *testing.T) {
	flip := func(t *testing.T, dir string) {
		path := filepath.Join(dir, "model.safetensors")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0x40
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"empty files and a bit flip", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(`{"step":40,"files":{}}`), 0o644); err != nil {
				t.Fatal(err)
			}
			flip(t, dir)
		}, "does not list config.json"},
		{"weights left out and flipped", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *manifest) { delete(m.Files, "model.safetensors") })
			flip(t, dir)
		}, "does not list model.safetensors"},
		{"optimizer left out", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *manifest) { delete(m.Files, OptimizerFile) })
		}, "does not list " + OptimizerFile},
		{"tokenizer left out", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m *manifest) { delete(m.Files, "qkv_tokenizer.json") })
		}, "lists no tokenizer file"},
		{"trainer state missing", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, StateFile)); err != nil {
				t.Fatal(err)
			}
			editManifest(t, dir, func(m *manifest) { delete(m.Files, StateFile) })
		}, "does not list " + StateFile},
		{"unlisted tokenizer file", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "holds tokenizer.json, which its manifest does not list"},
	} {
		t.Run(c.name, func(t *testing.T) {
			run, step20, step40 := twoCheckpoints(t)
			c.damage(t, step40)
			err := Verify(step40)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), step40) {
				t.Fatalf("Verify = %v; want an error naming %s and saying %q", err, step40, c.want)
			}
			dir, passed, err := Find(run)
			if err != nil || dir != step20 || len(passed) != 1 || !strings.Contains(passed[0], c.want) {
				t.Fatalf("Find = %q, %q, %v; want %s, passing over step 40", dir, passed, err, step20)
			}
		})
	}
}

// Write refuses to seal a checkpoint that lacks a file every checkpoint holds.
func TestWriteCheckpointRefusesIncomplete(t *testing.T) {
	run := t.TempDir()
	_, err := Write(run, 10, func(dir string) error {
		if err := fillCheckpoint(10)(dir); err != nil {
			return err
		}
		return os.Remove(filepath.Join(dir, OptimizerFile))
	})
	if err == nil || !strings.Contains(err.Error(), OptimizerFile) {
		t.Fatalf("Write without %s = %v", OptimizerFile, err)
	}
	if _, err := Latest(run); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("an incomplete checkpoint was committed: %v", err)
	}
}

// ResolveModel verifies every checkpoint it hands out: a run gives its newest intact checkpoint
// and names the damaged one it passed over; a damaged checkpoint named directly is an error; a
// model written at the root of a run does not shadow its checkpoints.
func TestResolveModelVerifies(t *testing.T) {
	run, step20, step40 := twoCheckpoints(t)
	if dir, passed, err := ResolveModel(run); err != nil || dir != step40 || len(passed) != 0 {
		t.Fatalf("ResolveModel(run) = %q, %q, %v; want %s", dir, passed, err, step40)
	}
	if dir, _, err := ResolveModel(filepath.Join(run, CheckpointDir)); err != nil || dir != step40 {
		t.Fatalf("ResolveModel(run/checkpoints) = %q, %v; want %s", dir, err, step40)
	}
	if err := os.WriteFile(filepath.Join(run, "config.json"), []byte(`{"model_type":"gpt2"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if dir, _, err := ResolveModel(run); err != nil || dir != step40 {
		t.Fatalf("with config.json at the run root, ResolveModel(run) = %q, %v; want %s", dir, err, step40)
	}
	w := filepath.Join(step40, "model.safetensors")
	if err := os.WriteFile(w, []byte("weights 41"), 0o644); err != nil {
		t.Fatal(err)
	}
	if dir, err := ResolveModelDir(step40); err == nil || !strings.Contains(err.Error(), "model.safetensors is damaged") {
		t.Fatalf("ResolveModelDir(damaged checkpoint) = %q, %v; want an error", dir, err)
	}
	dir, passed, err := ResolveModel(run)
	if err != nil || dir != step20 || len(passed) != 1 || !strings.Contains(passed[0], "model.safetensors is damaged") {
		t.Fatalf("ResolveModel(run) = %q, %q, %v; want %s, passing over step 40", dir, passed, err, step20)
	}
	// A checkpoint folder without its manifest is not a plain model folder.
	if err := os.Remove(filepath.Join(step20, ManifestFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveModelDir(step20); err == nil || !strings.Contains(err.Error(), "no manifest") {
		t.Fatalf("ResolveModelDir(checkpoint without manifest) = %v", err)
	}
	// A plain model folder is taken as is.
	plain := t.TempDir()
	if err := os.WriteFile(filepath.Join(plain, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if dir, err := ResolveModelDir(plain); err != nil || dir != plain {
		t.Fatalf("ResolveModelDir(plain) = %q, %v", dir, err)
	}
}

func TestInsideRun(t *testing.T) {
	run, _, step40 := twoCheckpoints(t)
	other := t.TempDir()
	for _, c := range []struct {
		dir    string
		want   string
		inside bool
	}{
		{run, run, true},
		{step40, run, true},
		{filepath.Join(run, "export"), run, true},
		{filepath.Join(run, CheckpointDir), run, true},
		{other, "", false},
		{filepath.Join(other, "a", "b"), "", false},
	} {
		got, ok := InsideRun(c.dir)
		if ok != c.inside || (ok && !sameFile(got, c.want)) {
			t.Errorf("InsideRun(%s) = %q, %v; want %q, %v", c.dir, got, ok, c.want, c.inside)
		}
	}
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// TestVerifyRemembers checks that a checkpoint verified once is not hashed again while its
// files stay as they were, and is hashed again, and found damaged, once one is written, or
// while its files are too fresh for their time stamps to tell.
func TestVerifyRemembers(t *testing.T) {
	_, _, step40 := twoCheckpoints(t)
	hashed := 0
	defer func(old func(string) (manifestFile, error)) { hashCheckpointFile = old }(hashCheckpointFile)
	hashCheckpointFile = func(path string) (manifestFile, error) {
		hashed++
		return hashFile(path)
	}
	verify := func(what string, wantHashed bool, wantErr string) {
		t.Helper()
		hashed = 0
		err := Verify(step40)
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Fatalf("%s: Verify = %v, want error %q", what, err, wantErr)
		}
		if (hashed > 0) != wantHashed {
			t.Fatalf("%s: %d files hashed; want hashing %v", what, hashed, wantHashed)
		}
	}
	verify("just written", true, "")
	verify("just written, again", true, "")

	entries, err := os.ReadDir(step40)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for _, e := range entries {
		if err := os.Chtimes(filepath.Join(step40, e.Name()), old, old); err != nil {
			t.Fatal(err)
		}
	}
	verify("settled", true, "")
	verify("settled, again", false, "")
	// The same size, written in place: a new modification time.
	w := filepath.Join(step40, "model.safetensors")
	data, err := os.ReadFile(w)
	if err != nil {
		t.Fatal(err)
	}
	data[0] ^= 1
	if err := os.WriteFile(w, data, 0o644); err != nil {
		t.Fatal(err)
	}
	verify("written since", true, "model.safetensors is damaged")
	verify("damaged, again", true, "model.safetensors is damaged")
	// Written and settled: another modification time than the one remembered.
	data[0] ^= 1
	if err := os.WriteFile(w, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mended := old.Add(30 * time.Second)
	if err := os.Chtimes(w, mended, mended); err != nil {
		t.Fatal(err)
	}
	verify("mended and settled", true, "")
	verify("mended and settled, again", false, "")
	data[0] ^= 1
	if err := os.WriteFile(w, data, 0o644); err != nil {
		t.Fatal(err)
	}
	later := old.Add(time.Minute)
	if err := os.Chtimes(w, later, later); err != nil {
		t.Fatal(err)
	}
	verify("written since, settled", true, "model.safetensors is damaged")
}
