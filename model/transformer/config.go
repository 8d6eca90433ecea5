package transformer

// Notation: C = d_model, V the target vocabulary (decoder_vocab_size, else vocab_size), h heads,
// d_ff the feed-forward width, N layers per stack, P = max_position_embeddings.

import (
	"encoding/json"
	"fmt"

	"github.com/qkvdev/qkv/nn"
)

// Config is the hyper-parameter set, with the field names of HuggingFace's MarianConfig, so a
// config.json of an opus-mt model reads as it is.
//
// One field is a qkv extension that HuggingFace's MarianMTModel does not know (transformers
// ignores it, so a model that sets it must be run by qkv, not by transformers):
//
//   - pre_layer_norm: pre-LayerNorm residuals (x + sublayer(LN(x))) with one more LayerNorm at
//     the end of each stack (model.encoder.layer_norm, model.decoder.layer_norm, as in mBART),
//     instead of the paper's post-LN.
//
// Separate source and target embeddings are HuggingFace's own share_encoder_decoder_embeddings
// = false (model.encoder.embed_tokens.weight, model.decoder.embed_tokens.weight, with
// decoder_vocab_size rows for the target side), and an output layer of its own is
// tie_word_embeddings = false (lm_head.weight). The default layout — shared and tied, post-LN —
// is the one the reference checkpoint (made for transformers' MarianMTModel) uses and that
// Save reproduces tensor for tensor; the separate-vocabulary layout follows transformers' names
// but has no reference checkpoint here to prove that transformers loads it.
type Config struct {
	VocabSize             int    `json:"vocab_size"`              // source vocabulary (and target, when shared)
	DecoderVocabSize      int    `json:"decoder_vocab_size"`      // V: target vocabulary; 0 means vocab_size
	DModel                int    `json:"d_model"`                 // C
	EncoderLayers         int    `json:"encoder_layers"`          // N of the encoder
	DecoderLayers         int    `json:"decoder_layers"`          // N of the decoder
	EncoderAttentionHeads int    `json:"encoder_attention_heads"` // h of the encoder
	DecoderAttentionHeads int    `json:"decoder_attention_heads"` // h of the decoder
	EncoderFFNDim         int    `json:"encoder_ffn_dim"`         // d_ff of the encoder
	DecoderFFNDim         int    `json:"decoder_ffn_dim"`         // d_ff of the decoder
	MaxPositionEmbeddings int    `json:"max_position_embeddings"` // longest source or target sequence
	ActivationFunction    string `json:"activation_function"`     // relu, swish (silu), gelu or gelu_new
	ScaleEmbedding        bool   `json:"scale_embedding"`         // multiply token embeddings by √C

	PadTokenID          int `json:"pad_token_id"`
	EOSTokenID          int `json:"eos_token_id"`
	DecoderStartTokenID int `json:"decoder_start_token_id"` // first decoder input (Marian: the pad token)

	ShareEncoderDecoderEmbeddings bool `json:"share_encoder_decoder_embeddings"` // one table, model.shared.weight
	TieWordEmbeddings             bool `json:"tie_word_embeddings"`              // logits use the target embedding

	Dropout           float32 `json:"dropout"`            // on embeddings and sub-layer outputs (training)
	AttentionDropout  float32 `json:"attention_dropout"`  // on attention weights (training)
	ActivationDropout float32 `json:"activation_dropout"` // on feed-forward activations (training)
	InitStd           float32 `json:"init_std"`           // σ of the normal initialisation

	PreLayerNorm bool `json:"pre_layer_norm,omitempty"` // qkv extension: pre-LN residuals
}

// LayerNormEps is the ε of every LayerNorm (PyTorch's default, which Marian uses).
const LayerNormEps = 1e-5

// Limits on sizes read from a config file, checked before anything is allocated.
const (
	maxVocab     = 1 << 22
	maxPositions = 1 << 16
	maxModel     = 1 << 16
	maxLayers    = 1 << 10
)

// TargetVocab is V, the size of the target vocabulary (the logits).
func (c Config) TargetVocab() int {
	if c.DecoderVocabSize > 0 {
		return c.DecoderVocabSize
	}
	return c.VocabSize
}

