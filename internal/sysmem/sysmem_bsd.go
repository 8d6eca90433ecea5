//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package sysmem

import "golang.org/x/sys/unix"

// available is the machine's physical memory: these systems report no figure of what is free
// that counts reclaimable caches the way Linux's MemAvailable does.
func available() (uint64, string, bool) {
	for _, name := range []string{"hw.memsize", "hw.physmem64", "hw.physmem"} {
		if n, err := unix.SysctlUint64(name); err == nil && n > 0 {
			return n, "sysctl " + name, true
		}
	}
	return 0, "", false
}
