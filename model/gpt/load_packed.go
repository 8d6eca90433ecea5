package gpt

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/hf"
	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/sysmem"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// LoadForInference reads a model folder for inference with its weight matrices in format
// (fp32, bf16 or int8). The model never holds a second copy of its weights: each tensor is
// read from the safetensors file in chunks, straight into its parameter (float32) or into a
// float32 temporary that is packed at once and dropped (bf16, int8: the linear layers and
// the token embedding, which is also the LM head). Tensors are read largest first, so the
// peak memory is about the compact weights, the float32 vectors (biases, LayerNorm, wpe) and
// the largest matrix in float32, and, once decoding starts, the key/value cache. With bf16
// or int8 the result is what PackForInference leaves: it runs inference only (no training,
// no Save, no other format). With fp32 under bfloat16 compute, the matrices' bfloat16 panels
// are made beside them (Pack) where the memory allows; under float32 compute on a CPU with
// float32 panels (AVX2 or AVX-512), the matrices are packed as them as they are read, as bf16 and
// int8 are: what PackForInference(fp32) leaves, without the float32 copies ever held.
func LoadForInference(dir string, format tensor.WeightFormat) (*Model, error) {
	switch format {
	case tensor.FP32, tensor.BF16, tensor.Int8:
	default:
		return nil, fmt.Errorf("gpt: weight format %q: want fp32, bf16 or int8", format)
	}
	// float32 panels hold the weights: packed as they are read, as bf16 and int8 are.
	m, err := load(dir, format, format != tensor.FP32 || tensor.FloatPanels())
	if err != nil || format != tensor.FP32 || !kernel.PanelsAvailable() {
		return m, err
	}
	// The panels are an optimisation: without the memory for them, prompts run unpacked.
	if sysmem.Check(2*uint64(m.Config.matrixParams()), "") != nil {
		return m, nil
	}
	return m, m.Pack(tensor.FP32)
}

// load reads a model folder (see Load and LoadForInference); with pack set, the matrices
// are packed in format as they are read and their float32 weights never held.
func load(dir string, format tensor.WeightFormat, pack bool) (*Model, error) {
	cfg, configPath, err := hf.ReadModelConfig(dir, "gpt", ParseConfig)
	if err != nil {
		return nil, err
	}
	files, err := hf.OpenWeights(dir)
	if err != nil {
		return nil, fmt.Errorf("gpt: %w", err)
	}
	defer hf.CloseAll(files)
	if err := checkFits(configPath, cfg, format, files); err != nil {
		return nil, fmt.Errorf("gpt: %w", err)
	}
	m, err := build(cfg)
	if err != nil {
		return nil, err
	}
	// The matrices to pack, by parameter name: their float32 buffers are dropped before any
	// is filled (build's allocations are never written), their shapes kept for the checks.
	packers := map[string]func(w *tensor.Tensor) error{}
	shapes := map[string][]int{}
	for _, p := range m.Params.List() {
		shapes[p.Name] = p.Var.Value.Shape()
	}
	if pack {
		m.releaseForPacking(format, packers)
	}
	if err := m.readTensors(files, shapes, packers); err != nil {
		return nil, err
	}
	return m, nil
}

// releaseForPacking drops the float32 buffers of the matrices that format packs (build's
// allocations, never written) and puts, by parameter name, a function that packs the
// matrix's values into pack.
func (m *Model) releaseForPacking(format tensor.WeightFormat, pack map[string]func(w *tensor.Tensor) error) {
	for _, b := range m.H {
		for _, l := range b.linears() {
			pack[m.paramName(l.Weight)] = func(w *tensor.Tensor) (err error) {
				l.Packed, err = tensor.Pack(w, !l.TorchLayout, format)
				return err
			}
			l.Weight.Value = nil
		}
	}
	pack["wte.weight"] = func(w *tensor.Tensor) (err error) {
		m.head, err = tensor.Pack(w, false, format)
		return err
	}
	m.Wte.Weight.Value = nil
	m.packedOnly = true
}

