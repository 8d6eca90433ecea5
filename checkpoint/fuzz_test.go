package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Fuzz targets for the files a run folder is read back from. Run one with, for example:
//
//	go test ./checkpoint -run XXX -fuzz '^FuzzLatestCheckpoint$' -fuzztime 40s -parallel 1
//
// run.json is read by cmd/qkv (loadRunOptions), outside this package.

// fuzzRun builds, once per process, a run folder with intact checkpoints at steps 10 and 20, a
// damaged one at step 30, a complete but uncommitted temporary folder, and — beside the run — a
// second run whose checkpoint is intact, for a hostile `latest` to aim at.
func fuzzRun(f *testing.F) (runDir, other string) {
	root := f.TempDir()
	runDir, otherRun := filepath.Join(root, "run"), filepath.Join(root, "other")
	write := func(run string, step int) string {
		dir, err := Write(run, step, fillCheckpoint(step))
		if err != nil {
			f.Fatal(err)
		}
		return dir
	}
	write(runDir, 10)
	write(runDir, 20)
	// pruneCheckpoints keeps two: write step 30 by hand, then damage it.
	tmp := write(otherRun, 30)
	step30 := filepath.Join(runDir, CheckpointDir, "step-000030")
	if err := os.Rename(tmp, step30); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(step30, StateFile), []byte(`{"step":31}`), 0o644); err != nil {
		f.Fatal(err)
	}
	// A crash after the manifest but before the rename leaves a complete hidden folder.
	hidden := filepath.Join(runDir, CheckpointDir, ".step-000040.tmp1")
	if err := os.Rename(write(otherRun, 40), hidden); err != nil {
		f.Fatal(err)
	}
	return runDir, write(otherRun, 99)
}

