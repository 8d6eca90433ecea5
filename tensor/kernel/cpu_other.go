//go:build !amd64 || purego

package kernel

// hasAsm is false: this build has no assembly kernels (another architecture, or the purego tag).
const hasAsm = false

// hasAVX512, hasVNNI, hasBF16 and hasAMX are false: this build has no assembly kernels.
const (
	hasAVX512 = false
	hasVNNI   = false
	hasBF16   = false
	hasAMX    = false

	hasAVXVNNI = false
)

// cpuFlags is empty: this build uses no CPU feature.
var cpuFlags []cpuFlag

// useAsm is always false here; it is a variable only so that tests can set it on every build.
var useAsm = false

// useAVX512, useVNNI, useBF16 and useAMX are always false here; they are variables only so
// that tests can set them.
var (
	useAVX512 = false
	useVNNI   = false
	useBF16   = false
	useAMX    = false

	useAVXVNNI = false
)
