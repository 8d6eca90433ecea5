package serve

import (
	"encoding/json"
	"sync"

	"github.com/qkvdev/qkv/reason/constrain"
)

// response_format (chat completions): {"type": "text"} (the default), {"type": "json_object"}
// (any JSON object) or {"type": "json_schema", "json_schema": {"name", "schema", "strict"}}.
// A JSON format is compiled to a DFA over bytes (package reason/constrain) and then to masks
// over the model's vocabulary, so every token the model may pick keeps the output a prefix of
// a valid document, and the choice ends when the document is complete: the reply always
// parses, whatever the model. (OpenAI's json_object mode also asks the prompt to mention JSON;
// here the mask alone guarantees it.)

type responseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
		Strict *bool           `json:"strict"`
	} `json:"json_schema"`
}

// maxFormats is how many compiled formats a model keeps; the cache is emptied when it is full,
// so requests with ever-new schemas cannot grow it without bound.
const maxFormats = 64

// formats holds a model's vocabulary for constrained decoding and its compiled formats.
type formats struct {
	mu      sync.Mutex
	vocab   *constrain.Vocab
	indexes map[string]*constrain.Index
}

// checkFormat compiles the request's response_format into a token index (nil for plain text).
func (m *Model) checkFormat(rf *responseFormat) (*constrain.Index, error) {
	if rf == nil || rf.Type == "" || rf.Type == "text" {
		return nil, nil
	}
	var schema []byte
	switch rf.Type {
	case "json_object":
		schema = []byte(`{"type":"object"}`)
	case "json_schema":
		if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
			return nil, invalid("response_format.json_schema", "response_format of type json_schema needs json_schema.schema")
		}
		schema = rf.JSONSchema.Schema
	default:
		return nil, invalid("response_format.type", "response_format.type %q: want text, json_object or json_schema", rf.Type)
	}
	f := &m.formats
	f.mu.Lock()
	defer f.mu.Unlock()
	if ix, ok := f.indexes[string(schema)]; ok {
		return ix, nil
	}
	d, err := constrain.JSONSchema(schema)
	if err != nil {
		return nil, invalid("response_format.json_schema", "%v", err)
	}
	if f.vocab == nil {
		texts := make([]string, m.gpt.Config.VocabSize) // ids beyond the tokenizer never appear
		for id := range min(m.tok.VocabSize(), len(texts)) {
			t, err := m.tok.Decode([]int{id})
			if err != nil {
				return nil, err
			}
			texts[id] = t
		}
		eos := -1
		if e := m.gpt.Config.EOSTokenID; e != nil {
			eos = *e
		}
		f.vocab = constrain.NewVocab(texts, eos)
	}
	if f.indexes == nil || len(f.indexes) >= maxFormats {
		f.indexes = map[string]*constrain.Index{}
	}
	ix := constrain.NewIndex(d, f.vocab)
	f.indexes[string(schema)] = ix
	return ix, nil
}
