// Package kernel holds the float32 compute kernels under package tensor: matrix multiply
// (SGEMM, SGEMV), dot/axpy, and the row-wise kernels of the Transformer (softmax, LayerNorm,
// GELU, cross-entropy).
//
// Every kernel works on plain row-major []float32 slices with explicit sizes and leading
// dimensions, in the style of BLAS. On amd64 with AVX2 and FMA the hot kernels run Go assembly,
// with AVX-512, AVX512-VNNI or AVX-VNNI (int8 GEMV) and AVX512-BF16 (bfloat16 compute, see
// SetCompute) versions where the CPU has them; everywhere else, and under the `purego` build
// tag, a pure-Go version of the same kernel runs. Each assembly kernel has a parity test
// against its pure-Go twin. QKV_CPU caps the paths (see CPU), so that every fallback can be
// tested on a machine with the faster ones.
//
// Kernels that parallelise do so over a fixed pool of worker goroutines sized by SetThreads
// (default GOMAXPROCS); no goroutine is started per call.
package kernel
