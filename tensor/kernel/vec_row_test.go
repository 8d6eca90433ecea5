package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Tests of the row reductions (softmax, log-sum-exp, cross-entropy and softmax gradients,
// LayerNorm forward and backward), AdamW and the element-wise helpers, against float64
// references.

// logitRow draws n logits of the given spread around offset, with some −Inf entries when
// masked is set (as in causal attention).
func logitRow(rng *rand.Rand, n int, spread, offset float64, masked bool) []float32 {
	x := guarded(n)
	for i := range x {
		x[i] = float32(offset + spread*rng.NormFloat64())
		if masked && rng.IntN(4) == 0 {
			x[i] = -inf32
		}
	}
	return x
}

// softmax64 returns the float64 softmax of x and its log-sum-exp.
func softmax64(x []float32) (p []float64, lse float64) {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, float64(v))
	}
	var s float64
	p = make([]float64, len(x))
	for i, v := range x {
		p[i] = math.Exp(float64(v) - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p, m + math.Log(s)
}

var logitShapes = []struct {
	spread, offset float64
	masked         bool
}{{1, 0, false}, {10, 0, true}, {30, 50, false}, {3, -1000, true}}

func TestVecSoftmaxRow(t *testing.T) {
	forEachVecPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		var worst float64
		for _, n := range append(vecLengths(), 50257) {
			for _, sh := range logitShapes {
				src := logitRow(rng, n, sh.spread, sh.offset, sh.masked)
				if n > 0 && sh.masked {
					src[rng.IntN(n)] = float32(sh.offset) // at least one finite entry
				}
				want, _ := softmax64(src)
				m := float32(math.Inf(-1))
				for _, v := range src {
					m = max(m, v)
				}
				dst := guarded(n)
				SoftmaxRow(dst, src)
				checkGuard(t, "SoftmaxRow", dst)
				for i := range dst {
					// Beyond a few ulps, the float32 difference x − max carries a relative
					// rounding error of up to 2^-24, which e^(x−max) scales by |x − max|.
					tol := want[i]*(1e-6+0x1p-24*math.Abs(float64(src[i])-float64(m))) + 0x1p-149
					if d := math.Abs(float64(dst[i]) - want[i]); d > tol || dst[i] != dst[i] {
						t.Fatalf("n=%d spread=%g: dst[%d] = %g, want %g", n, sh.spread, i, dst[i], want[i])
					}
					if want[i] >= 1e-30 {
						worst = max(worst, math.Abs(float64(dst[i])-want[i])/want[i]/(1+math.Abs(float64(src[i]-m))))
					}
				}
				// In place gives the same bits.
				SoftmaxRow(src, src)
				for i := range src {
					if src[i] != dst[i] {
						t.Fatalf("n=%d: in place dst[%d] = %g, want %g", n, i, src[i], dst[i])
					}
				}
			}
		}
		t.Logf("SoftmaxRow: max rel err/(1+|x−max|) %.3g", worst)

		for _, tc := range []struct {
			name string
			src  []float32
			want float32 // every output; NaN for NaN
		}{
			{"all -Inf", []float32{-inf32, -inf32, -inf32}, 0},
			{"all -Inf long", []float32{-inf32, -inf32, -inf32, -inf32, -inf32, -inf32, -inf32, -inf32, -inf32, -inf32}, 0},
			{"NaN", []float32{1, nan32, 2, 3, 4, 5, 6, 7, 8, 9}, nan32},
			{"NaN and -Inf", []float32{-inf32, nan32, -inf32}, nan32},
			{"NaN last", []float32{-inf32, -inf32, -inf32, -inf32, -inf32, -inf32, -inf32, -inf32, nan32}, nan32},
			{"+Inf", []float32{1, inf32, 2}, nan32},
			{"one", []float32{-3}, 1},
		} {
			dst := make([]float32, len(tc.src))
			SoftmaxRow(dst, tc.src)
			for i, v := range dst {
				if !(v == tc.want || (v != v && tc.want != tc.want)) {
					t.Errorf("%s: dst[%d] = %g, want %g", tc.name, i, v, tc.want)
				}
			}
		}
		SoftmaxRow(nil, nil)
	})
}

