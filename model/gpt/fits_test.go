package gpt

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/internal/sysmem"
)

// NumParams counts exactly the parameters build allocates.
func TestNumParams(t *testing.T) {
	wide := tinyConfig()
	wide.NInner, wide.NLayer = 50, 3
	for _, c := range []Config{tinyConfig(), wide} {
		m, err := build(c)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, p := range m.Params.List() {
			n += int64(p.Var.Value.Len())
		}
		if got := c.NumParams(); got != n {
			t.Errorf("%+v: NumParams = %d, build allocates %d", c, got, n)
		}
	}
}

// allocatedDuring returns the bytes allocated while f runs.
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A config.json whose sizes the weights beside it do not hold is refused from the weights'
// header, before the model is allocated (it used to allocate what the config asked: 65 GB for
// the last case, and the process died out of memory).
func TestLoadRefusesConfigBeyondWeights(t *testing.T) {
	t.Setenv(sysmem.LimitEnv, "1G") // a second guard: never allocate much even if the check regressed
	for _, cfg := range []string{
		`{"model_type":"gpt2","vocab_size":100000,"n_positions":64,"n_embd":1024,"n_layer":1,"n_head":16}`,
		`{"model_type":"gpt2","vocab_size":4000000,"n_positions":64,"n_embd":4096,"n_layer":1,"n_head":32}`,
	} {
		_, dir := saveTiny(t)
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		var err error
		if n := allocatedDuring(func() { _, err = Load(dir) }); n > 32<<20 {
			t.Fatalf("config %s: Load allocated %d bytes before refusing (%v)", cfg, n, err)
		}
		if err == nil || !strings.Contains(err.Error(), "does not belong to these weights") || !strings.Contains(err.Error(), filepath.Join(dir, ConfigFile)) {
			t.Fatalf("config %s: Load = %v; want a refusal naming the config", cfg, err)
		}
	}
}

// writeSparseWeights writes a safetensors file whose header gives tensors of the shapes of
// cfg's parameters; the data section is a hole in the file, so it takes no disk space.
func writeSparseWeights(t *testing.T, path string, cfg Config) {
	t.Helper()
	small := cfg
	small.VocabSize = 1
	m, err := build(small)
	if err != nil {
		t.Fatal(err)
	}
	header := map[string]any{}
	var off int64
	for _, p := range m.Params.List() {
		shape := p.Var.Value.Shape()
		if p.Name == "wte.weight" {
			shape = []int{cfg.VocabSize, cfg.NEmbd}
		}
		n := int64(4)
		for _, d := range shape {
			n *= int64(d)
		}
		header[p.Name] = map[string]any{"dtype": "F32", "shape": shape, "data_offsets": []int64{off, off + n}}
		off += n
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lenBuf [8]byte
	for i := range lenBuf {
		lenBuf[i] = byte(uint64(len(h)) >> (8 * i))
	}
	if _, err := f.Write(append(lenBuf[:], h...)); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(8+len(h)) + off); err != nil {
		t.Fatal(err)
	}
}

// A model whose config and weights agree but that needs more memory than the machine has is
// refused, with the figures, before anything is allocated.
func TestLoadRefusesModelBeyondMemory(t *testing.T) {
	cfg := Config{VocabSize: 4_000_000, NPositions: 16, NEmbd: 64, NLayer: 1, NHead: 4, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}
	dir := t.TempDir()
	data, err := MarshalConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	writeSparseWeights(t, filepath.Join(dir, WeightsFile), cfg)
	t.Setenv(sysmem.LimitEnv, "256M")
	if n := allocatedDuring(func() { _, err = Load(dir) }); n > 32<<20 {
		t.Fatalf("Load allocated %d bytes before refusing (%v)", n, err)
	}
	want := fmt.Sprintf("(%d parameters as float32) needs about 976.8 MiB of memory, but this machine has 256.0 MiB available (%s)", cfg.NumParams(), sysmem.LimitEnv)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Load = %v; want %q", err, want)
	}
}
