package bert

import (
	"math"
	"reflect"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
)

// checkConfigValid checks what ParseConfig promises of a config it accepts.
func checkConfigValid(t *testing.T, c Config) {
	t.Helper()
	for _, f := range []struct {
		name  string
		v, hi int
	}{
		{"vocab_size", c.VocabSize, maxVocab},
		{"hidden_size", c.HiddenSize, maxHidden},
		{"num_hidden_layers", c.NumHiddenLayers, maxLayers},
		{"num_attention_heads", c.NumAttentionHeads, c.HiddenSize},
		{"intermediate_size", c.IntermediateSize, 16 * maxHidden},
		{"max_position_embeddings", c.MaxPositionEmbeddings, maxPositions},
		{"type_vocab_size", c.TypeVocabSize, 1 << 10},
	} {
		if f.v < 1 || f.v > f.hi {
			t.Fatalf("accepted %s = %d, want 1..%d: %+v", f.name, f.v, f.hi, c)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 || c.HeadSize() < 1 || c.HeadSize()*c.NumAttentionHeads != c.HiddenSize {
		t.Fatalf("accepted hidden_size = %d with num_attention_heads = %d (head size %d)", c.HiddenSize, c.NumAttentionHeads, c.HeadSize())
	}
	if eps := float64(c.LayerNormEps); math.IsNaN(eps) || eps <= 0 || eps >= 1 {
		t.Fatalf("accepted layer_norm_eps = %g", eps)
	}
	for _, p := range []float32{c.HiddenDropoutProb, c.AttentionDropoutProb} {
		if math.IsNaN(float64(p)) || p < 0 || p >= 1 {
			t.Fatalf("accepted a dropout probability of %g", p)
		}
	}
	switch c.HiddenAct {
	case "gelu", "gelu_new", "gelu_pytorch_tanh":
	default:
		t.Fatalf("accepted hidden_act %q", c.HiddenAct)
	}
	if c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize {
		t.Fatalf("accepted pad_token_id = %d with vocab_size = %d", c.PadTokenID, c.VocabSize)
	}
	// The model New would build fits in memory (the sizes are bounded, so no overflow).
	C := int64(c.HiddenSize)
	params := (int64(c.VocabSize)+int64(c.MaxPositionEmbeddings)+int64(c.TypeVocabSize))*C +
		int64(c.NumHiddenLayers)*(4*C*C+2*C*int64(c.IntermediateSize))
	if params > 1<<34 {
		t.Fatalf("accepted a config of %d parameters", params)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("ParseConfig returned a config that Validate refuses: %v", err)
	}
}

// FuzzParseConfig: whatever config.json holds, ParseConfig either refuses it with a "bert config:"
// error and a zero Config, or returns a valid config that MarshalConfig writes and ParseConfig
// reads back unchanged. It never allocates more than a small multiple of the input.
func FuzzParseConfig(f *testing.F) {
	for _, data := range testenv.ReferenceConfigs() {
		f.Add(data)
	}
	const sizes = `"vocab_size":113,"hidden_size":48,"num_hidden_layers":2,"intermediate_size":96,"max_position_embeddings":32`
	for _, s := range []string{
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"type_vocab_size":1,"layer_norm_eps":1e-5,"hidden_act":"gelu_new","hidden_dropout_prob":0.1,"attention_probs_dropout_prob":0.1,"pad_token_id":112,"position_embedding_type":"absolute"}`,
		// Wrong types.
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":"4"}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4.5}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":{}}`,
		`{"model_type":["bert"],` + sizes + `,"num_attention_heads":4}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"hidden_act":1}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"pad_token_id":"0"}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"position_embedding_type":3}`,
		// Zero, negative and inconsistent sizes.
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":0}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":-4}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":5}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":96}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"type_vocab_size":0}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"pad_token_id":-1}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"pad_token_id":113}`,
		`{"model_type":"bert","vocab_size":113,"hidden_size":48,"num_hidden_layers":2,"num_attention_heads":4}`,
		// Huge numbers.
		`{"model_type":"bert","vocab_size":113,"hidden_size":48,"num_hidden_layers":2,"intermediate_size":96,"max_position_embeddings":1000000000000,"num_attention_heads":4}`,
		`{"model_type":"bert","vocab_size":113,"hidden_size":48,"num_hidden_layers":2,"intermediate_size":96,"max_position_embeddings":1e12,"num_attention_heads":4}`,
		`{"model_type":"bert","vocab_size":-9223372036854775808,"hidden_size":48,"num_hidden_layers":2,"intermediate_size":96,"max_position_embeddings":32,"num_attention_heads":4}`,
		`{"model_type":"bert","vocab_size":99999999999999999999,"hidden_size":48,"num_hidden_layers":2,"intermediate_size":96,"max_position_embeddings":32,"num_attention_heads":4}`,
		`{"model_type":"bert","vocab_size":4194304,"hidden_size":32768,"num_hidden_layers":1024,"intermediate_size":524288,"max_position_embeddings":65536,"num_attention_heads":1,"type_vocab_size":1024}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"hidden_dropout_prob":3.5e38}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"hidden_dropout_prob":3.5e39}`,
		// NaN-ish and edge floats.
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"layer_norm_eps":NaN}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"layer_norm_eps":"nan"}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"layer_norm_eps":-Infinity}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"layer_norm_eps":1e-50}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"layer_norm_eps":1}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"attention_probs_dropout_prob":-0.0}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"layer_norm_eps":null,"hidden_act":null,"type_vocab_size":null}`,
		// Duplicate and differently cased keys (the last one wins, as in Python's json).
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"num_attention_heads":5}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":5,"num_attention_heads":4}`,
		`{"Model_Type":"bert",` + sizes + `,"NUM_ATTENTION_HEADS":4}`,
		// Heads and classifiers.
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"architectures":["BertModel"]}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"architectures":["BertForSequenceClassification"]}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"architectures":["BertForSequenceClassification"],"id2label":{"0":"neg","1":"pos","2":"neutral"},"label2id":{"neg":0,"pos":1,"neutral":2},"num_labels":3,"problem_type":"single_label_classification","classifier_dropout":null}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"architectures":["BertForSequenceClassification"],"id2label":{"0":"a","1":"a"}}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"architectures":["BertForSequenceClassification"],"id2label":{"0":"a","2":"b"}}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"architectures":["BertForSequenceClassification"],"id2label":{"00":"a","1":"b"}}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"architectures":["BertForSequenceClassification"],"num_labels":1000000000}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"architectures":["BertForSequenceClassification"],"num_labels":3,"id2label":{"0":"a","1":"b"}}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"architectures":["BertForSequenceClassification"],"problem_type":"regression"}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"architectures":["BertForSequenceClassification"],"classifier_dropout":1.5}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"architectures":["BertForTokenClassification"],"id2label":{"0":"O"}}`,
		// Refused features and other models.
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"auto_map":{"AutoModel":"x.Model"}}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"position_embedding_type":"relative_key"}`,
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,"hidden_act":"relu"}`,
		`{"model_type":"roberta",` + sizes + `,"num_attention_heads":4}`,
		`{"model_type":"gpt2",` + sizes + `,"num_attention_heads":4}`,
		// Not JSON, truncated JSON, other JSON values.
		`{"model_type":"bert",` + sizes + `,"num_attention_heads":4,`,
		`{"model_type":"be`,
		"\ufeff{\"model_type\":\"bert\"," + sizes + `,"num_attention_heads":4}`,
		"{\"model_type\":\"bert\"," + sizes + ",\"num_attention_heads\":4,\"hidden_act\":\"gelu\x00\"}",
		``, `null`, `[]`, `"bert"`, `true`, `{}`,
	} {
		f.Add([]byte(s))
	}
	codec := testenv.ConfigCodec[Config]{Prefix: "bert config: ", Parse: ParseConfig, Marshal: MarshalConfig, Same: func(a, b Config) bool { return reflect.DeepEqual(a, b) }, Valid: checkConfigValid}
	f.Fuzz(func(t *testing.T, data []byte) { testenv.CheckConfigParser(t, codec, data) })
}
