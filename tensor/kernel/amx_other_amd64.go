//go:build amd64 && !purego && !linux

package kernel

// amxPermitted reports false: only Linux is asked for the tile state (see amx_linux_amd64.go),
// so elsewhere the VDPBF16PS kernel runs bfloat16 compute.
func amxPermitted() bool { return false }
