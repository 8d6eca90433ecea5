package kernel

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Cache blocking from the CPU's own cache sizes. The blocks of each micro-kernel (see Sgemm)
// follow from the data caches of one core, the analytical model of BLIS (Low et al., 2016):
//
//	KC  the depth of a block: a (KC, NR) micro-panel of B, which stays in L1 while the A
//	    micro-panels stream past, takes at most 2/3 of L1, and the (MR, KC) micro-panel of A
//	    streaming past at most 1/4 of it:
//	      KC = min(⅔·L1 / (NR·e), ¼·L1 / (MR·e)), rounded down to a multiple of 16
//	MC  the rows of an A block, which stays in L2 while the B micro-panels pass: the
//	    (MC, KC) block takes half of L2, the other half holding B micro-panels and C:
//	      MC = ½·L2 / (KC·e), rounded down to a multiple of MR
//	NC  the columns of a B panel, which stays in L3 while the A blocks pass: the (KC, NC)
//	    panel takes half of the L3 share of one core (L3 / cores sharing it):
//	      NC = ½·L3core / (KC·e), rounded down to a multiple of NR, at most 8192
//
// where e is the bytes of a packed element (4 for float32, 2 for the bfloat16 pairs of
// bfloat16 compute). Each is clamped to a sane range.
//
// The AMX kernel keeps its 32×32 tile of C in tile registers over the whole depth and streams
// both micro-panels from L2 at a rate L1 would not add much to; what costs is C: each depth
// block loads and stores every tile of C once more, from memory once C outgrows the caches
// (measured: KC = 192 ran a 1024×768×3072 product at half the speed of KC = 768). So its KC is
// as deep as L2 allows, the two micro-panels taking 1/16 of it:
//
//	KC = L2 / 16 / ((MR + NR)·e)
//
// The 12×32 AVX-512 kernel on a core with an L2 of 2 MiB or more (Intel's server cores) takes
// three times the KC above, its B micro-panel then coming from L2: that L2 feeds the kernel
// and two passes over C fewer on a depth of 768 paid more. Measured on a Xeon with AMX
// (48 KiB L1d, 2 MiB L2), in one process alternating, best of 8 to 10: KC 256 → 768 (MC
// 1020 → 336) took 4096×768×3072 from 101.7 to 103.6 GFLOP/s on one thread and 170.3 to
// 184.8 on two, 2048×384×1152 (a training step's product) 84.0 → 89.8 and 138.7 → 171.4;
// none of six shapes lost more than 3% (64 rows at two threads). The AVX2 kernel lost up to
// 20% on 64-row products with deeper blocks there, so it keeps the rule above.
//
// On a Sapphire Rapids core (48 KiB L1d, 2 MiB L2) this gives the 12×32 AVX-512 kernel
// KC = 768, MC = 336; the 6×16 AVX2 kernel KC = 512, MC = 510; bfloat16 compute KC = 512,
// MC = 1020, on AMX KC = 1024, MC = 512.
//
// The sizes come from CPUID (leaf 4 on Intel, 0x8000001D on AMD); on Linux
// /sys/devices/system/cpu/cpu0/cache cross-checks them (a disagreement is noted in
// Blocking) and gives the number of CPUs that share each cache. Without either, a
// conservative 32 KiB L1d, 1 MiB L2 and 2 MiB of L3 per core are assumed. `qkv bench
// --tune` can then measure better blocks for this machine (see Tune).

// CacheSizes are the data caches of one core, in bytes.
type CacheSizes struct {
	L1D, L2, L3          int    // the size of one instance of each cache; 0: unknown
	L2Sharing, L3Sharing int    // logical CPUs sharing an instance; 0: unknown (taken as 1)
	Source               string // cpuid, sysfs or default
	Note                 string // a disagreement between CPUID and the OS, if any
}

// set records a cache of the given level.
func (cs *CacheSizes) set(level, size, sharing int) {
	switch level {
	case 1:
		cs.L1D = size
	case 2:
		cs.L2, cs.L2Sharing = size, sharing
	case 3:
		cs.L3, cs.L3Sharing = size, sharing
	}
}

// l3PerCore is the share of L3 of one CPU sharing it.
func (cs CacheSizes) l3PerCore() int {
	if cs.L3 <= 0 {
		return 0
	}
	return cs.L3 / max(1, cs.L3Sharing)
}

func (cs CacheSizes) String() string {
	s := fmt.Sprintf("L1d %s, L2 %s, L3 %s", kib(cs.L1D), kib(cs.L2), kib(cs.L3))
	if cs.L3Sharing > 1 {
		s += fmt.Sprintf(" shared by %d", cs.L3Sharing)
	}
	return s + " (" + cs.Source + ")"
}

