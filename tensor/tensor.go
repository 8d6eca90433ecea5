// Package tensor provides float32 n-dimensional arrays and the CPU operations that language
// models need: batched matrix multiply, broadcasting element-wise arithmetic, views (reshape,
// transpose, narrow), embedding gather, LayerNorm, GELU, softmax with a causal mask,
// cross-entropy, dropout and reductions — each forward operation with the backward kernel that
// package autograd composes.
//
// A Tensor is a view: a shape, strides and an offset over a []float32. Reshape, Transpose and
// Narrow return views that share data; kernels that need contiguous rows call Contiguous, which
// copies only when the view is not already contiguous. Operations named ...Into write into a
// caller-provided output so that buffers can be reused across training steps.
//
// Shape mismatches inside the engine are programmer errors and panic with a message naming the
// operation and the shapes, as slices do on out-of-range indexes.
package tensor

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxDims is the largest number of dimensions a Tensor can have.
const MaxDims = 6

// Tensor is an n-dimensional float32 array: element (i0, i1, …) lives at
// data[off + i0*strides[0] + i1*strides[1] + …].
type Tensor struct {
	data    []float32
	off     int
	ndim    int
	shape   [MaxDims]int
	strides [MaxDims]int
}

// New returns a zero-filled contiguous tensor of the given shape.
func New(shape ...int) *Tensor {
	n := checkShape("New", shape)
	return FromData(make([]float32, n), shape...)
}

// FromData wraps data (not copied) as a contiguous tensor of the given shape.
func FromData(data []float32, shape ...int) *Tensor {
	n := checkShape("FromData", shape)
	if len(data) != n {
		panic(fmt.Sprintf("tensor.FromData: %d values do not fill shape %s (%d elements)", len(data), dimsString(shape), n))
	}
	t := &Tensor{}
	t.init(data, shape)
	return t
}

// Scalar returns a 0-d tensor holding v.
func Scalar(v float32) *Tensor { return FromData([]float32{v}) }

// init sets t to a contiguous view of data with shape.
func (t *Tensor) init(data []float32, shape []int) {
	t.data, t.off, t.ndim = data, 0, len(shape)
	copy(t.shape[:], shape)
	t.setContiguousStrides()
}

func (t *Tensor) setContiguousStrides() {
	s := 1
	for i := t.ndim - 1; i >= 0; i-- {
		t.strides[i] = s
		s *= t.shape[i]
	}
}

// dimsString formats dims as %v does. Unlike fmt, it does not let the slice escape, so a
// variadic shape passed to New or Reshape stays on the caller's stack.
func dimsString(dims []int) string {
	b := append(make([]byte, 0, 32), '[')
	for i, d := range dims {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, int64(d), 10)
	}
	return string(append(b, ']'))
}

func checkShape(op string, shape []int) int {
	if len(shape) > MaxDims {
		panic(fmt.Sprintf("tensor.%s: %d dimensions, at most %d supported", op, len(shape), MaxDims))
	}
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor.%s: negative dimension in shape %s", op, dimsString(shape)))
		}
		n *= d
	}
	return n
}

// Shape returns the dimensions. The slice must not be modified.
func (t *Tensor) Shape() []int { return t.shape[:t.ndim] }

// Strides returns the element strides of each dimension. The slice must not be modified.
func (t *Tensor) Strides() []int { return t.strides[:t.ndim] }

// Dims is the number of dimensions.
func (t *Tensor) Dims() int { return t.ndim }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int { return t.shape[t.axis(i)] }

// Len is the number of elements.
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.shape[:t.ndim] {
		n *= d
	}
	return n
}

func (t *Tensor) axis(i int) int {
	if i < 0 {
		i += t.ndim
	}
	if i < 0 || i >= t.ndim {
		panic(fmt.Sprintf("tensor: axis %d out of range for shape %v", i, t.Shape()))
	}
	return i
}

// IsContiguous reports whether the elements are laid out densely in row-major order.
func (t *Tensor) IsContiguous() bool {
	s := 1
	for i := t.ndim - 1; i >= 0; i-- {
		if t.shape[i] != 1 && t.strides[i] != s {
			return false
		}
		s *= t.shape[i]
	}
	return true
}

