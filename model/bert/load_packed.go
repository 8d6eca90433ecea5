package bert

import (
	"runtime"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// packSink packs the layers' weight matrices as they are read (hf.Sink): LoadForCompute.
type packSink struct {
	shapes map[string][]int
	take   map[string]func(vals []float32) error
}

func (s *packSink) Shape(name string) []int { return s.shapes[name] }

func (s *packSink) Take(name string, vals []float32) error {
	if err := s.take[name](vals); err != nil {
		return err
	}
	// Hand the temporaries back before the next matrix is read, so that they do not pile
	// up between collections.
	runtime.GC()
	return nil
}

// releaseForPacking drops the float32 buffers of the layers' six weight matrices (build's
// allocations, never written) and returns the sink that packs them in format as they are
// read: the attention output and the MLP's two on their own, query, key and value into one
// (3C, C) matrix once all three are read, as Pack does.
func (m *Model) releaseForPacking(format tensor.WeightFormat) *packSink {
	s := &packSink{shapes: map[string][]int{}, take: map[string]func([]float32) error{}}
	names := map[*autograd.Var]string{}
	for _, p := range m.Params.List() {
		names[p.Var] = p.Name
	}
	for _, l := range m.Layers {
		C := l.Query.Weight.Value.Dim(1)
		var qkv []float32 // the joint (3C, C) weight while its parts are read
		read := 0
		for i, lin := range l.linears() {
			name := names[lin.Weight]
			shape := lin.Weight.Value.Shape()
			s.shapes[name] = shape
			if i < 3 {
				s.take[name] = func(vals []float32) error {
					if qkv == nil {
						qkv = make([]float32, 3*C*C)
					}
					copy(qkv[i*C*C:(i+1)*C*C], vals)
					if read++; read < 3 {
						return nil
					}
					p, err := tensor.Pack(tensor.FromData(qkv, 3*C, C), false, format)
					l.qkv, qkv = p, nil
					return err
				}
			} else {
				s.take[name] = func(vals []float32) (err error) {
					lin.Packed, err = tensor.Pack(tensor.FromData(vals, shape...), !lin.TorchLayout, format)
					return err
				}
			}
			lin.Weight.Value = nil
		}
	}
	return s
}

// joinQKVBiases sets each layer's joint query, key and value bias, once the biases are read.
func (m *Model) joinQKVBiases() {
	for _, l := range m.Layers {
		l.qkvBias = l.jointQKVBias()
	}
}
