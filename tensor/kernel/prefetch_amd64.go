//go:build amd64 && !purego

package kernel

import "unsafe"

// prefetchBytes asks the cache for the n bytes at p (prefetch_amd64.s); it only reads.
//
//go:noescape
func prefetchBytes(p unsafe.Pointer, n int)
