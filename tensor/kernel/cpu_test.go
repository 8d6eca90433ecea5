package kernel

import (
	"slices"
	"strings"
	"testing"
)

// TestParseCPUCap checks the values QKV_CPU takes, avx512bf16 (everything but AMX) among
// them, and that an unknown one falls back to native with a note.
func TestParseCPUCap(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		note bool
	}{
		{"", capNative, false}, {"native", capNative, false}, {" AVX512BF16 ", capAVX512BF16, false},
		{"avx512", capAVX512, false}, {"avxvnni", capAVXVNNI, false}, {"avx2", capAVX2, false},
		{"go", capGo, false}, {"purego", capGo, false}, {"amx", capNative, true},
	} {
		got, note := parseCPUCap(tc.in)
		if got != tc.want || (note != "") != tc.note {
			t.Errorf("parseCPUCap(%q) = %d, %q; want %d, note %v", tc.in, got, note, tc.want, tc.note)
		}
	}
}

// TestCPUReportsAMX checks that the paths and kernels reported follow the AMX kernel's
// switch: "amx" is listed, and bfloat16 compute names its SGEMM kernel amx, exactly when it
// runs.
func TestCPUReportsAMX(t *testing.T) {
	forEachBF16Kernel(t, func(t *testing.T) {
		inPaths := slices.Contains(CPU().Paths, "amx")
		named := strings.Contains(Kernels(), "sgemm=amx ")
		if inPaths != useAMX || named != useAMX {
			t.Fatalf("useAMX=%v, but CPU().Paths = %v and Kernels() = %q", useAMX, CPU().Paths, Kernels())
		}
	})
}
