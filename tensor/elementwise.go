package tensor

import (
	"fmt"
	"sync"

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
func BroadcastShape(a, b []int) ([]int, error) { return AppendBroadcastShape(nil, a, b) }

// AppendBroadcastShape appends the broadcast shape of a and b to dst, as BroadcastShape; with
// a dst of capacity MaxDims on the caller's stack, it allocates nothing.
func AppendBroadcastShape(dst, a, b []int) ([]int, error) {
	n := max(len(a), len(b))
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
			dst = append(dst, da)
		case da == 1:
			dst = append(dst, db)
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return dst, nil
}

// Binary returns op(a, b) with broadcasting, in a new tensor.
func Binary(op BinaryOp, a, b *Tensor) *Tensor {
	var buf [MaxDims]int
	shape, err := AppendBroadcastShape(buf[:0], a.Shape(), b.Shape())
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
	t := newRowsTask(rowBinary, out)
	if !a.expandInto(&t.a, out.Shape()) || !b.expandInto(&t.b, out.Shape()) {
		panic(fmt.Sprintf("tensor.%s: operands %v and %v do not broadcast to output %v", op, a.Shape(), b.Shape(), out.Shape()))
	}
	t.op, t.acc = op, acc
	t.run()
}

// Scale returns alpha * x in a new tensor.
func Scale(x *Tensor, alpha float32) *Tensor {
	out := New(x.Shape()...)
	ScaleInto(out, x, alpha, false)
	return out
}

// ScaleInto computes out = alpha*x, or out += alpha*x when acc. x broadcasts to out.
func ScaleInto(out, x *Tensor, alpha float32, acc bool) {
	t := newRowsTask(rowScale, out)
	if !x.expandInto(&t.a, out.Shape()) {
		panic(fmt.Sprintf("tensor.Scale: %v does not broadcast to %v", x.Shape(), out.Shape()))
	}
	t.b = t.a
	t.alpha, t.acc = alpha, acc
	t.run()
}

// CopyInto copies src into dst (src broadcasts to dst's shape); either may be a strided view.
func CopyInto(dst, src *Tensor) {
	if dst.IsContiguous() && src.IsContiguous() && SameShape(dst, src) {
		copy(dst.Data(), src.Data())
		return
	}
	t := newRowsTask(rowCopy, dst)
	if !src.expandInto(&t.a, dst.Shape()) {
		panic(fmt.Sprintf("tensor.Copy: %v does not broadcast to %v", src.Shape(), dst.Shape()))
	}
	t.b = t.a
	t.run()
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
	task := newRowsTask(rowFill, t)
	task.a, task.b = *t, *t
	task.alpha = v
	task.run()
}

// Zero sets every element of t to 0.
func Zero(t *Tensor) { Fill(t, 0) }

// rowKind is the operation a rowsTask applies to each row.
type rowKind uint8

const (
	rowBinary rowKind = iota // o = op(a, b), or o += op(a, b)
	rowScale                 // o = alpha·a, or o += alpha·a
	rowCopy                  // o = a
	rowFill                  // o = alpha
)

// rowsTask is one element-wise operation over out (with a and b already expanded to out's
// shape), walked one last-dimension row at a time in parallel. Tasks are pooled, so an
// operation allocates (almost) nothing.
type rowsTask struct {
	out, a, b Tensor
	kind      rowKind
	op        BinaryOp
	acc       bool
	alpha     float32
	// flat: out contiguous and a, b contiguous or scalar broadcasts, walked as one long row
	flat   bool
	as, bs int // element strides of a and b in the flat walk (0 or 1)
}

var rowsTasks = sync.Pool{New: func() any { return new(rowsTask) }}

func newRowsTask(kind rowKind, out *Tensor) *rowsTask {
	t := rowsTasks.Get().(*rowsTask)
	*t = rowsTask{kind: kind, out: *out}
	return t
}

// run executes the task over every row and returns it to the pool.
func (t *rowsTask) run() {
	out := &t.out
	nd := out.ndim
	switch {
	case nd == 0:
		t.row(out.data[out.off:], 1, t.a.data[t.a.off:], 1, t.b.data[t.b.off:], 1, 1)
	case out.Len() == 0:
	case out.IsContiguous() && isFlat(&t.a) && isFlat(&t.b):
		// A contiguous output with contiguous or scalar operands is one long row, split evenly.
		t.flat = true
		t.as, t.bs = flatStride(&t.a), flatStride(&t.b)
		total := out.Len()
		kernel.ParallelTask(total, max(4096, total/(8*kernel.Threads())+1), t)
	default:
		n := out.shape[nd-1]
		kernel.ParallelTask(out.Len()/n, max(1, 4096/n), t)
	}
	*t = rowsTask{}
	rowsTasks.Put(t)
}

// Run processes rows [lo, hi) — or, for a flat task, elements [lo, hi).
func (t *rowsTask) Run(lo, hi int) {
	out, a, b := &t.out, &t.a, &t.b
	if t.flat {
		t.row(out.data[out.off+lo:], 1, a.data[a.off+lo*t.as:], t.as, b.data[b.off+lo*t.bs:], t.bs, hi-lo)
		return
	}
	nd := out.ndim
	n := out.shape[nd-1]
	os, as, bs := out.strides[nd-1], a.strides[nd-1], b.strides[nd-1]
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
		t.row(out.data[oo:], os, a.data[ao:], as, b.data[bo:], bs, n)
	}
}