// TestVecMaxExpSubSum checks the two halves of a softmax that attention runs blockwise: Max
// against a scalar loop (NaNs skipped), and ExpSubSum's outputs against Exp of the float32
// differences (the same bits) and its sum against a float64 one.
func TestVecMaxExpSubSum(t *testing.T) {
	forEachVecPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(21, 22))
		for _, n := range append(vecLengths(), 4099) {
			for _, sh := range logitShapes {
				src := logitRow(rng, n, sh.spread, sh.offset, sh.masked)
				want := float32(math.Inf(-1))
				for _, v := range src {
					if v > want {
						want = v
					}
				}
				if got := Max(src); got != want {
					t.Fatalf("n=%d spread=%g: Max = %g, want %g", n, sh.spread, got, want)
				}
				if n == 0 || math.IsInf(float64(want), -1) {
					continue
				}
				diff := make([]float32, n)
				for i, v := range src {
					diff[i] = v - want
				}
				exp := make([]float32, n)
				Exp(exp, diff)
				var sum float64
				for _, e := range exp {
					sum += float64(e)
				}
				dst := guarded(n)
				got := ExpSubSum(dst, src, want)
				checkGuard(t, "ExpSubSum", dst)
				for i := range dst {
					if dst[i] != exp[i] {
						t.Fatalf("n=%d spread=%g: dst[%d] = %g, want Exp's %g", n, sh.spread, i, dst[i], exp[i])
					}
				}
				if math.Abs(got-sum) > 1e-6*sum { // the asm sums up to 16 terms a lane in float32
					t.Fatalf("n=%d spread=%g: sum %.17g, want %.17g", n, sh.spread, got, sum)
				}
				// In place gives the same bits.
				if ExpSubSum(src, src, want) != got {
					t.Fatalf("n=%d: in place sum differs", n)
				}
			}
		}
		for _, tc := range []struct {
			name string
			src  []float32
			want float32
		}{
			{"empty", nil, -inf32},
			{"all -Inf", []float32{-inf32, -inf32}, -inf32},
			{"NaN skipped", []float32{1, nan32, 3, 2, nan32, -1, 0, 0.5, 2.5}, 3},
			{"+Inf", []float32{1, inf32, 2}, inf32},
		} {
			if got := Max(tc.src); got != tc.want {
				t.Errorf("%s: Max = %g, want %g", tc.name, got, tc.want)
			}
		}
	})
}

func TestVecLogSumExp(t *testing.T) {
	forEachVecPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 14))
		var worst float64
		for _, n := range append(vecLengths(), 50257, 200003) {
			if n == 0 {
				continue
			}
			for _, sh := range logitShapes {
				src := logitRow(rng, n, sh.spread, sh.offset, sh.masked)
				src[rng.IntN(n)] = float32(sh.offset)
				_, want := softmax64(src)
				got := LogSumExp(src)
				e := math.Abs(float64(got)-want) / max(1, math.Abs(want))
				if e > 1e-6 {
					t.Fatalf("n=%d spread=%g offset=%g: LogSumExp = %.9g, want %.9g (rel err %.3g)", n, sh.spread, sh.offset, got, want, e)
				}
				worst = max(worst, e)
			}
		}
		t.Logf("LogSumExp: max |err|/max(1,|lse|) %.3g", worst)
		for _, tc := range []struct {
			name string
			src  []float32
			want float64
		}{
			{"empty", nil, math.Inf(-1)},
			{"all -Inf", []float32{-inf32, -inf32}, math.Inf(-1)},
			{"+Inf", []float32{1, inf32, 2}, math.Inf(1)},
			{"+Inf and NaN", []float32{1, inf32, nan32}, math.NaN()},
			{"NaN", []float32{1, 2, nan32, 3, 4, 5, 6, 7, 8}, math.NaN()},
			{"-Inf and NaN", []float32{-inf32, nan32}, math.NaN()},
			{"single", []float32{-7.5}, -7.5},
			{"huge", []float32{3e38, 3e38}, float64(float32(3e38 + math.Ln2))},
		} {
			got := LogSumExp(tc.src)
			if sp, ok := sameSpecial(got, tc.want); (sp && !ok) || (!sp && float64(got) != tc.want) {
				t.Errorf("%s: LogSumExp = %g, want %g", tc.name, got, tc.want)
			}
		}
	})
}

