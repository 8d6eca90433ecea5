package bert

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/qkvdev/qkv/hf"
	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/tensor"
)

// File names inside a model folder.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
)

// Save writes config.json and model.safetensors into dir (created if needed), each atomically.
func (m *Model) Save(dir string) error {
	if m.packedOnly {
		return fmt.Errorf("bert: cannot save a model whose float32 weights were released for inference")
	}
	return hf.SaveModel(dir, "bert", m.Config, MarshalConfig, &m.Params)
}

// LoadOptions say which head a loaded model gets and what happens to what the checkpoint lacks.
type LoadOptions struct {
	// Head is the head to build; "" takes what the checkpoint holds: a classifier when its config
	// names BertForSequenceClassification, else the pretraining heads when it has cls.* weights,
	// else none (the encoder of a BertModel checkpoint).
	Head Head
	// NumLabels and Labels give a new classifier's classes (fine-tuning a pretrained encoder);
	// zero takes the config's. Labels may be nil (LABEL_0, LABEL_1, …).
	NumLabels int
	Labels    []string
	// Seed draws what the checkpoint lacks (a new head, a missing pooler) from N(0, 0.02).
	Seed uint64
	// Warn receives a line for each group of parameters initialised rather than loaded and for
	// checkpoint tensors left unused; nil discards them.
	Warn io.Writer
}

// Load reads a BERT model folder in HuggingFace's layout with the head its weights hold (see
// LoadOptions), writing warnings to standard error.
func Load(dir string) (*Model, error) {
	return LoadWith(dir, LoadOptions{Warn: os.Stderr})
}

// LoadWith reads a BERT model folder in HuggingFace's layout: a BertForPreTraining,
// BertForMaskedLM, BertForSequenceClassification or BertModel checkpoint, with or without the
// "bert." prefix, with the older LayerNorm gamma/beta names, in F32, F16 or BF16, buffers
// (position_ids, token_type_ids) ignored. The encoder must be complete; the pooler and the head
// are initialised when the checkpoint lacks them, with a warning.
func LoadWith(dir string, o LoadOptions) (*Model, error) {
	return loadWith(dir, o, "")
}

// LoadForCompute is Load followed by PackForCompute, with each of the encoder's weight
// matrices packed as it is read: bfloat16 panels under bfloat16 compute, float32 panels under
// float32 compute where the CPU has them. The float32 matrices are never all held at once
// (under bfloat16 compute a BERT-base encoder then loads in about half the memory), and the
// model is what PackForCompute leaves: inference only, the same outputs. On a CPU with
// neither kind of panels it is Load.
func LoadForCompute(dir string) (*Model, error) {
	return loadWith(dir, LoadOptions{Warn: os.Stderr}, computeFormat())
}

// loadWith is LoadWith, with the layers' weight matrices packed in format as they are read
// unless format is "".
func loadWith(dir string, o LoadOptions, format tensor.WeightFormat) (*Model, error) {
	cfg, path, err := hf.ReadModelConfig(dir, "bert", ParseConfig)
	if err != nil {
		return nil, err
	}
	files, err := hf.OpenWeights(dir)
	if err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	defer hf.CloseAll(files)
	present := presentParts(files)
	if cfg, err = headFor(cfg, o, present, files); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	want := cfg.head().parts()
	unused := 0
	rename := func(name string) (string, bool) {
		name, ok := renameHF(name)
		if name != "" && partOf(name)&^want != 0 {
			unused++
			return "", true
		}
		return name, ok
	}
	// Sizes come from the files' headers before anything is allocated.
	if err := hf.CheckFits(path, cfg.NumParams(), files, rename); err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	m, err := build(cfg, want&present)
	if err != nil {
		return nil, err
	}
	unused = 0
	var sink *packSink
	if format != "" {
		sink = m.releaseForPacking(format)
	}
	if err := hf.LoadInto(files, &m.Params, rename, sink); err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	if sink != nil {
		m.joinQKVBiases()
		m.packedOnly = true
	}
	warn := o.Warn
	if warn == nil {
		warn = io.Discard
	}
	if missing := want &^ present; missing != 0 {
		added := m.add(missing)
		initialise(added, o.Seed)
		var names []string
		for _, p := range added {
			names = append(names, p.Name)
		}
		fmt.Fprintf(warn, "warning: %s has no %s; initialised them (N(0, 0.02)): train before use\n", dir, strings.Join(groups(names), ", "))
	}
	if unused > 0 {
		fmt.Fprintf(warn, "warning: %s: %d tensors of heads other than %s left unused\n", dir, unused, cfg.head())
	}
	return m, nil
}

