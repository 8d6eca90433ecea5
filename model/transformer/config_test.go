package transformer

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
)

func TestPresets(t *testing.T) {
	base, err := Preset("base", 37000)
	if err != nil {
		t.Fatal(err)
	}
	// The paper's base model (Table 3): d_model 512, N = 6, h = 8, d_ff = 2048.
	if base.DModel != 512 || base.EncoderLayers != 6 || base.DecoderLayers != 6 || base.EncoderAttentionHeads != 8 ||
		base.DecoderAttentionHeads != 8 || base.EncoderFFNDim != 2048 || base.DecoderFFNDim != 2048 || base.ActivationFunction != "relu" {
		t.Errorf("base preset %+v", base)
	}
	if base.PadTokenID != 36999 || base.DecoderStartTokenID != 36999 || base.EOSTokenID != 0 {
		t.Errorf("base preset special tokens pad %d start %d eos %d", base.PadTokenID, base.DecoderStartTokenID, base.EOSTokenID)
	}
	for _, name := range []string{"tiny", "small", "big"} {
		if _, err := Preset(name, 100); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
	if _, err := Preset("huge", 100); err == nil || !strings.Contains(err.Error(), "tiny, small, base or big") {
		t.Errorf("unknown preset: %v", err)
	}
	if _, err := Preset("tiny", 0); err == nil || !strings.Contains(err.Error(), "vocab_size") {
		t.Errorf("empty vocabulary: %v", err)
	}
}

// Each invalid config is refused with an error naming the field.
func TestValidateNamesTheField(t *testing.T) {
	ok, err := Preset("tiny", 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		edit  func(c *Config)
	}{
		{"vocab_size", func(c *Config) { c.VocabSize = 0 }},
		{"vocab_size", func(c *Config) { c.VocabSize = 1 << 30 }},
		{"d_model", func(c *Config) { c.DModel = -1 }},
		{"encoder_layers", func(c *Config) { c.EncoderLayers = 0 }},
		{"decoder_layers", func(c *Config) { c.DecoderLayers = 1 << 20 }},
		{"encoder_attention_heads", func(c *Config) { c.EncoderAttentionHeads = 3 }},
		{"decoder_attention_heads", func(c *Config) { c.DecoderAttentionHeads = 0 }},
		{"encoder_ffn_dim", func(c *Config) { c.EncoderFFNDim = 0 }},
		{"decoder_ffn_dim", func(c *Config) { c.DecoderFFNDim = -5 }},
		{"max_position_embeddings", func(c *Config) { c.MaxPositionEmbeddings = 0 }},
		{"decoder_vocab_size", func(c *Config) { c.DecoderVocabSize = 60 }},
		{"decoder_vocab_size", func(c *Config) { c.DecoderVocabSize = -1 }},
		{"activation_function", func(c *Config) { c.ActivationFunction = "tanh" }},
		{"pad_token_id", func(c *Config) { c.PadTokenID = 50 }},
		{"eos_token_id", func(c *Config) { c.EOSTokenID = -1 }},
		{"decoder_start_token_id", func(c *Config) { c.DecoderStartTokenID = 99 }},
		{"dropout", func(c *Config) { c.Dropout = 1 }},
		{"attention_dropout", func(c *Config) { c.AttentionDropout = -0.1 }},
		{"activation_dropout", func(c *Config) { c.ActivationDropout = float32(nan()) }},
		{"init_std", func(c *Config) { c.InitStd = 0 }},
		{"parameters", func(c *Config) { c.VocabSize, c.DModel, c.DecoderVocabSize = 1<<22, 1<<14, 0 }},
	} {
		c := ok
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: Validate() = %v, want an error naming it", tc.field, err)
		}
	}
	// Separate vocabularies are fine once the embeddings are not shared.
	c := ok
	c.DecoderVocabSize, c.ShareEncoderDecoderEmbeddings = 60, false
	if err := c.Validate(); err != nil {
		t.Errorf("separate vocabularies: %v", err)
	}
}

func nan() float64 { var z float64; return z / z }

// A config.json that omits fields gets MarianConfig's defaults; one for another architecture,
// or one asking for custom code, is refused.
func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"model_type": "marian", "vocab_size": 100, "pad_token_id": 99, "decoder_start_token_id": 99, "d_model": 64, "encoder_attention_heads": 4, "decoder_attention_heads": 4}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.EncoderLayers != 12 || c.ActivationFunction != "gelu" || !c.ShareEncoderDecoderEmbeddings || !c.TieWordEmbeddings || c.MaxPositionEmbeddings != 1024 || c.ScaleEmbedding {
		t.Errorf("defaults not applied: %+v", c)
	}
	for _, bad := range []string{
		`{"model_type": "bart"}`,
		`{"model_type": "marian", "auto_map": {"AutoModel": "x.Y"}}`,
		`{"model_type": "marian", "d_model": 32.5}`,
		`{"model_type": "marian", "vocab_size": "many"}`,
		`[1, 2]`,
	} {
		if _, err := ParseConfig([]byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "transformer config: ") {
			t.Errorf("ParseConfig(%s) = %v", bad, err)
		}
	}
}

// MarshalConfig writes what transformers needs to build MarianMTModel.
func TestMarshalConfig(t *testing.T) {
	c, _ := Preset("tiny", 50)
	data, err := MarshalConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"model_type": "marian", "is_encoder_decoder": true, "decoder_vocab_size": 50.0, "d_model": 64.0,
		"share_encoder_decoder_embeddings": true, "tie_word_embeddings": true, "activation_function": "relu",
	} {
		if obj[key] != want {
			t.Errorf("%s = %v, want %v", key, obj[key], want)
		}
	}
	if a, _ := obj["architectures"].([]any); len(a) != 1 || a[0] != "MarianMTModel" {
		t.Errorf("architectures = %v", obj["architectures"])
	}
	if _, ok := obj["pre_layer_norm"]; ok {
		t.Error("a post-LN config writes the pre_layer_norm extension")
	}
}

func FuzzParseConfig(f *testing.F) {
	c, _ := Preset("tiny", 50)
	seed, _ := MarshalConfig(c)
	f.Add(seed)
	for _, data := range testenv.ReferenceConfigs() {
		f.Add(data)
	}
	f.Add([]byte(`{"model_type": "marian", "d_model": 1e9}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		testenv.CheckConfigParser(t, testenv.ConfigCodec[Config]{
			Prefix:  "transformer config: ",
			Parse:   ParseConfig,
			Marshal: MarshalConfig,
			Same:    func(a, b Config) bool { return a == b },
			Valid: func(t *testing.T, c Config) {
				if err := c.Validate(); err != nil {
					t.Fatalf("accepted an invalid config: %v", err)
				}
			},
		}, data)
	})
}
