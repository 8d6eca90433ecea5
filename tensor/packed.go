package tensor

import (
	"fmt"
	"math"

	"github.com/qkvdev/qkv/tensor/kernel"
)

// WeightFormat is how a weight matrix is stored for inference.
type WeightFormat string

const (
	FP32 WeightFormat = "fp32" // float32, as trained
	BF16 WeightFormat = "bf16" // bfloat16: float32's exponent, 8 bits of mantissa; half the bytes
	Int8 WeightFormat = "int8" // symmetric int8 with one float32 scale per 32 weights; ~¼ the bytes
)

// ParseWeightFormat accepts fp32, bf16 or int8.
func ParseWeightFormat(s string) (WeightFormat, error) {
	switch f := WeightFormat(s); f {
	case FP32, BF16, Int8:
		return f, nil
	}
	return "", fmt.Errorf("weight format %q: want fp32, bf16 or int8", s)
}

// PackedMatrix is a weight matrix W of N outputs × K inputs converted once to a compact format
// for inference: y = x·Wᵀ for rows x of K values. Decoding streams every weight once per token,
// so fewer bytes per weight means more tokens per second.
//
// With bfloat16 compute set (kernel.SetCompute) on a CPU that runs it, bf16 weights are packed
// as the bfloat16 GEMM kernel's micro-panels instead (kernel.PanelMatrix, same 2 bytes a
// weight): every product on them, a prompt's or a decoding step's, then runs in bfloat16
// compute, with inputs rounded to bfloat16, and never packs the weights again.
//
// fp32 weights are packed only under bfloat16 compute, for the products that Sgemm runs in
// its tiles (kernel.Tiled: more than a few rows): Sgemm rounds and packs a float32 weight
// into the same panels on every such call (a quarter of a GPT-2 prompt's time), so they are
// made once and kept beside the float32 weight (2 more bytes a weight). The outputs have
// Sgemm's bits on the float32 weight either way: a single row (a decoding step) or a few
// still stream the float32 weight, as they would unpacked.
//
// Under float32 compute, on a CPU with float32 panels (FloatPanels: AVX2 or AVX-512), fp32
// weights are packed as the float32 kernel's micro-panels instead, which then hold the weights
// (4 bytes a weight, no copy beside them): every product reads them as one stream per
// micro-panel, a decoding step's included, and none packs them again. The products are
// float32 throughout, with Sgemm's bits where Sgemm packs the weight itself (see
// kernel.NewFloatPanelMatrix) and otherwise float32 sums in another order.
type PackedMatrix struct {
	Format WeightFormat
	N, K   int
	wt     *Tensor // FP32 beside bfloat16 panels: the weight itself as op(B) (K, N), a view
	bf     *kernel.BF16Matrix
	q8     *kernel.Q8Matrix
	panels *kernel.PanelMatrix
}

// Pack converts a 2-d float32 weight to format. kn says w is (K, N) (GPT-2's Conv1D layout,
// y = x·W); otherwise w is (N, K) (a PyTorch Linear, or a tied embedding used as LM head).
func Pack(w *Tensor, kn bool, format WeightFormat) (*PackedMatrix, error) {
	if w.Dims() != 2 {
		return nil, fmt.Errorf("tensor.Pack: weight of shape %v is not a matrix", w.Shape())
	}
	n, k := w.Dim(0), w.Dim(1)
	if kn {
		n, k = k, n
	}
	d := w.Contiguous().Data()
	p := &PackedMatrix{Format: format, N: n, K: k}
	switch format {
	case FP32, BF16:
		switch {
		case kernel.PanelsAvailable():
			pm, err := kernel.NewPanelMatrix(d, n, k, kn)
			if err != nil {
				return nil, fmt.Errorf("tensor.Pack: %w", err)
			}
			p.panels = pm
		case format == BF16:
			p.bf = kernel.NewBF16Matrix(d, n, k, kn)
		case kernel.FloatPanelsAvailable():
			pm, err := kernel.NewFloatPanelMatrix(d, n, k, kn)
			if err != nil {
				return nil, fmt.Errorf("tensor.Pack: %w", err)
			}
			p.panels = pm
			return p, nil
		default:
			return nil, fmt.Errorf("tensor.Pack: fp32 weights are packed for bfloat16 compute or as float32 panels, and this CPU runs neither (or QKV_CPU turned them off)")
		}
		if format == FP32 {
			p.wt = w
			if !kn {
				p.wt = w.Transpose(0, 1)
			}
		}
	case Int8:
		for i, v := range d { // a scale cannot represent NaN or Inf
			if v != v || v > math.MaxFloat32 || v < -math.MaxFloat32 {
				return nil, fmt.Errorf("tensor.Pack: weight element %d is %g; int8 needs finite weights", i, v)
			}
		}
		p.q8 = kernel.NewQ8Matrix(d, n, k, kn)
	default:
		return nil, fmt.Errorf("tensor.Pack: cannot pack as %q (want fp32, bf16 or int8)", format)
	}
	return p, nil
}

// FloatPanels reports whether Pack makes fp32 weights into float32 panels that hold them
// (float32 compute on a CPU with float32 panels), rather than bfloat16 panels beside them or
// nothing at all.
func FloatPanels() bool { return !kernel.PanelsAvailable() && kernel.FloatPanelsAvailable() }

// Bytes is the memory the packed weights take (for fp32 under bfloat16 compute, the panels
// beside the weight).
func (p *PackedMatrix) Bytes() int64 {
	if p.panels != nil {
		return p.panels.Bytes()
	}
	if p.bf != nil {
		return p.bf.Bytes()
	}
	return p.q8.Bytes()
}