func kib(n int) string {
	switch {
	case n <= 0:
		return "?"
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// defaultCaches are assumed when neither CPUID nor the OS tells: small enough for any x86 or
// ARM core of the last decade.
var defaultCaches = CacheSizes{L1D: 32 << 10, L2: 1 << 20, L3: 2 << 20, L3Sharing: 1, Source: "default"}

// detectCaches returns the caches of this CPU: CPUID's sizes, cross-checked against (and
// completed by) the OS's; the OS's alone; or the defaults.
func detectCaches() CacheSizes {
	id, okID := cpuidCaches()
	fs, okFS := sysfsCaches("/sys/devices/system/cpu/cpu0/cache")
	switch {
	case okID && okFS:
		var diff []string
		for _, c := range []struct {
			name   string
			id, fs int
		}{{"L1d", id.L1D, fs.L1D}, {"L2", id.L2, fs.L2}, {"L3", id.L3, fs.L3}} {
			if c.id != c.fs {
				diff = append(diff, fmt.Sprintf("%s %s by CPUID, %s by the OS", c.name, kib(c.id), kib(c.fs)))
			}
		}
		if len(diff) > 0 {
			id.Note = "caches disagree: " + strings.Join(diff, ", ") + "; using CPUID"
		}
		// CPUID gives the most IDs that could share a cache, the OS the CPUs that do.
		if fs.L2Sharing > 0 {
			id.L2Sharing = fs.L2Sharing
		}
		if fs.L3Sharing > 0 {
			id.L3Sharing = fs.L3Sharing
		}
		id.Source = "cpuid, checked against sysfs"
		return id
	case okID:
		return id
	case okFS:
		return fs
	}
	return defaultCaches
}

// amdLegacyCaches decodes AMD's older cache leaves: ECX of 0x80000005 (L1d size in KiB in
// bits 31:24), ECX of 0x80000006 (L2 in KiB in bits 31:16) and its EDX (L3 in units of
// 512 KiB in bits 31:18, 0 for none). They say nothing of sharing: the caches are taken as
// one core's.
func amdLegacyCaches(c5, c6, d6 uint32) CacheSizes {
	var cs CacheSizes
	cs.set(1, int(c5>>24)<<10, 0)
	cs.set(2, int(c6>>16)<<10, 0)
	if l3 := int(d6>>18) * 512 << 10; l3 > 0 {
		cs.set(3, l3, 0)
	}
	return cs
}

// sysfsCaches reads Linux's description of a CPU's caches (dir is …/cpuN/cache).
func sysfsCaches(dir string) (CacheSizes, bool) {
	idx, _ := filepath.Glob(filepath.Join(dir, "index*"))
	var cs CacheSizes
	for _, d := range idx {
		read := func(name string) string {
			b, _ := os.ReadFile(filepath.Join(d, name))
			return strings.TrimSpace(string(b))
		}
		if t := read("type"); t != "Data" && t != "Unified" {
			continue
		}
		level, err := strconv.Atoi(read("level"))
		size, ok := parseCacheSize(read("size"))
		if err != nil || !ok {
			continue
		}
		cs.set(level, size, countCPUList(read("shared_cpu_list")))
	}
	cs.Source = "sysfs"
	return cs, cs.L1D > 0
}

// parseCacheSize reads a sysfs cache size such as 48K, 2048K or 260M.
func parseCacheSize(s string) (int, bool) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > 1<<40/mult {
		return 0, false
	}
	return n * mult, true
}

// countCPUList counts the CPUs of a list such as 0-3,8-11 (0 when it cannot be read).
func countCPUList(s string) int {
	n := 0
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0
			}
		}
		n += b - a + 1
	}
	return n
}

// Blocks are the cache blocks of one micro-kernel: the depth KC, the rows MC of an A block
// and the columns NC of a B panel.
type Blocks struct {
	KC int `json:"kc"`
	MC int `json:"mc"`
	NC int `json:"nc"`
}

func (b Blocks) String() string { return fmt.Sprintf("kc=%d mc=%d nc=%d", b.KC, b.MC, b.NC) }

// Limits of valid blocks. KC is a multiple of kcAlign (so that bfloat16 pairs never
// straddle a block); the packed buffers are bounded (an A block of at most 16 MiB, a B panel
// of at most 64 MiB).
const (
	kcAlign       = 16
	minKC, maxKC  = 16, 4096
	maxNC         = 8192
	maxABlockElem = 4 << 20
	maxBPanelElem = 16 << 20

	// minKCAMX is the shallowest depth block of the AMX kernel: with depths of 64 and more
	// (amxMinDepth), every block is then at least 32 deep, so a micro-panel padded to whole
	// 16-pair steps still fits the slot of kc·NR floats it is packed in.
	minKCAMX = 128

	// deepL2 is the L2 from which a kernel with gemmKernel.deepL2 takes three times the
	// depth of the L1 formula.
	deepL2 = 2 << 20
)

