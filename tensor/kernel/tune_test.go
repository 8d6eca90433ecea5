package kernel

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeTimer times a candidate by a cost that depends only on the blocks in effect of the
// kernel being tuned (the one Sgemm runs now): fastest at wins[kernel], slower the further
// from it. It does not run f.
func fakeTimer(wins map[string]Blocks) func(func()) time.Duration {
	return func(func()) time.Duration {
		K := activeGemmKernel()
		b, win := K.blocks(), wins[K.name]
		return time.Millisecond + time.Duration(abs(b.KC-win.KC)+abs(b.MC-win.MC)+abs(b.NC-win.NC))*time.Microsecond
	}
}

func abs(x int) int { return max(x, -x) }

// withTuneState restores the kernels' blocks and the record of tuned kernels after f.
func withTuneState(t *testing.T) {
	t.Helper()
	saved := map[*gemmKernel]Blocks{}
	for _, K := range builtinGemmKernels() {
		saved[K] = K.blocks()
	}
	savedFrom := tunedFrom
	tunedFrom = map[string]string{}
	t.Cleanup(func() {
		for K, b := range saved {
			K.setBlocks(b)
		}
		tunedFrom = savedFrom
	})
}

// TestTunePicksAndPersists tunes with a fake timer whose best candidate is not the default:
// Tune must pick it, put it in effect, and write it atomically (no temporary file left, the
// file whole and valid); reading the file back gives it, and loading it on start-up applies it.
func TestTunePicksAndPersists(t *testing.T) {
	withTuneState(t)
	loadTuningOnce() // so that Tune's own call does not read the user's file later
	path := filepath.Join(t.TempDir(), "qkv", tuneFileName(cpuModel()))
	var kernels []*gemmKernel
	for _, bf := range []bool{false, true} {
		if K := activeKernelFor(bf); len(kernels) == 0 || kernels[0] != K {
			kernels = append(kernels, K)
		}
	}
	wins := map[string]Blocks{}
	for _, K := range kernels {
		d := blocksFor(K, caches)
		cands := tuneCandidates(K, d)
		if len(cands) < 4 || cands[0] != d {
			t.Fatalf("%s: candidates %v do not start with the default %v", K.name, cands, d)
		}
		wins[K.name] = cands[len(cands)-1] // not the default
	}
	timer := fakeTimer(wins)
	var log bytes.Buffer
	res, got, err := Tune(context.Background(), TuneOptions{Runs: 3, Path: path, Log: &log, timer: timer, shapes: [][3]int{{20, 40, 30}}})
	if err != nil {
		t.Fatal(err)
	}
	if got != path || len(res) != len(kernels) {
		t.Fatalf("Tune wrote %s with %d results; want %s and %d", got, len(res), path, len(kernels))
	}
	for i, r := range res {
		K := kernels[i]
		if r.Kernel != K.name || r.Best != wins[K.name] || r.Default != blocksFor(K, caches) || r.Candidates < 4 {
			t.Errorf("%s: result %+v, want best %v", K.name, r, wins[K.name])
		}
		if K.blocks() != wins[K.name] {
			t.Errorf("%s: blocks in effect %v, want the winner %v", K.name, K.blocks(), wins[K.name])
		}
	}
	if !strings.Contains(log.String(), "GFLOP/s") {
		t.Errorf("no candidate logged: %q", log.String())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 || entries[0].Name() != filepath.Base(path) {
		t.Errorf("the cache folder holds %v, want only %s", entries, filepath.Base(path))
	}
	won, warnings := readTuning(path, cpuModel(), caches)
	if len(warnings) > 0 {
		t.Fatalf("warnings reading what Tune wrote: %v", warnings)
	}
	for name, b := range wins {
		if won[name] != b {
			t.Errorf("%s: read back %v, want %v", name, won[name], b)
		}
	}
	// A later run starts from the caches' blocks and loads the file.
	for _, K := range kernels {
		K.setBlocks(blocksFor(K, caches))
	}
	var warn bytes.Buffer
	applyTuning(path, &warn)
	for _, K := range kernels {
		if K.blocks() != wins[K.name] || tunedFrom[K.name] != path {
			t.Errorf("%s: loaded %v from %q, want %v from %s", K.name, K.blocks(), tunedFrom[K.name], wins[K.name], path)
		}
	}
	if warn.Len() > 0 {
		t.Errorf("warnings loading a good file: %s", warn.String())
	}
	// Tuning again keeps the entries of paths not tuned this time.
	var tf tuneFile
	data, _ := os.ReadFile(path)
	json.Unmarshal(data, &tf)
	tf.Kernels["go"] = tuneWinner{MR: goMR, NR: goNR, KC: 128, MC: 96, NC: 1024}
	if err := writeTuning(path, &tf); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Tune(context.Background(), TuneOptions{Runs: 1, Path: path, timer: timer, shapes: [][3]int{{20, 40, 30}}}); err != nil {
		t.Fatal(err)
	}
	if won, _ := readTuning(path, cpuModel(), caches); won["go"] != (Blocks{128, 96, 1024}) && kernels[0].name != "go" {
		t.Errorf("the go entry was lost: %v", won)
	}
}

// TestTuneCancel stops between candidates when the context ends, writing nothing.
func TestTuneCancel(t *testing.T) {
	withTuneState(t)
	path := filepath.Join(t.TempDir(), "tune.json")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Tune(ctx, TuneOptions{Path: path, timer: func(func()) time.Duration { return time.Millisecond }, shapes: [][3]int{{8, 8, 8}}}); err == nil {
		t.Fatal("a cancelled Tune returned no error")
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("a cancelled Tune wrote the file")
	}
	K := activeGemmKernel()
	if K.blocks() != blocksFor(K, caches) && tunedFrom[K.name] == "" {
		t.Errorf("a cancelled Tune left blocks %v", K.blocks())
	}
}

// TestReadTuningRejects feeds readTuning files that must not be trusted: each is ignored,
// wholly or by entry, with a warning, and no invalid blocks come out.
func TestReadTuningRejects(t *testing.T) {
	model := cpuModel()
	K := activeGemmKernel()
	good := blocksFor(K, caches)
	entry := func(mr, nr int, b Blocks) tuneWinner {
		return tuneWinner{MR: mr, NR: nr, KC: b.KC, MC: b.MC, NC: b.NC}
	}
	file := func(mut func(*tuneFile)) string {
		tf := tuneFile{Format: tuneFormat, CPU: model, Caches: tuneCaches{caches.L1D, caches.L2, caches.L3},
			Kernels: map[string]tuneWinner{K.name: entry(K.mr, K.nr, good)}}
		mut(&tf)
		b, _ := json.Marshal(tf)
		return string(b)
	}
	for _, tc := range []struct {
		name, data string
		want       int    // entries kept
		warning    string // in the warnings
	}{
		{"good", file(func(*tuneFile) {}), 1, ""},
		{"truncated", file(func(*tuneFile) {})[:40], 0, "not valid JSON"},
		{"empty", "", 0, "not valid JSON"},
		{"binary", "\x00\xff\xfe garbage", 0, "not valid JSON"},
		{"array", "[1, 2]", 0, "not valid JSON"},
		{"other format", file(func(f *tuneFile) { f.Format = "qkv-tune/0" }), 0, "format"},
		{"other cpu", file(func(f *tuneFile) { f.CPU = "AMD Ryzen 9 7950X 16-Core Processor" }), 0, "measured on CPU"},
		{"other caches", file(func(f *tuneFile) { f.Caches.L2 *= 2 }), 0, "caches"},
		{"unknown kernel", file(func(f *tuneFile) { f.Kernels["sve"] = entry(8, 8, good) }), 1, `"sve"`},
		{"other tile", file(func(f *tuneFile) { f.Kernels[K.name] = entry(K.mr+1, K.nr, good) }), 0, "tile"},
		{"zero blocks", file(func(f *tuneFile) { f.Kernels[K.name] = entry(K.mr, K.nr, Blocks{}) }), 0, "kc=0"},
		{"huge blocks", file(func(f *tuneFile) { f.Kernels[K.name] = entry(K.mr, K.nr, Blocks{4096, 1 << 20 / K.mr * K.mr, maxNC}) }), 0, "mc="},
		{"ragged mc", file(func(f *tuneFile) { f.Kernels[K.name] = entry(K.mr, K.nr, Blocks{good.KC, good.MC + 1, good.NC}) }), 0, "mc="},
		{"negative nc", file(func(f *tuneFile) { f.Kernels[K.name] = entry(K.mr, K.nr, Blocks{good.KC, good.MC, -K.nr}) }), 0, "nc="},
		{"too large", `{"format":"` + strings.Repeat(" ", maxTuneFile) + `"}`, 0, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tune.json")
			os.WriteFile(path, []byte(tc.data), 0o644)
			won, warnings := readTuning(path, model, caches)
			if len(won) != tc.want {
				t.Errorf("kept %v, want %d entries", won, tc.want)
			}
			for name, b := range won {
				if err := kernelNamed(name).validBlocks(b); err != nil {
					t.Errorf("kept invalid blocks %v for %s", b, name)
				}
			}
			joined := strings.Join(warnings, "; ")
			if tc.warning == "" && joined != "" || !strings.Contains(joined, tc.warning) {
				t.Errorf("warnings %q, want one with %q", joined, tc.warning)
			}
		})
	}
	if won, warnings := readTuning(filepath.Join(t.TempDir(), "none.json"), model, caches); won != nil || warnings != nil {
		t.Errorf("a missing file gave %v, %v", won, warnings)
	}
}

