package autograd

import (
	"fmt"

	"github.com/qkvdev/qkv/tensor"
)

func (g *Graph) binary(op tensor.BinaryOp, a, b *Var) *Var {
	var buf [tensor.MaxDims]int
	shape, err := tensor.AppendBroadcastShape(buf[:0], a.Shape(), b.Shape())
	if err != nil {
		panic(fmt.Sprintf("autograd.%s: %v", op, err))
	}
	out := g.arena.New(shape...)
	tensor.BinaryInto(out, op, a.Value, b.Value, false)
	v, n := g.result(out, g.tracking(a, b), binaryBackward, a, b)
	if n != nil {
		n.i = int(op)
	}
	return v
}

// Add returns a + b, broadcasting.
func (g *Graph) Add(a, b *Var) *Var { return g.binary(tensor.OpAdd, a, b) }

// Sub returns a - b, broadcasting.
func (g *Graph) Sub(a, b *Var) *Var { return g.binary(tensor.OpSub, a, b) }

// Mul returns a * b element-wise, broadcasting.
func (g *Graph) Mul(a, b *Var) *Var { return g.binary(tensor.OpMul, a, b) }

// Div returns a / b element-wise, broadcasting.
func (g *Graph) Div(a, b *Var) *Var { return g.binary(tensor.OpDiv, a, b) }

// binaryBackward: for c = a ∘ b, da += reduce(dc · ∂c/∂a), db += reduce(dc · ∂c/∂b), where
// reduce sums over the dimensions an operand was broadcast along.
//
//	Add: ∂c/∂a = 1,   ∂c/∂b = 1
//	Sub: ∂c/∂a = 1,   ∂c/∂b = -1
//	Mul: ∂c/∂a = b,   ∂c/∂b = a
//	Div: ∂c/∂a = 1/b, ∂c/∂b = -a/b²  = -c/b
func binaryBackward(g *Graph, n *node) {
	dc := n.out.grad
	a, b := n.in[0], n.in[1]
	op := tensor.BinaryOp(n.i)
	for i, v := range [2]*Var{a, b} {
		if !n.needs(i) {
			continue
		}
		// The first gradient into a same-shaped input of an addition is dc itself: share the
		// buffer (dc is not read again once this rule has run).
		if (op == tensor.OpAdd || op == tensor.OpSub && i == 0) && v.grad == nil && v.base == nil && !v.param &&
			tensor.SameShape(v.Value, dc) && dc.IsContiguous() && !(i == 1 && a == b) {
			v.grad = dc
			continue
		}
		var local *tensor.Tensor // dc · ∂c/∂v, in the output's shape
		switch {
		case op == tensor.OpAdd || op == tensor.OpSub && i == 0:
			local = dc
		case op == tensor.OpSub:
			local = g.arena.New(dc.Shape()...)
			tensor.ScaleInto(local, dc, -1, false)
		case op == tensor.OpMul:
			local = g.arena.New(dc.Shape()...)
			tensor.BinaryInto(local, tensor.OpMul, dc, [2]*Var{b, a}[i].Value, false)
		case op == tensor.OpDiv && i == 0:
			local = g.arena.New(dc.Shape()...)
			tensor.BinaryInto(local, tensor.OpDiv, dc, b.Value, false)
		default: // Div, ∂/∂b = -c/b
			local = g.arena.New(dc.Shape()...)
			tensor.BinaryInto(local, tensor.OpDiv, n.out.Value, b.Value, false)
			tensor.BinaryInto(local, tensor.OpMul, local, dc, false)
			tensor.ScaleInto(local, local, -1, false)
		}
		tensor.SumTo(g.gradOf(v), local, true)
	}
}

// Scale returns alpha·x.
func (g *Graph) Scale(x *Var, alpha float32) *Var {
	out := g.arena.New(x.Shape()...)
	tensor.ScaleInto(out, x.Value, alpha, false)
	v, n := g.result(out, g.tracking(x), scaleBackward, x)
	if n != nil {
		n.f = alpha
	}
	return v
}

