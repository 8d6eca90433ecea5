//go:build !amd64 || purego

package kernel

import "unsafe"

// prefetchBytes would ask the cache for the n bytes at p; without assembly there is no
// prefetch instruction to issue, so it does nothing.
func prefetchBytes(p unsafe.Pointer, n int) {}
