//go:build !amd64 || purego

package kernel

import "testing"

// gemmKernels lists the micro-kernels of this build: the pure-Go one.
func gemmKernels() []*gemmKernel { return []*gemmKernel{gemmKernelGo} }

// forEachPackRounding runs f: this build's packers round one way only.
func forEachPackRounding(t *testing.T, f func(t *testing.T)) { f(t) }