// readTensors reads every tensor of files into m, largest first: into its parameter, or
// through pack when pack has its name. shapes are the parameters' shapes.
func (m *Model) readTensors(files []*safetensors.File, shapes map[string][]int, pack map[string]func(w *tensor.Tensor) error) error {
	type entry struct {
		f    *safetensors.File
		info safetensors.TensorInfo
	}
	var all []entry
	for _, f := range files {
		for _, info := range f.Tensors() {
			all = append(all, entry{f, info})
		}
	}
	slices.SortStableFunc(all, func(a, b entry) int { return cmp.Compare(b.info.NumElements(), a.info.NumElements()) })
	seen := map[string]string{}
	for _, e := range all {
		f, info := e.f, e.info
		name, ok := renameHF(info.Name)
		if !ok {
			return fmt.Errorf("gpt: %s: tensor %q is not a parameter of this model (is the file for another architecture?)", f.Name(), info.Name)
		}
		if name == "" {
			continue
		}
		want, ok := shapes[name]
		switch {
		case !ok:
			return fmt.Errorf("gpt: %s: tensor %q is not a parameter of this model (is the file for another architecture?)", f.Name(), info.Name)
		case seen[name] != "":
			return fmt.Errorf("gpt: %s: tensors %q and %q both give parameter %q", f.Name(), seen[name], info.Name, name)
		case !slices.Equal(info.Shape, want):
			return fmt.Errorf("gpt: %s: tensor %q has shape %v, but the config gives %v", f.Name(), info.Name, info.Shape, want)
		case !info.DType.Float():
			return fmt.Errorf("gpt: %s: tensor %q has dtype %s; weights must be F32, F16, BF16 or F64", f.Name(), info.Name, info.DType)
		}
		seen[name] = info.Name
		packIt, compact := pack[name]
		var dst []float32
		if !compact {
			p, _ := m.Params.Get(name)
			dst = p.Var.Value.Data()
		}
		vals, err := readFloat32(f, info, dst)
		if err != nil {
			return fmt.Errorf("gpt: %w", err)
		}
		if name == "wte.weight" {
			if err := checkTiedHead(files, vals); err != nil {
				return err
			}
		}
		if !compact {
			continue
		}
		if err := packIt(tensor.FromData(vals, want...)); err != nil {
			return fmt.Errorf("gpt: %s: tensor %q: %w", f.Name(), info.Name, err)
		}
		// Hand the temporary back before the next one is read, so temporaries do not pile
		// up between collections.
		runtime.GC()
	}
	if err := hf.CheckMissing(files, &m.Params, seen); err != nil {
		return fmt.Errorf("gpt: %w", err)
	}
	return nil
}

// paramName returns the name under which v is registered.
func (m *Model) paramName(v *autograd.Var) string {
	for _, p := range m.Params.List() {
		if p.Var == v {
			return p.Name
		}
	}
	panic("gpt: a layer's weight is not among the model's parameters")
}

// checkFits refuses, from the files' headers alone, a config that does not belong to its
// weights (it asks for far more parameters than they hold) or a model whose weights do not
// fit in memory: as float32 (hf.CheckFits), or compact, with the largest matrix read in
// float32 before it is packed.
func checkFits(configPath string, cfg Config, format tensor.WeightFormat, files []*safetensors.File) error {
	want := cfg.NumParams()
	if format == tensor.FP32 {
		return hf.CheckFits(configPath, want, files, renameHF)
	}
	const slack = 1 << 24 // as hf.CheckFits: a few missing tensors are reported by name later
	if have := hf.CountParams(files, renameHF); want > have+slack {
		return fmt.Errorf("%s describes a model of %d parameters, but the weights hold only %d: the config does not belong to these weights", configPath, want, have)
	}
	matrices := cfg.matrixParams()
	per := map[tensor.WeightFormat]float64{tensor.BF16: 2, tensor.Int8: 1 + 4.0/32}[format]
	C, I := int64(cfg.NEmbd), int64(cfg.Inner())
	need := uint64(per*float64(matrices)) + 4*uint64(want-matrices) + 4*uint64(max(int64(cfg.VocabSize)*C, C*I, 3*C*C))
	return sysmem.Check(need, fmt.Sprintf("the model %s (%d parameters, matrices as %s)", filepath.Dir(configPath), want, format))
}

