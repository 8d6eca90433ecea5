package bert

import (
	"encoding/json"
	"fmt"
)

// Config is the BERT hyper-parameter set, with HuggingFace's config.json field names.
type Config struct {
	VocabSize             int     `json:"vocab_size"`              // V
	HiddenSize            int     `json:"hidden_size"`             // C
	NumHiddenLayers       int     `json:"num_hidden_layers"`       // L
	NumAttentionHeads     int     `json:"num_attention_heads"`     // nh
	IntermediateSize      int     `json:"intermediate_size"`       // feed-forward width
	MaxPositionEmbeddings int     `json:"max_position_embeddings"` // longest sequence
	TypeVocabSize         int     `json:"type_vocab_size"`         // segment ids (2: sentence A and B)
	LayerNormEps          float32 `json:"layer_norm_eps"`
	HiddenAct             string  `json:"hidden_act"`                   // "gelu" (exact erf) or "gelu_new" (tanh)
	HiddenDropoutProb     float32 `json:"hidden_dropout_prob"`          // dropout on embeddings and sublayer outputs
	AttentionDropoutProb  float32 `json:"attention_probs_dropout_prob"` // dropout on attention weights
	PadTokenID            int     `json:"pad_token_id"`
}

const (
	maxVocab     = 1 << 22
	maxPositions = 1 << 16
	maxHidden    = 1 << 15
	maxLayers    = 1 << 10
)

// NumParams is the number of parameters (weights and biases) of a model of this config,
// pre-training heads included; with sizes within Validate's limits it cannot overflow.
func (c Config) NumParams() int64 {
	C, I, V := int64(c.HiddenSize), int64(c.IntermediateSize), int64(c.VocabSize)
	layer := 4*(C*C+C) + 2*C + // query, key, value, attention output; its LayerNorm
		C*I + I + I*C + C + 2*C // intermediate, output; its LayerNorm
	embeddings := (V+int64(c.MaxPositionEmbeddings)+int64(c.TypeVocabSize))*C + 2*C
	heads := (C*C + C) + (C*C + C) + 2*C + V + (2*C + 2) // pooler, transform, its LayerNorm, MLM bias, NSP
	return embeddings + int64(c.NumHiddenLayers)*layer + heads
}

// HeadSize is C / nh.
func (c Config) HeadSize() int { return c.HiddenSize / c.NumAttentionHeads }

// Validate checks that every size is positive, within limits and consistent.
func (c Config) Validate() error {
	for _, f := range []struct {
		name  string
		v, hi int
	}{
		{"vocab_size", c.VocabSize, maxVocab},
		{"hidden_size", c.HiddenSize, maxHidden},
		{"num_hidden_layers", c.NumHiddenLayers, maxLayers},
		{"num_attention_heads", c.NumAttentionHeads, maxHidden},
		{"intermediate_size", c.IntermediateSize, 16 * maxHidden},
		{"max_position_embeddings", c.MaxPositionEmbeddings, maxPositions},
		{"type_vocab_size", c.TypeVocabSize, 1 << 10},
	} {
		if f.v <= 0 || f.v > f.hi {
			return fmt.Errorf("bert config: %s = %d, want 1..%d", f.name, f.v, f.hi)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("bert config: hidden_size = %d is not divisible by num_attention_heads = %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if !(c.LayerNormEps > 0 && c.LayerNormEps < 1) {
		return fmt.Errorf("bert config: layer_norm_eps = %g, want a small positive number such as 1e-12", c.LayerNormEps)
	}
	switch c.HiddenAct {
	case "gelu", "gelu_new", "gelu_pytorch_tanh":
	default:
		return fmt.Errorf("bert config: hidden_act %q is not supported (want gelu or gelu_new)", c.HiddenAct)
	}
	for _, p := range []struct {
		name string
		v    float32
	}{{"hidden_dropout_prob", c.HiddenDropoutProb}, {"attention_probs_dropout_prob", c.AttentionDropoutProb}} {
		if !(p.v >= 0 && p.v < 1) {
			return fmt.Errorf("bert config: %s = %g, want a probability in [0, 1)", p.name, p.v)
		}
	}
	if c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize {
		return fmt.Errorf("bert config: pad_token_id = %d is outside the vocabulary", c.PadTokenID)
	}
	if params := c.NumParams(); params > 1<<34 {
		return fmt.Errorf("bert config: %d parameters is more than this tool can hold in memory", params)
	}
	return nil
}

type hfConfig struct {
	Config
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures,omitempty"`
	AutoMap       any      `json:"auto_map,omitempty"`
	PosEmbType    string   `json:"position_embedding_type,omitempty"`
}

// ParseConfig reads a BERT config.json and validates it.
func ParseConfig(data []byte) (Config, error) {
	var h hfConfig
	h.LayerNormEps = 1e-12
	h.HiddenAct = "gelu"
	h.TypeVocabSize = 2
	if err := json.Unmarshal(data, &h); err != nil {
		return Config{}, fmt.Errorf("bert config: not a valid config.json: %w", err)
	}
	if h.ModelType != "bert" {
		return Config{}, fmt.Errorf("bert config: model_type %q, want \"bert\"", h.ModelType)
	}
	if h.AutoMap != nil {
		return Config{}, fmt.Errorf("bert config: auto_map asks for custom model code, which is never run; only the standard BERT architecture is supported")
	}
	if h.PosEmbType != "" && h.PosEmbType != "absolute" {
		return Config{}, fmt.Errorf("bert config: position_embedding_type %q is not supported (want absolute)", h.PosEmbType)
	}
	if err := h.Config.Validate(); err != nil {
		return Config{}, err
	}
	return h.Config, nil
}

// MarshalConfig writes c as a HuggingFace BERT config.json.
func MarshalConfig(c Config) ([]byte, error) {
	h := hfConfig{Config: c, ModelType: "bert", Architectures: []string{"BertForPreTraining"}, PosEmbType: "absolute"}
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
