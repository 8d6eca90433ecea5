package seq2seq

import (
	"strings"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
)

// checkConfigValid checks what ParseConfig promises of a config it accepts.
func checkConfigValid(t *testing.T, c Config) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatalf("ParseConfig returned a config that Validate refuses: %v", err)
	}
	if c.Bidirectional && c.EncoderHidden()*2 != c.HiddenSize {
		t.Fatalf("accepted an odd hidden_size %d with a bidirectional encoder", c.HiddenSize)
	}
	if c.PadTokenID == c.EOSTokenID || c.PadTokenID >= c.SrcVocabSize || c.EOSTokenID >= c.TgtVocabSize {
		t.Fatalf("accepted special tokens pad %d, eos %d for vocabularies %d and %d", c.PadTokenID, c.EOSTokenID, c.SrcVocabSize, c.TgtVocabSize)
	}
}

// FuzzParseConfig: whatever config.json holds, ParseConfig either refuses it with a
// "seq2seq config:" error and a zero Config, or returns a valid config that MarshalConfig
// writes and ParseConfig reads back unchanged.
func FuzzParseConfig(f *testing.F) {
	for _, data := range testenv.ReferenceConfigs() {
		f.Add(data)
	}
	good, _ := MarshalConfig(toyConfig("gru", "additive"))
	f.Add(good)
	base := `{"model_type":"qkv-seq2seq","src_vocab_size":12,"tgt_vocab_size":12,"embed_size":16,"hidden_size":32,"num_layers":1,"max_length":10,"pad_token_id":0,"bos_token_id":1,"eos_token_id":2`
	for _, s := range []string{
		base + `,"cell":"lstm","bidirectional":true,"attention":"dot"}`,
		base + `,"cell":"gru","bidirectional":false,"attention":"none","dropout":0.1}`,
		base + `,"cell":"gru","attention":"general","attention_size":7}`,
		base + `,"cell":"gru","attention":"additive","input_feeding":true}`,
		base + `,"cell":"gru","attention":"none","input_feeding":true}`,
		base + `,"cell":"rnn_tanh","attention":"none"}`,
		base + `,"cell":"gru","attention":"location"}`,
		base + `,"cell":"gru","attention":"none","dropout":1}`,
		base + `,"cell":"gru","attention":"none","dropout":NaN}`,
		base + `,"cell":"gru","attention":"none","attention_size":-1}`,
		base + `,"cell":"gru","attention":"none","hidden_size":33,"bidirectional":true}`,
		base + `,"cell":"gru","attention":"none","eos_token_id":0}`,
		base + `,"cell":"gru","attention":"none","pad_token_id":12}`,
		base + `,"cell":"gru","attention":"none","src_vocab_size":1e12}`,
		base + `,"cell":"gru","attention":"none","num_layers":"1"}`,
		base + `,"cell":"gru","attention":"none","num_layers":1.5}`,
		base + `,"cell":"gru","attention":"none","hidden_size":2147483648}`,
		base + `,"cell":"gru","attention":"none","tgt_vocab_size":-12}`,
		base + `,"cell":"gru","attention":"none","embed_size":16384,"src_vocab_size":4194304}`,
		strings.Replace(base, "qkv-seq2seq", "gpt2", 1) + `,"cell":"gru","attention":"none"}`,
		base, ``, `null`, `[]`, `{}`,
	} {
		f.Add([]byte(s))
	}
	codec := testenv.ConfigCodec[Config]{
		Prefix: "seq2seq config: ", Parse: ParseConfig, Marshal: MarshalConfig,
		Same: func(a, b Config) bool { return a == b }, Valid: checkConfigValid,
	}
	f.Fuzz(func(t *testing.T, data []byte) { testenv.CheckConfigParser(t, codec, data) })
}
