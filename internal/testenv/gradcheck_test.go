package testenv

import (
	"slices"
	"testing"
)

// Central differences of Σ x³ match 3x² to O(h²), leave x as it was, and expose a wrong gradient.
func TestGradientError(t *testing.T) {
	x := []float32{-1.5, 0, 0.25, 2}
	orig := slices.Clone(x)
	f := func() float64 {
		var s float64
		for _, v := range x {
			s += float64(v) * float64(v) * float64(v)
		}
		return s
	}
	grad := make([]float32, len(x))
	for i, v := range x {
		grad[i] = 3 * v * v
	}
	maxErr, maxAbs := GradientError(x, grad, 1e-2, f)
	if maxErr > 1e-3 || maxAbs < 11.9 || maxAbs > 12.1 {
		t.Errorf("right gradient: max error %.3g, max |numeric| %.3g; want < 1e-3 and ≈ 12", maxErr, maxAbs)
	}
	if !slices.Equal(x, orig) {
		t.Errorf("x = %v after the check, want %v", x, orig)
	}
	grad[2] += 0.5
	if maxErr, _ := GradientError(x, grad, 1e-2, f); maxErr < 0.49 {
		t.Errorf("gradient off by 0.5: max error %.3g, want ≈ 0.5", maxErr)
	}
	if num := CentralDifference(x, 0, 1e-2, f); num < 6.74 || num > 6.76 {
		t.Errorf("d/dx x³ at -1.5 = %.5g, want 6.75", num)
	}
}
