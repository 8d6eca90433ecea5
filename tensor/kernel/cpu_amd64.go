//go:build amd64 && !purego

package kernel

import "golang.org/x/sys/cpu"

// hasAsm reports whether this CPU can run the AVX2/FMA assembly kernels.
var hasAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// hasAVX512 reports whether this CPU (and OS) can also run the AVX-512 kernels; they use
// AVX-512F instructions only.
var hasAVX512 = hasAsm && cpu.X86.HasAVX512F

// useAsm selects the assembly kernels; it starts as hasAsm. Tests turn it off to run the
// pure-Go kernels through the same drivers.
var useAsm = hasAsm

// useAVX512 selects the AVX-512 kernels over the AVX2 ones when useAsm is set; it starts as
// hasAVX512. Tests turn it off to run the AVX2 kernels.
var useAVX512 = hasAVX512
