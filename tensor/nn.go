package tensor

import (
	"fmt"
	"math"

	"github.com/qkvdev/qkv/tensor/kernel"
)

// Notation for this file: rows are the flattened leading dimensions of x (B·T for a sequence
// batch), C is the last (feature) dimension. Forward kernels write their outputs; backward
// kernels accumulate (+=) into the gradients they are given.

// rowsOf returns the number of rows and the row length of a contiguous tensor.
func rowsOf(op string, t *Tensor) (rows, c int) {
	if t.ndim == 0 {
		panic(fmt.Sprintf("tensor.%s: needs at least one dimension", op))
	}
	c = t.shape[t.ndim-1]
	if c == 0 {
		return 0, 0
	}
	return t.Len() / c, c
}

func mustContiguous(op string, ts ...*Tensor) {
	for _, t := range ts {
		if t != nil && !t.IsContiguous() {
			panic(fmt.Sprintf("tensor.%s: operand of shape %v strides %v must be contiguous", op, t.Shape(), t.Strides()))
		}
	}
}

func mustLen(op, what string, t *Tensor, n int) {
	if t.Len() != n {
		panic(fmt.Sprintf("tensor.%s: %s has shape %v, want %d elements", op, what, t.Shape(), n))
	}
}

// rowGrain is how many rows of length c make a parallel chunk worth a thread hand-off.
func rowGrain(c int) int { return max(1, 8192/max(c, 1)) }

// LayerNormInto normalises each row of x over its last dimension (size C) and applies the
// affine map: out = (x - mean)/sqrt(var + eps) * w + b. mean and rstd (one per row) are saved
// for the backward pass; either may be nil. b may be nil (no bias).
func LayerNormInto(out, mean, rstd, x, w, b *Tensor, eps float32) {
	mustContiguous("LayerNorm", out, x, w, b, mean, rstd)
	rows, c := rowsOf("LayerNorm", x)
	mustLen("LayerNorm", "out", out, rows*c)
	mustLen("LayerNorm", "weight", w, c)
	if b != nil {
		mustLen("LayerNorm", "bias", b, c)
	}
	xd, od, wd := x.Data(), out.Data(), w.Data()
	var bd, md, rd []float32
	if b != nil {
		bd = b.Data()
	}
	if mean != nil {
		mustLen("LayerNorm", "mean", mean, rows)
		md = mean.Data()
	}
	if rstd != nil {
		mustLen("LayerNorm", "rstd", rstd, rows)
		rd = rstd.Data()
	}
	kernel.Parallel(rows, rowGrain(c), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, or := xd[r*c:r*c+c], od[r*c:r*c+c]
			var s float64
			for _, v := range xr {
				s += float64(v)
			}
			mu := float32(s / float64(c))
			var ss float64
			for _, v := range xr {
				d := v - mu
				ss += float64(d * d)
			}
			rs := float32(1 / math.Sqrt(ss/float64(c)+float64(eps)))
			for i, v := range xr {
				y := (v - mu) * rs * wd[i]
				if bd != nil {
					y += bd[i]
				}
				or[i] = y
			}
			if md != nil {
				md[r] = mu
			}
			if rd != nil {
				rd[r] = rs
			}
		}
	})
}

