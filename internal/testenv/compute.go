package testenv

import (
	"testing"

	"github.com/qkvdev/qkv/tensor/kernel"
)

// EachCompute runs f under float32 compute, then under bfloat16 compute where the CPU has it
// (logged as skipped where it does not), and leaves float32 compute set.
func EachCompute(t testing.TB, f func(c kernel.Compute)) {
	t.Helper()
	defer kernel.SetCompute(kernel.FP32Compute)
	for _, c := range []kernel.Compute{kernel.FP32Compute, kernel.BF16Compute} {
		if err := kernel.SetCompute(c); err != nil {
			t.Logf("%s compute skipped: %v", c, err)
			continue
		}
		f(c)
	}
}