// row processes one row of n elements: o[i·os] from a[i·as] and b[i·bs].
func (t *rowsTask) row(o []float32, os int, a []float32, as int, b []float32, bs int, n int) {
	switch t.kind {
	case rowBinary:
		binaryRow(t.op, t.acc, o, os, a, as, b, bs, n)
	case rowScale:
		switch {
		case os == 1 && as == 1 && t.acc:
			kernel.Axpy(t.alpha, a[:n], o[:n])
		case os == 1 && as == 1:
			kernel.Scale(o[:n], a[:n], t.alpha)
		default:
			for i := 0; i < n; i++ {
				v := t.alpha * a[i*as]
				if t.acc {
					o[i*os] += v
				} else {
					o[i*os] = v
				}
			}
		}
	case rowCopy:
		if os == 1 && as == 1 {
			copy(o[:n], a[:n])
			return
		}
		for i := 0; i < n; i++ {
			o[i*os] = a[i*as]
		}
	case rowFill:
		if os == 1 && t.alpha == 0 {
			clear(o[:n])
			return
		}
		for i := 0; i < n; i++ {
			o[i*os] = t.alpha
		}
	}
}

// flatStride is 1 for a contiguous tensor and 0 for a scalar broadcast.
func flatStride(t *Tensor) int {
	if t.Len() > 1 && t.IsContiguous() {
		return 1
	}
	for _, s := range t.strides[:t.ndim] {
		if s != 0 {
			return 1
		}
	}
	return 0
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
	var eo Tensor
	if !out.expandInto(&eo, x.Shape()) {
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
	n := x.shape[x.ndim-1]
	// Common case: out is a contiguous row vector over the last dimension (a bias gradient):
	// each thread sums a block of rows into its own partial, then the partials are added in a
	// fixed order (deterministic).
	if eo.strides[x.ndim-1] == 1 && rowBroadcast(&eo) {
		rows := x.Len() / max(n, 1)
		xd := xc.Data()
		od := out.data[out.off : out.off+n]
		nt := min(kernel.Threads(), max(1, rows/16))
		chunk := (rows + nt - 1) / nt
		parts := getScratch(nt * n)
		defer putScratch(parts)
		pd := *parts
		clear(pd)
		kernel.ParallelPooled(&sumRowsTasks, nt, 1, sumRowsTask{pd, xd, rows, n, chunk})
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

// sumRowsTask sums block i of chunk rows of xd (rows of n) into partial i of pd.
type sumRowsTask struct {
	pd, xd         []float32
	rows, n, chunk int
}

var sumRowsTasks sync.Pool

func (t *sumRowsTask) Run(lo, hi int) {
	n := t.n
	for i := lo; i < hi; i++ {
		p := t.pd[i*n : i*n+n]
		for r := i * t.chunk; r < min(t.rows, (i+1)*t.chunk); r++ {
			kernel.AddTo(p, t.xd[r*n:r*n+n])
		}
	}
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
