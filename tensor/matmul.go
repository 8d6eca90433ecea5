package tensor

import (
	"fmt"
	"sync"

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
	var ea, eb Tensor
	expandBatch("MatMul", &ea, a, batch)
	expandBatch("MatMul", &eb, b, batch)
	if !matrixLayout(&ea) {
		expandBatch("MatMul", &ea, a.Contiguous(), batch)
	}
	if !matrixLayout(&eb) {
		expandBatch("MatMul", &eb, b.Contiguous(), batch)
	}
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
	if nb == 1 {
		gemm(out, out.off, &ea, ea.off, &eb, eb.off, m, n, k, alpha, beta)
		return
	}
	matmulBatched(out, ea, eb, nb, m, n, k, alpha, beta)
}

// MatMulBiasInto computes out = a·b + bias for matrices a (m, k) and b (k, n), each row-major
// or a transposed view, out (m, n) and bias (n values): a linear layer's forward pass. Its
// bits are those of MatMulInto with beta 1 on out first set to the bias rows; where out is
// row-major, the bias goes into each tile of out as the product stores it (kernel.SgemmBias)
// instead of in a pass over out beforehand.
func MatMulBiasInto(out, a, b, bias *Tensor) {
	if a.ndim != 2 || b.ndim != 2 || out.ndim != 2 {
		panic(fmt.Sprintf("tensor.MatMulBias: operands %v, %v, out %v must be matrices", a.Shape(), b.Shape(), out.Shape()))
	}
	m, k, n := a.Dim(0), a.Dim(1), b.Dim(1)
	if b.Dim(0) != k || out.Dim(0) != m || out.Dim(1) != n || bias.Len() != n {
		panic(fmt.Sprintf("tensor.MatMulBias: shapes %v · %v + bias %v do not give %v", a.Shape(), b.Shape(), bias.Shape(), out.Shape()))
	}
	if oRow, _ := rowMajor(out); !oRow || !matrixLayout(out) || !matrixLayout(a) || !matrixLayout(b) {
		CopyInto(out, bias.Reshape(1, n))
		MatMulInto(out, a, b, 1, 1)
		return
	}
	aRow, lda := rowMajor(a)
	bRow, ldb := rowMajor(b)
	_, ldc := rowMajor(out)
	kernel.SgemmBias(!aRow, !bRow, m, n, k, a.data[a.off:], lda, b.data[b.off:], ldb, bias.Contiguous().Data(), out.data[out.off:], ldc)
}

// matmulBatched runs the nb products of a batched MatMulInto.
func matmulBatched(out *Tensor, ea, eb Tensor, nb, m, n, k int, alpha, beta float32) {
	task := matmulBatchTask{out, ea, eb, m, n, k, alpha, beta}
	// Many small products: one thread per product. Few large ones: each product is parallel
	// inside the kernel. A product into an output broadcast along the batch (stride 0) must
	// run in order, since every batch adds into the same matrix.
	if m*n*k < 1<<20 && !batchBroadcast(out) {
		kernel.ParallelPooled(&matmulBatchTasks, nb, 1, task)
		return
	}
	task.Run(0, nb)
}

// matmulBatchTask runs products [lo, hi) of a batched MatMulInto.
type matmulBatchTask struct {
	out         *Tensor
	ea, eb      Tensor
	m, n, k     int
	alpha, beta float32
}

var matmulBatchTasks sync.Pool

func (t *matmulBatchTask) Run(lo, hi int) {
	for i := lo; i < hi; i++ {
		gemm(t.out, batchOffset(t.out, i), &t.ea, batchOffset(&t.ea, i), &t.eb, batchOffset(&t.eb, i), t.m, t.n, t.k, t.alpha, t.beta)
	}
}

// batchBroadcast reports whether any batch dimension of t has stride 0 (and size > 1).
func batchBroadcast(t *Tensor) bool {
	for d := 0; d < t.ndim-2; d++ {
		if t.strides[d] == 0 && t.shape[d] > 1 {
			return true
		}
	}
	return false
}

// expandBatch sets dst to t with its batch dimensions (all but the last two) broadcast to batch.
func expandBatch(op string, dst, t *Tensor, batch []int) {
	var shp [MaxDims]int
	if len(batch)+2 > MaxDims {
		panic(fmt.Sprintf("tensor.%s: too many dimensions", op))
	}
	shape := append(append(shp[:0], batch...), t.Dim(-2), t.Dim(-1))
	if !t.expandInto(dst, shape) {
		panic(fmt.Sprintf("tensor.%s: batch dimensions of %v do not broadcast to %v", op, t.Shape(), batch))
	}
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
