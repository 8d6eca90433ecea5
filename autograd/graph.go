// Package autograd is reverse-mode automatic differentiation over package tensor.
//
// A Graph records the operations of a forward pass. Each primitive (MatMul, Linear, Add, Mul,
// LayerNorm, GELU, Softmax, CrossEntropy, Embedding, Dropout, …) appends one node that holds
// its inputs, what it saved for later, and its backward rule: one function that accumulates the
// gradients of its inputs from the gradient of its output. Backward walks the nodes in reverse.
//
// Activations and gradients come from the graph's arena: Reset recycles them, so a training
// loop that runs the same step shape again and again allocates (almost) nothing after the first
// step. Vars returned by graph operations are valid until the next Reset.
//
// Views (Reshape, Transpose, Narrow, Permute) record no node: a view's gradient is the same view
// of its base's gradient, so gradients flow into the base's storage directly.
package autograd

import (
	"fmt"

	"github.com/qkvdev/qkv/tensor"
)

// Var is a value in the computation graph and, if it requires one, its gradient.
type Var struct {
	Value *tensor.Tensor // the forward value

	grad         *tensor.Tensor
	requiresGrad bool
	param        bool // a leaf owned by a model: its gradient persists across Reset
	// stale is set on a parameter by ZeroGrad: its gradient buffer holds an old gradient and
	// stands for zeros. The first backward rule to reach it may overwrite it (gradFor); any
	// other reader clears it first (gradOf, Grad).
	stale bool
	base  *Var // for views: the var whose storage Value shares; nil otherwise
}

// NewParam wraps t as a trainable leaf: a parameter whose gradient accumulates across backward
// passes until ZeroGrad.
func NewParam(t *tensor.Tensor) *Var {
	return &Var{Value: t, requiresGrad: true, param: true}
}

// Grad returns the accumulated gradient, or nil if none has flowed into v.
func (v *Var) Grad() *tensor.Tensor {
	v.fresh()
	return v.grad
}

// fresh clears a stale gradient buffer (see Var.stale): from here on it accumulates.
func (v *Var) fresh() {
	if v.stale {
		tensor.Zero(v.grad)
		v.stale = false
	}
}

// RequiresGrad reports whether gradients are computed for v.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad turns gradient tracking for a parameter on or off (to freeze it).
func (v *Var) SetRequiresGrad(on bool) { v.requiresGrad = on }

// ZeroGrad clears a parameter's gradient (keeping its buffer). The buffer is not written
// now: the next backward pass overwrites it where it would have added to zeros (a weight's
// gradient product runs with beta 0), and anything that reads or adds to it first clears it.
func (v *Var) ZeroGrad() {
	if v.grad != nil {
		v.stale = true
	}
}

// Shape is the shape of the value.
func (v *Var) Shape() []int { return v.Value.Shape() }

// node is one recorded operation.
type node struct {
	backward func(g *Graph, n *node)
	out      *Var
	in       [3]*Var
	saved    [3]*tensor.Tensor
	ids      []int // integer inputs (token ids, targets), owned by the caller until Backward
	f        float32
	i        int
}

// Graph records operations for reverse-mode differentiation. It is not safe for concurrent use.
type Graph struct {
	arena  tensor.Arena
	nodes  []node
	vars   [][]Var
	nvar   int
	noGrad bool
}

const varChunk = 256

// NewGraph returns an empty graph that records operations.
func NewGraph() *Graph { return &Graph{} }

// SetGrad turns recording (and so gradient computation) on or off. With it off, operations
// compute values only, as for inference.
func (g *Graph) SetGrad(on bool) { g.noGrad = !on }

// GradEnabled reports whether operations are being recorded.
func (g *Graph) GradEnabled() bool { return !g.noGrad }

// Arena is the graph's allocator, for callers that build tensors valid until Reset.
func (g *Graph) Arena() *tensor.Arena { return &g.arena }

// Reset forgets every recorded operation and recycles every activation and gradient buffer.
// Parameter gradients are kept.
func (g *Graph) Reset() {
	for i := range g.nodes {
		g.nodes[i] = node{}
	}
	g.nodes = g.nodes[:0]
	for c := 0; c*varChunk < g.nvar; c++ {
		clear(g.vars[c])
	}
	g.nvar = 0
	g.arena.Reset()
}

