//go:build !amd64 || purego

package kernel

// q8AbsMaxAVX2 and q8QuantizeAVX2 are never called in this build (useAsm is never set); they
// are declared so that the shared driver compiles.
func q8AbsMaxAVX2(n int, x *float32) uint32 { panic("kernel: q8AbsMaxAVX2 without AVX2") }

func q8QuantizeAVX2(groups int, x *float32, inv float32, xn *int32) {
	panic("kernel: q8QuantizeAVX2 without AVX2")
}
