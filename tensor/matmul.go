package tensor

import (
	"fmt"

	"github.com/qkvdev/qkv/tensor/kernel"
)

// MatMul returns the batched matrix product a·b: a is (…, M, K), b is (…, K, N), and the
// leading (batch) dimensions broadcast. The result is (…, M, N).
func MatMul(a, b *Tensor) *Tensor {
	if a.ndim < 2 || b.ndim < 2 {
		panic(fmt.Sprintf("tensor.MatMul: operands %v and %v need at least 2 dimensions", a.Shape(), b.Shape()))
	}
	batch, err := BroadcastShape(a.Shape()[:a.ndim-2], b.Shape()[:b.ndim-2])
	if err != nil {
		panic(fmt.Sprintf("tensor.MatMul: batch dimensions of %v and %v: %v", a.Shape(), b.Shape(), err))
	}
	out := New(append(batch, a.Dim(-2), b.Dim(-1))...)
	MatMulInto(out, a, b, 1, 0)
	return out
}

// MatMulInto computes out = alpha·a·b + beta·out over broadcast batch dimensions. Each operand's
// matrices may be row-major or transposed views (stride 1 on either of the last two dimensions)
// and are then used in place; other layouts are copied first. beta == 0 ignores out's contents.
func MatMulInto(out, a, b *Tensor, alpha, beta float32) {
	if a.ndim < 2 || b.ndim < 2 || out.ndim < 2 {
		panic(fmt.Sprintf("tensor.MatMul: operands %v, %v, out %v need at least 2 dimensions", a.Shape(), b.Shape(), out.Shape()))
	}
	m, k, n := a.Dim(-2), a.Dim(-1), b.Dim(-1)
	if b.Dim(-2) != k || out.Dim(-2) != m || out.Dim(-1) != n {
		panic(fmt.Sprintf("tensor.MatMul: shapes %v · %v do not give %v", a.Shape(), b.Shape(), out.Shape()))
	}
	batch := out.Shape()[:out.ndim-2]
	ea := expandBatch("MatMul", a, batch)
	eb := expandBatch("MatMul", b, batch)
	if !matrixLayout(ea) {
		ea = expandBatch("MatMul", a.Contiguous(), batch)
	}
	if !matrixLayout(eb) {
		eb = expandBatch("MatMul", b.Contiguous(), batch)
	}
	o := out
	if !matrixLayout(out) {
		// Compute into a contiguous temporary, then combine.
		tmp := New(out.Shape()...)
		MatMulInto(tmp, a, b, alpha, 0)
		if beta == 0 {
			CopyInto(out, tmp)
		} else {
			ScaleInto(out, out, beta, false)
			BinaryInto(out, OpAdd, out, tmp, false)
		}
		return
	}
	nb := 1
	for _, d := range batch {
		nb *= d
	}
	one := func(i int) {
		oo, ao, bo := batchOffset(o, i), batchOffset(ea, i), batchOffset(eb, i)
		gemm(o, oo, ea, ao, eb, bo, m, n, k, alpha, beta)
	}
	// Many small products (attention heads): one thread per product. Few large ones: each
	// product is parallel inside the kernel.
	if nb > 1 && m*n*k < 1<<20 {
		kernel.Parallel(nb, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				one(i)
			}
		})
		return
	}
	for i := 0; i < nb; i++ {
		one(i)
	}
}

// expandBatch broadcasts t's batch dimensions (all but the last two) to batch.
func expandBatch(op string, t *Tensor, batch []int) *Tensor {
	shape := make([]int, 0, MaxDims)
	shape = append(shape, batch...)
	shape = append(shape, t.Dim(-2), t.Dim(-1))
	if len(shape) > MaxDims {
		panic(fmt.Sprintf("tensor.%s: too many dimensions in %v", op, shape))
	}
	defer func() {
		if r := recover(); r != nil {
			panic(fmt.Sprintf("tensor.%s: batch dimensions of %v do not broadcast to %v", op, t.Shape(), batch))
		}
	}()
	return t.Expand(shape...)
}

// matrixLayout reports whether the last two dimensions of t are row-major or column-major
// (one of them has stride 1), which the GEMM kernel handles directly.
func matrixLayout(t *Tensor) bool {
	r, c := t.shape[t.ndim-2], t.shape[t.ndim-1]
	rs, cs := t.strides[t.ndim-2], t.strides[t.ndim-1]
	return cs == 1 && (rs >= c || r <= 1) || rs == 1 && (cs >= r || c <= 1)
}

// rowMajor reports whether the matrix (last two dimensions) of t is stored row-major, and its
// leading dimension.
func rowMajor(t *Tensor) (bool, int) {
	r, c := t.shape[t.ndim-2], t.shape[t.ndim-1]
	rs, cs := t.strides[t.ndim-2], t.strides[t.ndim-1]
	if cs == 1 && (rs >= c || r <= 1) {
		return true, max(rs, c, 1)
	}
	return false, max(cs, r, 1)
}

// batchOffset returns the data offset of the i-th matrix (row-major over batch dimensions).
func batchOffset(t *Tensor, i int) int {
	o := t.off
	for d := t.ndim - 3; d >= 0; d-- {
		j := i % t.shape[d]
		i /= t.shape[d]
		o += j * t.strides[d]
	}
	return o
}

// gemm computes one (m, n) product into o's matrix at offset oo.
func gemm(o *Tensor, oo int, a *Tensor, ao int, b *Tensor, bo int, m, n, k int, alpha, beta float32) {
	aRow, lda := rowMajor(a)
	bRow, ldb := rowMajor(b)
	oRow, ldc := rowMajor(o)
	if m == 0 || n == 0 {
		return
	}
	if oRow {
		kernel.Sgemm(!aRow, !bRow, m, n, k, alpha, a.data[ao:], lda, b.data[bo:], ldb, beta, o.data[oo:], ldc)
		return
	}
	// Column-major output: compute outᵀ = bᵀ·aᵀ into the row-major view of outᵀ.
	kernel.Sgemm(bRow, aRow, n, m, k, alpha, b.data[bo:], ldb, a.data[ao:], lda, beta, o.data[oo:], ldc)
}