func TestVecSoftmaxCrossEntropyBackwardRow(t *testing.T) {
	forEachVecPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(15, 16))
		for _, n := range vecLengths() {
			if n == 0 {
				continue
			}
			logits := logitRow(rng, n, 5, 2, false)
			_, lse := softmax64(logits)
			dst := guarded(n)
			for i := range dst {
				dst[i] = float32(rng.NormFloat64())
			}
			orig := append([]float32(nil), dst...)
			const scale = 0.125
			SoftmaxCrossEntropyBackwardRow(dst, logits, LogSumExp(logits), scale)
			checkGuard(t, "SoftmaxCrossEntropyBackwardRow", dst)
			for i := range dst {
				p := math.Exp(float64(logits[i]) - lse)
				want := float64(orig[i]) + p*scale
				tol := 2e-6*p*scale*(1+math.Abs(float64(logits[i])-lse)) + 1.2e-7*math.Abs(want)
				if math.Abs(float64(dst[i])-want) > tol {
					t.Fatalf("n=%d: dst[%d] = %g, want %g", n, i, dst[i], want)
				}
			}
		}
	})
}

func TestVecSoftmaxBackwardRow(t *testing.T) {
	forEachVecPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(17, 18))
		for _, n := range vecLengths() {
			x := logitRow(rng, n, 2, 0, false)
			y := guarded(n)
			SoftmaxRow(y, x)
			dy, dx := vecNormals(rng, n), guarded(n)
			for i := range dx {
				dx[i] = float32(rng.NormFloat64())
			}
			orig := append([]float32(nil), dx...)
			SoftmaxBackwardRow(dx, y, dy)
			checkGuard(t, "SoftmaxBackwardRow", dx)
			var c, ca float64
			for i := range y {
				c += float64(y[i]) * float64(dy[i])
				ca += math.Abs(float64(y[i]) * float64(dy[i]))
			}
			for i := range dx {
				want := float64(orig[i]) + float64(y[i])*(float64(dy[i])-c)
				tol := 4e-7 * (math.Abs(float64(orig[i])) + math.Abs(float64(y[i]))*(math.Abs(float64(dy[i]))+float64(n)*ca))
				if math.Abs(float64(dx[i])-want) > tol {
					t.Fatalf("n=%d: dx[%d] = %g, want %g", n, i, dx[i], want)
				}
			}
		}
	})
}

// layerNorm64 returns the float64 mean, rstd and output of a LayerNorm row.
func layerNorm64(x, w, b []float32, eps float64) (mean, rstd float64, out []float64) {
	n := float64(len(x))
	for _, v := range x {
		mean += float64(v)
	}
	mean /= n
	var v2 float64
	for _, v := range x {
		v2 += (float64(v) - mean) * (float64(v) - mean)
	}
	rstd = 1 / math.Sqrt(v2/n+eps)
	out = make([]float64, len(x))
	for i, v := range x {
		out[i] = (float64(v) - mean) * rstd * float64(w[i])
		if b != nil {
			out[i] += float64(b[i])
		}
	}
	return mean, rstd, out
}

var lnShapes = []struct{ offset, spread float64 }{{0, 1}, {100, 1}, {1e2, 1e-2}, {-3, 20}, {1e4, 1}}

