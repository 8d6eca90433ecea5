package gpt

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/qkvdev/qkv/hf"
	"github.com/qkvdev/qkv/hf/safetensors"
)

// File names inside a model folder, as HuggingFace names them.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
)

// Save writes config.json and model.safetensors into dir (created if needed), each atomically.
func (m *Model) Save(dir string) error {
	if m.packedOnly {
		return fmt.Errorf("gpt: cannot save a model whose float32 weights were released for inference")
	}
	cfg, err := MarshalConfig(m.Config)
	if err != nil {
		return fmt.Errorf("gpt: %w", err)
	}
	if err := hf.SaveFolder(dir, cfg, &m.Params); err != nil {
		return fmt.Errorf("gpt: %w", err)
	}
	return nil
}

// Load reads a model folder: config.json and model.safetensors, in HuggingFace's GPT-2 layout.
func Load(dir string) (*Model, error) {
	data, err := hf.ReadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("gpt: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	files, err := hf.OpenWeights(dir)
	if err != nil {
		return nil, fmt.Errorf("gpt: %w", err)
	}
	defer hf.CloseAll(files)
	// Sizes come from the files' headers before anything is allocated.
	if err := hf.CheckFits(filepath.Join(dir, ConfigFile), cfg.NumParams(), files, renameHF); err != nil {
		return nil, fmt.Errorf("gpt: %w", err)
	}
	m, err := build(cfg)
	if err != nil {
		return nil, err
	}
	if err := hf.LoadFrom(files, &m.Params, renameHF); err != nil {
		return nil, fmt.Errorf("gpt: %w", err)
	}
	if f, ok := hf.Find(files, "lm_head.weight"); ok {
		if err := checkTiedHead(f, m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// gpt2Buffer matches the non-parameter buffers some GPT-2 checkpoints carry (the causal mask).
var gpt2Buffer = regexp.MustCompile(`^h\.[0-9]+\.attn\.(bias|masked_bias)$`)

// renameHF maps the names found in GPT-2 checkpoints to parameter names: with or without the
// "transformer." prefix of GPT2LMHeadModel; the causal-mask buffers and the tied lm_head.weight
// are skipped (the latter is checked against wte by checkTiedHead).
func renameHF(name string) (string, bool) {
	name = strings.TrimPrefix(name, "transformer.")
	if name == "lm_head.weight" || gpt2Buffer.MatchString(name) {
		return "", true
	}
	return name, true
}

// checkTiedHead refuses a checkpoint whose explicit lm_head.weight differs from wte: GPT-2
// ties them, and silently dropping a different head would give wrong outputs.
func checkTiedHead(f *safetensors.File, m *Model) error {
	head, err := f.Float32("lm_head.weight")
	if err != nil {
		return fmt.Errorf("gpt: %w", err)
	}
	wte := m.Wte.Weight.Value.Data()
	if len(head) != len(wte) {
		return fmt.Errorf("gpt: %s: lm_head.weight has %d values, wte.weight %d; the LM head must be tied to wte", f.Name(), len(head), len(wte))
	}
	for i := range head {
		if head[i] != wte[i] {
			return fmt.Errorf("gpt: %s: lm_head.weight differs from wte.weight (first at element %d); untied LM heads are not supported", f.Name(), i)
		}
	}
	return nil
}
