package seq2seq

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/qkvdev/qkv/nn"
)

// ModelType is the model_type of a seq2seq config.json.
const ModelType = "qkv-seq2seq"

// Config is the hyper-parameter set of an encoder–decoder, as written in config.json.
type Config struct {
	SrcVocabSize  int     `json:"src_vocab_size"`           // V_s
	TgtVocabSize  int     `json:"tgt_vocab_size"`           // V_t
	EmbedSize     int     `json:"embed_size"`               // E, source and target embeddings
	HiddenSize    int     `json:"hidden_size"`              // H: decoder state and encoder output size
	NumLayers     int     `json:"num_layers"`               // L, of the encoder and of the decoder
	Cell          string  `json:"cell"`                     // "gru" or "lstm"
	Bidirectional bool    `json:"bidirectional"`            // encoder reads both ways, H/2 units each
	Attention     string  `json:"attention"`                // "additive", "dot", "general" or "none"
	AttentionSize int     `json:"attention_size,omitempty"` // A of additive attention; 0 means H
	InputFeeding  bool    `json:"input_feeding"`            // the decoder also reads h̃_{t−1} (needs attention)
	MaxLength     int     `json:"max_length"`               // longest source or target sequence (tokens, EOS included)
	Dropout       float32 `json:"dropout"`                  // on embeddings and decoder outputs (training)
	PadTokenID    int     `json:"pad_token_id"`             // padding, in both vocabularies
	BOSTokenID    int     `json:"bos_token_id"`             // first decoder input
	EOSTokenID    int     `json:"eos_token_id"`             // ends every target
}

// Limits on sizes read from a config file, checked before anything is allocated.
const (
	maxVocab  = 1 << 22
	maxWidth  = 1 << 14
	maxLayers = 64
	maxLength = 1 << 16
)

// HasAttention reports whether the decoder attends over the encoder states.
func (c Config) HasAttention() bool { return c.Attention != "none" }

// EncoderHidden is the hidden size of each encoder direction: H/2 when bidirectional.
func (c Config) EncoderHidden() int {
	if c.Bidirectional {
		return c.HiddenSize / 2
	}
	return c.HiddenSize
}

// attentionSize is A.
func (c Config) attentionSize() int {
	if c.AttentionSize > 0 {
		return c.AttentionSize
	}
	return c.HiddenSize
}

// Validate checks that every size is positive, within limits and consistent.
func (c Config) Validate() error {
	for _, f := range []struct {
		name  string
		v, hi int
	}{
		{"src_vocab_size", c.SrcVocabSize, maxVocab},
		{"tgt_vocab_size", c.TgtVocabSize, maxVocab},
		{"embed_size", c.EmbedSize, maxWidth},
		{"hidden_size", c.HiddenSize, maxWidth},
		{"num_layers", c.NumLayers, maxLayers},
		{"max_length", c.MaxLength, maxLength},
	} {
		if f.v <= 0 || f.v > f.hi {
			return fmt.Errorf("seq2seq config: %s = %d, want 1..%d", f.name, f.v, f.hi)
		}
	}
	if c.AttentionSize < 0 || c.AttentionSize > maxWidth {
		return fmt.Errorf("seq2seq config: attention_size = %d, want 0 (meaning hidden_size) or up to %d", c.AttentionSize, maxWidth)
	}
	if c.Bidirectional && c.HiddenSize%2 != 0 {
		return fmt.Errorf("seq2seq config: hidden_size = %d must be even with a bidirectional encoder (each direction has hidden_size/2 units)", c.HiddenSize)
	}
	if _, err := nn.ParseCellKind(c.Cell); err != nil {
		return fmt.Errorf("seq2seq config: %w", err)
	}
	if c.HasAttention() {
		if _, err := nn.ParseScore(c.Attention); err != nil {
			return fmt.Errorf("seq2seq config: %w, or none", err)
		}
	} else if c.InputFeeding {
		return fmt.Errorf("seq2seq config: input_feeding feeds the attentional state back, so it needs attention (attention is none)")
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) || math.IsNaN(float64(c.Dropout)) {
		return fmt.Errorf("seq2seq config: dropout = %g, want a probability in [0, 1)", c.Dropout)
	}
	for _, id := range []struct {
		name string
		v    int
	}{{"pad_token_id", c.PadTokenID}, {"bos_token_id", c.BOSTokenID}, {"eos_token_id", c.EOSTokenID}} {
		if id.v < 0 || id.v >= c.TgtVocabSize {
			return fmt.Errorf("seq2seq config: %s = %d is outside the target vocabulary [0, %d)", id.name, id.v, c.TgtVocabSize)
		}
	}
	if c.PadTokenID >= c.SrcVocabSize {
		return fmt.Errorf("seq2seq config: pad_token_id = %d is outside the source vocabulary [0, %d)", c.PadTokenID, c.SrcVocabSize)
	}
	if c.PadTokenID == c.EOSTokenID {
		return fmt.Errorf("seq2seq config: pad_token_id and eos_token_id are both %d; the model must tell the end of a target from its padding", c.PadTokenID)
	}
	e, h, g := int64(c.EmbedSize), int64(c.HiddenSize), int64(4)
	params := (int64(c.SrcVocabSize)+int64(c.TgtVocabSize))*e + int64(c.TgtVocabSize)*h +
		2*int64(c.NumLayers)*g*h*(e+3*h) + 2*h*h + int64(c.attentionSize())*3*h
	if params > 1<<34 {
		return fmt.Errorf("seq2seq config: about %d parameters is more than this tool can hold in memory", params)
	}
	return nil
}

// fileConfig is config.json: the config and its model_type.
type fileConfig struct {
	ModelType string `json:"model_type"`
	Config
}

// ParseConfig reads a seq2seq config.json and validates it.
func ParseConfig(data []byte) (Config, error) {
	var f fileConfig
	if err := json.Unmarshal(data, &f); err != nil {
		return Config{}, fmt.Errorf("seq2seq config: not a valid config.json: %w", err)
	}
	if f.ModelType != ModelType {
		return Config{}, fmt.Errorf("seq2seq config: model_type %q, want %q", f.ModelType, ModelType)
	}
	if err := f.Config.Validate(); err != nil {
		return Config{}, err
	}
	return f.Config, nil
}

// MarshalConfig writes c as config.json.
func MarshalConfig(c Config) ([]byte, error) {
	b, err := json.MarshalIndent(fileConfig{ModelType: ModelType, Config: c}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