func TestVecLayerNormRow(t *testing.T) {
	forEachVecPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(19, 20))
		var worstMean, worstRstd, worstOut float64
		for _, n := range append(vecLengths(), 768, 4096) {
			if n == 0 {
				continue
			}
			for _, sh := range lnShapes {
				for _, bias := range []bool{true, false} {
					x := guarded(n)
					for i := range x {
						x[i] = float32(sh.offset + sh.spread*rng.NormFloat64())
					}
					w, b := vecNormals(rng, n), []float32(nil)
					if bias {
						b = vecNormals(rng, n)
					}
					const eps = 1e-5
					mean64, rstd64, want := layerNorm64(x, w, b, eps)
					out := guarded(n)
					mean, rstd := LayerNormRow(out, x, w, b, eps)
					checkGuard(t, "LayerNormRow", out)
					em := math.Abs(float64(mean) - mean64)
					er := math.Abs(float64(rstd)-rstd64) / rstd64
					if em > 0x1p-24*math.Abs(mean64)+1e-7*sh.spread || er > 3e-7 {
						t.Fatalf("n=%d offset=%g spread=%g: mean %.9g rstd %.9g, want %.9g %.9g", n, sh.offset, sh.spread, mean, rstd, mean64, rstd64)
					}
					// In ulps of max(|mean|, spread): the float32 mean cannot do better.
					ref := float32(max(math.Abs(mean64), sh.spread))
					worstMean = max(worstMean, em/float64(math.Nextafter32(ref, inf32)-ref))
					worstRstd = max(worstRstd, er)
					for i := range out {
						// Each step rounds once, relative to |xhat·w| and |b|; the centring x − mean
						// (with the correction of the float32 mean) is exact to a few float32 ulps of
						// the spread, so xhat carries an absolute error of a few 1e-7 too.
						xhat := (float64(x[i]) - mean64) * rstd64
						scale := math.Abs(xhat*float64(w[i])) + math.Abs(float64(w[i]))
						if b != nil {
							scale += math.Abs(float64(b[i]))
						}
						if d := math.Abs(float64(out[i]) - want[i]); d > 6e-7*scale+1e-30 {
							t.Fatalf("n=%d offset=%g spread=%g bias=%v: out[%d] = %.9g, want %.9g", n, sh.offset, sh.spread, bias, i, out[i], want[i])
						}
						worstOut = max(worstOut, math.Abs(float64(out[i])-want[i])/scale)
					}
					// out may alias x.
					mean2, rstd2 := LayerNormRow(x, x, w, b, eps)
					for i := range x {
						if x[i] != out[i] || mean2 != mean || rstd2 != rstd {
							t.Fatalf("n=%d: in place out[%d] = %g, want %g", n, i, x[i], out[i])
						}
					}
				}
			}
		}
		t.Logf("LayerNormRow: mean err %.3g ulp of max(|mean|, spread), rstd rel err %.3g, out err/(|xhat·w|+|w|+|b|) %.3g", worstMean, worstRstd, worstOut)

		// A constant row: var = 0, rstd = 1/√eps, out = b.
		x := []float32{3, 3, 3, 3, 3, 3, 3, 3, 3}
		w, b := []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
		out := make([]float32, len(x))
		mean, rstd := LayerNormRow(out, x, w, b, 1e-5)
		if mean != 3 || rstd != float32(1/math.Sqrt(float64(float32(1e-5)))) {
			t.Errorf("constant row: mean %g rstd %g", mean, rstd)
		}
		for i := range out {
			if out[i] != b[i] {
				t.Errorf("constant row: out[%d] = %g, want %g", i, out[i], b[i])
			}
		}
		// NaN propagates.
		x[4] = nan32
		LayerNormRow(out, x, w, b, 1e-5)
		for i := range out {
			if out[i] == out[i] {
				t.Errorf("row with a NaN: out[%d] = %g", i, out[i])
			}
		}
		LayerNormRow(nil, nil, nil, nil, 1e-5)
	})
}

// lnBackward64 is the float64 gradient of Σ dout·LayerNorm(x) with respect to x, for the given
// mean and rstd.
func lnBackward64(dout, x, w []float32, mean, rstd float64) []float64 {
	n := float64(len(x))
	var sg, sgx float64
	for i := range x {
		g := float64(dout[i]) * float64(w[i])
		sg += g
		sgx += g * (float64(x[i]) - mean) * rstd
	}
	dx := make([]float64, len(x))
	for i := range x {
		xhat := (float64(x[i]) - mean) * rstd
		dx[i] = rstd * (float64(dout[i])*float64(w[i]) - sg/n - xhat*sgx/n)
	}
	return dx
}

