package nn

// Notation: P positions in the table, C = d_model, pos a position, k a frequency index,
// B batch, T positions of the input.

import (
	"fmt"
	"math"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// PositionalEncoding adds the fixed sinusoidal position signal of "Attention Is All You Need"
// (Vaswani et al., 2017, §3.5). It has no parameters: the table is computed, not learnt, and
// is not saved with a model. Frequencies fall geometrically from 1 to 1/10000:
//
//	ω_k = 1 / 10000^(2k/C),   k = 0 … ⌈C/2⌉ − 1
//
// Two column layouts are in use, the same numbers in a different order:
//
//   - Halves (Marian, HuggingFace's MarianSinusoidalPositionalEmbedding, tensor2tensor), the
//     default: column k is sin(pos·ω_k) for k < ⌈C/2⌉, and column ⌈C/2⌉ + k is cos(pos·ω_k).
//     Checkpoints in the Marian layout were trained with it.
//   - Interleaved (the paper's formula): PE(pos, 2k) = sin(pos·ω_k), PE(pos, 2k+1) = cos(pos·ω_k).
//
// Angles are computed in float64 and rounded once, as HuggingFace does with NumPy.
type PositionalEncoding struct {
	Table *tensor.Tensor // (P, C)
}

// NewPositionalEncoding returns the table for positions 0 … n−1 of width c, in the halves
// layout, or the interleaved one when interleaved is set.
func NewPositionalEncoding(n, c int, interleaved bool) *PositionalEncoding {
	t := tensor.New(n, c)
	d := t.Data()
	half := (c + 1) / 2 // sin columns
	for pos := 0; pos < n; pos++ {
		row := d[pos*c : pos*c+c]
		for j := 0; j < c; j++ {
			k := j / 2 // the paper's pair index: columns 2k and 2k+1 share ω_k
			angle := float64(pos) / math.Pow(10000, float64(2*k)/float64(c))
			sin := j%2 == 0
			col := j
			if !interleaved {
				if sin {
					col = k
				} else {
					col = half + k
				}
			}
			if sin {
				row[col] = float32(math.Sin(angle))
			} else {
				row[col] = float32(math.Cos(angle))
			}
		}
	}
	return &PositionalEncoding{Table: t}
}

// Forward returns x + PE[start : start+T] for x (B, T, C): the positions of x's T tokens begin
// at start (nonzero when decoding continues a cached prefix).
func (pe *PositionalEncoding) Forward(g *autograd.Graph, x *autograd.Var, start int) *autograd.Var {
	t := x.Value.Dim(1)
	if start < 0 || start+t > pe.Table.Dim(0) {
		panic(fmt.Sprintf("nn.PositionalEncoding: positions %d…%d outside the table's %d", start, start+t-1, pe.Table.Dim(0)))
	}
	return g.Add(x, g.Const(g.Arena().Narrow(pe.Table, 0, start, t))) // (B, T, C) + (T, C)
}
