// Package testenv locates the shared test data that tests and benchmarks read: the reference
// vectors (QKV_REFERENCE_DIR, else ../shared/testdata/reference beside the module root) and the
// public datasets (QKV_DATA_DIR, else ../shared/data).
//
// A test that needs a folder that is absent skips, saying how to provide it; under CI=true (see
// Required) it fails instead, so that a CI run without the data cannot pass with no coverage. A
// folder named by QKV_REFERENCE_DIR or QKV_DATA_DIR that is not a readable directory always
// fails: the variable asked for it. A relative path in them is relative to the module root (go
// test runs each package in its own folder, so the working directory would differ by package).
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// ModuleRoot returns the directory holding go.mod, searching upward from the working directory.
func ModuleRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// Required reports whether missing test data fails tests rather than skipping them: when the
// CI environment variable is true (CI=true, as CI services and .ci/run set it).
func Required() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}

// Absent skips the test for a missing piece of test data, or fails it when Required.
func Absent(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (CI=true: missing test data is a failure)", msg)
	}
	t.Skip(msg)
}

// errAbsent marks a folder that the default lookup did not find (no variable named it).
var errAbsent = errors.New("not found")

// folder is one kind of shared test data.
type folder struct {
	env  string // the variable that names it
	rel  string // its path below ../shared
	what string // what it holds, for messages
}

var (
	reference = folder{"QKV_REFERENCE_DIR", "testdata/reference", "reference vectors"}
	data      = folder{"QKV_DATA_DIR", "data", "shared data"}
)

// lookup returns the folder's path. Its error wraps errAbsent when no variable names the folder
// and the default place lacks it.
func (f folder) lookup() (string, error) {
	if d := os.Getenv(f.env); d != "" {
		if root, ok := ModuleRoot(); ok && !filepath.IsAbs(d) {
			d = filepath.Join(root, d)
		}
		if err := isDir(d); err != nil {
			return d, fmt.Errorf("%s=%s: %w", f.env, d, err)
		}
		return d, nil
	}
	root, ok := ModuleRoot()
	if !ok {
		return "", fmt.Errorf("%w: no go.mod above the working directory", errAbsent)
	}
	d := filepath.Join(root, "..", "shared", filepath.FromSlash(f.rel))
	if err := isDir(d); err != nil {
		return d, fmt.Errorf("%w: %v", errAbsent, err)
	}
	return d, nil
}

func isDir(d string) error {
	st, err := os.Stat(d)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", d)
	}
	return nil
}

// require returns the folder, or skips (fails when Required or when a variable named a folder
// that is not there).
func (f folder) require(t testing.TB) string {
	t.Helper()
	d, err := f.lookup()
	switch {
	case err == nil:
		return d
	case errors.Is(err, errAbsent):
		Absent(t, "%s %s: set %s or place them in ../shared/%s", f.what, err, f.env, f.rel)
	default:
		t.Fatalf("%s: %v", f.what, err)
	}
	return ""
}

// ReferenceDir returns the reference-vector directory, if it exists.
func ReferenceDir() (string, bool) {
	d, err := reference.lookup()
	return d, err == nil
}

// DataDir returns the shared dataset directory, if it exists.
func DataDir() (string, bool) {
	d, err := data.lookup()
	return d, err == nil
}

// RequireReferenceDir returns the reference directory, or skips the test saying why (fails
// under CI=true).
func RequireReferenceDir(t testing.TB) string {
	t.Helper()
	return reference.require(t)
}

// RequireDataDir returns the dataset directory, or skips the test saying why (fails under
// CI=true).
func RequireDataDir(t testing.TB) string {
	t.Helper()
	return data.require(t)
}

// RequireDataSubdir returns the folder sub (slash-separated) of the dataset directory, or skips
// the test saying why (fails under CI=true).
func RequireDataSubdir(t testing.TB, sub string) string {
	t.Helper()
	d := filepath.Join(RequireDataDir(t), filepath.FromSlash(sub))
	if err := isDir(d); err != nil {
		Absent(t, "shared data %s: %v", sub, err)
	}
	return d
}

// Reference is a model folder of the reference directory.
type Reference struct {
	Dir       string // its path
	ModelType string // the model_type of its config.json
}

// References returns every folder of the reference directory, each with the model_type of its
// config.json. A folder whose config.json is missing, unreadable or declares no model_type fails
// the test: a reference folder is never silently left out.
func References(t testing.TB) []Reference {
	t.Helper()
	root := RequireReferenceDir(t)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("reading %s: %v", root, err)
	}
	var refs []Reference
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		config, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatalf("reference folder %s: %v", dir, err)
		}
		mt, err := modelTypeOf(config)
		if err != nil {
			t.Fatalf("reference folder %s: config.json: %v", dir, err)
		}
		refs = append(refs, Reference{dir, mt})
	}
	if len(refs) == 0 {
		Absent(t, "no model folder in %s", root)
	}
	return refs
}

// ReferenceModels returns the folders of the reference directory whose config.json declares
// model_type, so that tests cover every such folder, whatever its sizes. None skips the test
// (fails under CI=true).
func ReferenceModels(t testing.TB, modelType string) []string {
	t.Helper()
	var dirs []string
	for _, r := range References(t) {
		if r.ModelType == modelType {
			dirs = append(dirs, r.Dir)
		}
	}
	if len(dirs) == 0 {
		root, _ := ReferenceDir()
		Absent(t, "no %s folder in %s", modelType, root)
	}
	return dirs
}

// ReferenceConfigs returns the config.json of every folder of the reference directory, whatever
// its model_type, for seeding config parsers' fuzz targets; nothing when the directory is
// absent.
func ReferenceConfigs() [][]byte {
	root, ok := ReferenceDir()
	if !ok {
		return nil
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var out [][]byte
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if data, err := os.ReadFile(filepath.Join(root, e.Name(), "config.json")); err == nil {
			out = append(out, data)
		}
	}
	return out
}
