//go:build amd64 && !purego

package kernel

// cpuid executes CPUID with EAX = leaf and ECX = sub.
//
//go:noescape
func cpuid(leaf, sub uint32) (a, b, c, d uint32)

// cpuidCaches reads the data caches from CPUID: the deterministic cache parameters of leaf 4
// (Intel) or 0x8000001D (AMD, with the topology extensions), each subleaf one cache until one
// of type 0. A cache's size is ways × partitions × line size × sets, and the number of
// logical processors sharing it is EAX[25:14] + 1. Where AMD's leaf is missing or empty (a
// hypervisor may hide it, as on a Zen 5 virtual machine that answered zeros), the older
// leaves 0x80000005 and 0x80000006 give the sizes without the sharing (amdLegacyCaches). It
// reports false when the CPU has none of these.
func cpuidCaches() (CacheSizes, bool) {
	maxLeaf, b, c, d := cpuid(0, 0)
	vendor := string([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24), byte(d), byte(d >> 8), byte(d >> 16), byte(d >> 24), byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)})
	leaf := uint32(0)
	switch vendor {
	case "GenuineIntel":
		if maxLeaf >= 4 {
			leaf = 4
		}
	case "AuthenticAMD", "HygonGenuine":
		maxExt, _, _, _ := cpuid(0x80000000, 0)
		_, _, ecx, _ := cpuid(0x80000001, 0)
		if maxExt >= 0x8000001D && ecx&(1<<22) != 0 { // TopologyExtensions
			leaf = 0x8000001D
		}
	}
	if leaf == 0 && vendor != "AuthenticAMD" && vendor != "HygonGenuine" {
		return CacheSizes{}, false
	}
	var cs CacheSizes
	for sub := uint32(0); leaf != 0 && sub < 16; sub++ {
		a, b, c, _ := cpuid(leaf, sub)
		typ := a & 0x1f
		if typ == 0 {
			break
		}
		if typ != 1 && typ != 3 { // data or unified; not instruction
			continue
		}
		level := (a >> 5) & 7
		sharing := int((a>>14)&0xfff) + 1
		size := int((b>>22)&0x3ff+1) * int((b>>12)&0x3ff+1) * int(b&0xfff+1) * int(c+1)
		cs.set(int(level), size, sharing)
	}
	if cs.L1D == 0 && leaf != 4 {
		if maxExt, _, _, _ := cpuid(0x80000000, 0); maxExt >= 0x80000006 {
			_, _, c5, _ := cpuid(0x80000005, 0)
			_, _, c6, d6 := cpuid(0x80000006, 0)
			cs = amdLegacyCaches(c5, c6, d6)
		}
	}
	cs.Source = "cpuid"
	return cs, cs.L1D > 0
}
