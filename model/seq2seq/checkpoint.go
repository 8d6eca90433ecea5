package seq2seq

import "github.com/qkvdev/qkv/hf"

// File names inside a model folder.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
)

// Save writes config.json and model.safetensors into dir (created if needed), each atomically.
func (m *Model) Save(dir string) error {
	return hf.SaveModel(dir, "seq2seq", m.Config, MarshalConfig, &m.Params)
}

// Load reads a model folder written by Save: every parameter must be present with the shape
// the config gives, and nothing else.
func Load(dir string) (*Model, error) {
	cfg, _, err := hf.ReadModelConfig(dir, "seq2seq", ParseConfig)
	if err != nil {
		return nil, err
	}
	m, err := build(cfg)
	if err != nil {
		return nil, err
	}
	keep := func(name string) (string, bool) { return name, true }
	if err := hf.LoadModelWeights(dir, "seq2seq", &m.Params, keep, nil); err != nil {
		return nil, err
	}
	return m, nil
}