// Presets are the configurations New accepts by name: the paper's base and big models
// (Vaswani et al., 2017, Table 3) and two small ones for experiments on a laptop.
var presets = map[string]Config{
	"tiny":  {DModel: 64, EncoderLayers: 2, DecoderLayers: 2, EncoderAttentionHeads: 4, DecoderAttentionHeads: 4, EncoderFFNDim: 256, DecoderFFNDim: 256, MaxPositionEmbeddings: 256},
	"small": {DModel: 256, EncoderLayers: 3, DecoderLayers: 3, EncoderAttentionHeads: 4, DecoderAttentionHeads: 4, EncoderFFNDim: 1024, DecoderFFNDim: 1024, MaxPositionEmbeddings: 512},
	"base":  {DModel: 512, EncoderLayers: 6, DecoderLayers: 6, EncoderAttentionHeads: 8, DecoderAttentionHeads: 8, EncoderFFNDim: 2048, DecoderFFNDim: 2048, MaxPositionEmbeddings: 512},
	"big":   {DModel: 1024, EncoderLayers: 6, DecoderLayers: 6, EncoderAttentionHeads: 16, DecoderAttentionHeads: 16, EncoderFFNDim: 4096, DecoderFFNDim: 4096, MaxPositionEmbeddings: 512},
}

// Preset returns the named configuration (tiny, small, base or big) for a shared vocabulary of
// vocab tokens, with Marian's conventions: ReLU, embeddings scaled by √C, shared and tied
// embeddings, eos = 0, pad = decoder start = vocab − 1, dropout 0.1 as in the paper.
func Preset(name string, vocab int) (Config, error) {
	c, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("transformer: no preset %q (want tiny, small, base or big)", name)
	}
	c.VocabSize = vocab
	c.ActivationFunction = "relu"
	c.ScaleEmbedding = true
	c.PadTokenID, c.DecoderStartTokenID, c.EOSTokenID = vocab-1, vocab-1, 0
	c.ShareEncoderDecoderEmbeddings, c.TieWordEmbeddings = true, true
	c.Dropout, c.InitStd = 0.1, 0.02
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks that every size is positive, within limits, and consistent, naming the field
// that is not.
func (c Config) Validate() error {
	for _, f := range []struct {
		name  string
		v, hi int
	}{
		{"vocab_size", c.VocabSize, maxVocab},
		{"d_model", c.DModel, maxModel},
		{"encoder_layers", c.EncoderLayers, maxLayers},
		{"decoder_layers", c.DecoderLayers, maxLayers},
		{"encoder_attention_heads", c.EncoderAttentionHeads, maxModel},
		{"decoder_attention_heads", c.DecoderAttentionHeads, maxModel},
		{"encoder_ffn_dim", c.EncoderFFNDim, 16 * maxModel},
		{"decoder_ffn_dim", c.DecoderFFNDim, 16 * maxModel},
		{"max_position_embeddings", c.MaxPositionEmbeddings, maxPositions},
	} {
		if f.v <= 0 || f.v > f.hi {
			return fmt.Errorf("transformer config: %s = %d, want 1..%d", f.name, f.v, f.hi)
		}
	}
	if c.DecoderVocabSize < 0 || c.DecoderVocabSize > maxVocab {
		return fmt.Errorf("transformer config: decoder_vocab_size = %d, want 0 (meaning vocab_size) or up to %d", c.DecoderVocabSize, maxVocab)
	}
	if c.ShareEncoderDecoderEmbeddings && c.TargetVocab() != c.VocabSize {
		return fmt.Errorf("transformer config: decoder_vocab_size = %d differs from vocab_size = %d, but share_encoder_decoder_embeddings = true needs one vocabulary; set it false for separate source and target embeddings", c.DecoderVocabSize, c.VocabSize)
	}
	for _, h := range []struct {
		name string
		v    int
	}{{"encoder_attention_heads", c.EncoderAttentionHeads}, {"decoder_attention_heads", c.DecoderAttentionHeads}} {
		if c.DModel%h.v != 0 {
			return fmt.Errorf("transformer config: d_model = %d is not divisible by %s = %d", c.DModel, h.name, h.v)
		}
	}
	if _, err := nn.ParseActivation(c.ActivationFunction); err != nil {
		return fmt.Errorf("transformer config: %w", err)
	}
	for _, id := range []struct {
		name  string
		v, hi int
	}{
		{"pad_token_id", c.PadTokenID, min(c.VocabSize, c.TargetVocab())},
		{"eos_token_id", c.EOSTokenID, c.TargetVocab()},
		{"decoder_start_token_id", c.DecoderStartTokenID, c.TargetVocab()},
	} {
		if id.v < 0 || id.v >= id.hi {
			return fmt.Errorf("transformer config: %s = %d is outside the vocabulary [0, %d)", id.name, id.v, id.hi)
		}
	}
	for _, p := range []struct {
		name string
		v    float32
	}{{"dropout", c.Dropout}, {"attention_dropout", c.AttentionDropout}, {"activation_dropout", c.ActivationDropout}} {
		if !(p.v >= 0 && p.v < 1) {
			return fmt.Errorf("transformer config: %s = %g, want a probability in [0, 1)", p.name, p.v)
		}
	}
	if !(c.InitStd > 0 && c.InitStd < 1) {
		return fmt.Errorf("transformer config: init_std = %g, want a small positive number such as 0.02", c.InitStd)
	}
	C := int64(c.DModel)
	layers := int64(c.EncoderLayers)*(4*C*C+2*C*int64(c.EncoderFFNDim)) + int64(c.DecoderLayers)*(8*C*C+2*C*int64(c.DecoderFFNDim))
	if params := int64(c.VocabSize+c.TargetVocab()+c.MaxPositionEmbeddings)*C + layers; params > 1<<34 {
		return fmt.Errorf("transformer config: %d parameters is more than this tool can hold in memory", params)
	}
	return nil
}

