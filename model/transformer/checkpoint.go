package transformer

// Notation: V the target vocabulary, C = d_model, P = max_position_embeddings.

import (
	"fmt"

	"github.com/qkvdev/qkv/hf"
	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/nn"
)

// File names inside a model folder, as HuggingFace names them.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
)

// Save writes config.json and model.safetensors into dir (created if needed), each atomically.
// Tied tensors are stored once under their owner's name (model.shared.weight) and the fixed
// positions not at all, as transformers saves MarianMTModel; transformers loads the folder.
func (m *Model) Save(dir string) error {
	return hf.SaveModel(dir, "transformer", m.Config, MarshalConfig, &m.Params)
}

// Load reads a model folder in HuggingFace's Marian layout: config.json and model.safetensors
// (or its shards).
func Load(dir string) (*Model, error) {
	cfg, _, err := hf.ReadModelConfig(dir, "transformer", ParseConfig)
	if err != nil {
		return nil, err
	}
	m, err := build(cfg)
	if err != nil {
		return nil, err
	}
	aliases := m.aliases()
	rename := func(name string) (string, bool) {
		if _, ok := aliases[name]; ok {
			return "", true // checked below against the tensor it repeats
		}
		return name, true
	}
	checkAliases := func(files []*safetensors.File) error {
		for name, want := range aliases {
			if f, ok := hf.Find(files, name); ok {
				if err := checkAlias(f, name, want); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := hf.LoadModelWeights(dir, "transformer", &m.Params, rename, checkAliases); err != nil {
		return nil, err
	}
	return m, nil
}

// aliases are the names under which some checkpoints repeat a tensor that is not a parameter of
// its own here — the tied embeddings and LM head, and the fixed sinusoidal positions (older
// transformers versions saved them) — each with the values it must hold.
func (m *Model) aliases() map[string][]float32 {
	a := map[string][]float32{
		"model.encoder.embed_positions.weight": m.Positions.Table.Data(),
		"model.decoder.embed_positions.weight": m.Positions.Table.Data(),
	}
	if m.Config.ShareEncoderDecoderEmbeddings {
		a["model.encoder.embed_tokens.weight"] = m.SrcEmbed.Weight.Value.Data()
		a["model.decoder.embed_tokens.weight"] = m.TgtEmbed.Weight.Value.Data()
	}
	if m.Config.TieWordEmbeddings {
		a["lm_head.weight"] = m.TgtEmbed.Weight.Value.Data()
	}
	return a
}

// checkAlias refuses a checkpoint whose copy of a tied or fixed tensor differs from the tensor
// the model uses: dropping a different one silently would give wrong outputs. (want holds the
// loaded values, as the slice aliases the parameter's storage.)
func checkAlias(f *safetensors.File, name string, want []float32) error {
	got, err := f.Float32(name)
	if err != nil {
		return fmt.Errorf("transformer: %w", err)
	}
	if len(got) != len(want) {
		return fmt.Errorf("transformer: %s: %s has %d values, want %d: it must repeat the tensor it is tied to", f.Name(), name, len(got), len(want))
	}
	for i := range got {
		if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
			return fmt.Errorf("transformer: %s: %s differs from the tensor it should repeat (first at element %d: %g vs %g); untied or learnt copies are not supported by this config", f.Name(), name, i, got[i], want[i])
		}
	}
	return nil
}

// Trainable returns the parameters an optimiser updates: all but final_logits_bias.
func (m *Model) Trainable() []*nn.Param {
	var out []*nn.Param
	for _, p := range m.Params.List() {
		if p.Var.RequiresGrad() {
			out = append(out, p)
		}
	}
	return out
}
