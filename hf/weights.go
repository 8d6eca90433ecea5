// Package hf speaks HuggingFace's formats: safetensors weights with HF parameter names,
// config.json, tokenizer files, and the Hub's download protocol (subpackages safetensors and hub).
package hf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/internal/sysmem"
	"github.com/qkvdev/qkv/nn"
)

// MaxConfigSize bounds the config.json files this package reads.
const MaxConfigSize = 1 << 20

// maxIndexSize bounds a shard index: one line per tensor, so large mixture-of-experts
// checkpoints reach a few MiB.
const maxIndexSize = 64 << 20

// ReadConfig reads a config.json of at most MaxConfigSize bytes. Anything but a regular file (a
// FIFO, a device, a folder) is refused without blocking.
func ReadConfig(path string) ([]byte, error) {
	return fileutil.ReadFile(path, MaxConfigSize, "a model config")
}

// Rename maps a tensor name found in a file to the model's parameter name. It returns
// ("", true) for tensors to skip (buffers such as GPT-2's attn.bias), and ok = false for a name
// the model does not know.
type Rename func(fileName string) (param string, ok bool)

// LoadWeights fills every parameter in ps from the safetensors file at path. Each tensor's name
// goes through rename; every parameter must be found exactly once with its exact shape. F32,
// F16, BF16 and F64 tensors are converted to float32. Errors name the file and the tensor.
func LoadWeights(path string, ps *nn.Params, rename Rename) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return LoadFrom([]*safetensors.File{f}, ps, rename)
}

// WeightsIndexFile names the index of a checkpoint sharded over several safetensors files.
const WeightsIndexFile = "model.safetensors.index.json"

