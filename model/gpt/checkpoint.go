package gpt

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/qkvdev/qkv/hf"
	"github.com/qkvdev/qkv/tensor"
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
	return hf.SaveModel(dir, "gpt", m.Config, MarshalConfig, &m.Params)
}

// Load reads a model folder: config.json and model.safetensors (or its shards), in
// HuggingFace's GPT-2 layout. Each tensor is read straight into its parameter, largest first
// (see LoadForInference, which can also pack the weights as they are read).
func Load(dir string) (*Model, error) { return load(dir, tensor.FP32, false) }

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
