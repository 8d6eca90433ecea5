//go:build amd64 && !purego

package kernel

// The AVX2 kernels of activation quantisation (quant_act_amd64.s). They need only useAsm,
// so they also serve the AVX-VNNI path of CPUs without AVX-512.

// q8AbsMaxAVX2 returns the largest bits(x[p]) & 0x7fffffff over n inputs of x, n a positive
// multiple of 32.
//
//go:noescape
func q8AbsMaxAVX2(n int, x *float32) uint32

// q8QuantizeAVX2 fills the q8Act layout xn for 32·groups inputs of x, as q8QuantizeVNNI
// does for 64·chunks: round(x·inv) and the offset corrections.
//
//go:noescape
func q8QuantizeAVX2(groups int, x *float32, inv float32, xn *int32)
