//go:build !amd64 || purego

package kernel

// hasAsm is false: this build has no assembly kernels (another architecture, or the purego tag).
const hasAsm = false

// useAsm is always false here; it is a variable only so that tests can set it on every build.
var useAsm = false
