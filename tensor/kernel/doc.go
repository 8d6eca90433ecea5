// Package kernel holds the float32 compute kernels under package tensor: matrix multiply
// (SGEMM, SGEMV), dot/axpy, and the row-wise kernels of the Transformer (softmax, LayerNorm,
// GELU, cross-entropy).
//
// Every kernel works on plain row-major []float32 slices with explicit sizes and leading
// dimensions, in the style of BLAS. On amd64 with AVX2 and FMA the hot kernels run Go assembly;
// everywhere else, and under the `purego` build tag, a pure-Go version of the same kernel runs.
// Each assembly kernel has a parity test against its pure-Go twin.
//
// Kernels that parallelise do so over a fixed pool of worker goroutines sized by SetThreads
// (default GOMAXPROCS); no goroutine is started per call.
package kernel
