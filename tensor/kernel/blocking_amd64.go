//go:build amd64 && !purego

package kernel

// builtinGemmKernels lists every SGEMM micro-kernel of this build, whether or not the CPU
// runs it.
func builtinGemmKernels() []*gemmKernel {
	return []*gemmKernel{gemmKernelGo, gemmKernelAVX2, gemmKernel512, gemmKernelBF16, gemmKernelAMX}
}