// LayerNormBackward computes the gradients of LayerNorm given dout, using the mean and rstd
// saved by the forward pass: dx (may be nil) is written, or accumulated into when accDx; dw and
// db (either may be nil) are accumulated into.
func LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd *Tensor, accDx bool) {
	mustContiguous("LayerNormBackward", dx, dw, db, dout, x, w, mean, rstd)
	rows, c := rowsOf("LayerNormBackward", x)
	xd, gd, wd, md, rd := x.Data(), dout.Data(), w.Data(), mean.Data(), rstd.Data()
	if dx != nil {
		dxd := dx.Data()
		kernel.Parallel(rows, rowGrain(c), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				xr, gr, dr := xd[r*c:r*c+c], gd[r*c:r*c+c], dxd[r*c:r*c+c]
				mu, rs := md[r], rd[r]
				// dx = rstd * (g·w - mean(g·w) - xhat·mean(g·w·xhat))
				var sg, sgx float32
				for i, v := range xr {
					gw := gr[i] * wd[i]
					sg += gw
					sgx += gw * (v - mu) * rs
				}
				sg /= float32(c)
				sgx /= float32(c)
				for i, v := range xr {
					xh := (v - mu) * rs
					d := rs * (gr[i]*wd[i] - sg - xh*sgx)
					if accDx {
						d += dr[i]
					}
					dr[i] = d
				}
			}
		})
	}
	if dw == nil && db == nil {
		return
	}
	var dwd, dbd []float32
	if dw != nil {
		dwd = dw.Data()
	}
	if db != nil {
		dbd = db.Data()
	}
	// Parameter gradients: parallel over column blocks so threads never share an element.
	kernel.Parallel(c, 64, func(lo, hi int) {
		for r := 0; r < rows; r++ {
			xr, gr := xd[r*c:r*c+c], gd[r*c:r*c+c]
			mu, rs := md[r], rd[r]
			for i := lo; i < hi; i++ {
				if dwd != nil {
					dwd[i] += gr[i] * (xr[i] - mu) * rs
				}
				if dbd != nil {
					dbd[i] += gr[i]
				}
			}
		}
	})
}

// GELU approximations. GELUTanh is GPT-2's "gelu_new":
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). GELUErf is the exact form x·Φ(x) used by BERT.
type GELUKind int

const (
	GELUTanh GELUKind = iota
	GELUErf
)

const sqrt2OverPi = 0.7978845608028654

// GELUInto computes out = gelu(x) element-wise.
func GELUInto(out, x *Tensor, kind GELUKind) {
	mustContiguous("GELU", out, x)
	mustLen("GELU", "out", out, x.Len())
	xd, od := x.Data(), out.Data()
	kernel.Parallel(len(xd), 8192, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			od[i] = gelu(xd[i], kind)
		}
	})
}

// GELUBackward computes dx = gelu'(x)·dout, or dx += gelu'(x)·dout when acc.
func GELUBackward(dx, dout, x *Tensor, kind GELUKind, acc bool) {
	mustContiguous("GELUBackward", dx, dout, x)
	xd, gd, dd := x.Data(), dout.Data(), dx.Data()
	kernel.Parallel(len(xd), 8192, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d := gd[i] * geluGrad(xd[i], kind)
			if acc {
				d += dd[i]
			}
			dd[i] = d
		}
	})
}

func gelu(x float32, kind GELUKind) float32 {
	v := float64(x)
	if kind == GELUErf {
		return float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
	}
	return float32(0.5 * v * (1 + math.Tanh(sqrt2OverPi*(v+0.044715*v*v*v))))
}

func geluGrad(x float32, kind GELUKind) float32 {
	v := float64(x)
	if kind == GELUErf {
		cdf := 0.5 * (1 + math.Erf(v/math.Sqrt2))
		pdf := math.Exp(-0.5*v*v) / math.Sqrt(2*math.Pi)
		return float32(cdf + v*pdf)
	}
	u := sqrt2OverPi * (v + 0.044715*v*v*v)
	t := math.Tanh(u)
	du := sqrt2OverPi * (1 + 3*0.044715*v*v)
	return float32(0.5*(1+t) + 0.5*v*(1-t*t)*du)
}

