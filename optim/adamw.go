// Package optim holds the optimiser (AdamW with decoupled weight decay), the learning-rate
// schedule (linear warm-up then cosine decay) and global-norm gradient clipping.
package optim

import (
	"fmt"
	"math"

	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// AdamWConfig holds AdamW's hyper-parameters (Loshchilov & Hutter, 2019).
type AdamWConfig struct {
	Beta1, Beta2 float64 // moment decay rates, e.g. 0.9 and 0.95
	Eps          float64 // added to √v̂, e.g. 1e-8
	WeightDecay  float64 // decoupled decay, applied to parameters marked Decay only
}

// AdamW keeps the first and second moments of every trainable parameter.
type AdamW struct {
	Config AdamWConfig
	Params []*nn.Param
	M, V   []*tensor.Tensor // moments, one per parameter
	Steps  int              // updates taken (t in the paper)

	chunks []adamChunk
	step   adamStep // the current update, run in parallel over chunks
}

// NewAdamW returns an optimiser over params (those that require gradients).
func NewAdamW(params []*nn.Param, cfg AdamWConfig) *AdamW {
	o := &AdamW{Config: cfg}
	for _, p := range params {
		if !p.Var.RequiresGrad() {
			continue
		}
		o.Params = append(o.Params, p)
		o.M = append(o.M, tensor.New(p.Var.Value.Shape()...))
		o.V = append(o.V, tensor.New(p.Var.Value.Shape()...))
	}
	return o
}

// Step updates every parameter with learning rate lr, as PyTorch's AdamW does:
//
//	θ ← θ − lr·λ·θ                      (decoupled weight decay, Decay parameters only)
//	m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²
//	θ ← θ − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
//
// Parameters without a gradient are left alone.
func (o *AdamW) Step(lr float64) {
	o.Steps++
	c := o.Config
	bc1 := 1 - math.Pow(c.Beta1, float64(o.Steps))
	bc2 := 1 - math.Pow(c.Beta2, float64(o.Steps))
	if o.chunks == nil {
		o.chunks = adamChunks(o.Params)
	}
	o.step = adamStep{o: o,
		b1: float32(c.Beta1), b2: float32(c.Beta2), eps: float32(c.Eps),
		decay:    float32(1 - lr*c.WeightDecay),
		stepSize: float32(lr / bc1),
		sqrtBC2:  float32(math.Sqrt(bc2)),
	}
	// One parallel pass over fixed chunks of every parameter.
	kernel.ParallelTask(len(o.chunks), 1, &o.step)
	o.step = adamStep{}
}

// adamStep is one update of Step: the coefficients of step t, applied to chunks [lo, hi).
type adamStep struct {
	o                                     *AdamW
	b1, b2, eps, decay, stepSize, sqrtBC2 float32
}

func (s *adamStep) Run(lo, hi int) {
	o := s.o
	for _, ch := range o.chunks[lo:hi] {
		p := o.Params[ch.param]
		g := p.Var.Grad()
		if g == nil {
			continue
		}
		d := float32(1)
		if p.Decay {
			d = s.decay
		}
		w, gd := p.Var.Value.Data()[ch.lo:ch.hi], g.Data()[ch.lo:ch.hi]
		m, v := o.M[ch.param].Data()[ch.lo:ch.hi], o.V[ch.param].Data()[ch.lo:ch.hi]
		kernel.AdamWStep(w, gd, m, v, s.b1, s.b2, s.eps, d, s.stepSize, s.sqrtBC2)
	}
}

// adamChunk is a range of one parameter's elements, the unit of parallel work of Step.
type adamChunk struct{ param, lo, hi int }

func adamChunks(params []*nn.Param) []adamChunk {
	const size = 16384
	var cs []adamChunk
	for i, p := range params {
		n := p.Var.Value.Len()
		for lo := 0; lo < n; lo += size {
			cs = append(cs, adamChunk{i, lo, min(n, lo+size)})
		}
	}
	return cs
}

// ClipGradNorm scales every gradient so that their global L2 norm is at most maxNorm (as
// PyTorch's clip_grad_norm_, with its 1e-6 guard) and returns the norm before clipping. A
// non-finite norm is returned as is and nothing is scaled.
func ClipGradNorm(params []*nn.Param, maxNorm float64) float64 {
	var ss float64
	for _, p := range params {
		if g := p.Var.Grad(); g != nil {
			ss += tensor.SumSquares(g)
		}
	}
	norm := math.Sqrt(ss)
	if math.IsNaN(norm) || math.IsInf(norm, 0) || maxNorm <= 0 {
		return norm
	}
	if coef := maxNorm / (norm + 1e-6); coef < 1 {
		for _, p := range params {
			if g := p.Var.Grad(); g != nil {
				tensor.ScaleInto(g, g, float32(coef), false)
			}
		}
	}
	return norm
}

// Cosine is the learning-rate schedule of GPT-style training: linear warm-up to Max over Warmup
// steps, then cosine decay to Min at DecaySteps, then Min.
type Cosine struct {
	Max, Min   float64
	Warmup     int
	DecaySteps int
}

// At returns the learning rate for step it (0-based).
func (s Cosine) At(it int) float64 {
	if it < s.Warmup {
		return s.Max * float64(it+1) / float64(s.Warmup+1)
	}
	if it > s.DecaySteps || s.DecaySteps <= s.Warmup {
		return s.Min
	}
	r := float64(it-s.Warmup) / float64(s.DecaySteps-s.Warmup)
	return s.Min + 0.5*(1+math.Cos(math.Pi*r))*(s.Max-s.Min)
}

// Validate checks the schedule's values.
func (s Cosine) Validate() error {
	if !(s.Max > 0) || math.IsInf(s.Max, 0) {
		return fmt.Errorf("learning rate %g must be positive", s.Max)
	}
	if s.Min < 0 || s.Min > s.Max {
		return fmt.Errorf("minimum learning rate %g must be in [0, %g]", s.Min, s.Max)
	}
	if s.Warmup < 0 {
		return fmt.Errorf("warm-up steps %d must not be negative", s.Warmup)
	}
	return nil
}
