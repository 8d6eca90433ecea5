package autograd

import (
	"fmt"

	"github.com/qkvdev/qkv/tensor"
)

// MatMul returns a·b over broadcast batch dimensions: a (…, M, K), b (…, K, N) → (…, M, N).
// Transposed views are used in place.
func (g *Graph) MatMul(a, b *Var) *Var {
	A, B := a.Value, b.Value
	if A.Dims() < 2 || B.Dims() < 2 || A.Dim(-1) != B.Dim(-2) {
		panic(fmt.Sprintf("autograd.MatMul: shapes %v · %v", A.Shape(), B.Shape()))
	}
	var buf [tensor.MaxDims + 2]int
	batch, err := tensor.AppendBroadcastShape(buf[:0], A.Shape()[:A.Dims()-2], B.Shape()[:B.Dims()-2])
	if err != nil {
		panic(fmt.Sprintf("autograd.MatMul: %v", err))
	}
	out := g.arena.New(append(batch, A.Dim(-2), B.Dim(-1))...)
	tensor.MatMulInto(out, A, B, 1, 0)
	v, _ := g.result(out, g.tracking(a, b), matmulBackward, a, b)
	return v
}

// matmulBackward: C = A·B ⇒ dA += dC·Bᵀ, dB += Aᵀ·dC (summed over broadcast batch dims).
func matmulBackward(g *Graph, n *node) {
	dC := n.out.grad
	a, b := n.in[0], n.in[1]
	if n.needs(0) {
		bT := g.arena.Transpose(b.Value, -2, -1)
		g.accumulateProduct(a, dC, bT)
	}
	if n.needs(1) {
		aT := g.arena.Transpose(a.Value, -2, -1)
		g.accumulateProduct(b, aT, dC)
	}
}

