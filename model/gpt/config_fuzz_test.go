package gpt

import (
	"math"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
)

// sameConfig compares two configs field by field, the token ids by value.
func sameConfig(a, b Config) bool {
	sameID := func(x, y *int) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	if !sameID(a.BOSTokenID, b.BOSTokenID) || !sameID(a.EOSTokenID, b.EOSTokenID) {
		return false
	}
	a.BOSTokenID, a.EOSTokenID, b.BOSTokenID, b.EOSTokenID = nil, nil, nil, nil
	return a == b
}

// checkConfigValid checks what ParseConfig promises of a config it accepts.
func checkConfigValid(t *testing.T, c Config) {
	t.Helper()
	for _, f := range []struct {
		name  string
		v, hi int
	}{
		{"vocab_size", c.VocabSize, maxVocab},
		{"n_positions", c.NPositions, maxPositions},
		{"n_embd", c.NEmbd, maxEmbd},
		{"n_layer", c.NLayer, maxLayers},
		{"n_head", c.NHead, c.NEmbd},
	} {
		if f.v < 1 || f.v > f.hi {
			t.Fatalf("accepted %s = %d, want 1..%d: %+v", f.name, f.v, f.hi, c)
		}
	}
	if c.NEmbd%c.NHead != 0 || c.HeadSize() < 1 || c.HeadSize()*c.NHead != c.NEmbd {
		t.Fatalf("accepted n_embd = %d with n_head = %d (head size %d)", c.NEmbd, c.NHead, c.HeadSize())
	}
	if c.NInner < 0 || c.Inner() < 1 || c.Inner() > 16*maxEmbd {
		t.Fatalf("accepted n_inner = %d (MLP width %d)", c.NInner, c.Inner())
	}
	if eps := float64(c.LayerNormEpsilon); math.IsNaN(eps) || eps <= 0 || eps >= 1 {
		t.Fatalf("accepted layer_norm_epsilon = %g", eps)
	}
	for _, p := range []float32{c.ResidPdrop, c.EmbdPdrop, c.AttnPdrop} {
		if math.IsNaN(float64(p)) || p < 0 || p >= 1 {
			t.Fatalf("accepted a dropout probability of %g", p)
		}
	}
	switch c.Activation {
	case "gelu_new", "gelu", "gelu_pytorch_tanh":
	default:
		t.Fatalf("accepted activation_function %q", c.Activation)
	}
	// The model New would build fits in memory (the sizes are bounded, so no overflow).
	C := int64(c.NEmbd)
	params := (int64(c.VocabSize)+int64(c.NPositions))*C + int64(c.NLayer)*(4*C*C+2*C*int64(c.Inner()))
	if params > 1<<34 {
		t.Fatalf("accepted a config of %d parameters", params)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("ParseConfig returned a config that Validate refuses: %v", err)
	}
}

// FuzzParseConfig: whatever config.json holds, ParseConfig either refuses it with a "gpt config:"
// error and a zero Config, or returns a valid config that MarshalConfig writes and ParseConfig
// reads back unchanged. It never allocates more than a small multiple of the input.
func FuzzParseConfig(f *testing.F) {
	for _, data := range testenv.ReferenceConfigs() {
		f.Add(data)
	}
	const sizes = `"vocab_size":97,"n_positions":32,"n_embd":48,"n_layer":2`
	for _, s := range []string{
		`{"model_type":"gpt2",` + sizes + `,"n_head":4}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"n_inner":100,"activation_function":"gelu","resid_pdrop":0.1,"embd_pdrop":0,"attn_pdrop":0.5,"bos_token_id":96,"eos_token_id":96,"tie_word_embeddings":true}`,
		`{"model_type":"gpt2","vocab_size":97,"n_ctx":32,"n_embd":48,"n_layer":2,"n_head":4}`,
		// Wrong types.
		`{"model_type":"gpt2",` + sizes + `,"n_head":"4"}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4.0}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":[4]}`,
		`{"model_type":2,` + sizes + `,"n_head":4}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"layer_norm_epsilon":"1e-5"}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"eos_token_id":[50256]}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"tie_word_embeddings":"no"}`,
		// Zero, negative and inconsistent sizes.
		`{"model_type":"gpt2",` + sizes + `,"n_head":0}`,
		`{"model_type":"gpt2","vocab_size":-97,"n_positions":32,"n_embd":48,"n_layer":2,"n_head":4}`,
		`{"model_type":"gpt2","vocab_size":97,"n_positions":32,"n_embd":50,"n_layer":2,"n_head":4}`,
		`{"model_type":"gpt2","vocab_size":97,"n_positions":32,"n_embd":4,"n_layer":2,"n_head":8}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"n_inner":-1}`,
		`{"model_type":"gpt2","vocab_size":97,"n_embd":48,"n_layer":2,"n_head":4}`,
		// Huge numbers.
		`{"model_type":"gpt2","vocab_size":97,"n_positions":1000000000000,"n_embd":48,"n_layer":2,"n_head":4}`,
		`{"model_type":"gpt2","vocab_size":97,"n_positions":1e12,"n_embd":48,"n_layer":2,"n_head":4}`,
		`{"model_type":"gpt2","vocab_size":9223372036854775807,"n_positions":32,"n_embd":48,"n_layer":2,"n_head":4}`,
		`{"model_type":"gpt2","vocab_size":18446744073709551616,"n_positions":32,"n_embd":48,"n_layer":2,"n_head":4}`,
		`{"model_type":"gpt2","vocab_size":4194304,"n_positions":1048576,"n_embd":65536,"n_layer":1024,"n_head":1}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"n_inner":1048577}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"resid_pdrop":1e39}`,
		// NaN-ish and edge floats.
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"layer_norm_epsilon":NaN}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"layer_norm_epsilon":"NaN"}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"layer_norm_epsilon":Infinity}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"layer_norm_epsilon":1e-46}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"layer_norm_epsilon":1e-45}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"layer_norm_epsilon":0.999999999}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"attn_pdrop":-0}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"attn_pdrop":-1e-46}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"layer_norm_epsilon":null,"activation_function":null}`,
		// Duplicate and differently cased keys (the last one wins, as in Python's json).
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"n_head":5}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":5,"n_head":4}`,
		`{"MODEL_TYPE":"gpt2",` + sizes + `,"N_HEAD":4}`,
		// Refused features and other models.
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"auto_map":{"AutoModel":"x.Model"}}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"auto_map":null}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"tie_word_embeddings":false}`,
		`{"model_type":"gpt2",` + sizes + `,"n_head":4,"activation_function":"relu"}`,
		`{"model_type":"llama",` + sizes + `,"n_head":4}`,
		// Not JSON, truncated JSON, other JSON values.
		`{"model_type":"gpt2",` + sizes + `,"n_head":4`,
		`{"model_type":"gp`,
		"\ufeff{\"model_type\":\"gpt2\"," + sizes + `,"n_head":4}`,
		"{\"model_type\":\"gpt2\xff\"," + sizes + `,"n_head":4}`,
		``, `null`, `[]`, `"gpt2"`, `0`, `{}`,
	} {
		f.Add([]byte(s))
	}
	codec := testenv.ConfigCodec[Config]{Prefix: "gpt config: ", Parse: ParseConfig, Marshal: MarshalConfig, Same: sameConfig, Valid: checkConfigValid}
	f.Fuzz(func(t *testing.T, data []byte) { testenv.CheckConfigParser(t, codec, data) })
}