// hfConfig is config.json as HuggingFace writes it for MarianMTModel.
type hfConfig struct {
	Config
	ModelType                string   `json:"model_type"`
	Architectures            []string `json:"architectures,omitempty"`
	IsEncoderDecoder         bool     `json:"is_encoder_decoder"`
	StaticPositionEmbeddings bool     `json:"static_position_embeddings"`
	NormalizeEmbedding       bool     `json:"normalize_embedding"`
	AutoMap                  any      `json:"auto_map,omitempty"`
}

// ParseConfig reads a Marian config.json and validates it. Fields it omits take the defaults of
// HuggingFace's MarianConfig.
func ParseConfig(data []byte) (Config, error) {
	var h hfConfig
	h.Config = Config{
		VocabSize: 58101, DModel: 1024, EncoderLayers: 12, DecoderLayers: 12,
		EncoderAttentionHeads: 16, DecoderAttentionHeads: 16, EncoderFFNDim: 4096, DecoderFFNDim: 4096,
		MaxPositionEmbeddings: 1024, ActivationFunction: "gelu",
		PadTokenID: 58100, EOSTokenID: 0, DecoderStartTokenID: 58100,
		ShareEncoderDecoderEmbeddings: true, TieWordEmbeddings: true,
		Dropout: 0.1, InitStd: 0.02,
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return Config{}, fmt.Errorf("transformer config: not a valid config.json: %w", err)
	}
	if h.ModelType != "marian" {
		return Config{}, fmt.Errorf("transformer config: model_type %q, want \"marian\"", h.ModelType)
	}
	if h.AutoMap != nil {
		return Config{}, fmt.Errorf("transformer config: auto_map asks for custom model code, which is never run; only the standard Marian architecture is supported")
	}
	if h.DecoderVocabSize == h.VocabSize {
		h.DecoderVocabSize = 0 // one canonical form: 0 means "the same as vocab_size"
	}
	if err := h.Config.Validate(); err != nil {
		return Config{}, err
	}
	return h.Config, nil
}

// MarshalConfig writes c as a HuggingFace Marian config.json, which transformers loads as
// MarianMTModel.
func MarshalConfig(c Config) ([]byte, error) {
	h := hfConfig{Config: c, ModelType: "marian", Architectures: []string{"MarianMTModel"}, IsEncoderDecoder: true, StaticPositionEmbeddings: true}
	h.DecoderVocabSize = c.TargetVocab() // transformers sizes the decoder from it
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
