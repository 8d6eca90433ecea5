package nn

import (
	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// Linear is an affine map y = x·W + b.
//
// Conv1D layout (GPT-2): W is (in, out). Torch layout (BERT, and most HF models): W is
// (out, in) and y = x·Wᵀ + b. Both are one fused primitive; no transpose is materialised.
type Linear struct {
	Weight, Bias *autograd.Var // (in, out) or (out, in); (out), may be nil
	TorchLayout  bool
	// Packed, if set, is a compact copy of Weight (bf16 or int8), or Weight's bfloat16 panels
	// beside it (PackPanels), that forward passes use when the graph is not recording
	// (inference).
	Packed *tensor.PackedMatrix
}

// NewLinear registers prefix.weight and prefix.bias (if bias) in ps.
func NewLinear(ps *Params, prefix string, in, out int, bias, torchLayout bool) *Linear {
	l := &Linear{TorchLayout: torchLayout}
	if torchLayout {
		l.Weight = ps.Add(join(prefix, "weight"), true, out, in)
	} else {
		l.Weight = ps.Add(join(prefix, "weight"), true, in, out)
	}
	if bias {
		l.Bias = ps.Add(join(prefix, "bias"), false, out)
	}
	return l
}

// Forward maps x (…, in) to (…, out).
func (l *Linear) Forward(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	if l.Packed != nil && !g.GradEnabled() {
		return g.LinearPacked(x, l.Packed, l.Bias)
	}
	return g.Linear(x, l.Weight, l.Bias, l.TorchLayout)
}

// ForwardGELU returns GELU(l.Forward(g, x), kind), the first half of a transformer's MLP. For
// inference on packed weights with a bias, the GELU is applied as the product stores its
// output (same bits, one pass over the output fewer).
func (l *Linear) ForwardGELU(g *autograd.Graph, x *autograd.Var, kind tensor.GELUKind) *autograd.Var {
	if l.Packed != nil && l.Bias != nil && !g.GradEnabled() {
		return g.LinearPackedGELU(x, l.Packed, l.Bias, kind)
	}
	return g.GELU(l.Forward(g, x), kind)
}

// Pack makes the compact inference copy of the weight in format (fp32 removes it).
func (l *Linear) Pack(format tensor.WeightFormat) error {
	if format == tensor.FP32 {
		l.Packed = nil
		return nil
	}
	return l.pack(format)
}

// PackPanels packs the float32 weight as the GEMM kernel's panels for inference (tensor.Pack
// in fp32): under bfloat16 compute its bfloat16 panels, beside the float32 weight, for the
// products of several rows; under float32 compute, on a CPU with float32 panels, panels that
// hold the weights for every product (the caller may then release Weight). It fails where
// the CPU runs neither (kernel.PanelsAvailable, kernel.FloatPanelsAvailable).
func (l *Linear) PackPanels() error { return l.pack(tensor.FP32) }

// pack makes Packed the weight packed in format.
func (l *Linear) pack(format tensor.WeightFormat) error {
	p, err := tensor.Pack(l.Weight.Value, !l.TorchLayout, format)
	if err != nil {
		return err
	}
	l.Packed = p
	return nil
}

// Embedding maps ids to rows of a (V, C) table.
type Embedding struct {
	Weight *autograd.Var // (V, C)
}

// NewEmbedding registers prefix.weight (vocab, dim) in ps.
func NewEmbedding(ps *Params, prefix string, vocab, dim int) *Embedding {
	return &Embedding{Weight: ps.Add(join(prefix, "weight"), false, vocab, dim)}
}

// Forward returns the (len(ids), C) rows for ids.
func (e *Embedding) Forward(g *autograd.Graph, ids []int) *autograd.Var {
	return g.Embedding(e.Weight, ids)
}

// LayerNorm normalises over the last dimension: (x − mean)/√(var + ε)·weight + bias.
type LayerNorm struct {
	Weight, Bias *autograd.Var // (C)
	Eps          float32
}

// NewLayerNorm registers prefix.weight (ones) and prefix.bias (zeros) in ps.
func NewLayerNorm(ps *Params, prefix string, dim int, eps float32) *LayerNorm {
	ln := &LayerNorm{
		Weight: ps.Add(join(prefix, "weight"), false, dim),
		Bias:   ps.Add(join(prefix, "bias"), false, dim),
		Eps:    eps,
	}
	tensor.Fill(ln.Weight.Value, 1)
	return ln
}

// Forward normalises x (…, C).
func (ln *LayerNorm) Forward(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	return g.LayerNorm(x, ln.Weight, ln.Bias, ln.Eps)
}