// MatMulInto computes out = x·Wᵀ + beta·out for x (rows, K) and out (rows, N), both contiguous.
func (p *PackedMatrix) MatMulInto(out, x *Tensor, beta float32) {
	rows := p.rows(out, x)
	xd, od := x.Data(), out.Data()
	switch {
	case p.onPanels(rows):
		kernel.GemmPanels(p.panels, rows, 1, xd, p.K, beta, od, p.N)
	case p.wt != nil:
		MatMulInto(out.Reshape(rows, p.N), x.Reshape(rows, p.K), p.wt, 1, beta)
	case p.bf != nil && rows == 1:
		kernel.GemvBF16(p.bf, 1, xd, beta, od)
	case p.bf != nil:
		kernel.GemmBF16(p.bf, rows, 1, xd, p.K, beta, od, p.N)
	case rows == 1:
		kernel.GemvQ8(p.q8, 1, xd, beta, od)
	default:
		kernel.GemmQ8(p.q8, rows, 1, xd, p.K, beta, od, p.N)
	}
}

// onPanels reports whether a product of rows rows runs on the panels: every one on panels
// that hold the weights; beside fp32 weights those Sgemm would run in its tiles
// (kernel.Tiled), the others streaming the float32 weight as they would unpacked.
func (p *PackedMatrix) onPanels(rows int) bool {
	return p.panels != nil && (p.wt == nil || kernel.Tiled(rows, p.N, p.K))
}

// rows checks x (rows, K) and out (rows, N), both contiguous, and returns rows.
func (p *PackedMatrix) rows(out, x *Tensor) int {
	mustContiguous("PackedMatrix.MatMul", out, x)
	rows := x.Len() / max(p.K, 1)
	if x.Dim(-1) != p.K || out.Len() != rows*p.N {
		panic(fmt.Sprintf("tensor.PackedMatrix: x %v, out %v for a %d×%d weight", x.Shape(), out.Shape(), p.N, p.K))
	}
	return rows
}

// MatMulBiasInto computes out = x·Wᵀ + bias for x (rows, K) and out (rows, N), both
// contiguous, and bias (1, N): a linear layer's forward pass. Its bits are those of
// MatMulInto with beta 1 on out first set to the bias rows (which is how it runs on int8 and
// bf16 rows); on bf16 panels the bias goes into each tile of out as the product stores it,
// without a pass over out beforehand.
func (p *PackedMatrix) MatMulBiasInto(out, x, bias *Tensor) {
	p.matMulBias(out, x, bias, nil)
}

// MatMulBiasGELUInto computes out = gelu(x·Wᵀ + bias), with the bits of MatMulBiasInto
// followed by GELUInto: the first half of a transformer's MLP. On bf16 panels each tile of
// out takes the GELU right after the product's last store, while it is in L1, instead of in
// a pass over out afterwards.
func (p *PackedMatrix) MatMulBiasGELUInto(out, x, bias *Tensor, kind GELUKind) {
	p.matMulBias(out, x, bias, &kind)
}

// matMulBias is MatMulBiasInto followed, when gelu is not nil, by the GELU of that kind.
func (p *PackedMatrix) matMulBias(out, x, bias *Tensor, gelu *GELUKind) {
	rows := p.rows(out, x)
	if bias.Len() != p.N {
		panic(fmt.Sprintf("tensor.PackedMatrix: bias %v for a %d×%d weight", bias.Shape(), p.N, p.K))
	}
	if p.onPanels(rows) {
		var act kernel.Activation
		if gelu != nil {
			act = geluRows(*gelu)
		}
		kernel.GemmPanelsBias(p.panels, rows, x.Data(), p.K, bias.Contiguous().Data(), act, out.Data(), p.N)
		return
	}
	CopyInto(out, bias)
	p.MatMulInto(out, x, 1)
	if gelu != nil {
		GELUInto(out, out, *gelu)
	}
}

// HoldsWeights reports whether the packed form holds the weights itself, so that one input
// row at a time runs on it (BindMatVec): false only for the bfloat16 panels kept beside fp32
// weights, whose single rows stream the float32 weight through Sgemm.
func (p *PackedMatrix) HoldsWeights() bool { return p.wt == nil }

// BindMatVec sets v's weights to these, for y = x·Wᵀ on one input row at a time split over a
// caller's own parallel region (kernel.RunSteps); each output comes out as MatMulInto
// computes it for one row.
func (p *PackedMatrix) BindMatVec(v *kernel.MatVec) {
	switch {
	case p.wt != nil:
		panic("tensor.PackedMatrix.BindMatVec: fp32 weights beside bfloat16 panels are read by Sgemm one row at a time, not by a MatVec")
	case p.panels != nil:
		v.BindPanels(p.panels)
	case p.bf != nil:
		v.BindBF16(p.bf)
	default:
		v.BindQ8(p.q8)
	}
}

// Row writes row i of W (the K weights of output i), dequantised, into dst.
func (p *PackedMatrix) Row(i int, dst []float32) {
	if p.wt != nil {
		if i < 0 || i >= p.N || len(dst) < p.K {
			panic(fmt.Sprintf("tensor.PackedMatrix.Row(%d) of a %d×%d matrix into %d floats", i, p.N, p.K, len(dst)))
		}
		CopyInto(FromData(dst[:p.K], p.K, 1), p.wt.Narrow(1, i, 1)) // column i of op(B)
		return
	}
	if p.panels != nil {
		p.panels.Row(i, dst)
		return
	}
	if p.bf != nil {
		p.bf.Row(i, dst)
		return
	}
	p.q8.Row(i, dst)
}
