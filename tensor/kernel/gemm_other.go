//go:build !amd64 || purego

package kernel

// activeGemmKernel returns the pure-Go micro-kernel: this build has no assembly.
func activeGemmKernel() *gemmKernel { return gemmKernelGo }

// floatGemmKernel returns the pure-Go micro-kernel.
func floatGemmKernel() *gemmKernel { return gemmKernelGo }

// gemmKernelFor returns the pure-Go micro-kernel.
func gemmKernelFor(int) *gemmKernel { return gemmKernelGo }
