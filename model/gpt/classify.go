package gpt

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/hf"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
)

// Classifier is GPT-1's fine-tuning for a sentence pair (Radford et al., 2018, §3.3): the pair
// is one sequence "start premise delim hypothesis extract", the final hidden state of the
// extract token goes through a linear head, and the language-model loss over the sequence is
// added with weight LMWeight (λ = 0.5 in the paper) as an auxiliary objective.
//
// The tokens start, delim, extract and a padding token are appended to the language model's
// vocabulary (their embeddings drawn like the others). The model saves as HuggingFace's
// GPT2ForSequenceClassification: transformer.* weights, score.weight (K, C) without a bias, and
// pad_token_id set, so that the "last token that is not padding" HuggingFace classifies is the
// extract token.
type Classifier struct {
	*Model
	Score    *nn.Linear // score: C → K
	Labels   []string   // class names, id2label
	LMWeight float32    // λ, the weight of the auxiliary language-model loss

	Start, Delim, Extract, Pad int // the pair tokens' ids: V, V+1, V+2, V+3 of the language model's V
}

// PairTokens is how many tokens NewClassifier adds to the vocabulary.
const PairTokens = 4

// NewClassifier extends lm with the pair tokens and a classifier over len(labels) classes,
// drawn from seed. lm itself is left unchanged.
func NewClassifier(lm *Model, labels []string, seed uint64) (*Classifier, error) {
	if len(labels) < 2 {
		return nil, fmt.Errorf("gpt classifier: %d classes, want at least 2", len(labels))
	}
	grown, err := lm.GrowVocab(PairTokens, seed)
	if err != nil {
		return nil, err
	}
	c := withScore(grown, labels)
	tensor.Normal(c.Score.Weight.Value, 0, 0.02, tensor.NewRNG(seed+1))
	v := lm.Config.VocabSize
	c.Start, c.Delim, c.Extract, c.Pad = v, v+1, v+2, v+3
	return c, nil
}

// withScore adds the classifier over labels to m.
func withScore(m *Model, labels []string) *Classifier {
	c := &Classifier{Model: m, Labels: labels, LMWeight: 0.5}
	c.Score = nn.NewLinear(&m.Params, "score", m.Config.NEmbd, len(labels), false, true)
	return c
}

// Hidden returns the final hidden states (B, T, C), after ln_f, of B rows of T ids. rng
// non-nil turns dropout on. A model packed for inference (PackForInference) takes its token
// embeddings from the packed LM head.
func (m *Model) Hidden(g *autograd.Graph, ids []int, b, t int, rng *tensor.RNG) *autograd.Var {
	if len(ids) != b*t || t > m.Config.NPositions {
		panic(fmt.Sprintf("gpt.Hidden: %d ids for (B, T) = (%d, %d) with n_positions %d", len(ids), b, t, m.Config.NPositions))
	}
	m.mustRecordable(g, "gpt.Hidden")
	x := g.Add(g.Reshape(m.embed(g, ids), b, t, m.Config.NEmbd), g.Narrow(m.Wpe.Weight, 0, 0, t)) // (B, T, C)
	x = g.Dropout(x, on(rng, m.Config.EmbdPdrop), rng)
	for _, blk := range m.H {
		x = blk.Forward(g, x, nil, rng)
	}
	return m.LnF.Forward(g, x)
}

// Sequence appends "start a delim b extract" to dst and returns it.
func (c *Classifier) Sequence(dst, a, b []int) []int {
	dst = append(dst, c.Start)
	dst = append(dst, a...)
	dst = append(dst, c.Delim)
	dst = append(dst, b...)
	return append(dst, c.Extract)
}

// Forward returns the class logits (B, K) and the auxiliary language-model loss of B rows of T
// ids, each a Sequence padded with Pad after its extract token at lengths[i]-1. rng non-nil
// turns dropout on.
func (c *Classifier) Forward(g *autograd.Graph, ids []int, lengths []int, b, t int, rng *tensor.RNG) (logits, lm *autograd.Var) {
	h := c.Hidden(g, ids, b, t, rng) // (B, T, C)
	C := c.Config.NEmbd
	flat := g.Reshape(h, b*t, C) // (B·T, C)
	extract := make([]int, b)
	targets := make([]int, b*t)
	for i, n := range lengths {
		extract[i] = i*t + n - 1
		for j := range t {
			targets[i*t+j] = tensor.IgnoreIndex
			if j+1 < n {
				targets[i*t+j] = ids[i*t+j+1]
			}
		}
	}
	logits = c.Score.Forward(g, g.Embedding(flat, extract))            // (B, K)
	lm = g.CrossEntropy(g.Linear(h, c.Wte.Weight, nil, true), targets) // over (B, T, V)
	return logits, lm
}

