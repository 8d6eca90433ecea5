//go:build amd64 && !purego

package kernel

import "golang.org/x/sys/cpu"

// What this CPU (and OS) can run, each level needing the ones before it:
//
//	hasAsm     AVX2 and FMA: the 6×16 SGEMM kernel, GEMV, dot/axpy and the row kernels
//	hasAVX512  AVX-512F: the 12×32 SGEMM kernel and the 16-wide GEMV and quantised kernels
//	hasVNNI    AVX512-VNNI (VPDPBUSD): int8 weights times int8 activations, summed in int32
//	hasBF16    AVX512-BF16 (VDPBF16PS): bfloat16 products summed in float32
//	hasAVXVNNI AVX-VNNI (VEX VPDPBUSD on 256 bits): the int8 GEMV of VNNI without AVX-512
//	hasAMX     AMX-BF16 (tile registers, TDPBF16PS) with the OS's leave to use them: the
//	           32×32 bfloat16 kernel (amx_amd64.go)
//
// QKV_CPU (see cpuCap) lowers them, so that every fallback can be tested on a machine that
// has the faster paths.
var (
	hasAsm    = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpuCap >= capAVX2
	hasAVX512 = hasAsm && cpu.X86.HasAVX512F && cpuCap >= capAVX512
	hasVNNI   = hasAVX512 && cpu.X86.HasAVX512VNNI && cpuCap >= capAVX512BF16
	hasBF16   = hasAVX512 && cpu.X86.HasAVX512BF16 && cpuCap >= capAVX512BF16
	hasAMX    = hasBF16 && cpu.X86.HasAMXTile && cpu.X86.HasAMXBF16 && cpuCap >= capNative && amxPermitted()

	hasAVXVNNI = hasAsm && cpu.X86.HasAVXVNNI && cpuCap >= capAVXVNNI
)

// cpuFlags lists the CPU's own features that matter to the kernels, before QKV_CPU.
var cpuFlags = []cpuFlag{
	{"avx2", cpu.X86.HasAVX2 && cpu.X86.HasFMA},
	{"avx512", cpu.X86.HasAVX512F},
	{"avx512vnni", cpu.X86.HasAVX512VNNI},
	{"avxvnni", cpu.X86.HasAVXVNNI},
	{"avx512bf16", cpu.X86.HasAVX512BF16},
	{"amx", cpu.X86.HasAMXTile && cpu.X86.HasAMXBF16},
}

// useAsm selects the assembly kernels; it starts as hasAsm. Tests turn it off to run the
// pure-Go kernels through the same drivers.
var useAsm = hasAsm

// useAVX512 selects the AVX-512 kernels over the AVX2 ones when useAsm is set; it starts as
// hasAVX512. Tests turn it off to run the AVX2 kernels.
var useAVX512 = hasAVX512

// useVNNI selects the VPDPBUSD int8 GEMV when useAVX512 is set; it starts as hasVNNI.
var useVNNI = hasVNNI

// useAVXVNNI selects the 256-bit AVX-VNNI int8 GEMV when useAsm is set and useAVX512 is not;
// it starts as hasAVXVNNI.
var useAVXVNNI = hasAVXVNNI

// useBF16 selects the VDPBF16PS kernels of bfloat16 compute when useAVX512 is set; it starts
// as hasBF16.
var useBF16 = hasBF16

// useAMX selects the AMX kernel of bfloat16 compute over the VDPBF16PS one when useBF16 is
// set; it starts as hasAMX.
var useAMX = hasAMX