// Bytes is the memory held by the graph's arena.
func (g *Graph) Bytes() int { return g.arena.Bytes() }

// Const wraps t as a value that needs no gradient (an input).
func (g *Graph) Const(t *tensor.Tensor) *Var {
	v := g.newVar()
	v.Value = t
	return v
}

func (g *Graph) newVar() *Var {
	c, i := g.nvar/varChunk, g.nvar%varChunk
	if c == len(g.vars) {
		g.vars = append(g.vars, make([]Var, varChunk))
	}
	g.nvar++
	return &g.vars[c][i]
}

// tracking reports whether an operation on these inputs must be recorded.
func (g *Graph) tracking(in ...*Var) bool {
	if g.noGrad {
		return false
	}
	for _, v := range in {
		if v != nil && v.requiresGrad {
			return true
		}
	}
	return false
}

// result makes the output var of an operation with value t; when track, it records a node with
// the given backward rule and inputs and returns it for the caller to fill in saved state.
func (g *Graph) result(t *tensor.Tensor, track bool, backward func(*Graph, *node), in ...*Var) (*Var, *node) {
	v := g.newVar()
	v.Value = t
	if !track {
		return v, nil
	}
	v.requiresGrad = true
	g.nodes = append(g.nodes, node{backward: backward, out: v})
	n := &g.nodes[len(g.nodes)-1]
	copy(n.in[:], in)
	return v, n
}

// view makes a var whose value t shares x's storage.
func (g *Graph) view(x *Var, t *tensor.Tensor) *Var {
	v := g.newVar()
	v.Value = t
	if g.tracking(x) {
		v.requiresGrad = true
		v.base = x
		if x.base != nil {
			v.base = x.base
		}
	}
	return v
}

// gradOf returns v's gradient buffer, allocating a zeroed one on first use. A view's gradient
// is the same view of its base's gradient.
func (g *Graph) gradOf(v *Var) *tensor.Tensor {
	if v.grad != nil {
		v.fresh()
		return v.grad
	}
	switch {
	case v.base != nil:
		bg := g.gradOf(v.base)
		v.grad = g.arena.View(v.Value)
		v.grad.Rebase(bg, v.base.Value)
	case v.param:
		v.grad = tensor.New(v.Value.Shape()...)
	default:
		v.grad = g.arena.Zeros(v.Value.Shape()...)
	}
	return v.grad
}

// gradFor returns the buffer a backward rule should put v's gradient into, and whether it must
// add to it (acc) or may simply overwrite every element (a fresh, uninitialised buffer: nothing
// has flowed into v yet). Writing rather than adding saves clearing the buffer and reading it.
func (g *Graph) gradFor(v *Var) (t *tensor.Tensor, acc bool) {
	if v.stale { // a parameter's buffer after ZeroGrad: overwrite it
		v.stale = false
		return v.grad, false
	}
	if v.grad != nil || v.base != nil || v.param {
		return g.gradOf(v), true
	}
	v.grad = g.arena.New(v.Value.Shape()...)
	return v.grad, false
}

// Backward computes the gradient of loss (a one-element var) with respect to every var that
// requires one, accumulating into parameter gradients.
func (g *Graph) Backward(loss *Var) {
	if loss.Value.Len() != 1 {
		panic(fmt.Sprintf("autograd.Backward: loss has shape %v, want a single value", loss.Shape()))
	}
	if !loss.requiresGrad {
		panic("autograd.Backward: the loss does not depend on any parameter that requires a gradient")
	}
	tensor.Fill(g.gradOf(loss), 1)
	for i := len(g.nodes) - 1; i >= 0; i-- {
		n := &g.nodes[i]
		if n.out.grad == nil {
			continue // no gradient flowed here
		}
		n.backward(g, n)
	}
}

// needs reports whether input i of n wants a gradient.
func (n *node) needs(i int) bool { return n.in[i] != nil && n.in[i].requiresGrad }
