package kernel

import "fmt"

// Dot returns Σ x[i]·y[i]. x and y must have the same length.
func Dot(x, y []float32) float32 {
	if len(x) != len(y) {
		panic(fmt.Sprintf("kernel: Dot of lengths %d and %d", len(x), len(y)))
	}
	return dot(x, y)
}

// Axpy adds alpha·x to y: y[i] += alpha·x[i]. x and y must have the same length and must not
// overlap unless they are the same slice.
func Axpy(alpha float32, x, y []float32) {
	if len(x) != len(y) {
		panic(fmt.Sprintf("kernel: Axpy of lengths %d and %d", len(x), len(y)))
	}
	axpy(alpha, x, y)
}

// dotGo is the pure-Go Dot: four partial sums, so the additions pipeline.
func dotGo(x, y []float32) float32 {
	var s0, s1, s2, s3 float32
	y = y[:len(x)]
	for len(x) >= 4 && len(y) >= 4 {
		xv, yv := (*[4]float32)(x), (*[4]float32)(y)
		s0 += xv[0] * yv[0]
		s1 += xv[1] * yv[1]
		s2 += xv[2] * yv[2]
		s3 += xv[3] * yv[3]
		x, y = x[4:], y[4:]
	}
	for i, v := range x {
		s0 += v * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpyGo is the pure-Go Axpy.
func axpyGo(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for len(x) >= 4 && len(y) >= 4 {
		xv, yv := (*[4]float32)(x), (*[4]float32)(y)
		yv[0] += alpha * xv[0]
		yv[1] += alpha * xv[1]
		yv[2] += alpha * xv[2]
		yv[3] += alpha * xv[3]
		x, y = x[4:], y[4:]
	}
	for i, v := range x {
		y[i] += alpha * v
	}
}
