//go:build amd64 && !purego

package kernel

// The element-wise primitives of vec.go on amd64: the AVX2/FMA kernels of vec_amd64.s when
// useAsm is set, the pure-Go kernels otherwise. Every assembly kernel takes the element count
// n ≥ 1 and base pointers, runs 8 lanes at a time and finishes the last n%8 elements with
// masked loads and stores, so it never touches memory past the slices. Where useAVX512 is
// also set, the erf GELUs run 16-lane AVX-512 kernels that give the AVX2 kernels' bits.

//go:noescape
func expAVX2(n int, dst, src *float32)

//go:noescape
func tanhAVX2(n int, dst, src *float32)

//go:noescape
func erfAVX2(n int, dst, src *float32)

//go:noescape
func maxAVX2(n int, x *float32) float32

//go:noescape
func expSubSumAVX2(n int, dst, src *float32, shift float32) float64

//go:noescape
func sumExpSubAVX2(n int, src *float32, shift float32) float64

//go:noescape
func expSubScaleAddAVX2(n int, dst, src *float32, shift, scale float32)

//go:noescape
func softmaxBwdAVX2(n int, dx, y, dy *float32, c float32)

//go:noescape
func sumAVX2(n int, x *float32) float64

//go:noescape
func sumDevAVX2(n int, x *float32, mean float32) (s1, s2 float64)

//go:noescape
func lnApplyAVX2(n int, out, x, w, b *float32, mean, mlo, rstd float32)

//go:noescape
func lnBwdSumsAVX2(n int, dout, x, w *float32, mean, rstd float32) (sg, sgx float64)

//go:noescape
func lnBwdApplyAVX2(n int, dx, dout, x, w *float32, mean, rstd, ca, cb float32)

//go:noescape
func lnParamGradAVX2(n int, dw, db, dout, x *float32, mean, rstd float32)

// geluTanhAVX2, geluErfAVX2 and geluErfAVX512 write dst[r·ld + i] = gelu(src[r·ld + i]) for
// i < n and r < rows: a row (rows 1), or the rows of a tile.
//
//go:noescape
func geluTanhAVX2(rows, n, ld int, dst, src *float32)

//go:noescape
func geluTanhBwdAVX2(n int, dx, dy, x *float32)

//go:noescape
func geluErfAVX2(rows, n, ld int, dst, src *float32)

//go:noescape
func geluErfBwdAVX2(n int, dx, dy, x *float32)

// geluErfAVX512 and geluErfBwdAVX512 are geluErfAVX2 and geluErfBwdAVX2 on 16 lanes
// (AVX-512F), with identical results.
//
//go:noescape
func geluErfAVX512(rows, n, ld int, dst, src *float32)

//go:noescape
func geluErfBwdAVX512(n int, dx, dy, x *float32)

// geluTanhAVX512 and geluTanhBwdAVX512 are geluTanhAVX2 and geluTanhBwdAVX2 on 16 lanes
// (AVX-512F), with identical results.
//
//go:noescape
func geluTanhAVX512(rows, n, ld int, dst, src *float32)

//go:noescape
func geluTanhBwdAVX512(n int, dx, dy, x *float32)

//go:noescape
func adamwAVX2(n int, w, grad, m, v *float32, beta1, omb1, beta2, omb2, eps, decay, stepSize, sqrtBC2 float32)

//go:noescape
func addAVX2(n int, dst, a, b *float32)

//go:noescape
func mulAVX2(n int, dst, a, b *float32)

// addToAVX2 adds src (n values) to rows rows of dst, ldd apart.
//
//go:noescape
func addToAVX2(rows, n, ldd int, dst, src *float32)

//go:noescape
func scaleAVX2(n int, dst, src *float32, alpha float32)

func expv(dst, src []float32) {
	if !useAsm || len(src) == 0 {
		expGo(dst, src)
		return
	}
	expAVX2(len(src), &dst[0], &src[0])
}

