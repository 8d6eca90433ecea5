//go:build !amd64 || purego

package kernel

// gemvN adds x·W to y (see gemvNGo).
func gemvN(x, w []float32, ldw int, y []float32) { gemvNGo(x, w, ldw, y) }

// gemvT sets y to x·Wᵀ (see gemvTGo).
func gemvT(x, w []float32, ldw int, y []float32) { gemvTGo(x, w, ldw, y) }
