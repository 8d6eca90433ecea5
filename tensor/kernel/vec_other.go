//go:build !amd64 || purego

package kernel

// The element-wise primitives of vec.go on CPUs without the assembly kernels: each is its
// pure-Go kernel.

func expv(dst, src []float32)                             { expGo(dst, src) }
func tanhv(dst, src []float32)                            { tanhGo(dst, src) }
func erfv(dst, src []float32)                             { erfGo(dst, src) }
func maxv(x []float32) float32                            { return maxGo(x) }
func expSubSum(dst, src []float32, shift float32) float64 { return expSubSumGo(dst, src, shift) }
func sumExpSub(src []float32, shift float32) float64      { return sumExpSubGo(src, shift) }
func expSubScaleAdd(dst, src []float32, shift, scale float32) {
	expSubScaleAddGo(dst, src, shift, scale)
}
func softmaxBwd(dx, y, dy []float32, c float32)         { softmaxBwdGo(dx, y, dy, c) }
func sumv(x []float32) float64                          { return sumGo(x) }
func sumDev(x []float32, mean float32) (s1, s2 float64) { return sumDevGo(x, mean) }
func lnApply(out, x, w, b []float32, mean, mlo, rstd float32) {
	lnApplyGo(out, x, w, b, mean, mlo, rstd)
}
func lnBwdSums(dout, x, w []float32, mean, rstd float32) (sg, sgx float64) {
	return lnBwdSumsGo(dout, x, w, mean, rstd)
}
func lnBwdApply(dx, dout, x, w []float32, mean, rstd, ca, cb float32) {
	lnBwdApplyGo(dx, dout, x, w, mean, rstd, ca, cb)
}
func lnParamGrad(dw, db, dout, x []float32, mean, rstd float32) {
	lnParamGradGo(dw, db, dout, x, mean, rstd)
}
func geluTanh(dst, src []float32)                         { geluTanhGo(dst, src) }
func geluTanhRows(c []float32, ld, rows, n int)           { geluRowsGo(geluTanhGo, c, c, ld, rows, n) }
func geluErfRows(c []float32, ld, rows, n int)            { geluRowsGo(geluErfGo, c, c, ld, rows, n) }
func geluTanhBwd(dx, dy, x []float32)                     { geluTanhBwdGo(dx, dy, x) }
func geluErf(dst, src []float32)                          { geluErfGo(dst, src) }
func geluErfBwd(dx, dy, x []float32)                      { geluErfBwdGo(dx, dy, x) }
func adamw(w, g, m, v []float32, p adamParams)            { adamwGo(w, g, m, v, p) }
func addv(dst, a, b []float32)                            { addGo(dst, a, b) }
func mulv(dst, a, b []float32)                            { mulGo(dst, a, b) }
func addTo(dst, src []float32)                            { addToGo(dst, src) }
func addToRows(c []float32, ldc, rows int, row []float32) { addToRowsGo(c, ldc, rows, row) }
func scalev(dst, src []float32, alpha float32)            { scaleGo(dst, src, alpha) }