func TestVecLayerNormBackwardRow(t *testing.T) {
	// The float64 formula against central differences of the float64 forward pass.
	rng := rand.New(rand.NewPCG(21, 22))
	{
		const n = 13
		x, w, dout := vecNormals(rng, n), vecNormals(rng, n), vecNormals(rng, n)
		loss := func(x []float32, dx float64, at int) float64 {
			xs := make([]float64, n)
			for i := range x {
				xs[i] = float64(x[i])
			}
			xs[at] += dx
			var mean, v float64
			for _, u := range xs {
				mean += u / n
			}
			for _, u := range xs {
				v += (u - mean) * (u - mean) / n
			}
			var l float64
			for i, u := range xs {
				l += float64(dout[i]) * (u - mean) / math.Sqrt(v+1e-5) * float64(w[i])
			}
			return l
		}
		mean, rstd, _ := layerNorm64(x, w, nil, 1e-5)
		want := lnBackward64(dout, x, w, mean, rstd)
		for i := range x {
			fd := (loss(x, 1e-6, i) - loss(x, -1e-6, i)) / 2e-6
			if math.Abs(fd-want[i]) > 1e-6*(1+math.Abs(fd)) {
				t.Fatalf("reference gradient dx[%d] = %g, finite difference %g", i, want[i], fd)
			}
		}
	}
	forEachVecPath(t, func(t *testing.T) {
		var worst float64
		for _, n := range append(vecLengths(), 768, 4096) {
			if n == 0 {
				continue
			}
			for _, sh := range lnShapes {
				x := guarded(n)
				for i := range x {
					x[i] = float32(sh.offset + sh.spread*rng.NormFloat64())
				}
				w, b, dout := vecNormals(rng, n), vecNormals(rng, n), vecNormals(rng, n)
				mean, rstd := LayerNormRow(make([]float32, n), x, w, b, 1e-5)
				dx := guarded(n)
				for i := range dx {
					dx[i] = float32(rng.NormFloat64())
				}
				orig := append([]float32(nil), dx...)
				LayerNormBackwardRow(dx, dout, x, w, mean, rstd)
				checkGuard(t, "LayerNormBackwardRow", dx)
				want := lnBackward64(dout, x, w, float64(mean), float64(rstd))
				for i := range dx {
					g := math.Abs(float64(dout[i]) * float64(w[i]))
					xhat := math.Abs((float64(x[i]) - float64(mean)) * float64(rstd))
					scale := float64(rstd)*(g+1+xhat) + math.Abs(float64(orig[i]))
					d := math.Abs(float64(dx[i]) - (float64(orig[i]) + want[i]))
					if d > 1e-6*scale {
						t.Fatalf("n=%d offset=%g: dx[%d] = %g, want %g", n, sh.offset, i, dx[i], float64(orig[i])+want[i])
					}
					worst = max(worst, d/scale)
				}

				// The parameter gradients.
				dw, db := guarded(n), guarded(n)
				for i := range dw {
					dw[i], db[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
				}
				dw0, db0 := append([]float32(nil), dw...), append([]float32(nil), db...)
				LayerNormParamGradRow(dw, db, dout, x, mean, rstd)
				checkGuard(t, "LayerNormParamGradRow", dw)
				checkGuard(t, "LayerNormParamGradRow", db)
				for i := range dw {
					xhat := (float64(x[i]) - float64(mean)) * float64(rstd)
					wantW := float64(dw0[i]) + float64(dout[i])*xhat
					tol := 6e-7 * (math.Abs(float64(dw0[i])) + math.Abs(float64(dout[i]))*(math.Abs(xhat)+float64(rstd)*math.Abs(float64(x[i]))*1e-6))
					if math.Abs(float64(dw[i])-wantW) > tol+1e-30 || db[i] != db0[i]+dout[i] {
						t.Fatalf("n=%d: dw[%d] = %g, db = %g, want %g, %g", n, i, dw[i], db[i], wantW, db0[i]+dout[i])
					}
				}
				copy(dw, dw0)
				LayerNormParamGradRow(dw, nil, dout, x, mean, rstd)
				for i := range dw {
					if math.Abs(float64(dw[i])-(float64(dw0[i])+float64(dout[i])*(float64(x[i])-float64(mean))*float64(rstd))) > 1e-5*(1+math.Abs(float64(dw[i]))) {
						t.Fatalf("n=%d: without db, dw[%d] = %g", n, i, dw[i])
					}
				}
			}
		}
		t.Logf("LayerNormBackwardRow: max err/(rstd·(|dout·w|+1+|xhat|)+|dx|) %.3g", worst)
	})
}

func TestVecAdamWStep(t *testing.T) {
	const beta1, beta2, eps, lr, wd = 0.9, 0.999, 1e-8, 3e-4, 0.1
	rng := rand.New(rand.NewPCG(23, 24))
	for _, n := range vecLengths() {
		w0, g := vecNormals(rng, n), vecNormals(rng, n)
		m0, v0 := vecNormals(rng, n), vecNormals(rng, n)
		for i := range v0 {
			v0[i] *= v0[i]
			g[i] *= float32(math.Pow(10, float64(rng.IntN(9)-6)))
		}
		const step = 7
		bc1 := 1 - math.Pow(beta1, step)
		sqrtBC2 := float32(math.Sqrt(1 - math.Pow(beta2, step)))
		stepSize := float32(lr / bc1)
		decay := float32(1 - lr*wd)
		var res [2][3][]float32
		for p, asm := range []bool{true, false} {
			w, m, v := guarded(n), guarded(n), guarded(n)
			copy(w, w0)
			copy(m, m0)
			copy(v, v0)
			withPath(asm, func() { AdamWStep(w, g, m, v, beta1, beta2, eps, decay, stepSize, sqrtBC2) })
			checkGuard(t, "AdamWStep", w)
			checkGuard(t, "AdamWStep", m)
			checkGuard(t, "AdamWStep", v)
			res[p] = [3][]float32{w, m, v}
			// The kernel's coefficients: float32 β and 1 − β formed in float32.
			b1, omb1 := float64(float32(beta1)), float64(1-float32(beta1))
			b2, omb2 := float64(float32(beta2)), float64(1-float32(beta2))
			for i := range w {
				gi := float64(g[i])
				mi := b1*float64(m0[i]) + omb1*gi
				vi := b2*float64(v0[i]) + omb2*gi*gi
				upd := float64(stepSize) * mi / (math.Sqrt(vi)/float64(sqrtBC2) + eps)
				wi := float64(w0[i])*float64(decay) - upd
				if math.Abs(float64(m[i])-mi) > 4e-7*(math.Abs(float64(m0[i]))+math.Abs(gi)) ||
					math.Abs(float64(v[i])-vi) > 4e-7*(float64(v0[i])+gi*gi) ||
					math.Abs(float64(w[i])-wi) > 4e-7*math.Abs(float64(w0[i]))+1e-6*math.Abs(upd) {
					t.Fatalf("n=%d asm=%v i=%d: w,m,v = %g %g %g, want %g %g %g", n, asm, i, w[i], m[i], v[i], wi, mi, vi)
				}
			}
		}
		// The two paths round every operation alike: equal to the bit.
		for k, name := range []string{"w", "m", "v"} {
			for i := range res[0][k] {
				if d := ulpDiff(res[0][k][i], res[1][k][i]); d != 0 {
					t.Fatalf("n=%d: %s[%d] asm %g, go %g (%d ulps)", n, name, i, res[0][k][i], res[1][k][i], d)
				}
			}
		}
	}
}

func TestVecElementwise(t *testing.T) {
	forEachVecPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(25, 26))
		for _, n := range vecLengths() {
			a, b := vecNormals(rng, n), vecNormals(rng, n)
			for i, v := range []float32{nan32, inf32, -inf32, negz32} {
				if i < n {
					a[n-1-i] = v
				}
			}
			dst := guarded(n)
			for _, tc := range []struct {
				name string
				run  func()
				want func(i int) float32
			}{
				{"Add", func() { Add(dst, a, b) }, func(i int) float32 { return a[i] + b[i] }},
				{"Mul", func() { Mul(dst, a, b) }, func(i int) float32 { return a[i] * b[i] }},
				{"Scale", func() { Scale(dst, a, -1.5) }, func(i int) float32 { return -1.5 * a[i] }},
				{"AddTo", func() { copy(dst, b); AddTo(dst, a) }, func(i int) float32 { return b[i] + a[i] }},
			} {
				tc.run()
				checkGuard(t, tc.name, dst)
				for i := range dst {
					if w := tc.want(i); math.Float32bits(dst[i]) != math.Float32bits(w) && !(w != w && dst[i] != dst[i]) {
						t.Fatalf("%s n=%d: dst[%d] = %g, want %g", tc.name, n, i, dst[i], w)
					}
				}
			}
			// In place.
			c := append([]float32(nil), a...)
			Add(c, c, b)
			AddTo(a, b)
			for i := range c {
				if math.Float32bits(c[i]) != math.Float32bits(a[i]) && c[i] == c[i] {
					t.Fatalf("n=%d: in-place Add and AddTo differ at %d", n, i)
				}
			}
		}
	})
}

