//go:build !amd64 || purego

package kernel

// bf16Rows sets t[i] = Σ_p W[j0+i][p]·x[p] for j0 ≤ j0+i < j1 (len(t) == j1-j0).
func bf16Rows(m *BF16Matrix, j0, j1 int, x, xp, t []float32) { bf16RowsGo(m, j0, x, t[:j1-j0]) }

// q8Rows sets t[i] = Σ_p W[j0+i][p]·x[p] for j0 ≤ j0+i < j1 (len(t) == j1-j0).
func q8Rows(m *Q8Matrix, j0, j1 int, x, t []float32) { q8RowsGo(m, j0, x, t[:j1-j0]) }

// q8RowsAct is q8Rows on quantised activations (see q8RowsActGo); it runs only where
// useVNNI is set, which this build never sets.
func q8RowsAct(m *Q8Matrix, j0, j1 int, a *q8Act, x, t []float32) {
	q8RowsActGo(m, j0, a, x, t[:j1-j0])
}

// bf16Dequant writes the float32 of each bfloat16 in src to dst (same length).
func bf16Dequant(dst []float32, src []uint16) { bf16WidenGo(dst, src) }

// q8Dequant writes the dequantised weights of a run of whole groups (see q8DequantGo).
func q8Dequant(dst []float32, q []int8, s []float32) { q8DequantGo(dst, q, s) }

// quantHasTiles reports whether a GEMM on the matrix would run on tile kernels (here: never).
func quantHasTiles(bf *BF16Matrix, q8 *Q8Matrix) bool { return false }

// quantGemmTiled runs a GEMM on the tile kernels and reports true, or reports false when
// there are none (here: never).
func quantGemmTiled(bf *BF16Matrix, q8 *Q8Matrix, m int, alpha float32, x []float32, ldx int, beta float32, y []float32, ldy int) bool {
	return false
}

// q8QuantizeVNNI is never called in this build (useVNNI is never set); it is declared so that
// the shared driver compiles.
func q8QuantizeVNNI(chunks int, x *float32, inv float32, xn *int32) {
	panic("kernel: q8QuantizeVNNI without VNNI")
}

// q8GemmVNNIRuns reports whether an int8 GEMM runs on VNNI tiles (here: never).
func q8GemmVNNIRuns(k int) bool { return false }
