package kernel

import (
	"os"
	"runtime"
	"strings"
)

// Kernel paths, slowest first. QKV_CPU names the fastest one to use:
//
//	QKV_CPU=go       pure Go only (as the purego build tag)
//	QKV_CPU=avx2     AVX2/FMA kernels, no AVX-512
//	QKV_CPU=avxvnni  AVX2/FMA kernels and the 256-bit AVX-VNNI int8 GEMV, no AVX-512
//	QKV_CPU=avx512   AVX-512F kernels, but neither VNNI nor AVX512-BF16
//	QKV_CPU=avx512bf16 AVX-512 with VNNI and AVX512-BF16, but no AMX
//	QKV_CPU=native   everything the CPU has (the default)
//
// A path the CPU lacks stays off whatever QKV_CPU says.
const (
	capGo = iota
	capAVX2
	capAVXVNNI
	capAVX512
	capAVX512BF16
	capNative
)

// cpuCapNames maps the values of QKV_CPU to the paths they allow.
var cpuCapNames = map[string]int{"go": capGo, "purego": capGo, "avx2": capAVX2, "avxvnni": capAVXVNNI, "avx512": capAVX512, "avx512bf16": capAVX512BF16, "native": capNative, "": capNative}

// cpuCap is the fastest path QKV_CPU allows; cpuCapErr is set when its value is unknown (the
// default then applies, and CPU reports it).
var cpuCap, cpuCapErr = parseCPUCap(os.Getenv("QKV_CPU"))

func parseCPUCap(s string) (int, string) {
	c, ok := cpuCapNames[strings.ToLower(strings.TrimSpace(s))]
	if !ok {
		return capNative, "QKV_CPU=" + s + " is not one of go, avx2, avxvnni, avx512, avx512bf16, native; using native"
	}
	return c, ""
}

// cpuFlag is one CPU feature and whether the CPU has it.
type cpuFlag struct {
	name string
	has  bool
}

// CPUInfo says what the kernels run on: the CPU, its features and the paths in use.
type CPUInfo struct {
	Model    string   // the CPU's model name, as the OS reports it
	Features []string // the features the kernels can use that the CPU has, before QKV_CPU
	Missing  []string // those it lacks (their paths are skipped)
	Paths    []string // the kernel paths in use, fastest last: go, avx2, avxvnni, avx512, vnni, bf16, amx
	Note     string   // a problem with QKV_CPU, if any
}

// Kernels names the kernels the matrix products run on now: the SGEMM micro-kernel (which
// follows SetCompute), the int8 GEMV and the other vector kernels, e.g.
// "sgemm=avx512 int8=vnni vec=avx512".
func Kernels() string {
	vec, int8 := "go", "go"
	switch {
	case useAsm && useAVX512:
		vec, int8 = "avx512", "avx512"
		if useVNNI {
			int8 = "vnni"
		}
	case useAsm:
		vec, int8 = "avx2", "avx2"
		if useAVXVNNI {
			int8 = "avxvnni"
		}
	}
	return "sgemm=" + activeGemmKernel().name + " int8=" + int8 + " vec=" + vec
}

// CPU reports the CPU and the kernel paths in use.
func CPU() CPUInfo {
	info := CPUInfo{Model: cpuModel(), Paths: []string{"go"}, Note: cpuCapErr}
	for _, f := range cpuFlags {
		if f.has {
			info.Features = append(info.Features, f.name)
		} else {
			info.Missing = append(info.Missing, f.name)
		}
	}
	for _, p := range []struct {
		name string
		on   bool
	}{{"avx2", useAsm}, {"avxvnni", useAsm && !useAVX512 && useAVXVNNI}, {"avx512", useAsm && useAVX512}, {"vnni", useAsm && useAVX512 && useVNNI}, {"bf16", useAsm && useAVX512 && useBF16}, {"amx", useAsm && useAVX512 && useBF16 && useAMX}} {
		if p.on {
			info.Paths = append(info.Paths, p.name)
		}
	}
	return info
}

// cpuModel returns the model name of the first CPU in /proc/cpuinfo, or GOARCH where there is
// none.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}
