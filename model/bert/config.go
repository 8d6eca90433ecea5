package bert

import (
	"encoding/json"
	"fmt"
	"strconv"
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

	// Head is the task head on top of the encoder; "" means HeadPretraining.
	Head Head `json:"-"`
	// Sequence classification (HeadClassification) only: the number of classes, the name of
	// each class id (nil: LABEL_0, LABEL_1, …, as HuggingFace names them) and the dropout before
	// the classifier (HuggingFace's classifier_dropout, which defaults to hidden_dropout_prob).
	NumLabels             int      `json:"-"`
	Labels                []string `json:"-"`
	ClassifierDropoutProb float32  `json:"-"`
}

// Head names the task head a model carries on top of the encoder, as HuggingFace's class does.
type Head string

const (
	HeadPretraining    Head = "BertForPreTraining"            // masked-LM and next-sentence heads
	HeadNone           Head = "BertModel"                     // the encoder and pooler alone
	HeadClassification Head = "BertForSequenceClassification" // a linear classifier on the pooled output
)

// ProblemType is the one HuggingFace problem_type a classification head supports here.
const ProblemType = "single_label_classification"

// maxLabels bounds num_labels.
const maxLabels = 1 << 16

// head is c.Head with "" read as HeadPretraining.
func (c Config) head() Head {
	if c.Head == "" {
		return HeadPretraining
	}
	return c.Head
}

// Label is the name of class id i: Labels[i], or LABEL_i.
func (c Config) Label(i int) string {
	if c.Labels != nil {
		return c.Labels[i]
	}
	return defaultLabel(i)
}

const (
	maxVocab     = 1 << 22
	maxPositions = 1 << 16
	maxHidden    = 1 << 15
	maxLayers    = 1 << 10
)

// NumParams is the number of parameters (weights and biases) of a model of this config, its
// head included; with sizes within Validate's limits it cannot overflow.
func (c Config) NumParams() int64 {
	C, I, V := int64(c.HiddenSize), int64(c.IntermediateSize), int64(c.VocabSize)
	layer := 4*(C*C+C) + 2*C + // query, key, value, attention output; its LayerNorm
		C*I + I + I*C + C + 2*C // intermediate, output; its LayerNorm
	embeddings := (V+int64(c.MaxPositionEmbeddings)+int64(c.TypeVocabSize))*C + 2*C
	n := embeddings + int64(c.NumHiddenLayers)*layer + (C*C + C) // and the pooler
	switch c.head() {
	case HeadPretraining:
		n += (C*C + C) + 2*C + V + (2*C + 2) // transform, its LayerNorm, MLM bias, NSP
	case HeadClassification:
		n += int64(c.NumLabels) * (C + 1)
	}
	return n
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
	if err := c.validateHead(); err != nil {
		return err
	}
	if params := c.NumParams(); params > 1<<34 {
		return fmt.Errorf("bert config: %d parameters is more than this tool can hold in memory", params)
	}
	return nil
}

// validateHead checks the head and, for a classifier, its labels.
func (c Config) validateHead() error {
	switch c.head() {
	case HeadPretraining, HeadNone:
		if c.NumLabels != 0 || c.Labels != nil {
			return fmt.Errorf("bert config: %d labels given for the %s head, which has no classifier", max(c.NumLabels, len(c.Labels)), c.head())
		}
		return nil
	case HeadClassification:
	default:
		return fmt.Errorf("bert config: head %q is not supported (want %s, %s or %s)", c.Head, HeadPretraining, HeadNone, HeadClassification)
	}
	if c.NumLabels < 2 || c.NumLabels > maxLabels {
		return fmt.Errorf("bert config: num_labels = %d, want 2..%d classes for %s", c.NumLabels, maxLabels, ProblemType)
	}
	if c.Labels != nil {
		if len(c.Labels) != c.NumLabels {
			return fmt.Errorf("bert config: %d label names (id2label) for num_labels = %d", len(c.Labels), c.NumLabels)
		}
		seen := make(map[string]bool, len(c.Labels))
		for i, l := range c.Labels {
			if seen[l] {
				return fmt.Errorf("bert config: label %q names two classes (id2label must be one to one, so that label2id is its inverse)", l)
			}
			seen[l] = true
			if l == "" {
				return fmt.Errorf("bert config: class %d has an empty name in id2label", i)
			}
		}
	}
	if p := c.ClassifierDropoutProb; !(p >= 0 && p < 1) {
		return fmt.Errorf("bert config: classifier_dropout = %g, want a probability in [0, 1)", p)
	}
	return nil
}

