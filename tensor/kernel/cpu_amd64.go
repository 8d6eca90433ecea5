//go:build amd64 && !purego

package kernel

import "golang.org/x/sys/cpu"

// hasAsm reports whether this CPU can run the AVX2/FMA assembly kernels.
var hasAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// useAsm selects the assembly kernels; it starts as hasAsm. Tests turn it off to run the
// pure-Go kernels through the same drivers.
var useAsm = hasAsm
