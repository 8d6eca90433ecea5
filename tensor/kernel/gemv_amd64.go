//go:build amd64 && !purego

package kernel

// gemvNAVX2 adds x·W to y: y[j] += Σ_{p<k} x[p]·W[p][j] for j < n, where W has row stride ldw
// floats; n must be a multiple of 8.
//
//go:noescape
func gemvNAVX2(k, n int, x, w *float32, ldw int, y *float32)

// gemvTAVX2 sets y[j] = Σ_{p<k} x[p]·W[j][p] for j < n, where W has row stride ldw floats; k
// must be a multiple of 8.
//
//go:noescape
func gemvTAVX2(k, n int, x, w *float32, ldw int, y *float32)

// gemvN512 adds x·W to y: y[j] += Σ_{p<k} x[p]·W[p][j] for j < n, where W has row stride ldw
// floats; k, n ≥ 1.
//
//go:noescape
func gemvN512(k, n int, x, w *float32, ldw int, y *float32)

// gemvT512 sets y[j] = Σ_{p<k} x[p]·W[j][p] for j < n, where W has row stride ldw floats;
// k, n ≥ 1.
//
//go:noescape
func gemvT512(k, n int, x, w *float32, ldw int, y *float32)

// gemvN adds x·W to y (see gemvNGo).
func gemvN(x, w []float32, ldw int, y []float32) {
	k, n := len(x), len(y)
	if k == 0 || n == 0 {
		return
	}
	if useAsm && useAVX512 {
		_ = w[(k-1)*ldw+n-1]
		gemvN512(k, n, &x[0], &w[0], ldw, &y[0])
		return
	}
	n8 := 0
	if useAsm {
		n8 = n &^ 7
		if n8 > 0 {
			_ = w[(k-1)*ldw+n8-1]
			gemvNAVX2(k, n8, &x[0], &w[0], ldw, &y[0])
		}
	}
	if n8 < n {
		gemvNGo(x, w[n8:], ldw, y[n8:])
	}
}

// gemvT sets y to x·Wᵀ (see gemvTGo).
func gemvT(x, w []float32, ldw int, y []float32) {
	k, n := len(x), len(y)
	if useAsm && useAVX512 && k > 0 && n > 0 {
		_ = w[(n-1)*ldw+k-1]
		gemvT512(k, n, &x[0], &w[0], ldw, &y[0])
		return
	}
	if !useAsm || k < 8 || n == 0 {
		gemvTGo(x, w, ldw, y)
		return
	}
	k8 := k &^ 7
	_ = w[(n-1)*ldw+k-1]
	gemvTAVX2(k8, n, &x[0], &w[0], ldw, &y[0])
	if k8 < k {
		for j := range y {
			y[j] += dotGo(x[k8:], w[j*ldw+k8:j*ldw+k])
		}
	}
}