// Data returns the elements of a contiguous tensor, in row-major order, sharing memory with t.
// It panics on a non-contiguous view; call Contiguous first.
func (t *Tensor) Data() []float32 {
	if !t.IsContiguous() {
		panic(fmt.Sprintf("tensor.Data: view of shape %v strides %v is not contiguous", t.Shape(), t.Strides()))
	}
	return t.data[t.off : t.off+t.Len() : t.off+t.Len()]
}

// Contiguous returns t itself when it is contiguous, otherwise a contiguous copy.
func (t *Tensor) Contiguous() *Tensor {
	if t.IsContiguous() {
		return t
	}
	out := New(t.Shape()...)
	CopyInto(out, t)
	return out
}

// Clone returns a contiguous copy of t.
func (t *Tensor) Clone() *Tensor {
	out := New(t.Shape()...)
	CopyInto(out, t)
	return out
}

// At returns the element at idx.
func (t *Tensor) At(idx ...int) float32 { return t.data[t.offset("At", idx)] }

// Set sets the element at idx to v.
func (t *Tensor) Set(v float32, idx ...int) { t.data[t.offset("Set", idx)] = v }

// Item returns the value of a one-element tensor.
func (t *Tensor) Item() float32 {
	if t.Len() != 1 {
		panic(fmt.Sprintf("tensor.Item: shape %v has %d elements, want 1", t.Shape(), t.Len()))
	}
	return t.data[t.off]
}

func (t *Tensor) offset(op string, idx []int) int {
	if len(idx) != t.ndim {
		panic(fmt.Sprintf("tensor.%s: %d indexes for shape %v", op, len(idx), t.Shape()))
	}
	o := t.off
	for i, x := range idx {
		if x < 0 || x >= t.shape[i] {
			panic(fmt.Sprintf("tensor.%s: index %v out of range for shape %v", op, idx, t.Shape()))
		}
		o += x * t.strides[i]
	}
	return o
}

// Reshape returns a view of a contiguous tensor with a new shape of the same number of
// elements. One dimension may be -1 and is inferred.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	v := t.reshape(shape)
	return &v
}

func (t *Tensor) reshape(shape []int) Tensor {
	if len(shape) > MaxDims {
		panic(fmt.Sprintf("tensor.Reshape: %d dimensions, at most %d supported", len(shape), MaxDims))
	}
	var s [MaxDims]int
	copy(s[:], shape)
	infer, known := -1, 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			panic(fmt.Sprintf("tensor.Reshape: bad shape %s", dimsString(shape)))
		default:
			known *= d
		}
	}
	n := t.Len()
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			panic(fmt.Sprintf("tensor.Reshape: cannot reshape %v into %s", t.Shape(), dimsString(shape)))
		}
		s[infer] = n / known
		known = n
	}
	if known != n {
		panic(fmt.Sprintf("tensor.Reshape: cannot reshape %v (%d elements) into %s", t.Shape(), n, dimsString(shape)))
	}
	if !t.IsContiguous() {
		panic(fmt.Sprintf("tensor.Reshape: view of shape %v strides %v is not contiguous; call Contiguous first", t.Shape(), t.Strides()))
	}
	v := Tensor{data: t.data, off: t.off, ndim: len(shape), shape: s}
	v.setContiguousStrides()
	return v
}

// Transpose returns a view with dimensions d0 and d1 swapped.
func (t *Tensor) Transpose(d0, d1 int) *Tensor {
	v := t.transpose(d0, d1)
	return &v
}

func (t *Tensor) transpose(d0, d1 int) Tensor {
	d0, d1 = t.axis(d0), t.axis(d1)
	v := *t
	v.shape[d0], v.shape[d1] = v.shape[d1], v.shape[d0]
	v.strides[d0], v.strides[d1] = v.strides[d1], v.strides[d0]
	return v
}

// Permute returns a view whose dimension i is t's dimension dims[i].
func (t *Tensor) Permute(dims ...int) *Tensor {
	v := t.permute(dims)
	return &v
}

func (t *Tensor) permute(dims []int) Tensor {
	if len(dims) != t.ndim {
		panic(fmt.Sprintf("tensor.Permute: %d dims for shape %v", len(dims), t.Shape()))
	}
	v := *t
	var seen [MaxDims]bool
	for i, d := range dims {
		d = t.axis(d)
		if seen[d] {
			panic(fmt.Sprintf("tensor.Permute: repeated dimension in %s", dimsString(dims)))
		}
		seen[d] = true
		v.shape[i], v.strides[i] = t.shape[d], t.strides[d]
	}
	return v
}