// OpenWeights opens the weights of a model folder: model.safetensors, or every shard named by
// model.safetensors.index.json. The caller closes the files.
func OpenWeights(dir string) ([]*safetensors.File, error) {
	single := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(single); err == nil {
		f, err := safetensors.Open(single)
		if err != nil {
			return nil, err
		}
		return []*safetensors.File{f}, nil
	}
	index := filepath.Join(dir, WeightsIndexFile)
	data, err := fileutil.ReadFile(index, maxIndexSize, "a weights index")
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s: no model.safetensors (nor %s)", dir, WeightsIndexFile)
		}
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil || len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: not a valid weights index (want a non-empty weight_map)", index)
	}
	var shards []string
	for _, file := range idx.WeightMap {
		if !filepath.IsLocal(file) || strings.ContainsAny(file, `/\`) || file == "." || strings.ContainsFunc(file, unicode.IsControl) {
			return nil, fmt.Errorf("%s: shard %q is not a file name inside the folder; the index must name shard files beside it, such as model-00001-of-00002.safetensors", index, file)
		}
		if !slices.Contains(shards, file) {
			shards = append(shards, file)
		}
	}
	slices.Sort(shards)
	var files []*safetensors.File
	for _, s := range shards {
		f, err := safetensors.Open(filepath.Join(dir, s))
		if err != nil {
			CloseAll(files)
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// CloseAll closes every file.
func CloseAll(files []*safetensors.File) {
	for _, f := range files {
		f.Close()
	}
}

// LoadFrom is LoadWeights over open files (the shards of one checkpoint).
func LoadFrom(files []*safetensors.File, ps *nn.Params, rename Rename) error {
	return LoadInto(files, ps, rename, nil)
}

// Sink takes the values of the parameters that a model does not hold in float32, such as
// weight matrices packed for inference as they are read: a parameter whose Value is nil.
type Sink interface {
	// Shape is the shape the parameter's tensor must have.
	Shape(param string) []int
	// Take receives its values, a fresh slice the sink may keep.
	Take(param string, vals []float32) error
}

// LoadInto is LoadFrom, except that the values of a parameter whose Value is nil go to sink
// (which may then be nil only when no parameter's Value is). Each tensor is read into memory
// of its own and copied or handed over before the next is read.
func LoadInto(files []*safetensors.File, ps *nn.Params, rename Rename, sink Sink) error {
	seen := make(map[string]string, len(ps.List()))
	for _, f := range files {
		if err := loadFile(f, ps, rename, sink, seen); err != nil {
			return err
		}
	}
	return CheckMissing(files, ps, seen)
}

// CheckMissing names (the first five of) the parameters of ps that no tensor of files gave:
// seen holds the names of those that one did.
func CheckMissing(files []*safetensors.File, ps *nn.Params, seen map[string]string) error {
	var missing []string
	for _, p := range ps.List() {
		if _, ok := seen[p.Name]; !ok {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) > 0 {
		more := ""
		if len(missing) > 5 {
			more = fmt.Sprintf(" and %d more", len(missing)-5)
			missing = missing[:5]
		}
		where := files[0].Name()
		if len(files) > 1 {
			where = filepath.Dir(where)
		}
		return fmt.Errorf("%s: missing tensors %s%s", where, strings.Join(missing, ", "), more)
	}
	return nil
}

func loadFile(f *safetensors.File, ps *nn.Params, rename Rename, sink Sink, seen map[string]string) error {
	file := f.Name()
	for _, info := range f.Tensors() {
		name, ok := rename(info.Name)
		if !ok {
			return fmt.Errorf("%s: tensor %q is not a parameter of this model (is the file for another architecture?)", file, info.Name)
		}
		if name == "" {
			continue
		}
		p, ok := ps.Get(name)
		if !ok {
			return fmt.Errorf("%s: tensor %q is not a parameter of this model (is the file for another architecture?)", file, info.Name)
		}
		if prev, dup := seen[name]; dup {
			return fmt.Errorf("%s: tensors %q and %q both give parameter %q", file, prev, info.Name, name)
		}
		seen[name] = info.Name
		taken := p.Var.Value == nil
		var want []int
		if taken {
			want = sink.Shape(name)
		} else {
			want = p.Var.Value.Shape()
		}
		if !slices.Equal(info.Shape, want) {
			return fmt.Errorf("%s: tensor %q has shape %v, but the config gives %v", file, info.Name, info.Shape, want)
		}
		if !info.DType.Float() {
			return fmt.Errorf("%s: tensor %q has dtype %s; weights must be F32, F16, BF16 or F64", file, info.Name, info.DType)
		}
		data, err := f.Float32(info.Name)
		if err != nil {
			return err
		}
		if taken {
			if err := sink.Take(name, data); err != nil {
				return fmt.Errorf("%s: tensor %q: %w", file, info.Name, err)
			}
			continue
		}
		copy(p.Var.Value.Data(), data)
	}
	return nil
}

// CountParams returns the number of values files hold for parameters: every tensor that rename
// maps to a parameter name (buffers and skipped tensors aside), read from the headers alone.
func CountParams(files []*safetensors.File, rename Rename) int64 {
	var n int64
	for _, f := range files {
		for _, info := range f.Tensors() {
			if name, ok := rename(info.Name); ok && name != "" {
				n += info.NumElements()
			}
		}
	}
	return n
}

// checkSlack is how many more parameters than its weights hold a config may describe before
// CheckFits refuses it unbuilt: a few missing tensors are reported by name once the model is
// built (LoadFrom), but a config that asks for far more memory than its weights could fill is
// refused before anything is allocated.
const checkSlack = 1 << 24

// CheckFits is called before a model is allocated from a config and its weights files, from
// the files' headers alone: want (the config's parameter count) float32 values must fit in the
// memory the machine has, and must not exceed what the files hold by more than a few tensors'
// worth, or the config does not belong to the weights. config names the config file.
func CheckFits(config string, want int64, files []*safetensors.File, rename Rename) error {
	where := files[0].Name()
	if len(files) > 1 {
		where = filepath.Dir(where) + " (" + fmt.Sprint(len(files)) + " shards)"
	}
	if have := CountParams(files, rename); want > have+checkSlack {
		return fmt.Errorf("%s describes a model of %d parameters, but %s holds only %d: the config does not belong to these weights", config, want, where, have)
	}
	return sysmem.Check(uint64(want)*4, fmt.Sprintf("the model %s (%d parameters as float32)", filepath.Dir(config), want))
}

// Find returns the file among files that holds tensor name.
func Find(files []*safetensors.File, name string) (*safetensors.File, bool) {
	for _, f := range files {
		if _, ok := f.Info(name); ok {
			return f, true
		}
	}
	return nil, false
}

// SaveWeights writes every parameter of ps as F32 to a safetensors file at path, atomically.
func SaveWeights(path string, ps *nn.Params) error {
	return SaveWeightsAs(path, ps, safetensors.DTypeF32)
}

// SaveWeightsAs writes every parameter of ps in dtype (F32, F16 or BF16, rounded to nearest
// even) to a safetensors file at path, atomically, with PyTorch's "format" metadata.
func SaveWeightsAs(path string, ps *nn.Params, dtype safetensors.DType) error {
	list := ps.List()
	ts := make([]safetensors.Tensor, len(list))
	for i, p := range list {
		v := p.Var.Value.Contiguous()
		switch dtype {
		case safetensors.DTypeF32:
			ts[i] = safetensors.F32(p.Name, v.Shape(), v.Data())
		case safetensors.DTypeF16:
			ts[i] = safetensors.F16(p.Name, v.Shape(), v.Data())
		case safetensors.DTypeBF16:
			ts[i] = safetensors.BF16(p.Name, v.Shape(), v.Data())
		default:
			return fmt.Errorf("weights can be saved as F32, F16 or BF16, not %s", dtype)
		}
	}
	return safetensors.WriteFile(path, ts, map[string]string{"format": "pt"})
}

// SaveFolder writes a model folder into dir (created if needed): the weights of ps as
// model.safetensors, then config as config.json, each atomically.
func SaveFolder(dir string, config []byte, ps *nn.Params) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := SaveWeights(filepath.Join(dir, "model.safetensors"), ps); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "config.json"), config, 0o644)
}
