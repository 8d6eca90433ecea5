package bert

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/internal/sysmem"
)

func tinyConfig() Config {
	return Config{VocabSize: 40, HiddenSize: 16, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 24,
		MaxPositionEmbeddings: 20, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
}

// NumParams counts exactly the parameters build allocates.
func TestNumParams(t *testing.T) {
	c := tinyConfig()
	m, err := build(c, c.head().parts())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range m.Params.List() {
		n += int64(p.Var.Value.Len())
	}
	if got := c.NumParams(); got != n {
		t.Fatalf("NumParams = %d, build allocates %d", got, n)
	}
}

// A config.json whose sizes the weights beside it do not hold is refused from the weights'
// header, before the model is allocated.
func TestLoadRefusesConfigBeyondWeights(t *testing.T) {
	t.Setenv(sysmem.LimitEnv, "1G") // a second guard: never allocate much even if the check regressed
	m, err := New(tinyConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	cfg := `{"model_type":"bert","vocab_size":100000,"hidden_size":1024,"num_hidden_layers":1,"num_attention_heads":16,"intermediate_size":4096,"max_position_embeddings":64}`
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Load(dir)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 32<<20 {
		t.Fatalf("Load allocated %d bytes before refusing (%v)", n, err)
	}
	if err == nil || !strings.Contains(err.Error(), "does not belong to these weights") {
		t.Fatalf("Load = %v; want a refusal", err)
	}
}
