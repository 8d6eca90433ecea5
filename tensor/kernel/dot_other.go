//go:build !amd64 || purego

package kernel

// dot returns Σ x[i]·y[i] for len(x) == len(y).
func dot(x, y []float32) float32 { return dotGo(x, y) }

// axpy adds alpha·x to y for len(x) == len(y).
func axpy(alpha float32, x, y []float32) { axpyGo(alpha, x, y) }