// TestLoadTuningEnv loads the file from the user's cache folder, unless QKV_TUNE=off; a
// foreign file there is ignored with a warning.
func TestLoadTuningEnv(t *testing.T) {
	withTuneState(t)
	home := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", home)
	t.Setenv("HOME", home)
	path, err := TunePath()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(path, home) {
		t.Skipf("the cache folder %s is not under XDG_CACHE_HOME on this OS", path)
	}
	K := activeGemmKernel()
	def := blocksFor(K, caches)
	win := tuneCandidates(K, def)[1]
	tf := &tuneFile{Format: tuneFormat, CPU: cpuModel(), Caches: tuneCaches{caches.L1D, caches.L2, caches.L3},
		Kernels: map[string]tuneWinner{K.name: {MR: K.mr, NR: K.nr, KC: win.KC, MC: win.MC, NC: win.NC}}}
	if err := writeTuning(path, tf); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env, cpu string
		want     Blocks
		warning  string
	}{
		{"off", cpuModel(), def, ""},
		{"", cpuModel(), win, ""},
		{"on", cpuModel(), win, ""},
		{"maybe", cpuModel(), win, "QKV_TUNE=maybe"},
		{"", "Some Other CPU", def, "measured on CPU"},
	} {
		K.setBlocks(def)
		tf.CPU = tc.cpu
		writeTuning(path, tf)
		t.Setenv("QKV_TUNE", tc.env)
		var warn bytes.Buffer
		loadTuning(&warn)
		if K.blocks() != tc.want {
			t.Errorf("QKV_TUNE=%q, file for %q: blocks %v, want %v", tc.env, tc.cpu, K.blocks(), tc.want)
		}
		if tc.warning == "" && warn.Len() > 0 || !strings.Contains(warn.String(), tc.warning) {
			t.Errorf("QKV_TUNE=%q, file for %q: warnings %q, want %q", tc.env, tc.cpu, warn.String(), tc.warning)
		}
	}
}

