package testenv

import "runtime/metrics"

// HeapAllocated returns the bytes f allocates on the heap, to the precision of the runtime's
// per-span accounting (tens of KiB): enough to see a parser that allocates by a size it read
// rather than by the size of its input.
func HeapAllocated(f func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	return s[0].Value.Uint64() - before
}