func TestVecPanicsOnLengthMismatch(t *testing.T) {
	a, b := make([]float32, 3), make([]float32, 4)
	for name, f := range map[string]func(){
		"Exp":                            func() { Exp(a, b) },
		"Tanh":                           func() { Tanh(a, b) },
		"Erf":                            func() { Erf(a, b) },
		"SoftmaxRow":                     func() { SoftmaxRow(a, b) },
		"ExpSubSum":                      func() { ExpSubSum(a, b, 0) },
		"SoftmaxCrossEntropyBackwardRow": func() { SoftmaxCrossEntropyBackwardRow(a, b, 0, 1) },
		"SoftmaxBackwardRow":             func() { SoftmaxBackwardRow(a, a, b) },
		"LayerNormRow":                   func() { LayerNormRow(a, a, a, b, 1e-5) },
		"LayerNormBackwardRow":           func() { LayerNormBackwardRow(a, a, a, b, 0, 1) },
		"LayerNormParamGradRow":          func() { LayerNormParamGradRow(a, b, a, a, 0, 1) },
		"GELUTanh":                       func() { GELUTanh(a, b) },
		"GELUTanhBackward":               func() { GELUTanhBackward(a, a, b) },
		"GELUErf":                        func() { GELUErf(a, b) },
		"GELUErfBackward":                func() { GELUErfBackward(b, a, a) },
		"AdamWStep":                      func() { AdamWStep(a, a, a, b, 0.9, 0.999, 1e-8, 1, 1, 1) },
		"Add":                            func() { Add(a, a, b) },
		"Mul":                            func() { Mul(b, a, a) },
		"AddTo":                          func() { AddTo(a, b) },
		"Scale":                          func() { Scale(a, b, 2) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestVecNoAlloc(t *testing.T) {
	const n = 777
	rng := rand.New(rand.NewPCG(27, 28))
	a, b, c, d := vecNormals(rng, n), vecNormals(rng, n), vecNormals(rng, n), vecNormals(rng, n)
	forEachVecPath(t, func(t *testing.T) {
		allocs := testing.AllocsPerRun(5, func() {
			Exp(a, b)
			SoftmaxRow(a, b)
			LogSumExp(b)
			SoftmaxCrossEntropyBackwardRow(a, b, 3, 0.5)
			mean, rstd := LayerNormRow(a, b, c, d, 1e-5)
			LayerNormBackwardRow(a, b, c, d, mean, rstd)
			LayerNormParamGradRow(a, c, b, d, mean, rstd)
			GELUTanh(a, b)
			GELUErfBackward(a, b, c)
		})
		if allocs != 0 {
			t.Errorf("%v allocations per run", allocs)
		}
	})
}
