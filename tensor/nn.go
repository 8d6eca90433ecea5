package tensor

import (
	"fmt"

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
			mu, rs := kernel.LayerNormRow(od[r*c:r*c+c], xd[r*c:r*c+c], wd, bd, eps)
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
				dr := dxd[r*c : r*c+c]
				if !accDx {
					clear(dr)
				}
				kernel.LayerNormBackwardRow(dr, gd[r*c:r*c+c], xd[r*c:r*c+c], wd, md[r], rd[r])
			}
		})
	}
	if dw == nil && db == nil {
		return
	}
	// Parameter gradients sum over rows: each thread sums a block of rows into its own partial
	// (dw, db), then the partials are added in a fixed order (deterministic).
	nt := kernel.Threads()
	chunk := (rows + nt - 1) / nt
	parts := getScratch(nt * 2 * c)
	defer putScratch(parts)
	pd := *parts
	clear(pd)
	kernel.Parallel(nt, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			pdw, pdb := pd[2*t*c:2*t*c+c], pd[2*t*c+c:2*t*c+2*c]
			for r := t * chunk; r < min(rows, (t+1)*chunk); r++ {
				kernel.LayerNormParamGradRow(pdw, pdb, gd[r*c:r*c+c], xd[r*c:r*c+c], md[r], rd[r])
			}
		}
	})
	for t := 0; t < nt; t++ {
		if dw != nil {
			kernel.AddTo(dw.Data(), pd[2*t*c:2*t*c+c])
		}
		if db != nil {
			kernel.AddTo(db.Data(), pd[2*t*c+c:2*t*c+2*c])
		}
	}
}

// GELU approximations. GELUTanh is GPT-2's "gelu_new":
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). GELUErf is the exact form x·Φ(x) used by BERT.
type GELUKind int

const (
	GELUTanh GELUKind = iota
	GELUErf
)

// GELUInto computes out = gelu(x) element-wise.
func GELUInto(out, x *Tensor, kind GELUKind) {
	mustContiguous("GELU", out, x)
	mustLen("GELU", "out", out, x.Len())
	xd, od := x.Data(), out.Data()
	kernel.Parallel(len(xd), 8192, func(lo, hi int) {
		if kind == GELUErf {
			kernel.GELUErf(od[lo:hi], xd[lo:hi])
		} else {
			kernel.GELUTanh(od[lo:hi], xd[lo:hi])
		}
	})
}

// GELUBackward computes dx = gelu'(x)·dout, or dx += gelu'(x)·dout when acc.
func GELUBackward(dx, dout, x *Tensor, kind GELUKind, acc bool) {
	mustContiguous("GELUBackward", dx, dout, x)
	xd, gd, dd := x.Data(), dout.Data(), dx.Data()
	kernel.Parallel(len(xd), 8192, func(lo, hi int) {
		if !acc {
			clear(dd[lo:hi])
		}
		if kind == GELUErf {
			kernel.GELUErfBackward(dd[lo:hi], gd[lo:hi], xd[lo:hi])
		} else {
			kernel.GELUTanhBackward(dd[lo:hi], gd[lo:hi], xd[lo:hi])
		}
	})
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

// softmaxRow writes softmax(x) into o (same length); an all −Inf row gives zeros.
func softmaxRow(o, x []float32) { kernel.SoftmaxRow(o, x) }

// SoftmaxBackward computes dx = y·(dy - Σ dy·y) per row, where y is the softmax output, or
// adds it to dx when acc.
func SoftmaxBackward(dx, dy, y *Tensor, acc bool) {
	mustContiguous("SoftmaxBackward", dx, dy, y)
	rows, s := rowsOf("SoftmaxBackward", y)
	yd, gd, dd := y.Data(), dy.Data(), dx.Data()
	kernel.Parallel(rows, rowGrain(s), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			dr := dd[r*s : r*s+s]
			if !acc {
				clear(dr)
			}
			kernel.SoftmaxBackwardRow(dr, yd[r*s:r*s+s], gd[r*s:r*s+s])
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
				l := float64(kernel.LogSumExp(row))
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
			if !acc {
				clear(dr)
			}
			kernel.SoftmaxCrossEntropyBackwardRow(dr, row, sd[r], scale)
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
	kernel.Parallel(len(xd), 8192, func(lo, hi int) { kernel.Tanh(od[lo:hi], xd[lo:hi]) })
}

// TanhBackwardInto computes out = (1 - y²)·dy from the forward output y.
func TanhBackwardInto(out, dy, y *Tensor) {
	mustContiguous("TanhBackward", out, dy, y)
	yd, gd, od := y.Data(), dy.Data(), out.Data()
	for i, v := range yd {
		od[i] = (1 - v*v) * gd[i]
	}
}
