package tensor

import (
	"math"
	"testing"
)

// TestMatMulBiasInto checks that MatMulBiasInto gives the bits of MatMulInto with beta 1 on an
// out first set to the bias rows, with each operand row-major or a transposed view, and with
// an out that is not row-major (which takes the unfused path).
func TestMatMulBiasInto(t *testing.T) {
	rng := NewRNG(9)
	for _, s := range [][3]int{{1, 40, 30}, {5, 70, 33}, {64, 96, 130}, {200, 33, 17}} {
		m, k, n := s[0], s[1], s[2]
		for tr := range 8 {
			a, b := randn(rng, m, k), randn(rng, k, n)
			if tr&1 != 0 {
				a = randn(rng, k, m).Transpose(0, 1)
			}
			if tr&2 != 0 {
				b = randn(rng, n, k).Transpose(0, 1)
			}
			bias := randn(rng, n)
			got, want := randn(rng, m, n), New(m, n) // got's values are overwritten
			if tr&4 != 0 {
				got = randn(rng, n, m).Transpose(0, 1)
			}
			CopyInto(want, bias.Reshape(1, n))
			MatMulInto(want, a, b, 1, 1)
			MatMulBiasInto(got, a, b, bias)
			for i := range m {
				for j := range n {
					if g, w := got.At(i, j), want.At(i, j); math.Float32bits(g) != math.Float32bits(w) {
						t.Fatalf("%v transposes %03b: out[%d][%d] = %g, want %g", s, tr, i, j, g, w)
					}
				}
			}
		}
	}
}

// randn returns a new tensor of the shape with standard normal values.
func randn(rng *RNG, shape ...int) *Tensor {
	t := New(shape...)
	Normal(t, 0, 1, rng)
	return t
}
