package testenv

import "math"

// CentralDifference returns (f(x+h) − f(x−h)) / 2h with element j of x moved by ±h (in float32,
// as the parameters are stored), restoring x[j] before it returns. f evaluates the loss from
// the current contents of x.
func CentralDifference(x []float32, j int, h float64, f func() float64) float64 {
	orig := x[j]
	x[j] = orig + float32(h)
	up := f()
	x[j] = orig - float32(h)
	down := f()
	x[j] = orig
	return (up - down) / (2 * h)
}

// GradientError compares the analytic gradient grad of x with central differences of f over
// every element of x, and returns the largest |numeric − analytic| and the largest |numeric|.
func GradientError(x, grad []float32, h float64, f func() float64) (maxErr, maxAbs float64) {
	for j := range x {
		num := CentralDifference(x, j, h, f)
		maxAbs = max(maxAbs, math.Abs(num))
		maxErr = max(maxErr, math.Abs(num-float64(grad[j])))
	}
	return maxErr, maxAbs
}
