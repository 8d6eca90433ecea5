package gpt

import (
	"encoding/json"
	"fmt"
	"math"
)

// Config is the GPT-2 hyper-parameter set, with HuggingFace's config.json field names.
type Config struct {
	VocabSize        int     `json:"vocab_size"`             // V
	NPositions       int     `json:"n_positions"`            // longest sequence (block size)
	NEmbd            int     `json:"n_embd"`                 // C
	NLayer           int     `json:"n_layer"`                // L
	NHead            int     `json:"n_head"`                 // nh
	NInner           int     `json:"n_inner,omitempty"`      // MLP width; 0 means 4·C
	LayerNormEpsilon float32 `json:"layer_norm_epsilon"`     // ε of every LayerNorm
	Activation       string  `json:"activation_function"`    // "gelu_new" (tanh form) or "gelu" (exact erf)
	ResidPdrop       float32 `json:"resid_pdrop"`            // dropout after attention and MLP projections
	EmbdPdrop        float32 `json:"embd_pdrop"`             // dropout on the embeddings
	AttnPdrop        float32 `json:"attn_pdrop"`             // dropout on the attention weights
	BOSTokenID       *int    `json:"bos_token_id,omitempty"` // informational
	EOSTokenID       *int    `json:"eos_token_id,omitempty"` // generation stops at it when set
}

// Limits on sizes read from a config file, checked before anything is allocated.
const (
	maxVocab     = 1 << 22
	maxPositions = 1 << 20
	maxEmbd      = 1 << 16
	maxLayers    = 1 << 10
)

// Inner is the MLP width.
func (c Config) Inner() int {
	if c.NInner > 0 {
		return c.NInner
	}
	return 4 * c.NEmbd
}

// NumParams is the number of parameters (weights and biases) of a model of this config; with
// sizes within Validate's limits it cannot overflow.
func (c Config) NumParams() int64 {
	C, I := int64(c.NEmbd), int64(c.Inner())
	block := 2*C + // ln_1
		C*3*C + 3*C + C*C + C + // attn.c_attn, attn.c_proj
		2*C + // ln_2
		C*I + I + I*C + C // mlp.c_fc, mlp.c_proj
	return int64(c.VocabSize+c.NPositions)*C + int64(c.NLayer)*block + 2*C
}

// KVCacheBytes is the memory of the key/value caches that generation allocates for a batch of b
// over the full context: float32 keys and values of (b, n_positions, C) for every layer.
func (c Config) KVCacheBytes(b int) int64 {
	return 2 * 4 * int64(b) * int64(c.NLayer) * int64(c.NPositions) * int64(c.NEmbd)
}

// HeadSize is C / nh.
func (c Config) HeadSize() int { return c.NEmbd / c.NHead }

// Validate checks that every size is positive, within limits, and consistent.
func (c Config) Validate() error {
	check := func(name string, v, hi int) error {
		if v <= 0 || v > hi {
			return fmt.Errorf("gpt config: %s = %d, want 1..%d", name, v, hi)
		}
		return nil
	}
	for _, f := range []struct {
		name  string
		v, hi int
	}{
		{"vocab_size", c.VocabSize, maxVocab},
		{"n_positions", c.NPositions, maxPositions},
		{"n_embd", c.NEmbd, maxEmbd},
		{"n_layer", c.NLayer, maxLayers},
		{"n_head", c.NHead, maxEmbd},
	} {
		if err := check(f.name, f.v, f.hi); err != nil {
			return err
		}
	}
	if c.NInner < 0 || c.NInner > 16*maxEmbd {
		return fmt.Errorf("gpt config: n_inner = %d, want 0 (meaning 4·n_embd) or up to %d", c.NInner, 16*maxEmbd)
	}
	if c.NEmbd%c.NHead != 0 {
		return fmt.Errorf("gpt config: n_embd = %d is not divisible by n_head = %d", c.NEmbd, c.NHead)
	}
	if !(c.LayerNormEpsilon > 0 && c.LayerNormEpsilon < 1) {
		return fmt.Errorf("gpt config: layer_norm_epsilon = %g, want a small positive number such as 1e-5", c.LayerNormEpsilon)
	}
	switch c.Activation {
	case "gelu_new", "gelu", "gelu_pytorch_tanh":
	default:
		return fmt.Errorf("gpt config: activation_function %q is not supported (want gelu_new or gelu)", c.Activation)
	}
	for _, p := range []struct {
		name string
		v    float32
	}{{"resid_pdrop", c.ResidPdrop}, {"embd_pdrop", c.EmbdPdrop}, {"attn_pdrop", c.AttnPdrop}} {
		if !(p.v >= 0 && p.v < 1) || math.IsNaN(float64(p.v)) {
			return fmt.Errorf("gpt config: %s = %g, want a probability in [0, 1)", p.name, p.v)
		}
	}
	if params := c.NumParams(); params > 1<<34 {
		return fmt.Errorf("gpt config: %d parameters is more than this tool can hold in memory", params)
	}
	return nil
}

// hfConfig is config.json as HuggingFace writes it for GPT2LMHeadModel.
type hfConfig struct {
	Config
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures,omitempty"`
	NCtx          int      `json:"n_ctx,omitempty"`
	AutoMap       any      `json:"auto_map,omitempty"`
	TieWordEmbed  *bool    `json:"tie_word_embeddings,omitempty"`
}

// ParseConfig reads a GPT-2 config.json and validates it.
func ParseConfig(data []byte) (Config, error) {
	var h hfConfig
	// Defaults of HF's GPT2Config for fields older files omit.
	h.LayerNormEpsilon = 1e-5
	h.Activation = "gelu_new"
	if err := json.Unmarshal(data, &h); err != nil {
		return Config{}, fmt.Errorf("gpt config: not a valid config.json: %w", err)
	}
	if h.ModelType != "gpt2" {
		return Config{}, fmt.Errorf("gpt config: model_type %q, want \"gpt2\"", h.ModelType)
	}
	if h.AutoMap != nil {
		return Config{}, fmt.Errorf("gpt config: auto_map asks for custom model code, which is never run; only the standard GPT-2 architecture is supported")
	}
	if h.TieWordEmbed != nil && !*h.TieWordEmbed {
		return Config{}, fmt.Errorf("gpt config: tie_word_embeddings = false is not supported (GPT-2 ties the LM head to wte)")
	}
	if h.NPositions == 0 {
		h.NPositions = h.NCtx
	}
	if err := h.Config.Validate(); err != nil {
		return Config{}, err
	}
	return h.Config, nil
}

// MarshalConfig writes c as a HuggingFace GPT-2 config.json.
func MarshalConfig(c Config) ([]byte, error) {
	h := hfConfig{Config: c, ModelType: "gpt2", Architectures: []string{"GPT2LMHeadModel"}, NCtx: c.NPositions}
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