// groups shortens parameter names to their layers: bert.pooler.dense.weight → bert.pooler.dense.
func groups(names []string) []string {
	var out []string
	for _, n := range names {
		g := n[:max(strings.LastIndexByte(n, '.'), 0)]
		if g == "" || g == "cls.predictions" {
			g = n
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// presentParts are the optional parameter groups the files hold weights of.
func presentParts(files []*safetensors.File) part {
	var p part
	for _, f := range files {
		for _, info := range f.Tensors() {
			if name, ok := renameHF(info.Name); ok && name != "" {
				p |= partOf(name)
			}
		}
	}
	return p
}

// headFor settles the head of a model loaded from files: o.Head, or the config's classifier, or
// the pretraining heads when the files hold any, else none; and a classifier's classes.
func headFor(cfg Config, o LoadOptions, present part, files []*safetensors.File) (Config, error) {
	h := o.Head
	switch {
	case h != "":
	case cfg.Head == HeadClassification:
		h = HeadClassification
	case present&(partMLM|partNSP) != 0:
		h = HeadPretraining
	default:
		h = HeadNone
	}
	if h != HeadClassification {
		if o.NumLabels != 0 || o.Labels != nil {
			return Config{}, fmt.Errorf("labels given for the %s head, which has no classifier", h)
		}
		cfg.Head, cfg.NumLabels, cfg.Labels, cfg.ClassifierDropoutProb = h, 0, nil, 0
		return cfg, cfg.Validate()
	}
	fromConfig := cfg.Head == HeadClassification
	if !fromConfig {
		cfg.ClassifierDropoutProb = cfg.HiddenDropoutProb
	}
	cfg.Head = h
	switch {
	case o.Labels != nil:
		cfg.NumLabels, cfg.Labels = len(o.Labels), o.Labels
	case o.NumLabels != 0:
		cfg.NumLabels, cfg.Labels = o.NumLabels, nil
	case !fromConfig:
		return Config{}, fmt.Errorf("a new classifier needs its classes: give the number of labels or their names")
	}
	if present&partClassifier != 0 {
		if f, ok := hf.Find(files, "classifier.weight"); ok {
			info, _ := f.Info("classifier.weight")
			if len(info.Shape) == 2 && info.Shape[0] != cfg.NumLabels {
				return Config{}, fmt.Errorf("classifier.weight has %d classes but %d labels are asked for: fine-tune from the encoder (a checkpoint without the classifier) to change the classes", info.Shape[0], cfg.NumLabels)
			}
		}
	}
	return cfg, cfg.Validate()
}

// renameHF maps names found in BERT checkpoints to parameter names: the "bert." prefix that
// BertModel checkpoints lack, the older LayerNorm gamma/beta spelling, the position_ids and
// token_type_ids buffers and the tied decoder weight (skipped).
func renameHF(name string) (string, bool) {
	switch {
	case strings.HasSuffix(name, ".gamma"):
		name = strings.TrimSuffix(name, ".gamma") + ".weight"
	case strings.HasSuffix(name, ".beta"):
		name = strings.TrimSuffix(name, ".beta") + ".bias"
	}
	for _, p := range []string{"embeddings.", "encoder.", "pooler."} {
		if strings.HasPrefix(name, p) {
			name = "bert." + name
		}
	}
	switch name {
	case "bert.embeddings.position_ids", "bert.embeddings.token_type_ids", "cls.predictions.decoder.weight":
		return "", true
	case "cls.predictions.decoder.bias":
		return "", true // the same tensor as cls.predictions.bias
	}
	return name, true
}