// elemBytes is the size of one packed element of K's operands.
func (K *gemmKernel) elemBytes() int {
	if K.pairs {
		return 2
	}
	return 4
}

// blocksFor applies the formula above to K's tile and the caches cs.
func blocksFor(K *gemmKernel, cs CacheSizes) Blocks {
	d := defaultCaches
	l2, l3 := cs.L2, cs.l3PerCore()
	if l2 <= 0 {
		l2 = d.L2
	}
	if l3 <= 0 {
		l3 = d.l3PerCore()
	}
	e := K.elemBytes()
	kc := l1Depth(K, cs)
	switch {
	case K.amx:
		kc = clampDown(l2/16/((K.mr+K.nr)*e), kcAlign, minKCAMX, maxKC)
	case K.deepL2 && l2 >= deepL2:
		kc = clampDown(3*kc, kcAlign, minKC, maxKC)
	}
	mc := clampDown(l2/2/(kc*e), K.mr, K.mr, maxABlockElem/kc/K.mr*K.mr)
	nc := clampDown(l3/2/(kc*e), K.nr, 4*K.nr, min(maxNC, maxBPanelElem/kc)/K.nr*K.nr)
	return Blocks{KC: kc, MC: mc, NC: nc}
}

// l1Depth is the depth of the L1 formula above for the caches cs: a B micro-panel in ⅔ of
// L1, an A micro-panel in ¼ of it.
func l1Depth(K *gemmKernel, cs CacheSizes) int {
	l1 := cs.L1D
	if l1 <= 0 {
		l1 = defaultCaches.L1D
	}
	e := K.elemBytes()
	return clampDown(min(2*l1/3/(K.nr*e), l1/4/(K.mr*e)), kcAlign, minKC, maxKC)
}

// inPlaceDepth is the deepest depth block for a B read in place (not packed): every A
// micro-panel of a block reads the same B micro-panel, which must then stay in L1, so the
// depth is at most the L1 formula's even where K's blocks go deeper.
func inPlaceDepth(K *gemmKernel) int { return min(K.kc, l1Depth(K, caches)) }

// clampDown rounds x down to a multiple of step and clamps it to [lo, hi] (both multiples of
// step).
func clampDown(x, step, lo, hi int) int {
	return min(max(x/step*step, lo), hi)
}

// validBlocks says what is wrong with b as K's blocks, or returns nil.
func (K *gemmKernel) validBlocks(b Blocks) error {
	switch {
	case b.KC < minKC || b.KC > maxKC || b.KC%kcAlign != 0:
		return fmt.Errorf("kc=%d is not a multiple of %d in [%d, %d]", b.KC, kcAlign, minKC, maxKC)
	case K.amx && b.KC < minKCAMX:
		return fmt.Errorf("kc=%d is under the AMX kernel's %d", b.KC, minKCAMX)
	case b.MC < K.mr || b.MC%K.mr != 0 || b.MC*b.KC > maxABlockElem:
		return fmt.Errorf("mc=%d is not a multiple of the tile's %d rows with mc·kc ≤ %d", b.MC, K.mr, maxABlockElem)
	case b.NC < K.nr || b.NC%K.nr != 0 || b.NC > maxNC || b.NC*b.KC > maxBPanelElem:
		return fmt.Errorf("nc=%d is not a multiple of the tile's %d columns, at most %d, with nc·kc ≤ %d", b.NC, K.nr, maxNC, maxBPanelElem)
	}
	return nil
}

// blocks returns K's blocks now.
func (K *gemmKernel) blocks() Blocks { return Blocks{KC: K.kc, MC: K.mc, NC: K.nc} }

// setBlocks makes b K's blocks (validated by the caller).
func (K *gemmKernel) setBlocks(b Blocks) { K.kc, K.mc, K.nc = b.KC, b.MC, b.NC }

// caches are this CPU's, read once at start-up.
var caches = detectCaches()

func init() {
	for _, K := range builtinGemmKernels() {
		K.setBlocks(blocksFor(K, caches))
	}
}

// Blocking describes the caches and the blocks of the SGEMM micro-kernel that runs now, and
// where the blocks came from: "avx512 12×32 kc=256 mc=1020 nc=4096 from L1d 48 KiB, L2 2 MiB,
// L3 260 MiB (cpuid)" or "… tuned (FILE)".
func Blocking() string {
	loadTuningOnce()
	K := activeGemmKernel()
	s := fmt.Sprintf("%s %d×%d %s", K.name, K.mr, K.nr, K.blocks())
	if src := tunedFrom[K.name]; src != "" {
		s += " tuned (" + src + ")"
	} else {
		s += " from " + caches.String()
	}
	if caches.Note != "" {
		s += "; " + caches.Note
	}
	return s
}
