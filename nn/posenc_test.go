package nn

import (
	"math"
	"slices"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// The two layouts against the formulas written out: Marian's halves (sin in columns 0…C/2−1,
// cos in C/2…C−1) and the paper's interleaving (sin in even columns, cos in odd ones).
func TestPositionalEncodingLayouts(t *testing.T) {
	type check struct {
		got  float32
		want float64
		what string
	}
	for _, c := range []int{8, 7} {
		halves := NewPositionalEncoding(12, c, false).Table
		inter := NewPositionalEncoding(12, c, true).Table
		half := (c + 1) / 2
		for pos := 0; pos < 12; pos++ {
			for k := 0; 2*k < c; k++ {
				w := float64(pos) / math.Pow(10000, float64(2*k)/float64(c))
				checks := []check{
					{halves.At(pos, k), math.Sin(w), "halves sin"},
					{inter.At(pos, 2*k), math.Sin(w), "interleaved sin"},
				}
				if 2*k+1 < c {
					checks = append(checks,
						check{halves.At(pos, half+k), math.Cos(w), "halves cos"},
						check{inter.At(pos, 2*k+1), math.Cos(w), "interleaved cos"})
				}
				for _, ch := range checks {
					if math.Abs(float64(ch.got)-ch.want) > 1e-7 {
						t.Fatalf("C=%d pos %d k %d %s: %g, want %g", c, pos, k, ch.what, ch.got, ch.want)
					}
				}
			}
		}
	}
	// Position 0 is sin 0 = 0 then cos 0 = 1: the layout HuggingFace's Marian checkpoints use.
	row := NewPositionalEncoding(1, 6, false).Table.Data()
	if want := []float32{0, 0, 0, 1, 1, 1}; !slices.Equal(row, want) {
		t.Fatalf("position 0 = %v, want %v", row, want)
	}
}

// Forward adds the rows from start on, broadcasting over the batch, and passes gradients through.
func TestPositionalEncodingForward(t *testing.T) {
	pe := NewPositionalEncoding(10, 4, false)
	x := autograd.NewParam(tensor.New(2, 3, 4))
	tensor.Uniform(x.Value, -1, 1, tensor.NewRNG(1))
	g := autograd.NewGraph()
	y := pe.Forward(g, x, 5)
	for b := 0; b < 2; b++ {
		for tt := 0; tt < 3; tt++ {
			for c := 0; c < 4; c++ {
				if got, want := y.Value.At(b, tt, c), x.Value.At(b, tt, c)+pe.Table.At(5+tt, c); got != want {
					t.Fatalf("y[%d,%d,%d] = %g, want %g", b, tt, c, got, want)
				}
			}
		}
	}
	g.Backward(g.Sum(y))
	for _, v := range x.Grad().Data() {
		if v != 1 {
			t.Fatalf("gradient %v, want all ones", x.Grad().Data())
		}
	}
}
