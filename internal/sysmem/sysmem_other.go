//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package sysmem

// available cannot tell the memory of this system: models are bounded by their config's limits
// only.
func available() (uint64, string, bool) { return 0, "", false }