// FuzzLatestCheckpoint fuzzes the `latest` file of a run. A `latest` naming a path outside the
// run is refused with an error that names the file and says what to do. Otherwise Latest
// must find a checkpoint here (the design falls back to the newest intact one when `latest` is
// empty, missing, damaged or names something else): the folder `latest` names exactly when that
// is an intact checkpoints/step-* folder, else the newest intact one (step 20) — never the damaged
// step 30, a hidden temporary folder or the run folder itself.
func FuzzLatestCheckpoint(f *testing.F) {
	runDir, other := fuzzRun(f)
	for _, s := range []string{
		// as Write writes it
		"checkpoints/step-000020\n", "checkpoints/step-000010\n", "checkpoints/step-000010",
		// damaged or missing targets
		"checkpoints/step-000030\n", "checkpoints/step-000050\n", "checkpoints/step-0000", "checkpoints/step-000020\x00",
		"", "\n", "checkpoints", "checkpoints/", ".", "step-000020", "run.json",
		// hostile (never outside the run, never an uncommitted folder)
		"../other/checkpoints/step-000099", other, "/etc", "..", "checkpoints/../../other/checkpoints/step-000099",
		"checkpoints/.step-000040.tmp1", "./checkpoints/step-000010", "checkpoints//step-000010/",
		"checkpoints/step-000010/..", `checkpoints\step-000010`, "checkpoints/step-000010\ncheckpoints/step-000020",
		// Found by this target: an empty (truncated) `latest` was an error instead of the
		// documented fallback, and a complete but uncommitted hidden folder was returned.
		"", " \n", "checkpoints/.step-000040.tmp1", "./checkpoints/../checkpoints/.step-000040.tmp1",
	} {
		f.Add([]byte(s), true)
	}
	f.Add([]byte(nil), false)
	newest := filepath.Join(runDir, CheckpointDir, "step-000020")
	f.Fuzz(func(t *testing.T, latest []byte, present bool) {
		path := filepath.Join(runDir, LatestFile)
		os.Remove(path)
		if present {
			if err := os.WriteFile(path, latest, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := Latest(runDir)
		raw := strings.TrimSpace(string(latest))
		rel := filepath.Clean(raw)
		if present && raw != "" && !filepath.IsLocal(rel) {
			if err == nil || got != "" || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "delete") {
				t.Fatalf("latest %q outside the run: Latest = %q, %v; want an error naming %s and what to do", latest, got, err, path)
			}
			return
		}
		if err != nil {
			t.Fatalf("latest %q: %v; want a fallback to %s", latest, err, newest)
		}
		want := newest
		if present {
			switch rel {
			case filepath.Join(CheckpointDir, "step-000010"), filepath.Join(CheckpointDir, "step-000020"):
				want = filepath.Join(runDir, rel)
			}
		}
		if got != want {
			t.Fatalf("latest %q: Latest = %s, want %s", latest, got, want)
		}
		if rel, err := filepath.Rel(runDir, got); err != nil || !filepath.IsLocal(rel) {
			t.Fatalf("latest %q: %s is outside the run %s", latest, got, runDir)
		}
		if err := Verify(got); err != nil {
			t.Fatalf("latest %q: returned %s, which does not verify: %v", latest, got, err)
		}
	})
}

// FuzzVerifyCheckpoint fuzzes manifest.json in a checkpoint folder holding two files, next to a
// file outside the folder whose true size and SHA-256 the seeds give. A manifest is accepted only
// if it parses with a files object whose every entry is a plain file of the folder with that
// exact size and SHA-256, and it re-marshals and re-parses to an equal value; a refusal names the
// checkpoint folder.
func FuzzVerifyCheckpoint(f *testing.F) {
	files := map[string][]byte{"config.json": []byte(`{"n_layer":1}`), StateFile: []byte(`{"step":20}`)}
	secret := []byte("not part of any checkpoint\n")
	entry := func(b []byte) manifestFile {
		sum := sha256.Sum256(b)
		return manifestFile{Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
	}
	man := func(m map[string]manifestFile) string {
		b, _ := json.MarshalIndent(manifest{Step: 20, Files: m}, "", "  ")
		return string(b) + "\n"
	}
	good := map[string]manifestFile{"config.json": entry(files["config.json"]), StateFile: entry(files[StateFile])}
	for _, s := range []string{
		man(good), man(map[string]manifestFile{"config.json": good["config.json"]}),
		// damaged
		"", "{", "null", "[]", `{"step":20}`, `{"files":null}`, `{"files":[]}`, `{"files":{"config.json":1}}`,
		man(map[string]manifestFile{"config.json": {Size: 13, SHA256: strings.Repeat("0", 64)}}),
		man(map[string]manifestFile{"config.json": {Size: -1, SHA256: good["config.json"].SHA256}}),
		man(map[string]manifestFile{"model.safetensors": {Size: 0, SHA256: entry(nil).SHA256}}),
		strings.Replace(man(good), `"size": 13`, `"size": 1e400`, 1),
		// hostile: names outside the folder, with the outside file's true size and hash
		man(map[string]manifestFile{"../secret": entry(secret)}),
		man(map[string]manifestFile{"../../secret": entry(secret)}),
		man(map[string]manifestFile{"/etc/hostname": entry(secret)}),
		man(map[string]manifestFile{"sub/../../secret": entry(secret)}),
		man(map[string]manifestFile{`..\secret`: entry(secret)}),
		man(map[string]manifestFile{".": entry(nil), "": entry(nil), "sub": entry(nil)}),
		man(map[string]manifestFile{"config.json\x00": good["config.json"]}),
	} {
		f.Add([]byte(s))
	}
	root := f.TempDir()
	dir := filepath.Join(root, "ckpt", "step-000020")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		f.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Join(root, "ckpt", "secret"), filepath.Join(root, "secret")} {
		if err := os.WriteFile(p, secret, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		err := Verify(dir)
		if err != nil {
			if !strings.Contains(err.Error(), "checkpoint "+dir) {
				t.Fatalf("error %q does not name the checkpoint %s", err, dir)
			}
			return
		}
		var m manifest
		if err := json.Unmarshal(data, &m); err != nil || m.Files == nil {
			t.Fatalf("manifest %q verified but does not parse: %v", data, err)
		}
		for name, mf := range m.Files {
			content, known := files[name]
			if !known || name != filepath.Base(name) {
				t.Fatalf("manifest %q verified, naming %q, which is not a file of the checkpoint", data, name)
			}
			if mf != entry(content) {
				t.Fatalf("manifest %q verified with %q: %+v, but the file is %+v", data, name, mf, entry(content))
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back manifest
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("manifest %+v does not survive a round trip: %+v, %v", m, back, err)
		}
	})
}
