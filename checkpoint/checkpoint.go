// Package checkpoint owns the on-disk layout of training runs: it writes checkpoints atomically,
// seals each with a manifest (size and SHA-256 of every file), verifies them on every load, and
// turns a run folder, a checkpoint folder or a model folder into the model folder to load.
// Training (package train) writes through it; every loader (model/auto) reads through it.
package checkpoint

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
)

// A run folder:
//
//	runs/NAME/
//	  run.json                 how the run was configured (to resume it)
//	  metrics.jsonl            one JSON object per logged step and per evaluation
//	  latest                   the name of the newest complete checkpoint (written atomically)
//	  checkpoints/step-000200/ a complete checkpoint:
//	    config.json, model.safetensors, tokenizer files   the model, loadable on its own
//	    optimizer.safetensors                             AdamW moments
//	    trainer_state.json                                step, RNG states, schedule
//	    manifest.json                                     size and SHA-256 of every file above, written last
//
// A checkpoint is written into a hidden temporary folder, its manifest last, then renamed into
// place; only then does `latest` move. A crash at any point leaves the previous checkpoint
// intact and `latest` pointing at it; leftover temporary folders are ignored and cleaned up.

// Names of files in a run folder.
const (
	RunFile       = "run.json"
	MetricsFile   = "metrics.jsonl"
	LatestFile    = "latest"
	CheckpointDir = "checkpoints"
	ManifestFile  = "manifest.json"
	StateFile     = "trainer_state.json"
	OptimizerFile = "optimizer.safetensors"
)

// checkpointFiles are the files every checkpoint holds, each listed in its manifest: a
// manifest that leaves one out does not vouch for it, and the checkpoint is damaged.
var checkpointFiles = []string{"config.json", "model.safetensors", OptimizerFile, StateFile}

// tokenizerFiles are the names a saved tokenizer may use (see package tokenizer); a checkpoint's
// manifest lists at least one.
var tokenizerFiles = []string{"qkv_tokenizer.json", "tokenizer.json", "vocab.json", "merges.txt", "encoder.json", "vocab.bpe", "vocab.txt"}

// keepCheckpoints is how many complete checkpoints a run keeps.
const keepCheckpoints = 2

type manifest struct {
	Step  int                     `json:"step"`
	Files map[string]manifestFile `json:"files"`
}

type manifestFile struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Write creates checkpoints/step-NNNNNN under runDir with fill writing its files into
// a temporary folder, seals it with a manifest, renames it into place and points latest at it.
func Write(runDir string, step int, fill func(dir string) error) (string, error) {
	parent := filepath.Join(runDir, CheckpointDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	name := fmt.Sprintf("step-%06d", step)
	tmp, err := os.MkdirTemp(parent, "."+name+".tmp")
	if err != nil {
		return "", err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := fill(tmp); err != nil {
		return "", err
	}
	man := manifest{Step: step, Files: map[string]manifestFile{}}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		mf, err := hashFile(filepath.Join(tmp, e.Name()))
		if err != nil {
			return "", err
		}
		man.Files[e.Name()] = mf
	}
	if err := checkComplete(tmp, man); err != nil {
		return "", err
	}
	data, _ := json.MarshalIndent(man, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(tmp, ManifestFile), append(data, '\n'), 0o644); err != nil {
		return "", err
	}
	final := filepath.Join(parent, name)
	if err := os.RemoveAll(final); err != nil { // a stale checkpoint of the same step
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	if err := atomicfile.SyncDir(parent); err != nil {
		return "", err
	}
	ok = true
	rel := filepath.Join(CheckpointDir, name)
	if err := atomicfile.WriteFile(filepath.Join(runDir, LatestFile), []byte(rel+"\n"), 0o644); err != nil {
		return "", err
	}
	pruneCheckpoints(parent, name)
	return final, nil
}

// pruneCheckpoints removes temporary leftovers and all but the newest complete checkpoints.
func pruneCheckpoints(parent, newest string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			os.RemoveAll(filepath.Join(parent, e.Name()))
		}
	}
	done := checkpointNames(entries)
	for len(done) > keepCheckpoints {
		if done[0] != newest {
			os.RemoveAll(filepath.Join(parent, done[0]))
		}
		done = done[1:]
	}
}