// classifierConfig is config.json of GPT2ForSequenceClassification, with the pair tokens.
type classifierConfig struct {
	hfConfig
	NumLabels   int               `json:"num_labels"`
	ID2Label    map[string]string `json:"id2label"`
	Label2ID    map[string]int    `json:"label2id"`
	ProblemType string            `json:"problem_type"`
	PadTokenID  *int              `json:"pad_token_id"`
	StartID     *int              `json:"start_token_id"`
	DelimID     *int              `json:"delimiter_token_id"`
	ExtractID   *int              `json:"extract_token_id"`
	LMWeight    float32           `json:"lm_coef"`
}

// Save writes the classifier as a HuggingFace GPT2ForSequenceClassification folder into dir:
// the transformer's weights under "transformer.", the head as score.weight.
func (c *Classifier) Save(dir string) error { return c.save(dir, "transformer.") }

// SaveCheckpoint writes the same folder with the parameters' own names (wte.weight, not
// transformer.wte.weight), as a training checkpoint stores them; LoadClassifier reads both.
func (c *Classifier) SaveCheckpoint(dir string) error { return c.save(dir, "") }

func (c *Classifier) save(dir, prefix string) error {
	h := classifierConfig{
		hfConfig:  hfConfig{Config: c.Config, ModelType: "gpt2", Architectures: []string{"GPT2ForSequenceClassification"}, NCtx: c.Config.NPositions},
		NumLabels: len(c.Labels), ID2Label: map[string]string{}, Label2ID: map[string]int{}, ProblemType: "single_label_classification",
		PadTokenID: &c.Pad, StartID: &c.Start, DelimID: &c.Delim, ExtractID: &c.Extract, LMWeight: c.LMWeight,
	}
	for i, l := range c.Labels {
		h.ID2Label[strconv.Itoa(i)], h.Label2ID[l] = l, i
	}
	cfg, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	ps := &nn.Params{}
	for _, p := range c.Params.List() {
		name := p.Name
		if name != "score.weight" {
			name = prefix + name
		}
		ps.Add(name, p.Decay, p.Var.Value.Shape()...).Value = p.Var.Value
	}
	if err := hf.SaveFolder(dir, append(cfg, '\n'), ps); err != nil {
		return fmt.Errorf("gpt classifier: %w", err)
	}
	return nil
}

// LoadClassifier reads a folder Save wrote.
func LoadClassifier(dir string) (*Classifier, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := hf.ReadConfig(path)
	if err != nil {
		return nil, fmt.Errorf("gpt classifier: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var h classifierConfig
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(h.Architectures) == 0 || h.Architectures[0] != "GPT2ForSequenceClassification" || h.StartID == nil || h.DelimID == nil || h.ExtractID == nil || h.PadTokenID == nil {
		return nil, fmt.Errorf("%s: not a GPT pair classifier (want architectures GPT2ForSequenceClassification with start, delimiter, extract and pad token ids)", path)
	}
	if h.NumLabels < 2 || h.NumLabels > 1<<16 || len(h.ID2Label) != h.NumLabels {
		return nil, fmt.Errorf("%s: num_labels = %d with %d id2label entries, want 2..65536 matching", path, h.NumLabels, len(h.ID2Label))
	}
	labels := make([]string, h.NumLabels)
	for i := range labels {
		l, ok := h.ID2Label[strconv.Itoa(i)]
		if !ok {
			return nil, fmt.Errorf("%s: id2label has no class %d", path, i)
		}
		labels[i] = l
	}
	for _, id := range []int{*h.StartID, *h.DelimID, *h.ExtractID, *h.PadTokenID} {
		if id < 0 || id >= cfg.VocabSize {
			return nil, fmt.Errorf("%s: pair token id %d is outside the vocabulary of %d", path, id, cfg.VocabSize)
		}
	}
	m, err := build(cfg)
	if err != nil {
		return nil, err
	}
	c := withScore(m, labels)
	c.Start, c.Delim, c.Extract, c.Pad, c.LMWeight = *h.StartID, *h.DelimID, *h.ExtractID, *h.PadTokenID, h.LMWeight
	files, err := hf.OpenWeights(dir)
	if err != nil {
		return nil, fmt.Errorf("gpt classifier: %w", err)
	}
	defer hf.CloseAll(files)
	if err := hf.LoadFrom(files, &c.Params, renameHF); err != nil {
		return nil, fmt.Errorf("gpt classifier: %w", err)
	}
	return c, nil
}