type hfConfig struct {
	Config
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures,omitempty"`
	AutoMap       any      `json:"auto_map,omitempty"`
	PosEmbType    string   `json:"position_embedding_type,omitempty"`

	// Sequence classification.
	ClassifierDropout *float32        `json:"classifier_dropout"`
	ID2Label          json.RawMessage `json:"id2label,omitempty"`
	Label2ID          json.RawMessage `json:"label2id,omitempty"`
	NumLabels         *int            `json:"num_labels,omitempty"`
	ProblemType       string          `json:"problem_type,omitempty"`
}

// headOf maps a config's architectures to a head: BertForSequenceClassification, BertModel, or
// pretraining for the rest (BertForPreTraining, BertForMaskedLM, none given). The weights decide
// which heads a loaded model has (see Load); architectures say which classifier they hold.
func headOf(archs []string) Head {
	if len(archs) > 0 {
		switch Head(archs[0]) {
		case HeadClassification, HeadNone:
			return Head(archs[0])
		}
	}
	return HeadPretraining
}

// parseLabels reads the classifier's classes from id2label (keys "0" … "n-1") and num_labels
// (HuggingFace's default is 2). Names that are all LABEL_i give nil Labels.
func (h *hfConfig) parseLabels() error {
	n := 2
	if h.NumLabels != nil {
		n = *h.NumLabels
	}
	if n < 2 || n > maxLabels {
		return fmt.Errorf("bert config: num_labels = %d, want 2..%d classes for %s", n, maxLabels, ProblemType)
	}
	var labels []string
	if len(h.ID2Label) > 0 && string(h.ID2Label) != "null" {
		var m map[string]string
		if err := json.Unmarshal(h.ID2Label, &m); err != nil {
			return fmt.Errorf("bert config: id2label is not an object of class ids to names: %w", err)
		}
		if h.NumLabels == nil {
			n = len(m)
		}
		if len(m) != n || n < 2 || n > maxLabels {
			return fmt.Errorf("bert config: id2label has %d classes, num_labels says %d (want 2..%d)", len(m), n, maxLabels)
		}
		labels = make([]string, n)
		for k, v := range m {
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= n || strconv.Itoa(i) != k {
				return fmt.Errorf("bert config: id2label key %q is not a class id in 0..%d", k, n-1)
			}
			labels[i] = v
		}
		custom := false
		for i, l := range labels {
			custom = custom || l != defaultLabel(i)
		}
		if !custom {
			labels = nil // every name is LABEL_i
		}
	}
	switch h.ProblemType {
	case "", ProblemType:
	default:
		return fmt.Errorf("bert config: problem_type %q is not supported (want %s)", h.ProblemType, ProblemType)
	}
	h.Config.NumLabels, h.Config.Labels = n, labels
	return nil
}

// defaultLabel is HuggingFace's name of class i.
func defaultLabel(i int) string { return "LABEL_" + strconv.Itoa(i) }

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
	h.Head = headOf(h.Architectures)
	if h.Head == HeadClassification {
		h.ClassifierDropoutProb = h.HiddenDropoutProb
		if h.ClassifierDropout != nil {
			h.ClassifierDropoutProb = *h.ClassifierDropout
		}
		if err := h.parseLabels(); err != nil {
			return Config{}, err
		}
	}
	if err := h.Config.Validate(); err != nil {
		return Config{}, err
	}
	return h.Config, nil
}

// MarshalConfig writes c as a HuggingFace BERT config.json: architectures names the head, and
// a classifier's config has num_labels, id2label, label2id and problem_type as transformers
// writes them.
func MarshalConfig(c Config) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	h := hfConfig{Config: c, ModelType: "bert", Architectures: []string{string(c.head())}, PosEmbType: "absolute"}
	if c.head() == HeadClassification {
		id2label, label2id := make(map[string]string, c.NumLabels), make(map[string]int, c.NumLabels)
		for i := range c.NumLabels {
			id2label[strconv.Itoa(i)], label2id[c.Label(i)] = c.Label(i), i
		}
		var err error
		if h.ID2Label, err = json.Marshal(id2label); err != nil {
			return nil, err
		}
		if h.Label2ID, err = json.Marshal(label2id); err != nil {
			return nil, err
		}
		h.NumLabels, h.ProblemType, h.ClassifierDropout = &c.NumLabels, ProblemType, &c.ClassifierDropoutProb
	}
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