// TestMain runs the package's tests on the blocks the caches give, not on whatever the
// user's tuning file holds, unless QKV_TUNE says otherwise.
func TestMain(m *testing.M) {
	if _, set := os.LookupEnv("QKV_TUNE"); !set {
		os.Setenv("QKV_TUNE", "off")
	}
	os.Exit(m.Run())
}

// TestTuneOnThreads checks that Tune times its candidates on the threads asked for, reports
// them with each result and in the file, and gives the pool back its size.
func TestTuneOnThreads(t *testing.T) {
	withTuneState(t)
	loadTuningOnce()
	path := filepath.Join(t.TempDir(), "qkv", tuneFileName(cpuModel()))
	defer SetThreads(Threads())
	SetThreads(3)
	var seen []int
	timer := func(f func()) time.Duration {
		seen = append(seen, Threads())
		f()
		return time.Millisecond
	}
	res, _, err := Tune(context.Background(), TuneOptions{Runs: 1, Path: path, Threads: 2, timer: timer, shapes: [][3]int{{20, 40, 30}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range seen {
		if n != 2 {
			t.Fatalf("a candidate ran on %d threads, want 2", n)
		}
	}
	if Threads() != 3 {
		t.Errorf("the pool has %d threads after tuning, want 3 back", Threads())
	}
	var tf tuneFile
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &tf); err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Threads != 2 || tf.Kernels[r.Kernel].Threads != 2 {
			t.Errorf("%s: threads %d in the result, %d in the file; want 2", r.Kernel, r.Threads, tf.Kernels[r.Kernel].Threads)
		}
	}
}