// checkpointNames returns the step-N checkpoint folders among entries, oldest first (by step:
// step-1000000 comes after step-999999).
func checkpointNames(entries []os.DirEntry) []string {
	type ckpt struct {
		name string
		step int
	}
	var cs []ckpt
	for _, e := range entries {
		if n, ok := strings.CutPrefix(e.Name(), "step-"); ok && e.IsDir() {
			if step, err := strconv.Atoi(n); err == nil && step >= 0 {
				cs = append(cs, ckpt{e.Name(), step})
			}
		}
	}
	slices.SortFunc(cs, func(a, b ckpt) int { return cmp.Or(cmp.Compare(a.step, b.step), strings.Compare(a.name, b.name)) })
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.name
	}
	return names
}

// hashFile returns the size and SHA-256 of a regular file (anything else is refused without
// blocking).
func hashFile(path string) (manifestFile, error) {
	f, err := fileutil.Open(path)
	if err != nil {
		return manifestFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return manifestFile{}, err
	}
	return manifestFile{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// Bounds on the small files a run folder holds; anything larger is not one.
const (
	maxLatestBytes   = 4 << 10
	maxManifestBytes = 64 << 20
)

// ErrNoCheckpoint is returned when a run folder holds no complete checkpoint.
var ErrNoCheckpoint = errors.New("no complete checkpoint")

// Latest returns the newest complete and intact checkpoint folder of a run: the one
// `latest` names, verified against its manifest, or — if that one is damaged or missing, or
// `latest` is empty or names no checkpoints/step-* folder — the newest other checkpoint that
// verifies. A `latest` that names a path outside the run is refused with an error.
func Latest(runDir string) (string, error) {
	dir, _, err := Find(runDir)
	return dir, err
}

// Find is Latest that also says which newer checkpoints it passed over, and
// why (damaged, incomplete), so that a resume can tell the user it went back.
func Find(runDir string) (dir string, passedOver []string, err error) {
	var tried []string
	var triedLatest string // the folder latest names, checked already
	latest := filepath.Join(runDir, LatestFile)
	if data, err := fileutil.ReadFile(latest, maxLatestBytes, "a pointer to a checkpoint"); err == nil {
		raw := strings.TrimSpace(string(data))
		rel := filepath.Clean(raw)
		switch {
		case raw == "": // truncated: as if missing
		case !filepath.IsLocal(rel):
			return "", nil, fmt.Errorf("%s: %q is not a folder inside the run; delete %s to resume from the newest intact checkpoint", latest, raw, latest)
		case filepath.Dir(rel) != CheckpointDir || !strings.HasPrefix(filepath.Base(rel), "step-"):
			// Not a committed checkpoint (the run folder, a hidden temporary folder…): damaged.
			tried = append(tried, fmt.Sprintf("%s: %q is not a checkpoint folder %s", latest, raw, filepath.Join(CheckpointDir, "step-NNNNNN")))
		default:
			dir := filepath.Join(runDir, rel)
			triedLatest = dir
			if err := Verify(dir); err == nil {
				return dir, nil, nil
			} else {
				tried = append(tried, err.Error())
			}
		}
	}
	entries, _ := os.ReadDir(filepath.Join(runDir, CheckpointDir))
	names := checkpointNames(entries)
	for i := len(names) - 1; i >= 0; i-- {
		dir := filepath.Join(runDir, CheckpointDir, names[i])
		if dir == triedLatest {
			continue
		}
		if err := Verify(dir); err == nil {
			return dir, tried, nil
		} else {
			tried = append(tried, err.Error())
		}
	}
	if len(tried) > 0 {
		return "", nil, fmt.Errorf("%s: %w (%s)", runDir, ErrNoCheckpoint, strings.Join(tried, "; "))
	}
	return "", nil, fmt.Errorf("%s: %w", runDir, ErrNoCheckpoint)
}

// Verify checks every file of a checkpoint against its manifest (size and SHA-256). A
// checkpoint this process verified before is not hashed again unless its manifest or one of
// its files changed since (see verified.go).
func Verify(dir string) error {
	data, err := fileutil.ReadFile(filepath.Join(dir, ManifestFile), maxManifestBytes, "a checkpoint manifest")
	if err != nil {
		return fmt.Errorf("checkpoint %s is incomplete (no manifest): %w", dir, err)
	}
	var man manifest
	if err := json.Unmarshal(data, &man); err != nil || man.Files == nil {
		return fmt.Errorf("checkpoint %s: corrupt manifest", dir)
	}
	if err := checkComplete(dir, man); err != nil {
		return err
	}
	for name := range man.Files {
		if !filepath.IsLocal(name) || strings.ContainsAny(name, `/\`) {
			return fmt.Errorf("checkpoint %s: manifest names %q, which is not a file of the checkpoint", dir, name)
		}
	}
	// The files as they are before hashing: one written while it is hashed looks changed
	// next time.
	abs, absErr := filepath.Abs(dir)
	files, settled := statFiles(dir, man)
	remember := absErr == nil && settled
	if remember && verifiedBefore(abs, data, files) {
		return nil
	}
	for name, want := range man.Files {
		got, err := hashCheckpointFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("checkpoint %s: %w", dir, err)
		}
		if got != want {
			return fmt.Errorf("checkpoint %s: %s is damaged (size %d, sha256 %.12s…; manifest says size %d, sha256 %.12s…)", dir, name, got.Size, got.SHA256, want.Size, want.SHA256)
		}
	}
	if remember {
		rememberVerified(abs, data, files)
	}
	return nil
}

// checkComplete checks that man lists every file a checkpoint holds (checkpointFiles and a
// tokenizer file) and that dir holds no file man leaves out (hidden names and folders aside):
// the loaders read only files the manifest vouches for.
func checkComplete(dir string, man manifest) error {
	for _, name := range checkpointFiles {
		if _, ok := man.Files[name]; !ok {
			return fmt.Errorf("checkpoint %s is damaged: its manifest does not list %s, which every checkpoint holds", dir, name)
		}
	}
	if !slices.ContainsFunc(tokenizerFiles, func(name string) bool { _, ok := man.Files[name]; return ok }) {
		return fmt.Errorf("checkpoint %s is damaged: its manifest lists no tokenizer file (%s)", dir, strings.Join(tokenizerFiles, ", "))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	for _, e := range entries {
		if _, listed := man.Files[e.Name()]; listed || e.IsDir() || e.Name() == ManifestFile || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		return fmt.Errorf("checkpoint %s is damaged: it holds %s, which its manifest does not list", dir, e.Name())
	}
	return nil
}

// ResolveModelDir is ResolveModel without the list of passed-over checkpoints.
func ResolveModelDir(dir string) (string, error) {
	model, _, err := ResolveModel(dir)
	return model, err
}

// ResolveModel turns a local folder into the model folder to load, so that `--model runs/NAME`
// works as well as a plain model folder:
//   - a run folder (one with latest, run.json or checkpoints/) gives its newest intact checkpoint,
//     and passedOver says which newer ones it passed over and why, for the caller to warn;
//   - a checkpoint folder (one with a manifest, or a run's checkpoints/step-N) is verified
//     against its manifest, and a damaged one is an error;
//   - any other folder with config.json is returned as is.
func ResolveModel(dir string) (model string, passedOver []string, err error) {
	if isRun(dir) {
		return Find(dir)
	}
	if clean := filepath.Clean(dir); filepath.Base(clean) == CheckpointDir && isRun(filepath.Dir(clean)) {
		return Find(filepath.Dir(clean)) // RUN/checkpoints means the run
	}
	if exists(filepath.Join(dir, ManifestFile)) || isCheckpointDir(dir) {
		if err := Verify(dir); err != nil {
			return "", nil, err
		}
		return dir, nil, nil
	}
	if exists(filepath.Join(dir, "config.json")) {
		return dir, nil, nil
	}
	if _, err := os.Stat(dir); err != nil {
		return "", nil, err
	}
	return "", nil, fmt.Errorf("%s holds no model: expected config.json (a model folder), a checkpoint or a training run", dir)
}

// InsideRun returns the training run folder that dir is, or lies inside, and whether there is
// one. Above dir itself only folders qkv marks as runs (with latest or run.json) count, so that
// an unrelated folder named checkpoints higher up does not.
func InsideRun(dir string) (string, bool) {
	if isRun(dir) {
		return dir, true
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		if exists(filepath.Join(d, LatestFile)) || exists(filepath.Join(d, RunFile)) {
			return d, true
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}

// isRun reports whether dir is a training run folder: it has a latest file, a run.json or a
// checkpoints folder.
func isRun(dir string) bool {
	if st, err := os.Stat(filepath.Join(dir, CheckpointDir)); err == nil && st.IsDir() {
		return true
	}
	return exists(filepath.Join(dir, LatestFile)) || exists(filepath.Join(dir, RunFile))
}

// isCheckpointDir reports whether dir is named as a run's checkpoint: checkpoints/step-N.
func isCheckpointDir(dir string) bool {
	clean := filepath.Clean(dir)
	return strings.HasPrefix(filepath.Base(clean), "step-") && filepath.Base(filepath.Dir(clean)) == CheckpointDir
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
