//go:build !amd64 || purego

package kernel

// builtinGemmKernels lists every SGEMM micro-kernel of this build.
func builtinGemmKernels() []*gemmKernel { return []*gemmKernel{gemmKernelGo} }
