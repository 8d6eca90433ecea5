package tensor

import (
	"fmt"

	"github.com/qkvdev/qkv/tensor/kernel"
)

// BinaryOp names an element-wise operation of two operands.
type BinaryOp int

const (
	OpAdd BinaryOp = iota // a + b
	OpSub                 // a - b
	OpMul                 // a * b
	OpDiv                 // a / b
)

func (op BinaryOp) String() string {
	return [...]string{"Add", "Sub", "Mul", "Div"}[op]
}

// BroadcastShape returns the shape that a and b broadcast to (NumPy rules), or an error.
func BroadcastShape(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

// Binary returns op(a, b) with broadcasting, in a new tensor.
func Binary(op BinaryOp, a, b *Tensor) *Tensor {
	shape, err := BroadcastShape(a.Shape(), b.Shape())
	if err != nil {
		panic("tensor." + op.String() + ": " + err.Error())
	}
	out := New(shape...)
	BinaryInto(out, op, a, b, false)
	return out
}

// Add returns a + b (broadcasting).
func Add(a, b *Tensor) *Tensor { return Binary(OpAdd, a, b) }

// Sub returns a - b (broadcasting).
func Sub(a, b *Tensor) *Tensor { return Binary(OpSub, a, b) }

// Mul returns a * b element-wise (broadcasting).
func Mul(a, b *Tensor) *Tensor { return Binary(OpMul, a, b) }

// Div returns a / b element-wise (broadcasting).
func Div(a, b *Tensor) *Tensor { return Binary(OpDiv, a, b) }

// BinaryInto computes out = op(a, b), or out += op(a, b) when acc, where a and b broadcast to
// out's shape. out may be any strided view (but must not overlap a or b unless equal to them).
func BinaryInto(out *Tensor, op BinaryOp, a, b *Tensor, acc bool) {
	shape := out.Shape()
	if s, err := BroadcastShape(a.Shape(), b.Shape()); err != nil || !equalInts(s, shape) {
		panic(fmt.Sprintf("tensor.%s: operands %v and %v do not broadcast to output %v", op, a.Shape(), b.Shape(), shape))
	}
	ea, eb := a.Expand(shape...), b.Expand(shape...)
	forRows(out, ea, eb, func(o []float32, os int, x []float32, xs int, y []float32, ys int, n int) {
		binaryRow(op, acc, o, os, x, xs, y, ys, n)
	})
}

// Scale returns alpha * x in a new tensor.
func Scale(x *Tensor, alpha float32) *Tensor {
	out := New(x.Shape()...)
	ScaleInto(out, x, alpha, false)
	return out
}

// ScaleInto computes out = alpha*x, or out += alpha*x when acc. x broadcasts to out.
func ScaleInto(out, x *Tensor, alpha float32, acc bool) {
	ex := x.Expand(out.Shape()...)
	forRows(out, ex, ex, func(o []float32, os int, a []float32, as int, _ []float32, _ int, n int) {
		switch {
		case os == 1 && as == 1 && acc:
			kernel.Axpy(alpha, a[:n], o[:n])
		case os == 1 && as == 1:
			kernel.Scale(o[:n], a[:n], alpha)
		default:
			for i := 0; i < n; i++ {
				v := alpha * a[i*as]
				if acc {
					o[i*os] += v
				} else {
					o[i*os] = v
				}
			}
		}
	})
}

// CopyInto copies src into dst (src broadcasts to dst's shape); either may be a strided view.
func CopyInto(dst, src *Tensor) {
	if dst.IsContiguous() && src.IsContiguous() && SameShape(dst, src) {
		copy(dst.Data(), src.Data())
		return
	}
	e := src.Expand(dst.Shape()...)
	forRows(dst, e, e, func(o []float32, os int, a []float32, as int, _ []float32, _ int, n int) {
		if os == 1 && as == 1 {
			copy(o[:n], a[:n])
			return
		}
		for i := 0; i < n; i++ {
			o[i*os] = a[i*as]
		}
	})
}

// Fill sets every element of t to v.
func Fill(t *Tensor, v float32) {
	if t.IsContiguous() {
		d := t.Data()
		if v == 0 {
			clear(d)
			return
		}
		for i := range d {
			d[i] = v
		}
		return
	}
	forRows(t, t, t, func(o []float32, os int, _ []float32, _ int, _ []float32, _ int, n int) {
		for i := 0; i < n; i++ {
			o[i*os] = v
		}
	})
}

// Zero sets every element of t to 0.
func Zero(t *Tensor) { Fill(t, 0) }

// rowFunc processes one row of n elements: o[i*os] from a[i*as] and b[i*bs].
type rowFunc func(o []float32, os int, a []float32, as int, b []float32, bs int, n int)

// forRows walks out (and a, b, already expanded to out's shape) one last-dimension row at a
// time, in parallel over rows, passing each row's slices and element strides to fn. The slices
// start at the row's first element and extend to the end of the data.
func forRows(out, a, b *Tensor, fn rowFunc) {
	nd := out.ndim
	if nd == 0 {
		fn(out.data[out.off:], 1, a.data[a.off:], 1, b.data[b.off:], 1, 1)
		return
	}
	n := out.shape[nd-1]
	rows := out.Len()
	if n == 0 || rows == 0 {
		return
	}
	rows /= n
	os, as, bs := out.strides[nd-1], a.strides[nd-1], b.strides[nd-1]
	// Collapse a fully contiguous triple into one long row for better parallel splits.
	if out.IsContiguous() && isFlat(a) && isFlat(b) {
		total := rows * n
		grain := max(4096, total/(8*kernel.Threads())+1)
		kernel.Parallel(total, grain, func(lo, hi int) {
			fn(out.data[out.off+lo:], 1, a.data[a.off+lo*sign(as):], as, b.data[b.off+lo*sign(bs):], bs, hi-lo)
		})
		return
	}
	grain := max(1, 4096/n)
	kernel.Parallel(rows, grain, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			oo, ao, bo := out.off, a.off, b.off
			q := r
			for d := nd - 2; d >= 0; d-- {
				i := q % out.shape[d]
				q /= out.shape[d]
				oo += i * out.strides[d]
				ao += i * a.strides[d]
				bo += i * b.strides[d]
			}
			fn(out.data[oo:], os, a.data[ao:], as, b.data[bo:], bs, n)
		}
	})
}

