//go:build !amd64 || purego

package kernel

// hasAsm is false: this build has no assembly kernels (another architecture, or the purego tag).
const hasAsm = false

// hasAVX512 is false: this build has no assembly kernels.
const hasAVX512 = false

// useAsm is always false here; it is a variable only so that tests can set it on every build.
var useAsm = false

// useAVX512 is always false here; it is a variable only so that tests can set it.
var useAVX512 = false
