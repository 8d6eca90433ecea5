package tensor

import (
	"math"
	"testing"
)

func TestArgmax(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		name string
		v    []float32
		want int
	}{
		{"plain", []float32{1, 3, 2}, 1},
		{"first on ties", []float32{2, 5, 5}, 1},
		{"all negative", []float32{-3, -1, -2}, 1},
		{"NaN first is passed over", []float32{nan, 1, 2}, 2},
		{"NaN between", []float32{1, nan, 0}, 0},
		{"+Inf wins", []float32{0, inf, 1}, 1},
		{"-Inf only", []float32{-inf, -inf}, 0},
		{"NaN only", []float32{nan, nan}, -1},
		{"empty", []float32{}, -1},
	} {
		if got := Argmax(FromData(c.v, len(c.v))); got != c.want {
			t.Errorf("%s: Argmax(%v) = %d, want %d", c.name, c.v, got, c.want)
		}
	}
}
