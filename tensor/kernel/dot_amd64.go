//go:build amd64 && !purego

package kernel

// dotAVX2 returns Σ_{i<n} x[i]·y[i]; n must be a multiple of 8.
//
//go:noescape
func dotAVX2(n int, x, y *float32) float32

// axpyAVX2 adds alpha·x to y over n elements; n must be a multiple of 8.
//
//go:noescape
func axpyAVX2(n int, alpha float32, x, y *float32)

// dot returns Σ x[i]·y[i] for len(x) == len(y).
func dot(x, y []float32) float32 {
	n := len(x)
	if !useAsm || n < 8 {
		return dotGo(x, y)
	}
	n8 := n &^ 7
	y = y[:n]
	s := dotAVX2(n8, &x[0], &y[0])
	if n8 < n {
		s += dotGo(x[n8:], y[n8:])
	}
	return s
}

// axpy adds alpha·x to y for len(x) == len(y).
func axpy(alpha float32, x, y []float32) {
	n := len(x)
	if !useAsm || n < 8 {
		axpyGo(alpha, x, y)
		return
	}
	n8 := n &^ 7
	y = y[:n]
	axpyAVX2(n8, alpha, &x[0], &y[0])
	if n8 < n {
		axpyGo(alpha, x[n8:], y[n8:])
	}
}