func tanhv(dst, src []float32) {
	if !useAsm || len(src) == 0 {
		tanhGo(dst, src)
		return
	}
	tanhAVX2(len(src), &dst[0], &src[0])
}

func erfv(dst, src []float32) {
	if !useAsm || len(src) == 0 {
		erfGo(dst, src)
		return
	}
	erfAVX2(len(src), &dst[0], &src[0])
}

func maxv(x []float32) float32 {
	if !useAsm || len(x) == 0 {
		return maxGo(x)
	}
	return maxAVX2(len(x), &x[0])
}

func expSubSum(dst, src []float32, shift float32) float64 {
	if !useAsm || len(src) == 0 {
		return expSubSumGo(dst, src, shift)
	}
	return expSubSumAVX2(len(src), &dst[0], &src[0], shift)
}

func sumExpSub(src []float32, shift float32) float64 {
	if !useAsm || len(src) == 0 {
		return sumExpSubGo(src, shift)
	}
	return sumExpSubAVX2(len(src), &src[0], shift)
}

func expSubScaleAdd(dst, src []float32, shift, scale float32) {
	if !useAsm || len(src) == 0 {
		expSubScaleAddGo(dst, src, shift, scale)
		return
	}
	expSubScaleAddAVX2(len(src), &dst[0], &src[0], shift, scale)
}

func softmaxBwd(dx, y, dy []float32, c float32) {
	if !useAsm || len(dx) == 0 {
		softmaxBwdGo(dx, y, dy, c)
		return
	}
	softmaxBwdAVX2(len(dx), &dx[0], &y[0], &dy[0], c)
}

func sumv(x []float32) float64 {
	if !useAsm || len(x) == 0 {
		return sumGo(x)
	}
	return sumAVX2(len(x), &x[0])
}

func sumDev(x []float32, mean float32) (s1, s2 float64) {
	if !useAsm || len(x) == 0 {
		return sumDevGo(x, mean)
	}
	return sumDevAVX2(len(x), &x[0], mean)
}

func lnApply(out, x, w, b []float32, mean, mlo, rstd float32) {
	if !useAsm || len(out) == 0 {
		lnApplyGo(out, x, w, b, mean, mlo, rstd)
		return
	}
	var bp *float32
	if b != nil {
		bp = &b[0]
	}
	lnApplyAVX2(len(out), &out[0], &x[0], &w[0], bp, mean, mlo, rstd)
}

func lnBwdSums(dout, x, w []float32, mean, rstd float32) (sg, sgx float64) {
	if !useAsm || len(dout) == 0 {
		return lnBwdSumsGo(dout, x, w, mean, rstd)
	}
	return lnBwdSumsAVX2(len(dout), &dout[0], &x[0], &w[0], mean, rstd)
}

func lnBwdApply(dx, dout, x, w []float32, mean, rstd, ca, cb float32) {
	if !useAsm || len(dx) == 0 {
		lnBwdApplyGo(dx, dout, x, w, mean, rstd, ca, cb)
		return
	}
	lnBwdApplyAVX2(len(dx), &dx[0], &dout[0], &x[0], &w[0], mean, rstd, ca, cb)
}

func lnParamGrad(dw, db, dout, x []float32, mean, rstd float32) {
	if !useAsm || len(dw) == 0 {
		lnParamGradGo(dw, db, dout, x, mean, rstd)
		return
	}
	var dbp *float32
	if db != nil {
		dbp = &db[0]
	}
	lnParamGradAVX2(len(dw), &dw[0], dbp, &dout[0], &x[0], mean, rstd)
}

// geluKernels are one GELU's kernels, forward on rows and backward, on 16 lanes (AVX-512),
// 8 (AVX2) and in Go: the assembly ones give the same bits at either width.
type geluKernels struct {
	avx512, avx2       func(rows, n, ld int, dst, src *float32)
	avx512Bwd, avx2Bwd func(n int, dx, dy, x *float32)
	goFwd              func(dst, src []float32)
	goBwd              func(dx, dy, x []float32)
}

