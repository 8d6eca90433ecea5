// Package testenv locates the shared test data that tests and benchmarks read: the reference
// vectors (QKV_REFERENCE_DIR, else ../shared/testdata/reference beside the module root) and the
// public datasets (QKV_DATA_DIR, else ../shared/data).
package testenv

import (
	"os"
	"path/filepath"
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

func locate(env, rel string) (string, bool) {
	if d := os.Getenv(env); d != "" {
		return d, true
	}
	root, ok := ModuleRoot()
	if !ok {
		return "", false
	}
	d := filepath.Join(root, "..", "shared", rel)
	if _, err := os.Stat(d); err != nil {
		return "", false
	}
	return d, true
}

// ReferenceDir returns the reference-vector directory.
func ReferenceDir() (string, bool) { return locate("QKV_REFERENCE_DIR", "testdata/reference") }

// DataDir returns the shared dataset directory.
func DataDir() (string, bool) { return locate("QKV_DATA_DIR", "data") }

// RequireReferenceDir returns the reference directory or skips the test, saying why.
func RequireReferenceDir(t testing.TB) string {
	t.Helper()
	d, ok := ReferenceDir()
	if !ok {
		t.Skip("reference vectors not found: set QKV_REFERENCE_DIR or place them in ../shared/testdata/reference")
	}
	return d
}

// RequireDataDir returns the dataset directory or skips the test, saying why.
func RequireDataDir(t testing.TB) string {
	t.Helper()
	d, ok := DataDir()
	if !ok {
		t.Skip("shared data not found: set QKV_DATA_DIR or place it in ../shared/data")
	}
	return d
}

// ReferenceModels returns the folders of the reference directory whose config.json declares
// model_type, so that tests cover every such folder, whatever its sizes.
func ReferenceModels(t testing.TB, modelType string) []string {
	t.Helper()
	root := RequireReferenceDir(t)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("reading %s: %v", root, err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			continue
		}
		if modelTypeOf(data) == modelType {
			dirs = append(dirs, dir)
		}
	}
	if len(dirs) == 0 {
		t.Skipf("no %s folder in %s", modelType, root)
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
