// Package nn holds the layers that Transformer models are built from — Linear, Embedding,
// LayerNorm, multi-head attention, the position-wise feed-forward network — each a few lines
// over package autograd, with its parameters registered under HuggingFace-style names.
package nn

import (
	"fmt"
	"slices"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// Param is a named trainable tensor.
type Param struct {
	Name  string
	Var   *autograd.Var
	Decay bool // whether AdamW applies weight decay (matrices of Linear layers; not biases, LayerNorm or embeddings)
}

// Params is an ordered collection of a model's parameters, by name.
type Params struct {
	list  []*Param
	index map[string]*Param
}

// Add registers a parameter of the given shape, zero-filled. Registering a name twice panics.
func (ps *Params) Add(name string, decay bool, shape ...int) *autograd.Var {
	if ps.index == nil {
		ps.index = map[string]*Param{}
	}
	if _, dup := ps.index[name]; dup {
		panic(fmt.Sprintf("nn: parameter %q registered twice", name))
	}
	p := &Param{Name: name, Var: autograd.NewParam(tensor.New(shape...)), Decay: decay}
	ps.list = append(ps.list, p)
	ps.index[name] = p
	return p.Var
}

// List returns the parameters in registration order.
func (ps *Params) List() []*Param { return ps.list }

// Get returns the parameter called name.
func (ps *Params) Get(name string) (*Param, bool) {
	p, ok := ps.index[name]
	return p, ok
}

// Names returns the parameter names, sorted.
func (ps *Params) Names() []string {
	names := make([]string, len(ps.list))
	for i, p := range ps.list {
		names[i] = p.Name
	}
	slices.Sort(names)
	return names
}

// Count is the total number of parameter elements.
func (ps *Params) Count() int {
	n := 0
	for _, p := range ps.list {
		if p.Var.Value != nil { // released after packing for inference
			n += p.Var.Value.Len()
		}
	}
	return n
}

// ZeroGrad clears every parameter's gradient.
func (ps *Params) ZeroGrad() {
	for _, p := range ps.list {
		p.Var.ZeroGrad()
	}
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
