package gpt

import (
	"fmt"

	"github.com/qkvdev/qkv/tensor"
)

// GrowVocab returns a copy of m whose vocabulary has extra more tokens (special tokens added
// to the tokenizer): every existing weight is kept, including the rows of wte (and so of the
// tied LM head), and the new rows are drawn N(0, 0.02) from seed, as GPT-2 initialises
// embeddings. m is left unchanged.
func (m *Model) GrowVocab(extra int, seed uint64) (*Model, error) {
	if m.packedOnly {
		return nil, fmt.Errorf("gpt: cannot grow a model whose float32 weights were released for inference")
	}
	if extra < 0 {
		return nil, fmt.Errorf("gpt: cannot shrink the vocabulary (%d tokens)", extra)
	}
	cfg := m.Config
	cfg.VocabSize += extra
	out, err := build(cfg)
	if err != nil {
		return nil, err
	}
	for _, p := range m.Params.List() {
		q, _ := out.Params.Get(p.Name)
		copy(q.Var.Value.Data(), p.Var.Value.Data())
	}
	if extra > 0 {
		C := cfg.NEmbd
		rows := tensor.FromData(out.Wte.Weight.Value.Data()[m.Config.VocabSize*C:], extra, C)
		tensor.Normal(rows, 0, 0.02, tensor.NewRNG(seed))
	}
	return out, nil
}