// SoftmaxInto computes the softmax of each row of x (last dimension, size S) into out. With
// causal set, x is (…, T, S) and row t (query t) sees only keys j <= t + S - T; the others get
// probability 0. A row with every key masked is all zeros.
func SoftmaxInto(out, x *Tensor, causal bool) {
	mustContiguous("Softmax", out, x)
	mustLen("Softmax", "out", out, x.Len())
	rows, s := rowsOf("Softmax", x)
	t := 1
	if causal {
		if x.ndim < 2 {
			panic(fmt.Sprintf("tensor.Softmax: causal mask needs (…, T, S), got %v", x.Shape()))
		}
		t = x.Dim(-2)
	}
	xd, od := x.Data(), out.Data()
	kernel.Parallel(rows, rowGrain(s), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, or := xd[r*s:r*s+s], od[r*s:r*s+s]
			n := s
			if causal {
				n = min(s, r%t+s-t+1)
				clear(or[max(n, 0):])
			}
			if n <= 0 {
				continue
			}
			softmaxRow(or[:n], xr[:n])
		}
	})
}

// softmaxRow writes softmax(x) into o (same length).
func softmaxRow(o, x []float32) {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	if math.IsInf(float64(m), -1) {
		clear(o) // every logit is -inf: no probability mass anywhere
		return
	}
	var sum float32
	for i, v := range x {
		e := float32(math.Exp(float64(v - m)))
		o[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range o {
		o[i] *= inv
	}
}

// SoftmaxBackward computes dx = y·(dy - Σ dy·y) per row, where y is the softmax output, or
// adds it to dx when acc.
func SoftmaxBackward(dx, dy, y *Tensor, acc bool) {
	mustContiguous("SoftmaxBackward", dx, dy, y)
	rows, s := rowsOf("SoftmaxBackward", y)
	yd, gd, dd := y.Data(), dy.Data(), dx.Data()
	kernel.Parallel(rows, rowGrain(s), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr, gr, dr := yd[r*s:r*s+s], gd[r*s:r*s+s], dd[r*s:r*s+s]
			var dot float32
			for i, v := range yr {
				dot += v * gr[i]
			}
			for i, v := range yr {
				d := v * (gr[i] - dot)
				if acc {
					d += dr[i]
				}
				dr[i] = d
			}
		}
	})
}

// IgnoreIndex is the target value that cross-entropy skips (as PyTorch's ignore_index).
const IgnoreIndex = -100

// CrossEntropy computes the mean over rows of -log softmax(logits[r])[targets[r]] for logits
// (N, V), skipping rows whose target is IgnoreIndex (or negative). It saves, per row, the
// log-sum-exp into lse (N), which CrossEntropyBackward needs. It returns the mean loss and
// the number of rows counted. A target ≥ V panics.
func CrossEntropy(lse, logits *Tensor, targets []int) (loss float32, count int) {
	mustContiguous("CrossEntropy", lse, logits)
	rows, v := rowsOf("CrossEntropy", logits)
	if len(targets) != rows || lse.Len() != rows {
		panic(fmt.Sprintf("tensor.CrossEntropy: logits %v with %d targets and lse %v", logits.Shape(), len(targets), lse.Shape()))
	}
	for _, t := range targets {
		if t >= v {
			panic(fmt.Sprintf("tensor.CrossEntropy: target %d out of range for %d classes", t, v))
		}
	}
	ld, sd := logits.Data(), lse.Data()
	nt := kernel.Threads()
	partial := make([]float64, nt*8) // per-chunk sums, padded against false sharing
	chunk := max(1, (rows+nt-1)/nt)
	kernel.Parallel(nt, 1, func(lo, hi int) {
		for ci := lo; ci < hi; ci++ {
			var s float64
			for r := ci * chunk; r < min(rows, (ci+1)*chunk); r++ {
				row := ld[r*v : r*v+v]
				m := float32(math.Inf(-1))
				for _, x := range row {
					m = max(m, x)
				}
				var z float64
				for _, x := range row {
					z += math.Exp(float64(x - m))
				}
				l := float64(m) + math.Log(z)
				sd[r] = float32(l)
				t := targets[r]
				if t < 0 {
					continue
				}
				s += l - float64(row[t])
			}
			partial[ci*8] = s
		}
	})
	var total float64
	for ci := 0; ci < nt; ci++ {
		total += partial[ci*8]
	}
	for _, t := range targets {
		if t >= 0 {
			count++
		}
	}
	if count == 0 {
		return 0, 0
	}
	return float32(total / float64(count)), count
}

