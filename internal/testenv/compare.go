package testenv

import "math"

// MaxDiff is the largest absolute difference between a and b (+Inf if their lengths differ).
func MaxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// RelDiff is the largest difference between a and b, relative to |b| where |b| > 1.
func RelDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i]-b[i]))/max(1, math.Abs(float64(b[i]))))
	}
	return m
}

// MaxAbs is the largest magnitude in a.
func MaxAbs(a []float32) float64 {
	var m float64
	for _, v := range a {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

// Flatten concatenates rows.
func Flatten(rows [][]int) []int {
	var out []int
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}
