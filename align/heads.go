package align

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/hf"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

// RewardModel is a GPT backbone with a scalar head on the final hidden state of a sequence's
// last token (Ouyang et al. 2022, §3.5; Stiennon et al. 2020). It saves as HuggingFace's
// GPT2ForSequenceClassification with num_labels 1: the GPT's weights and score.weight (1, C).
type RewardModel struct {
	LM    *gpt.Model
	Score *nn.Linear // score: C → 1, registered in LM.Params
}

// NewRewardModel puts a scalar head, drawn N(0, 1/(C+1)) from seed as TRL does, on lm (whose
// parameters then include score.weight).
func NewRewardModel(lm *gpt.Model, seed uint64) *RewardModel {
	C := lm.Config.NEmbd
	r := &RewardModel{LM: lm, Score: nn.NewLinear(&lm.Params, "score", C, 1, false, true)}
	tensor.Normal(r.Score.Weight.Value, 0, 1/float64(C+1), tensor.NewRNG(seed))
	return r
}

// lastRows gathers, from h (B, T, C), the rows at the last token of each sequence (its
// length - 1): (B, C).
func lastRows(g *autograd.Graph, h *autograd.Var, lengths []int) *autograd.Var {
	b, t, c := h.Value.Dim(0), h.Value.Dim(1), h.Value.Dim(2)
	rows := make([]int, b)
	for i, n := range lengths {
		rows[i] = i*t + n - 1
	}
	return g.Embedding(g.Reshape(h, b*t, c), rows)
}

// Rewards returns the score of each of B sequences of T ids (padded after lengths[i]): (B, 1).
// dropout non-nil turns dropout on.
func (r *RewardModel) Rewards(g *autograd.Graph, ids, lengths []int, b, t int, dropout *tensor.RNG) *autograd.Var {
	h := r.LM.Hidden(g, ids, b, t, dropout) // (B, T, C)
	return r.Score.Forward(g, lastRows(g, h, lengths))
}

// Save writes the reward model folder: config.json, model.safetensors and the tokenizer.
func (r *RewardModel) Save(dir string, tok tokenizer.Tokenizer) error {
	if err := saveWithHead(dir, r.LM, "GPT2ForSequenceClassification", map[string]any{"num_labels": 1, "id2label": map[string]string{"0": "LABEL_0"}}); err != nil {
		return err
	}
	return tok.Save(dir)
}

// saveWithHead writes lm, whose parameters include a head, with config.json naming arch and
// holding extra settings. The parameters keep their names (wte.weight, …, score.weight): the
// training loop resumes from them as they are, and HuggingFace adds the transformer. prefix
// of a base model's weights when it loads them into a model with a head.
func saveWithHead(dir string, lm *gpt.Model, arch string, extra map[string]any) error {
	base, err := gpt.MarshalConfig(lm.Config)
	if err != nil {
		return err
	}
	cfg := map[string]any{}
	if err := json.Unmarshal(base, &cfg); err != nil {
		return err
	}
	cfg["architectures"] = []string{arch}
	for k, v := range extra {
		cfg[k] = v
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return hf.SaveFolder(dir, append(data, '\n'), &lm.Params)
}

// LoadRewardModel reads a folder RewardModel.Save wrote (or a HuggingFace
// GPT2ForSequenceClassification with one label, whose weights carry the transformer. prefix),
// with its tokenizer.
func LoadRewardModel(dir string) (*RewardModel, tokenizer.Tokenizer, error) {
	path := filepath.Join(dir, gpt.ConfigFile)
	data, err := hf.ReadConfig(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reward model: %w", err)
	}
	var h struct {
		Architectures []string `json:"architectures"`
		NumLabels     int      `json:"num_labels"`
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(h.Architectures) == 0 || h.Architectures[0] != "GPT2ForSequenceClassification" || h.NumLabels != 1 {
		return nil, nil, fmt.Errorf("%s: not a reward model (want architectures GPT2ForSequenceClassification with num_labels 1; train one with qkv finetune --method rm)", path)
	}
	cfg, err := gpt.ParseConfig(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	lm, err := gpt.New(cfg, 0)
	if err != nil {
		return nil, nil, err
	}
	r := &RewardModel{LM: lm, Score: nn.NewLinear(&lm.Params, "score", cfg.NEmbd, 1, false, true)}
	if err := loadParams(dir, &lm.Params); err != nil {
		return nil, nil, fmt.Errorf("reward model: %w", err)
	}
	tok, err := LoadTokenizer(dir)
	if err != nil {
		return nil, nil, err
	}
	return r, tok, nil
}

// loadParams reads dir's weights into ps, mapping transformer.NAME to NAME.
func loadParams(dir string, ps *nn.Params) error {
	files, err := hf.OpenWeights(dir)
	if err != nil {
		return err
	}
	defer hf.CloseAll(files)
	return hf.LoadFrom(files, ps, func(name string) (string, bool) {
		return strings.TrimPrefix(name, "transformer."), true
	})
}

// ValueHead is PPO's value function: a linear map from the policy's final hidden states to one
// value per position (TRL's AutoModelForCausalLMWithValueHead), in its own parameter set so
// the policy still saves as a plain GPT.
type ValueHead struct {
	Params nn.Params
	Linear *nn.Linear // v_head: C → 1
}

// NewValueHead draws a value head for width C from seed.
func NewValueHead(C int, seed uint64) *ValueHead {
	v := &ValueHead{}
	v.Linear = nn.NewLinear(&v.Params, "v_head", C, 1, true, true)
	tensor.Normal(v.Linear.Weight.Value, 0, 1/float64(C+1), tensor.NewRNG(seed))
	return v
}

// Forward maps hidden states (…, C) to values (…, 1).
func (v *ValueHead) Forward(g *autograd.Graph, h *autograd.Var) *autograd.Var {
	return v.Linear.Forward(g, h)
}
