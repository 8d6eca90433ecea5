package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// fakeTB records how a helper ended a test: skipped, failed, or returned.
type fakeTB struct {
	testing.TB
	outcome string // "skip", "fail" or "" (returned)
	msg     string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skip(args ...any) { f.end("skip", fmt.Sprint(args...)) }

func (f *fakeTB) Skipf(format string, args ...any) { f.end("skip", fmt.Sprintf(format, args...)) }

func (f *fakeTB) Fatal(args ...any) { f.end("fail", fmt.Sprint(args...)) }

func (f *fakeTB) Fatalf(format string, args ...any) { f.end("fail", fmt.Sprintf(format, args...)) }

func (f *fakeTB) end(outcome, msg string) {
	f.outcome, f.msg = outcome, msg
	runtime.Goexit()
}

// call runs fn with a fakeTB on its own goroutine, as the testing package runs a test, so that
// Skip and Fatal end it.
func call(fn func(t testing.TB)) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

// tree makes a module beside a shared folder:
//
//	root/mod/go.mod, root/mod/pkg (the working directory)
//	root/shared/testdata/reference/<name>/config.json for each of configs
//	root/shared/data/tinyshakespeare (if withData)
//
// with CI unset, and returns root. configs maps a folder name to its config.json ("" for none,
// "/" for a directory in its place).
func tree(t *testing.T, configs map[string]string, withData bool) string {
	t.Helper()
	root := t.TempDir()
	mkdir := func(p string) {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mkdir("mod/pkg")
	write("mod/go.mod", "module example.com/m\n")
	if configs != nil {
		mkdir("shared/testdata/reference")
		write("shared/testdata/reference/README.md", "not a folder")
	}
	for name, config := range configs {
		mkdir("shared/testdata/reference/" + name)
		switch config {
		case "":
		case "/":
			mkdir("shared/testdata/reference/" + name + "/config.json")
		default:
			write("shared/testdata/reference/"+name+"/config.json", config)
		}
	}
	if withData {
		mkdir("shared/data/tinyshakespeare")
	}
	t.Chdir(filepath.Join(root, "mod", "pkg"))
	t.Setenv("QKV_REFERENCE_DIR", "")
	t.Setenv("QKV_DATA_DIR", "")
	t.Setenv("CI", "")
	return root
}

func TestRequired(t *testing.T) {
	for _, c := range []struct {
		ci   string
		want bool
	}{{"", false}, {"true", true}, {"1", true}, {"TRUE", true}, {"false", false}, {"0", false}, {"yes", false}} {
		t.Setenv("CI", c.ci)
		if got := Required(); got != c.want {
			t.Errorf("CI=%q: Required() = %v, want %v", c.ci, got, c.want)
		}
	}
}

// A missing folder skips, or fails under CI=true; a folder named by a variable that is not
// there always fails.
func TestRequireMissing(t *testing.T) {
	for _, c := range []struct {
		name    string
		ci      string
		env     string // QKV_REFERENCE_DIR, QKV_DATA_DIR
		wantOut string
		wantMsg string
	}{
		{"absent", "", "", "skip", "set QKV_"},
		{"absent under CI", "true", "", "fail", "CI=true"},
		{"variable names nothing", "", "missing", "fail", "missing"},
		{"variable names nothing under CI", "true", "missing", "fail", "missing"},
		{"variable names a file", "", "file", "fail", "not a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := tree(t, nil, false)
			t.Setenv("CI", c.ci)
			if c.env != "" {
				if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Setenv("QKV_REFERENCE_DIR", filepath.Join(root, c.env))
				t.Setenv("QKV_DATA_DIR", filepath.Join(root, c.env))
			}
			for what, fn := range map[string]func(testing.TB){
				"RequireReferenceDir": func(t testing.TB) { RequireReferenceDir(t) },
				"RequireDataDir":      func(t testing.TB) { RequireDataDir(t) },
				"RequireDataSubdir":   func(t testing.TB) { RequireDataSubdir(t, "tinyshakespeare") },
				"References":          func(t testing.TB) { References(t) },
				"ReferenceModels":     func(t testing.TB) { ReferenceModels(t, "gpt2") },
			} {
				f := call(fn)
				if f.outcome != c.wantOut || !strings.Contains(f.msg, c.wantMsg) {
					t.Errorf("%s: %s %q, want %s mentioning %q", what, f.outcome, f.msg, c.wantOut, c.wantMsg)
				}
			}
			if _, ok := ReferenceDir(); ok {
				t.Error("ReferenceDir found a folder")
			}
			if _, ok := DataDir(); ok {
				t.Error("DataDir found a folder")
			}
			if got := ReferenceConfigs(); got != nil {
				t.Errorf("ReferenceConfigs = %q", got)
			}
		})
	}
}

// The default lookup finds ../shared beside the module root; the variables override it.
func TestLookup(t *testing.T) {
	root := tree(t, map[string]string{"gpt2-tiny": `{"model_type": "gpt2"}`, "bert-tiny": `{"model_type": "bert"}`}, true)
	shared := filepath.Join(root, "mod", "..", "shared")
	t.Setenv("CI", "true")
	if d, ok := ReferenceDir(); !ok || d != filepath.Join(shared, "testdata", "reference") {
		t.Errorf("ReferenceDir = %q, %v", d, ok)
	}
	if d, ok := DataDir(); !ok || d != filepath.Join(shared, "data") {
		t.Errorf("DataDir = %q, %v", d, ok)
	}
	if d := RequireDataSubdir(t, "tinyshakespeare"); d != filepath.Join(shared, "data", "tinyshakespeare") {
		t.Errorf("RequireDataSubdir = %q", d)
	}
	if f := call(func(t testing.TB) { RequireDataSubdir(t, "gsm8k") }); f.outcome != "fail" {
		t.Errorf("missing subfolder under CI: %s %q, want fail", f.outcome, f.msg)
	}
	if got := len(ReferenceConfigs()); got != 2 {
		t.Errorf("ReferenceConfigs: %d configs, want 2", got)
	}

	other := t.TempDir()
	t.Setenv("QKV_REFERENCE_DIR", other)
	t.Setenv("QKV_DATA_DIR", other)
	if d := RequireReferenceDir(t); d != other {
		t.Errorf("RequireReferenceDir = %q, want %q", d, other)
	}
	if d := RequireDataDir(t); d != other {
		t.Errorf("RequireDataDir = %q, want %q", d, other)
	}
	// A relative path is relative to the module root, not to the package's folder.
	t.Setenv("QKV_REFERENCE_DIR", filepath.Join("..", "shared", "testdata", "reference"))
	if d, ok := ReferenceDir(); !ok || d != filepath.Join(shared, "testdata", "reference") {
		t.Errorf("relative QKV_REFERENCE_DIR: ReferenceDir = %q, %v", d, ok)
	}
	t.Setenv("QKV_REFERENCE_DIR", other)
	// An empty reference folder has no model: a skip, a failure under CI.
	if f := call(func(t testing.TB) { References(t) }); f.outcome != "fail" || !strings.Contains(f.msg, "no model folder") {
		t.Errorf("References of an empty folder: %s %q", f.outcome, f.msg)
	}
	t.Setenv("CI", "")
	if f := call(func(t testing.TB) { References(t) }); f.outcome != "skip" {
		t.Errorf("References of an empty folder: %s %q, want skip", f.outcome, f.msg)
	}
}

// Every reference folder is listed with its model_type; one whose config.json is missing,
// unreadable or lacks a model_type fails the test, whatever CI says.
func TestReferences(t *testing.T) {
	good := map[string]string{"gpt2-tiny": `{"model_type": "gpt2"}`, "gpt2-small": `{"model_type":"gpt2","n_layer":2}`, "bert-tiny": `{"model_type": "bert"}`}
	tree(t, good, false)
	var got []string
	for _, r := range References(t) {
		got = append(got, filepath.Base(r.Dir)+":"+r.ModelType)
	}
	slices.Sort(got)
	if want := []string{"bert-tiny:bert", "gpt2-small:gpt2", "gpt2-tiny:gpt2"}; !slices.Equal(got, want) {
		t.Errorf("References = %v, want %v", got, want)
	}
	if dirs := ReferenceModels(t, "gpt2"); len(dirs) != 2 {
		t.Errorf("ReferenceModels(gpt2) = %v, want two folders", dirs)
	}
	if f := call(func(t testing.TB) { ReferenceModels(t, "t5") }); f.outcome != "skip" {
		t.Errorf("ReferenceModels(t5): %s %q, want skip", f.outcome, f.msg)
	}
	t.Setenv("CI", "true")
	if f := call(func(t testing.TB) { ReferenceModels(t, "t5") }); f.outcome != "fail" {
		t.Errorf("ReferenceModels(t5) under CI: %s %q, want fail", f.outcome, f.msg)
	}

	for _, c := range []struct{ name, config, wantMsg string }{
		{"no config", "", "config.json"},
		{"config a directory", "/", "config.json"},
		{"not JSON", "{model_type", "config.json"},
		{"no model_type", `{"n_layer": 2}`, "no model_type"},
		{"model_type not a string", `{"model_type": 2}`, "config.json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			configs := map[string]string{"bad": c.config}
			for k, v := range good {
				configs[k] = v
			}
			tree(t, configs, false)
			for _, ci := range []string{"", "true"} {
				t.Setenv("CI", ci)
				f := call(func(t testing.TB) { ReferenceModels(t, "gpt2") })
				if f.outcome != "fail" || !strings.Contains(f.msg, c.wantMsg) || !strings.Contains(f.msg, "bad") {
					t.Errorf("CI=%q: %s %q, want a failure naming the folder and %q", ci, f.outcome, f.msg, c.wantMsg)
				}
			}
		})
	}
}