// matrixParams is the number of weights in the matrices Pack packs: the blocks' linear layers
// and the token embedding (the LM head).
func (c Config) matrixParams() int64 {
	C, I := int64(c.NEmbd), int64(c.Inner())
	return int64(c.NLayer)*(4*C*C+2*C*I) + int64(c.VocabSize)*C
}

// checkTiedHead refuses a checkpoint whose explicit lm_head.weight differs from wte (the
// float32 values read): GPT-2 ties them, and silently dropping a different head would give
// wrong outputs. lm_head is read in chunks, never whole beside wte.
func checkTiedHead(files []*safetensors.File, wte []float32) error {
	f, ok := hf.Find(files, "lm_head.weight")
	if !ok {
		return nil
	}
	info, _ := f.Info("lm_head.weight")
	if info.NumElements() != int64(len(wte)) {
		return fmt.Errorf("gpt: %s: lm_head.weight has %d values, wte.weight %d; the LM head must be tied to wte", f.Name(), info.NumElements(), len(wte))
	}
	if !info.DType.Float() {
		return fmt.Errorf("gpt: %s: lm_head.weight has dtype %s; weights must be F32, F16, BF16 or F64", f.Name(), info.DType)
	}
	diff := -1
	err := eachChunk(f, info, func(off int, vals []float32) {
		for i, v := range vals {
			if diff < 0 && v != wte[off+i] {
				diff = off + i
			}
		}
	})
	if err != nil {
		return fmt.Errorf("gpt: %w", err)
	}
	if diff >= 0 {
		return fmt.Errorf("gpt: %s: lm_head.weight differs from wte.weight (first at element %d); untied LM heads are not supported", f.Name(), diff)
	}
	return nil
}

// readFloat32 reads the float32 values of tensor info of f into dst (allocated when nil) and
// returns them. F32 tensors are read in chunks straight into dst, so no copy of the raw bytes
// is ever whole; other dtypes are converted by the safetensors package.
func readFloat32(f *safetensors.File, info safetensors.TensorInfo, dst []float32) ([]float32, error) {
	n := info.NumElements()
	if n > math.MaxInt32*2 {
		return nil, fmt.Errorf("%s: tensor %q: %d elements do not fit in memory", f.Name(), info.Name, n)
	}
	if dst == nil {
		dst = make([]float32, n)
	}
	err := eachChunk(f, info, func(off int, vals []float32) { copy(dst[off:], vals) })
	return dst, err
}

// chunkBytes is the size of the reads of eachChunk.
const chunkBytes = 1 << 20

// eachChunk calls fn with consecutive runs of tensor info's values, converted to float32,
// starting at element off. An F32 tensor of a file on disk is read a chunk at a time; any
// other (or an in-memory file) is read whole by the safetensors package.
func eachChunk(f *safetensors.File, info safetensors.TensorInfo, fn func(off int, vals []float32)) error {
	if info.DType != safetensors.DTypeF32 || f.Name() == "" {
		vals, err := f.Float32(info.Name)
		if err != nil {
			return err
		}
		fn(0, vals)
		return nil
	}
	r, err := os.Open(f.Name())
	if err != nil {
		return err
	}
	defer r.Close()
	if st, err := r.Stat(); err != nil || st.Size() != f.Size() {
		return fmt.Errorf("%s changed while it was being read; load it again", f.Name())
	}
	buf := make([]byte, chunkBytes)
	vals := make([]float32, chunkBytes/4)
	pos, end := f.DataStart()+info.Begin, f.DataStart()+info.End
	for off := 0; pos < end; {
		b := buf[:min(int64(len(buf)), end-pos)]
		if n, err := r.ReadAt(b, pos); n < len(b) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("%s: tensor %q: reading bytes [%d, %d): %w", f.Name(), info.Name, pos, pos+int64(len(b)), err)
		}
		v := vals[:len(b)/4]
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		fn(off, v)
		off += len(v)
		pos += int64(len(b))
	}
	return nil
}