// Narrow returns a view of length elements of dimension dim starting at start.
func (t *Tensor) Narrow(dim, start, length int) *Tensor {
	v := t.narrow(dim, start, length)
	return &v
}

func (t *Tensor) narrow(dim, start, length int) Tensor {
	dim = t.axis(dim)
	if start < 0 || length < 0 || start+length > t.shape[dim] {
		panic(fmt.Sprintf("tensor.Narrow: [%d, %d) out of range for dimension %d of shape %v", start, start+length, dim, t.Shape()))
	}
	v := *t
	v.off += start * t.strides[dim]
	v.shape[dim] = length
	return v
}

// Expand returns a broadcast view of t with the given shape: dimensions of size 1 (and missing
// leading dimensions) repeat with stride 0.
func (t *Tensor) Expand(shape ...int) *Tensor {
	v := &Tensor{}
	if !t.expandInto(v, shape) {
		panic(fmt.Sprintf("tensor.Expand: cannot expand %v to %s", t.Shape(), dimsString(shape)))
	}
	return v
}

// expandInto sets v to the broadcast view of t with shape, or reports false if t does not
// broadcast to it.
func (t *Tensor) expandInto(v *Tensor, shape []int) bool {
	if len(shape) < t.ndim || len(shape) > MaxDims {
		return false
	}
	*v = Tensor{data: t.data, off: t.off, ndim: len(shape)}
	lead := len(shape) - t.ndim
	for i, d := range shape {
		v.shape[i] = d
		if i < lead {
			continue // stride 0
		}
		switch src := t.shape[i-lead]; {
		case src == d:
			v.strides[i] = t.strides[i-lead]
		case src == 1:
			// stride 0: repeat
		default:
			return false
		}
	}
	return true
}

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b *Tensor) bool {
	if a.ndim != b.ndim {
		return false
	}
	for i := 0; i < a.ndim; i++ {
		if a.shape[i] != b.shape[i] {
			return false
		}
	}
	return true
}

// String formats small tensors in full and large ones by shape.
func (t *Tensor) String() string {
	if t.Len() > 64 {
		return fmt.Sprintf("Tensor%v", t.Shape())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v[", t.Shape())
	i := 0
	t.each(func(o int) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%g", t.data[o])
		i++
	})
	b.WriteByte(']')
	return b.String()
}

// each calls fn with the data offset of every element in row-major order.
func (t *Tensor) each(fn func(off int)) {
	n := t.Len()
	if n == 0 {
		return
	}
	var idx [MaxDims]int
	o := t.off
	for k := 0; k < n; k++ {
		fn(o)
		for d := t.ndim - 1; d >= 0; d-- {
			idx[d]++
			o += t.strides[d]
			if idx[d] < t.shape[d] {
				break
			}
			o -= idx[d] * t.strides[d]
			idx[d] = 0
		}
	}
}

// Rebase re-points t, a view of base, at the same positions of other, a contiguous tensor of
// base's shape: the result is the view of other that t is of base. Both base and other must be
// contiguous with equal shapes.
func (t *Tensor) Rebase(other, base *Tensor) {
	if !SameShape(other, base) || !other.IsContiguous() || !base.IsContiguous() {
		panic(fmt.Sprintf("tensor.Rebase: base %v and target %v must be contiguous with equal shapes", base.Shape(), other.Shape()))
	}
	t.off = t.off - base.off + other.off
	t.data = other.data
}

// SplitDim returns a view in which dimension dim (of size n·m) becomes two dimensions (n, m).
// It works on any strided view, contiguous or not.
func (t *Tensor) SplitDim(dim, n int) *Tensor {
	v := t.splitDim(dim, n)
	return &v
}

func (t *Tensor) splitDim(dim, n int) Tensor {
	dim = t.axis(dim)
	if t.ndim == MaxDims || n <= 0 || t.shape[dim]%n != 0 {
		panic(fmt.Sprintf("tensor.SplitDim: cannot split dimension %d of %v into %d parts", dim, t.Shape(), n))
	}
	m := t.shape[dim] / n
	v := *t
	v.ndim++
	copy(v.shape[dim+2:], t.shape[dim+1:t.ndim])
	copy(v.strides[dim+2:], t.strides[dim+1:t.ndim])
	v.shape[dim], v.shape[dim+1] = n, m
	v.strides[dim], v.strides[dim+1] = m*t.strides[dim], t.strides[dim]
	return v
}