var (
	geluTanhKernels = geluKernels{geluTanhAVX512, geluTanhAVX2, geluTanhBwdAVX512, geluTanhBwdAVX2, geluTanhGo, geluTanhBwdGo}
	geluErfKernels  = geluKernels{geluErfAVX512, geluErfAVX2, geluErfBwdAVX512, geluErfBwdAVX2, geluErfGo, geluErfBwdGo}
)

// rows writes dst[r·ld + i] = gelu(src[r·ld + i]) for i < n and r < rows.
func (k *geluKernels) rows(dst, src []float32, ld, rows, n int) {
	switch {
	case rows == 0 || n == 0:
	case !useAsm:
		geluRowsGo(k.goFwd, dst, src, ld, rows, n)
	case useAVX512:
		k.avx512(rows, n, ld, &dst[0], &src[0])
	default:
		k.avx2(rows, n, ld, &dst[0], &src[0])
	}
}

// bwd adds gelu'(x)·dy to dx.
func (k *geluKernels) bwd(dx, dy, x []float32) {
	switch {
	case !useAsm || len(dx) == 0:
		k.goBwd(dx, dy, x)
	case useAVX512:
		k.avx512Bwd(len(dx), &dx[0], &dy[0], &x[0])
	default:
		k.avx2Bwd(len(dx), &dx[0], &dy[0], &x[0])
	}
}

func geluTanh(dst, src []float32)               { geluTanhKernels.rows(dst, src, 0, 1, len(src)) }
func geluTanhRows(c []float32, ld, rows, n int) { geluTanhKernels.rows(c, c, ld, rows, n) }
func geluTanhBwd(dx, dy, x []float32)           { geluTanhKernels.bwd(dx, dy, x) }
func geluErf(dst, src []float32)                { geluErfKernels.rows(dst, src, 0, 1, len(src)) }
func geluErfRows(c []float32, ld, rows, n int)  { geluErfKernels.rows(c, c, ld, rows, n) }
func geluErfBwd(dx, dy, x []float32)            { geluErfKernels.bwd(dx, dy, x) }

func adamw(w, g, m, v []float32, p adamParams) {
	if !useAsm || len(w) == 0 {
		adamwGo(w, g, m, v, p)
		return
	}
	adamwAVX2(len(w), &w[0], &g[0], &m[0], &v[0], p.beta1, p.omb1, p.beta2, p.omb2, p.eps, p.decay, p.stepSize, p.sqrtBC2)
}

func addv(dst, a, b []float32) {
	if !useAsm || len(dst) == 0 {
		addGo(dst, a, b)
		return
	}
	addAVX2(len(dst), &dst[0], &a[0], &b[0])
}

func mulv(dst, a, b []float32) {
	if !useAsm || len(dst) == 0 {
		mulGo(dst, a, b)
		return
	}
	mulAVX2(len(dst), &dst[0], &a[0], &b[0])
}

func addTo(dst, src []float32) {
	if !useAsm || len(dst) == 0 {
		addToGo(dst, src)
		return
	}
	addToAVX2(1, len(dst), 0, &dst[0], &src[0])
}

// addToRows adds row to the first len(row) values of rows rows of c, ldc apart: a bias to
// the rows of a tile, in one call.
func addToRows(c []float32, ldc, rows int, row []float32) {
	if !useAsm || len(row) == 0 || rows == 0 {
		addToRowsGo(c, ldc, rows, row)
		return
	}
	_ = c[(rows-1)*ldc+len(row)-1]
	addToAVX2(rows, len(row), ldc, &c[0], &row[0])
}

func scalev(dst, src []float32, alpha float32) {
	if !useAsm || len(src) == 0 {
		scaleGo(dst, src, alpha)
		return
	}
	scaleAVX2(len(src), &dst[0], &src[0], alpha)
}
