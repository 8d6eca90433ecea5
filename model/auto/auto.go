// Package auto loads and saves any model family qkv knows by the model_type of its
// config.json, as HuggingFace's Auto classes do: gpt2 (model/gpt), bert (model/bert),
// marian (model/transformer) and qkv-seq2seq (model/seq2seq, qkv's own recurrent
// encoder–decoder).
package auto

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/hf"
	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/model/seq2seq"
	"github.com/qkvdev/qkv/model/transformer"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
)

// Model is a loaded model of any family.
type Model interface {
	// Type is the config's model_type.
	Type() string
	// Parameters are the model's weights by HuggingFace name.
	Parameters() *nn.Params
	// ConfigJSON is the HuggingFace config.json of the model.
	ConfigJSON() ([]byte, error)
}

type gptModel struct{ *gpt.Model }

func (m gptModel) Type() string                { return "gpt2" }
func (m gptModel) Parameters() *nn.Params      { return &m.Params }
func (m gptModel) ConfigJSON() ([]byte, error) { return gpt.MarshalConfig(m.Config) }

type bertModel struct{ *bert.Model }

func (m bertModel) Type() string                { return "bert" }
func (m bertModel) Parameters() *nn.Params      { return &m.Params }
func (m bertModel) ConfigJSON() ([]byte, error) { return bert.MarshalConfig(m.Config) }

type marianModel struct{ *transformer.Model }

func (m marianModel) Type() string                { return "marian" }
func (m marianModel) Parameters() *nn.Params      { return &m.Params }
func (m marianModel) ConfigJSON() ([]byte, error) { return transformer.MarshalConfig(m.Config) }

type seq2seqModel struct{ *seq2seq.Model }

func (m seq2seqModel) Type() string                { return seq2seq.ModelType }
func (m seq2seqModel) Parameters() *nn.Params      { return &m.Params }
func (m seq2seqModel) ConfigJSON() ([]byte, error) { return seq2seq.MarshalConfig(m.Config) }

// Family returns the model family's own model behind m: a *gpt.Model, *bert.Model,
// *transformer.Model or *seq2seq.Model.
func Family(m Model) any {
	switch v := m.(type) {
	case gptModel:
		return v.Model
	case bertModel:
		return v.Model
	case marianModel:
		return v.Model
	case seq2seqModel:
		return v.Model
	}
	return nil
}

// Wrap returns the Model view of a *gpt.Model, *bert.Model, *transformer.Model or
// *seq2seq.Model.
func Wrap(m any) (Model, error) {
	switch v := m.(type) {
	case *seq2seq.Model:
		return seq2seqModel{v}, nil
	case *gpt.Model:
		return gptModel{v}, nil
	case *bert.Model:
		return bertModel{v}, nil
	case *transformer.Model:
		return marianModel{v}, nil
	}
	return nil, fmt.Errorf("auto: unsupported model type %T", m)
}

// ModelType reads the model_type of dir's config.json.
func ModelType(dir string) (string, error) {
	data, err := hf.ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return "", err
	}
	var c struct {
		ModelType string `json:"model_type"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return "", fmt.Errorf("%s: not valid JSON: %w", filepath.Join(dir, "config.json"), err)
	}
	return c.ModelType, nil
}

// LoadForInference is Load for a model that will only run inference: a generative (GPT)
// model's weight matrices are read in format (gpt.LoadForInference: bf16 and int8 packed as
// they are read, fp32 as the GEMM kernel's panels where the CPU runs them), so its float32
// weights are never all held beside them; a BERT encoder's are packed for the arithmetic set
// now as they are read (bert.LoadForCompute: bfloat16 panels under bfloat16 compute, float32
// panels otherwise, whatever format says). Either can then not be trained or saved. The
// encoder–decoder families load as Load loads them, in float32.
func LoadForInference(dir string, format tensor.WeightFormat) (Model, error) {
	return load(dir, true, format)
}

// Load reads a model folder of any supported family. A training run gives its newest intact
// checkpoint and a checkpoint folder is verified against its manifest first (see
// checkpoint.ResolveModel; Resolve also reports the damaged checkpoints a run passed over).
func Load(dir string) (Model, error) { return load(dir, false, tensor.FP32) }

// load is Load, or with inference set LoadForInference in format.
func load(dir string, inference bool, format tensor.WeightFormat) (Model, error) {
	dir, _, err := checkpoint.ResolveModel(dir)
	if err != nil {
		return nil, err
	}
	mt, err := ModelType(dir)
	if err != nil {
		return nil, err
	}
	switch mt {
	case "gpt2":
		var m *gpt.Model
		if inference {
			m, err = gpt.LoadForInference(dir, format)
		} else {
			m, err = gpt.Load(dir)
		}
		if err != nil {
			return nil, err
		}
		return gptModel{m}, nil
	case "bert":
		read := bert.Load
		if inference {
			read = bert.LoadForCompute
		}
		m, err := read(dir)
		if err != nil {
			return nil, err
		}
		return bertModel{m}, nil
	case "marian":
		m, err := transformer.Load(dir)
		if err != nil {
			return nil, err
		}
		return marianModel{m}, nil
	case seq2seq.ModelType:
		m, err := seq2seq.Load(dir)
		if err != nil {
			return nil, err
		}
		return seq2seqModel{m}, nil
	}
	return nil, fmt.Errorf("%s: model_type %q is not supported (gpt2, bert, marian, %s)", dir, mt, seq2seq.ModelType)
}

// Save writes m as a HuggingFace model folder: config.json (with torch_dtype) and
// model.safetensors with HuggingFace names and shapes, in dtype (F32, F16 or BF16).
func Save(m Model, dir string, dtype safetensors.DType) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg, err := m.ConfigJSON()
	if err != nil {
		return err
	}
	var obj map[string]any
	if err := json.Unmarshal(cfg, &obj); err != nil {
		return err
	}
	obj["torch_dtype"] = map[safetensors.DType]string{safetensors.DTypeF32: "float32", safetensors.DTypeF16: "float16", safetensors.DTypeBF16: "bfloat16"}[dtype]
	if err := hf.SaveWeightsAs(filepath.Join(dir, "model.safetensors"), m.Parameters(), dtype); err != nil {
		return err
	}
	out, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "config.json"), append(out, '\n'), 0o644)
}