// CrossEntropyBackward computes into dlogits (adding to it when acc) the gradient of scale ×
// (sum over counted rows of the per-row loss): (softmax(logits[r]) - onehot(targets[r]))·scale,
// and 0 for skipped rows. For the mean loss, scale = dloss / count.
func CrossEntropyBackward(dlogits, logits, lse *Tensor, targets []int, scale float32, acc bool) {
	mustContiguous("CrossEntropyBackward", dlogits, logits, lse)
	rows, v := rowsOf("CrossEntropyBackward", logits)
	ld, sd, dd := logits.Data(), lse.Data(), dlogits.Data()
	kernel.Parallel(rows, rowGrain(v), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			t := targets[r]
			row, dr := ld[r*v:r*v+v], dd[r*v:r*v+v]
			if t < 0 {
				if !acc {
					clear(dr)
				}
				continue
			}
			l := sd[r]
			for i, x := range row {
				d := float32(math.Exp(float64(x-l))) * scale
				if acc {
					d += dr[i]
				}
				dr[i] = d
			}
			dr[t] -= scale
		}
	})
}

// EmbeddingInto gathers rows of table (V, C) into out (N, C): out[i] = table[ids[i]].
// An id outside [0, V) panics.
func EmbeddingInto(out, table *Tensor, ids []int) {
	mustContiguous("Embedding", out, table)
	v, c := table.Dim(0), table.Dim(-1)
	mustLen("Embedding", "out", out, len(ids)*c)
	td, od := table.Data(), out.Data()
	for i, id := range ids {
		if id < 0 || id >= v {
			panic(fmt.Sprintf("tensor.Embedding: id %d at position %d out of range [0, %d)", id, i, v))
		}
		copy(od[i*c:i*c+c], td[id*c:id*c+c])
	}
}

// EmbeddingBackward accumulates dtable[ids[i]] += dout[i].
func EmbeddingBackward(dtable, dout *Tensor, ids []int) {
	mustContiguous("EmbeddingBackward", dtable, dout)
	c := dtable.Dim(-1)
	td, gd := dtable.Data(), dout.Data()
	// Parallel over column blocks: rows with the same id never race.
	kernel.Parallel(c, 64, func(lo, hi int) {
		for i, id := range ids {
			dst, src := td[id*c+lo:id*c+hi], gd[i*c+lo:i*c+hi]
			for j, g := range src {
				dst[j] += g
			}
		}
	})
}

// DropoutMask fills mask with 0 (probability p) or 1/(1-p), drawing from rng.
func DropoutMask(mask *Tensor, p float32, rng *RNG) {
	mustContiguous("DropoutMask", mask)
	md := mask.Data()
	keep := 1 / (1 - p)
	for i := range md {
		if rng.Float32() < p {
			md[i] = 0
		} else {
			md[i] = keep
		}
	}
}

// TanhInto computes out = tanh(x) element-wise.
func TanhInto(out, x *Tensor) {
	mustContiguous("Tanh", out, x)
	xd, od := x.Data(), out.Data()
	kernel.Parallel(len(xd), 8192, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			od[i] = float32(math.Tanh(float64(xd[i])))
		}
	})
}

// TanhBackwardInto computes out = (1 - y²)·dy from the forward output y.
func TanhBackwardInto(out, dy, y *Tensor) {
	mustContiguous("TanhBackward", out, dy, y)
	yd, gd, od := y.Data(), dy.Data(), out.Data()
	for i, v := range yd {
		od[i] = (1 - v*v) * gd[i]
	}
}