// isFlat reports whether t is contiguous or a scalar broadcast (all strides 0).
func isFlat(t *Tensor) bool {
	if t.IsContiguous() {
		return true
	}
	for _, s := range t.strides[:t.ndim] {
		if s != 0 {
			return false
		}
	}
	return true
}

func sign(s int) int {
	if s == 0 {
		return 0
	}
	return 1
}

func binaryRow(op BinaryOp, acc bool, o []float32, os int, a []float32, as int, b []float32, bs int, n int) {
	if os == 1 && as == 1 && (bs == 1 || bs == 0) && !acc {
		o, a = o[:n], a[:n]
		if bs == 0 {
			y := b[0]
			switch op {
			case OpAdd:
				for i, x := range a {
					o[i] = x + y
				}
			case OpSub:
				for i, x := range a {
					o[i] = x - y
				}
			case OpMul:
				for i, x := range a {
					o[i] = x * y
				}
			case OpDiv:
				for i, x := range a {
					o[i] = x / y
				}
			}
			return
		}
		b = b[:n]
		switch op {
		case OpAdd:
			kernel.Add(o, a, b)
		case OpSub:
			for i, x := range a {
				o[i] = x - b[i]
			}
		case OpMul:
			kernel.Mul(o, a, b)
		case OpDiv:
			for i, x := range a {
				o[i] = x / b[i]
			}
		}
		return
	}
	if op == OpAdd && acc && os == 1 && as == 1 && bs == 1 {
		kernel.AddTo(o[:n], a[:n])
		kernel.AddTo(o[:n], b[:n])
		return
	}
	for i := 0; i < n; i++ {
		x, y := a[i*as], b[i*bs]
		var v float32
		switch op {
		case OpAdd:
			v = x + y
		case OpSub:
			v = x - y
		case OpMul:
			v = x * y
		case OpDiv:
			v = x / y
		}
		if acc {
			o[i*os] += v
		} else {
			o[i*os] = v
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// SumTo reduces x by summation to shape (which must broadcast to x's shape) and writes the
// result into out (of that shape), or adds it when acc. It is the backward of broadcasting.
func SumTo(out, x *Tensor, acc bool) {
	if s, err := BroadcastShape(out.Shape(), x.Shape()); err != nil || !equalInts(s, x.Shape()) {
		panic(fmt.Sprintf("tensor.SumTo: %v does not broadcast to %v", out.Shape(), x.Shape()))
	}
	if !acc {
		Zero(out)
	}
	if SameShape(out, x) {
		BinaryInto(out, OpAdd, out, x, false)
		return
	}
	xc := x.Contiguous()
	eo := out.Expand(x.Shape()...)
	n := x.shape[x.ndim-1]
	// Common case: out is a contiguous row vector over the last dimension (a bias gradient):
	// each thread sums a block of rows into its own partial, then the partials are added in a
	// fixed order (deterministic).
	if eo.strides[x.ndim-1] == 1 && rowBroadcast(eo) {
		rows := x.Len() / max(n, 1)
		xd := xc.Data()
		od := out.data[out.off : out.off+n]
		nt := min(kernel.Threads(), max(1, rows/16))
		chunk := (rows + nt - 1) / nt
		parts := getScratch(nt * n)
		defer putScratch(parts)
		pd := *parts
		clear(pd)
		kernel.Parallel(nt, 1, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				p := pd[t*n : t*n+n]
				for r := t * chunk; r < min(rows, (t+1)*chunk); r++ {
					kernel.AddTo(p, xd[r*n:r*n+n])
				}
			}
		})
		for t := 0; t < nt; t++ {
			kernel.AddTo(od, pd[t*n:t*n+n])
		}
		return
	}
	// General case, serial: accumulate every element into its (broadcast) destination.
	i := 0
	xd := xc.Data()
	eo.each(func(o int) {
		eo.data[o] += xd[i]
		i++
	})
}

// rowBroadcast reports whether every dimension but the last has stride 0 in t.
func rowBroadcast(t *Tensor) bool {
	for d := 0; d < t.ndim-1; d++ {
		if t.strides[d] != 0 && t.shape[d] != 1 {
			return false
		}
	}
	return true
}
