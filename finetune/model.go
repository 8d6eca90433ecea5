package finetune

import (
	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
)

// Model is a pair classifier: it lays out a batch of pairs its own way and returns the class
// logits and the loss to minimise.
type Model interface {
	Params() *nn.Params
	// Positions is the longest sequence the model takes; Specials how many tokens it adds
	// around a pair.
	Positions() int
	Specials() int
	// VocabSize is the number of token ids the pairs may use.
	VocabSize() int
	// Forward returns the logits (B, K) of pairs, each fitting Positions with its specials,
	// and the training loss against their labels (nil when labels is nil). rng non-nil turns
	// dropout on.
	Forward(g *autograd.Graph, pairs []Pair, labels []int, rng *tensor.RNG) (logits, loss *autograd.Var)
	// Save writes the model folder (config and weights) into dir; SaveCheckpoint writes it
	// with the parameters' own names, as training checkpoints store them.
	Save(dir string) error
	SaveCheckpoint(dir string) error
}

// BERT fine-tunes a bert.Model with the classification head: "[CLS] A [SEP] B [SEP]", token
// types 0 then 1, padded with [PAD] under an attention mask.
type BERT struct {
	M             *bert.Model
	Cls, Sep, Pad int

	batch bert.Batch
}

func (m *BERT) Params() *nn.Params    { return &m.M.Params }
func (m *BERT) Positions() int        { return m.M.Config.MaxPositionEmbeddings }
func (m *BERT) Specials() int         { return 3 }
func (m *BERT) VocabSize() int        { return m.M.Config.VocabSize }
func (m *BERT) Save(dir string) error { return m.M.Save(dir) }

// SaveCheckpoint implements Model: a BERT folder's names are its parameters'.
func (m *BERT) SaveCheckpoint(dir string) error { return m.M.Save(dir) }

// Forward implements Model.
func (m *BERT) Forward(g *autograd.Graph, pairs []Pair, labels []int, rng *tensor.RNG) (logits, loss *autograd.Var) {
	T := 0
	for _, p := range pairs {
		T = max(T, len(p.A)+len(p.B)+3)
	}
	n := len(pairs) * T
	b := &m.batch
	b.B, b.T = len(pairs), T
	b.InputIDs = resize(b.InputIDs, n)
	b.TokenTypeIDs = resize(b.TokenTypeIDs, n)
	b.AttentionMask = resize(b.AttentionMask, n)
	for i, p := range pairs {
		ids, types, mask := b.InputIDs[i*T:(i+1)*T], b.TokenTypeIDs[i*T:(i+1)*T], b.AttentionMask[i*T:(i+1)*T]
		row := append(append(append(append(append(ids[:0], m.Cls), p.A...), m.Sep), p.B...), m.Sep)
		for j := range T {
			types[j], mask[j] = 0, 1
			switch {
			case j >= len(row):
				ids[j], mask[j] = m.Pad, 0
			case j > len(p.A)+1:
				types[j] = 1
			}
		}
	}
	if labels == nil {
		return m.M.Classify(g, b, rng), nil
	}
	loss, logits = m.M.Loss(g, b, labels, rng)
	return logits, loss
}

// GPT fine-tunes a gpt.Classifier as GPT-1 did: "start A delim B extract", padded after the
// extract token; the loss is the classification loss plus LMWeight times the language-model
// loss over the sequence.
type GPT struct {
	C *gpt.Classifier

	ids, lengths []int
}

func (m *GPT) Params() *nn.Params    { return &m.C.Params }
func (m *GPT) Positions() int        { return m.C.Config.NPositions }
func (m *GPT) Specials() int         { return 3 }
func (m *GPT) VocabSize() int        { return m.C.Start } // the pair tokens follow the language model's vocabulary
func (m *GPT) Save(dir string) error { return m.C.Save(dir) }

// SaveCheckpoint implements Model.
func (m *GPT) SaveCheckpoint(dir string) error { return m.C.SaveCheckpoint(dir) }

// Forward implements Model.
func (m *GPT) Forward(g *autograd.Graph, pairs []Pair, labels []int, rng *tensor.RNG) (logits, loss *autograd.Var) {
	T := 0
	for _, p := range pairs {
		T = max(T, len(p.A)+len(p.B)+3)
	}
	m.ids = resize(m.ids, len(pairs)*T)
	m.lengths = resize(m.lengths, len(pairs))
	for i, p := range pairs {
		row := m.C.Sequence(m.ids[i*T:i*T], p.A, p.B)
		m.lengths[i] = len(row)
		for j := len(row); j < T; j++ {
			m.ids[i*T+j] = m.C.Pad
		}
	}
	logits, lm := m.C.Forward(g, m.ids, m.lengths, len(pairs), T, rng)
	if labels == nil {
		return logits, nil
	}
	return logits, g.Add(g.CrossEntropy(logits, labels), g.Scale(lm, m.C.LMWeight))
}

func resize(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}