// accumulateProduct adds x·y into v's gradient, reducing over batch dimensions that v was
// broadcast along.
func (g *Graph) accumulateProduct(v *Var, x, y *tensor.Tensor) {
	dv, acc := g.gradFor(v)
	var buf [tensor.MaxDims + 2]int
	prodBatch, _ := tensor.AppendBroadcastShape(buf[:0], x.Shape()[:x.Dims()-2], y.Shape()[:y.Dims()-2])
	if len(prodBatch) == dv.Dims()-2 && equal(prodBatch, dv.Shape()[:dv.Dims()-2]) {
		tensor.MatMulInto(dv, x, y, 1, beta(acc))
		return
	}
	if !acc {
		tensor.Zero(dv)
	}
	tmp := g.arena.New(append(prodBatch, dv.Dim(-2), dv.Dim(-1))...)
	tensor.MatMulInto(tmp, x, y, 1, 0)
	tensor.SumTo(dv, tmp, true)
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Linear returns x·W + b for x (…, in). W is (in, out) — the layout of GPT-2's Conv1D — or,
// with transposed set, (out, in) — the layout of a PyTorch Linear (BERT). b (out) may be nil.
// It is one fused primitive: a single GEMM forward and two backward.
func (g *Graph) Linear(x, w, b *Var, transposed bool) *Var {
	X, W := x.Value, w.Value
	in, outDim := W.Dim(0), W.Dim(1)
	if transposed {
		in, outDim = outDim, in
	}
	if X.Dim(-1) != in || W.Dims() != 2 || (b != nil && b.Value.Len() != outDim) {
		bs := "none"
		if b != nil {
			bs = fmt.Sprint(b.Shape())
		}
		panic(fmt.Sprintf("autograd.Linear: x %v, weight %v (transposed %v), bias %s", X.Shape(), W.Shape(), transposed, bs))
	}
	X = contiguous(g, X)
	rows := X.Len() / in
	var shp [tensor.MaxDims]int
	shape := append(shp[:0], X.Shape()...)
	shape[len(shape)-1] = outDim
	out := g.arena.New(shape...)
	x2 := g.arena.Reshape(X, rows, in)
	o2 := g.arena.Reshape(out, rows, outDim)
	Wm := W
	if transposed {
		Wm = g.arena.Transpose(W, 0, 1)
	}
	if b != nil {
		tensor.MatMulBiasInto(o2, x2, Wm, b.Value)
	} else {
		tensor.MatMulInto(o2, x2, Wm, 1, 0)
	}
	v, n := g.result(out, g.tracking(x, w, b), linearBackward, x, w, b)
	if n != nil {
		n.saved[0] = x2
		if transposed {
			n.i = 1
		}
	}
	return v
}

// linearBackward: y = x·W + b ⇒ dx += dy·Wᵀ, dW += xᵀ·dy, db += Σ_rows dy.
func linearBackward(g *Graph, n *node) {
	x2 := n.saved[0]
	rows, in := x2.Dim(0), x2.Dim(1)
	dy := g.arena.Reshape(n.out.grad, rows, n.out.Value.Dim(-1))
	W := n.in[1].Value
	transposed := n.i == 1
	if n.needs(0) {
		Wt := W // dy·Wᵀ: for W (out, in) that is dy·W
		if !transposed {
			Wt = g.arena.Transpose(W, 0, 1)
		}
		dxg, acc := g.gradFor(n.in[0])
		if dxg.IsContiguous() {
			tensor.MatMulInto(g.arena.Reshape(dxg, rows, in), dy, Wt, 1, beta(acc))
		} else { // x was a strided view: compute, then add through the view
			tmp := g.arena.New(rows, in)
			tensor.MatMulInto(tmp, dy, Wt, 1, 0)
			tensor.BinaryInto(dxg, tensor.OpAdd, dxg, g.arena.Reshape(tmp, dxg.Shape()...), false)
		}
	}
	if n.needs(1) {
		dW, acc := g.gradFor(n.in[1])
		if transposed { // dW (out, in) += dyᵀ·x
			tensor.MatMulInto(dW, g.arena.Transpose(dy, 0, 1), x2, 1, beta(acc))
		} else { // dW (in, out) += xᵀ·dy
			tensor.MatMulInto(dW, g.arena.Transpose(x2, 0, 1), dy, 1, beta(acc))
		}
	}
	if n.needs(2) {
		db, acc := g.gradFor(n.in[2])
		tensor.SumTo(g.arena.Reshape(db, 1, db.Len()), dy, acc)
	}
}

// contiguous returns t, or a contiguous arena copy of it.
func contiguous(g *Graph, t *tensor.Tensor) *tensor.Tensor {
	if t.IsContiguous() {
		return t
	}
	c := g.arena.New(t.Shape()...)
	tensor.CopyInto(c, t)
	return c
}

// beta is the GEMM factor on the existing output: 1 to accumulate, 0 to overwrite.
func beta(acc bool) float32 {
	if acc {
		return 1
	}
	return 0
}

// LinearPacked is Linear for inference with a packed (bf16 or int8) weight w (N outputs × K
// inputs): x (…, K) → (…, N), plus the bias b (N) if given. It has no backward rule: it is
// for graphs that do not record (SetGrad(false)).
func (g *Graph) LinearPacked(x *Var, w *tensor.PackedMatrix, b *Var) *Var {
	return g.linearPacked("LinearPacked", x, w, b, nil)
}

// LinearPackedGELU is GELU(LinearPacked(x, w, b), kind) with the same bits, the GELU applied
// as the product stores its output where the weight's layout allows (see
// tensor.PackedMatrix.MatMulBiasGELUInto). b is required.
func (g *Graph) LinearPackedGELU(x *Var, w *tensor.PackedMatrix, b *Var, kind tensor.GELUKind) *Var {
	if b == nil {
		panic("autograd.LinearPackedGELU: no bias")
	}
	return g.linearPacked("LinearPackedGELU", x, w, b, &kind)
}

// linearPacked is LinearPacked, followed by the GELU of kind gelu unless it is nil.
func (g *Graph) linearPacked(op string, x *Var, w *tensor.PackedMatrix, b *Var, gelu *tensor.GELUKind) *Var {
	if g.tracking(x, b) {
		panic("autograd." + op + ": packed weights are for inference; turn recording off (SetGrad(false))")
	}
	X := contiguous(g, x.Value)
	if X.Dim(-1) != w.K || (b != nil && b.Value.Len() != w.N) {
		panic(fmt.Sprintf("autograd.%s: x %v for a %d×%d weight", op, X.Shape(), w.N, w.K))
	}
	rows := X.Len() / w.K
	var shp [tensor.MaxDims]int
	shape := append(shp[:0], X.Shape()...)
	shape[len(shape)-1] = w.N
	out := g.arena.New(shape...)
	x2, o2 := g.arena.Reshape(X, rows, w.K), g.arena.Reshape(out, rows, w.N)
	switch {
	case b != nil && gelu != nil:
		w.MatMulBiasGELUInto(o2, x2, g.arena.Reshape(b.Value, 1, w.N), *gelu)
	case b != nil:
		w.MatMulBiasInto(o2, x2, g.arena.Reshape(b.Value, 1, w.N))
	default:
		w.MatMulInto(o2, x2, 0)
	}
	return g.Const(out)
}
