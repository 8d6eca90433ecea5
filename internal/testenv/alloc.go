package testenv

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

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

// SteadyAllocs returns the allocations of one call of f once its buffers are warm. Pools are
// emptied by a garbage collection, so one runs first, then f warms them up again.
func SteadyAllocs(f func()) float64 {
	runtime.GC()
	runtime.GC()
	for range 3 {
		f()
	}
	return testing.AllocsPerRun(10, f)
}
