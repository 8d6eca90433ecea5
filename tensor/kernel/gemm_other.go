//go:build !amd64 || purego

package kernel

// sgemmKernel runs the pure-Go micro-kernel: this build has no assembly.
func sgemmKernel(k int, a, b, c *float32, ldc int, alpha, beta float32) {
	sgemmKernelGo(k, a, b, c, ldc, alpha, beta)
}

// packBTrans packs a full 16-column micro-panel of Bᵀ (see packBTransGo).
func packBTrans(kc int, b []float32, ldb int, d []float32) { packBTransGo(kc, b, ldb, d) }
