package seq2seq

import (
	"fmt"
	"path/filepath"

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
		return fmt.Errorf("seq2seq: %w", err)
	}
	if err := hf.SaveFolder(dir, cfg, &m.Params); err != nil {
		return fmt.Errorf("seq2seq: %w", err)
	}
	return nil
}

// Load reads a model folder written by Save: every parameter must be present with the shape
// the config gives, and nothing else.
func Load(dir string) (*Model, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := hf.ReadConfig(path)
	if err != nil {
		return nil, fmt.Errorf("seq2seq: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m, err := build(cfg)
	if err != nil {
		return nil, err
	}
	files, err := hf.OpenWeights(dir)
	if err != nil {
		return nil, fmt.Errorf("seq2seq: %w", err)
	}
	defer hf.CloseAll(files)
	if err := hf.LoadFrom(files, &m.Params, func(name string) (string, bool) { return name, true }); err != nil {
		return nil, fmt.Errorf("seq2seq: %w", err)
	}
	return m, nil
}