// scaleBackward: y = αx ⇒ dx += α·dy.
func scaleBackward(g *Graph, n *node) {
	tensor.ScaleInto(g.gradOf(n.in[0]), n.out.grad, n.f, true)
}

// Contiguous returns x itself if its value is contiguous, otherwise a contiguous copy that
// passes gradients back through the view.
func (g *Graph) Contiguous(x *Var) *Var {
	if x.Value.IsContiguous() {
		return x
	}
	out := g.arena.New(x.Shape()...)
	tensor.CopyInto(out, x.Value)
	v, _ := g.result(out, g.tracking(x), contiguousBackward, x)
	return v
}

// contiguousBackward: y = copy(x) ⇒ dx += dy (through x's strides).
func contiguousBackward(g *Graph, n *node) {
	dx, acc := g.gradFor(n.in[0])
	if !acc {
		tensor.CopyInto(dx, n.out.grad)
		return
	}
	tensor.BinaryInto(dx, tensor.OpAdd, dx, n.out.grad, false)
}

// Reshape returns a view of x with a new shape (x must be contiguous; see Contiguous).
func (g *Graph) Reshape(x *Var, shape ...int) *Var {
	return g.view(x, g.arena.Reshape(x.Value, shape...))
}

// Transpose returns a view of x with dimensions d0 and d1 swapped.
func (g *Graph) Transpose(x *Var, d0, d1 int) *Var {
	return g.view(x, g.arena.Transpose(x.Value, d0, d1))
}

// Permute returns a view of x whose dimension i is x's dimension dims[i].
func (g *Graph) Permute(x *Var, dims ...int) *Var {
	return g.view(x, g.arena.Permute(x.Value, dims...))
}

// Narrow returns a view of length elements of x's dimension dim, from start.
func (g *Graph) Narrow(x *Var, dim, start, length int) *Var {
	return g.view(x, g.arena.Narrow(x.Value, dim, start, length))
}

// Sum returns the sum of every element of x, as a one-element var.
func (g *Graph) Sum(x *Var) *Var {
	out := g.arena.New()
	out.Set(float32(tensor.Sum(x.Value)))
	v, n := g.result(out, g.tracking(x), sumBackward, x)
	if n != nil {
		n.f = 1
	}
	return v
}

// Mean returns the mean of every element of x, as a one-element var.
func (g *Graph) Mean(x *Var) *Var {
	out := g.arena.New()
	out.Set(float32(tensor.Mean(x.Value)))
	v, n := g.result(out, g.tracking(x), sumBackward, x)
	if n != nil {
		n.f = 1 / float32(x.Value.Len())
	}
	return v
}

// sumBackward: y = f·Σx ⇒ dx += f·dy everywhere.
func sumBackward(g *Graph, n *node) {
	dx := g.gradOf(n.in[0])
	tensor.ScaleInto(dx, n.out.grad, n.f, true)
}

// Tanh returns tanh(x) element-wise.
func (g *Graph) Tanh(x *Var) *Var {
	X := contiguous(g, x.Value)
	out := g.arena.New(X.Shape()...)
	tensor.TanhInto(out, X)
	v, _ := g.result(out, g.tracking(x), tanhBackward, x)
	return v
}

// tanhBackward: y = tanh(x) ⇒ dx += (1 - y²)·dy.
func tanhBackward(g *Graph, n *node) {
	y, dy := n.out.Value, n.out.grad
	local := g.arena.New(y.Shape()...)
	tensor.TanhBackwardInto(local, dy, y)
	dx := g.gradOf(n.in[0])
	tensor.BinaryInto(dx, tensor.OpAdd, dx, local, false)
}

// SplitDim returns a view of x in which dimension dim becomes (n, size/n); x may be strided.
func (g *Graph) SplitDim(x *Var, dim, n int) *Var {
	return g.view(x, g.arena.SplitDim(x.Value, dim, n))
}
