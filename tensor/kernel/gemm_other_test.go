//go:build !amd64 || purego

package kernel

// gemmKernels lists the micro-kernels of this build: the pure-Go one.
func gemmKernels() []*gemmKernel { return []*gemmKernel{gemmKernelGo} }
