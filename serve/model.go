package serve

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/qkvdev/qkv/chat"
	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/embed"
	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/model/seq2seq"
	"github.com/qkvdev/qkv/model/transformer"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
	"github.com/qkvdev/qkv/translate"
)

// Model is a model the server answers for under a name.
type Model struct {
	Name    string
	m       auto.Model
	gpt     *gpt.Model  // set for text generation
	bert    *bert.Model // set for BERT
	tok     tokenizer.Tokenizer
	tmpl    *chat.Template
	stops   []string // added to chat requests (the default template's turn marker)
	created int64
	sched   *scheduler

	trMu sync.Mutex            // a Translator is not safe for concurrent use
	tr   *translate.Translator // set for encoder–decoder models (attention views)

	formats formats // response_format: the vocabulary for masks and compiled formats

	embedMu  sync.Mutex // an Embedder is not safe for concurrent use
	embedder *embed.Embedder
	embedErr error
}

// LoadModel loads a model folder, or a run or checkpoint folder (see auto.Load), with its
// tokenizer and chat template (tokenizer_config.json's chat_template, else the default), for
// inference: a generative model's weight matrices in format, read straight into it
// (auto.LoadForInference), the other families in float32. Hub ids are resolved to a folder
// by the caller (auto.Resolve).
func LoadModel(name, dir string, format tensor.WeightFormat) (*Model, error) {
	dir, err := checkpoint.ResolveModelDir(dir)
	if err != nil {
		return nil, err
	}
	m, err := auto.LoadForInference(dir, format)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, err
	}
	tcfg, err := readTokenizerConfig(dir)
	if err != nil {
		return nil, err
	}
	return NewModel(name, m, tok, tcfg)
}

// TokenizerConfig is what the server reads from tokenizer_config.json.
type TokenizerConfig struct {
	ChatTemplate string // "" for the default template
	BOS, EOS     string
}

// readTokenizerConfig reads the chat template and special tokens of dir's
// tokenizer_config.json; a missing file, or one without a template, is an empty config.
func readTokenizerConfig(dir string) (TokenizerConfig, error) {
	t, err := chat.Load(dir)
	if errors.Is(err, chat.ErrNoTemplate) {
		return TokenizerConfig{}, nil
	}
	if err != nil {
		return TokenizerConfig{}, err
	}
	return TokenizerConfig{ChatTemplate: t.Source, BOS: t.BOSToken, EOS: t.EOSToken}, nil
}

// NewModel serves m under name. A chat template that qkv's Jinja subset cannot run is an error
// here, at load time.
func NewModel(name string, m auto.Model, tok tokenizer.Tokenizer, tcfg TokenizerConfig) (*Model, error) {
	if name == "" {
		return nil, fmt.Errorf("serve: a model needs a name")
	}
	sm := &Model{Name: name, m: m, tok: tok, created: time.Now().Unix()}
	switch f := auto.Family(m).(type) {
	case *gpt.Model:
		sm.gpt = f
		if tok.VocabSize() > f.Config.VocabSize {
			return nil, fmt.Errorf("serve: model %s: the tokenizer has %d tokens but the model only %d", name, tok.VocabSize(), f.Config.VocabSize)
		}
		src := tcfg.ChatTemplate
		if src == "" {
			src = chat.Plain
			sm.stops = []string{chat.PlainStop}
		}
		t, err := chat.Parse(src)
		if err != nil {
			return nil, fmt.Errorf("serve: model %s: %w", name, err)
		}
		t.BOSToken, t.EOSToken = tcfg.BOS, tcfg.EOS
		sm.tmpl = t
	case *bert.Model:
		sm.bert = f
	case *transformer.Model, *seq2seq.Model:
		tr, err := translate.New(f, tok)
		if err != nil {
			return nil, fmt.Errorf("serve: model %s: %w", name, err)
		}
		sm.tr = tr
	}
	sm.embedder, sm.embedErr = embed.New(m, tok, embed.Options{})
	return sm, nil
}

// generates reports whether the model can generate text.
func (m *Model) generates() bool { return m.gpt != nil }

// contextLength is the most positions the model reads.
func (m *Model) contextLength() int {
	switch {
	case m.gpt != nil:
		return m.gpt.Config.NPositions
	case m.bert != nil:
		return m.bert.Config.MaxPositionEmbeddings
	}
	return 0
}

// PackWeights prepares a generative model built in memory for inference in format (fp32,
// bf16 or int8), as LoadModel does while reading a folder; call it before New. bf16 and int8
// replace the float32 matrices with their compact form (gpt.Model.PackForInference;
// embeddings then come from the packed LM head), so the server holds about half or a quarter
// of the bytes; fp32 packs the matrices as the GEMM kernel's panels where the CPU runs them
// (float32 panels on AVX2 and AVX-512, bfloat16 panels beside the weights under bfloat16
// compute). The model can then only run inference.
func (m *Model) PackWeights(format tensor.WeightFormat) error {
	if m.gpt == nil {
		return nil
	}
	return m.gpt.PackForInference(format)
}
