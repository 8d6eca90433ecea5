package bert

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/qkvdev/qkv/hf"
)

// File names inside a model folder.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
)

// Save writes config.json and model.safetensors into dir (created if needed), each atomically.
func (m *Model) Save(dir string) error {
	cfg, err := MarshalConfig(m.Config)
	if err != nil {
		return fmt.Errorf("bert: %w", err)
	}
	if err := hf.SaveFolder(dir, cfg, &m.Params); err != nil {
		return fmt.Errorf("bert: %w", err)
	}
	return nil
}

// Load reads a BERT model folder in HuggingFace's layout.
func Load(dir string) (*Model, error) {
	data, err := hf.ReadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	files, err := hf.OpenWeights(dir)
	if err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	defer hf.CloseAll(files)
	// Sizes come from the files' headers before anything is allocated.
	if err := hf.CheckFits(filepath.Join(dir, ConfigFile), cfg.NumParams(), files, renameHF); err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	m, err := build(cfg)
	if err != nil {
		return nil, err
	}
	if err := hf.LoadFrom(files, &m.Params, renameHF); err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	return m, nil
}

// renameHF maps names found in BERT checkpoints to parameter names: the older LayerNorm
// gamma/beta spelling, the position_ids buffer and the tied decoder weight (skipped).
func renameHF(name string) (string, bool) {
	switch {
	case strings.HasSuffix(name, ".gamma"):
		name = strings.TrimSuffix(name, ".gamma") + ".weight"
	case strings.HasSuffix(name, ".beta"):
		name = strings.TrimSuffix(name, ".beta") + ".bias"
	}
	switch name {
	case "bert.embeddings.position_ids", "cls.predictions.decoder.weight":
		return "", true
	case "cls.predictions.decoder.bias":
		return "", true // the same tensor as cls.predictions.bias
	}
	return name, true
}
