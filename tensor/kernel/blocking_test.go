package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// simulatedCaches are the caches of CPUs qkv runs on, and some it should survive.
var simulatedCaches = []struct {
	name string
	cs   CacheSizes
}{
	{"sapphire-rapids", CacheSizes{L1D: 48 << 10, L2: 2 << 20, L3: 260 << 20, L3Sharing: 2}},
	{"zen3", CacheSizes{L1D: 32 << 10, L2: 512 << 10, L3: 32 << 20, L3Sharing: 16}},
	{"zen5", CacheSizes{L1D: 48 << 10, L2: 1 << 20, L3: 32 << 20, L3Sharing: 16}},
	{"skylake-client", CacheSizes{L1D: 32 << 10, L2: 256 << 10, L3: 8 << 20, L3Sharing: 8}},
	{"tiny", CacheSizes{L1D: 16 << 10, L2: 128 << 10, L3: 256 << 10, L3Sharing: 1}},
	{"no-l3", CacheSizes{L1D: 24 << 10, L2: 1280 << 10}},
	{"unknown", CacheSizes{}},
	{"huge", CacheSizes{L1D: 1 << 20, L2: 64 << 20, L3: 1 << 30, L3Sharing: 1}},
}

// TestBlocksFor checks that the blocks the caches give are valid for every kernel of this
// build (multiples of the tile, within bounds) and follow the formula where it is not
// clamped; and the values of this development machine's caches.
func TestBlocksFor(t *testing.T) {
	for _, sc := range simulatedCaches {
		for _, K := range builtinGemmKernels() {
			b := blocksFor(K, sc.cs)
			if err := K.validBlocks(b); err != nil {
				t.Errorf("%s %s: %v: %v", sc.name, K.name, b, err)
			}
			l1 := sc.cs.L1D
			if l1 == 0 {
				l1 = defaultCaches.L1D
			}
			e := K.elemBytes()
			if K.amx {
				// Its depth follows L2 (see blocksFor).
				if l2 := sc.cs.L2; l2 > 0 && b.KC > minKCAMX && b.KC < maxKC && (b.KC*(K.mr+K.nr)*e > l2/16 || (b.KC+kcAlign)*(K.mr+K.nr)*e <= l2/16) {
					t.Errorf("%s %s: kc=%d: its micro-panels are not the 1/16 of a %d-byte L2 they should be", sc.name, K.name, b.KC, l2)
				}
				continue
			}
			if K.deepL2 && sc.cs.L2 >= deepL2 {
				// Three times the L1 formula's depth (see blocksFor).
				if l1kc := l1Depth(K, sc.cs); b.KC != min(3*l1kc, maxKC) {
					t.Errorf("%s %s: kc=%d with a %d-byte L2, want three times the L1 formula's %d", sc.name, K.name, b.KC, sc.cs.L2, l1kc)
				}
				continue
			}
			if b.KC > minKC && (b.KC*K.nr*e > 2*l1/3 || b.KC*K.mr*e > l1/4) {
				t.Errorf("%s %s: kc=%d: the micro-panels (%d + %d bytes) overflow their share of a %d-byte L1", sc.name, K.name, b.KC, b.KC*K.nr*e, b.KC*K.mr*e, l1)
			}
			if b.KC+kcAlign <= maxKC && (b.KC+kcAlign)*K.nr*e <= 2*l1/3 && (b.KC+kcAlign)*K.mr*e <= l1/4 {
				t.Errorf("%s %s: kc=%d leaves L1 room for %d more", sc.name, K.name, b.KC, kcAlign)
			}
		}
	}
	spr := simulatedCaches[0].cs
	want := map[string]Blocks{
		"go": {512, 510, 8192}, "avx2": {512, 510, 8192},
		"avx512": {768, 336, 8192}, "avx512bf16": {512, 1020, 8192}, "amx": {1024, 512, 8192},
	}
	for _, K := range builtinGemmKernels() {
		if got := blocksFor(K, spr); got != want[K.name] {
			t.Errorf("sapphire-rapids %s: %v, want %v", K.name, got, want[K.name])
		}
	}
}

func TestValidBlocks(t *testing.T) {
	K := &gemmKernel{name: "t", mr: 12, nr: 32}
	for _, tc := range []struct {
		b  Blocks
		ok bool
	}{
		{Blocks{256, 384, 4096}, true},
		{Blocks{16, 12, 32}, true},
		{Blocks{0, 384, 4096}, false},
		{Blocks{250, 384, 4096}, false},  // kc not a multiple of 16
		{Blocks{256, 380, 4096}, false},  // mc not a multiple of 12
		{Blocks{256, 384, 4010}, false},  // nc not a multiple of 32
		{Blocks{256, 0, 4096}, false},    // no rows
		{Blocks{256, 384, -32}, false},   // negative
		{Blocks{8192, 384, 4096}, false}, // kc too deep
		{Blocks{4096, 1200, 4096}, false},
		{Blocks{256, 384, 1 << 20}, false},
	} {
		if err := K.validBlocks(tc.b); (err == nil) != tc.ok {
			t.Errorf("%v: err %v, want ok=%v", tc.b, err, tc.ok)
		}
	}
}

// TestSysfsCaches reads a fake sysfs cache folder, and the cache sizes and CPU lists in it.
func TestSysfsCaches(t *testing.T) {
	dir := t.TempDir()
	for i, c := range [][4]string{
		{"1", "Data", "48K", "0"}, {"1", "Instruction", "32K", "0"},
		{"2", "Unified", "2048K", "0"}, {"3", "Unified", "260M", "0-1"},
	} {
		d := filepath.Join(dir, fmt.Sprintf("index%d", i))
		os.MkdirAll(d, 0o755)
		for name, v := range map[string]string{"level": c[0], "type": c[1], "size": c[2], "shared_cpu_list": c[3]} {
			os.WriteFile(filepath.Join(d, name), []byte(v+"\n"), 0o644)
		}
	}
	cs, ok := sysfsCaches(dir)
	if !ok || cs.L1D != 48<<10 || cs.L2 != 2<<20 || cs.L3 != 260<<20 || cs.L3Sharing != 2 || cs.L2Sharing != 1 {
		t.Errorf("got %+v, %v", cs, ok)
	}
	if _, ok := sysfsCaches(filepath.Join(dir, "missing")); ok {
		t.Error("a missing folder gave caches")
	}
	for s, want := range map[string]int{"0": 1, "0-3,8-11": 8, "2,4": 2, "": 0, "3-1": 0, "x": 0} {
		if got := countCPUList(s); got != want {
			t.Errorf("countCPUList(%q) = %d, want %d", s, got, want)
		}
	}
	for s, want := range map[string]int{"48K": 48 << 10, "2M": 2 << 20, "1G": 1 << 30, "512": 512, "K": 0, "-4K": 0, "99999999999999G": 0} {
		if got, _ := parseCacheSize(s); got != want {
			t.Errorf("parseCacheSize(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestCPUIDCaches checks that CPUID, where it answers, agrees with Linux on the machine at
// hand (a virtual machine may differ: then it is logged, as Blocking notes it).
func TestCPUIDCaches(t *testing.T) {
	id, ok := cpuidCaches()
	fs, okFS := sysfsCaches("/sys/devices/system/cpu/cpu0/cache")
	t.Logf("cpuid %v (%v); sysfs %v (%v); in use %v %s", id, ok, fs, okFS, caches, caches.Note)
	if ok && okFS && (id.L1D != fs.L1D || id.L2 != fs.L2) {
		t.Logf("CPUID and sysfs disagree: %s", caches.Note)
	}
	if ok && (id.L1D < 4<<10 || id.L2 < id.L1D) {
		t.Errorf("implausible caches from CPUID: %+v", id)
	}
	if err := activeGemmKernel().validBlocks(activeGemmKernel().blocks()); err != nil {
		t.Errorf("the blocks in use are not valid: %v", err)
	}
}

// TestBlockingParity runs Sgemm on every path with the blocks of every simulated cache: each
// result matches the float64 reference within float32 rounding (checkGemm), and results are
// bit-identical across all choices that split the depth k into the same blocks (KC decides
// the order of the sums; MC, NC, the threads and which operands are packed do not). The
// shapes include a depth below every KC, whose result is therefore the same bits under every
// choice, and bfloat16 compute where the CPU has it.
func TestBlockingParity(t *testing.T) {
	cases := []gemmCase{
		{m: 37, n: 70, k: 15, alpha: 1},
		{m: 130, n: 400, k: 300, alpha: 1, beta: 0.5, padB: 3},
		{transA: true, transB: true, m: 257, n: 45, k: 600, alpha: -1},
		{transB: true, m: 64, n: 300, k: 200, alpha: 2, beta: 1},
	}
	run := func(t *testing.T, bf16 bool) {
		K := activeGemmKernel()
		saved := K.blocks()
		defer K.setBlocks(saved)
		rng := rand.New(rand.NewPCG(3, 4))
		for _, tc := range cases {
			if !bf16 {
				for _, sc := range simulatedCaches {
					K.setBlocks(blocksFor(K, sc.cs))
					withThreads(2, func() { checkGemm(t, rng, tc, false) })
				}
			}
			// The same operands under every choice: bits by depth split.
			a := randFloats(rng, tc.m*tc.k)
			b := randFloats(rng, tc.k*(tc.n+tc.padB))
			c0 := randFloats(rng, tc.m*tc.n)
			bySplit := map[int][]float32{}
			for _, sc := range simulatedCaches {
				bl := blocksFor(K, sc.cs)
				K.setBlocks(bl)
				for _, threads := range []int{1, 2} {
					c := append([]float32(nil), c0...)
					withThreads(threads, func() {
						lda, ldb := tc.k, tc.n+tc.padB
						if tc.transA {
							lda = tc.m
						}
						if tc.transB {
							ldb = tc.k
						}
						Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, tc.n)
					})
					kBlocks := (tc.k + bl.KC - 1) / bl.KC
					split := (tc.k + kBlocks - 1) / kBlocks
					if ref, ok := bySplit[split]; !ok {
						bySplit[split] = c
					} else if i := firstBitDiff(ref, c); i >= 0 {
						t.Fatalf("%v %s %v threads %d: C[%d] = %g, another choice with k blocks of %d gave %g", tc, sc.name, bl, threads, i, c[i], split, ref[i])
					}
				}
			}
			if tc.k <= minKC && len(bySplit) != 1 {
				t.Fatalf("%v: depth %d below every KC split in %d ways", tc, tc.k, len(bySplit))
			}
		}
	}
	forEachPath(t, func(t *testing.T) { run(t, false) })
	t.Run("bf16", func(t *testing.T) {
		if !hasBF16 {
			t.Skip("this CPU (or QKV_CPU) has no AVX512-BF16")
		}
		old := computeBF16
		computeBF16 = true
		defer func() { computeBF16 = old }()
		run(t, true)
	})
}

// firstBitDiff returns the first index where a and b differ in their bits, or -1.
func firstBitDiff(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestAMDLegacyCaches decodes the older AMD cache leaves as CPUs and hypervisors answer them.
func TestAMDLegacyCaches(t *testing.T) {
	for _, c := range []struct {
		name       string
		c5, c6, d6 uint32
		l1, l2, l3 int
	}{
		// A Zen 5 virtual machine whose 0x8000001D answered zeros: 48 KiB, 1 MiB, and the
		// whole socket's L3.
		{"zen5 vm", 0x300c0140, 0x04006140, 0x0fe09140, 48 << 10, 1 << 20, 1016 * 512 << 10},
		{"no L3", 0x20080140, 0x02006140, 0, 32 << 10, 512 << 10, 0},
	} {
		cs := amdLegacyCaches(c.c5, c.c6, c.d6)
		if cs.L1D != c.l1 || cs.L2 != c.l2 || cs.L3 != c.l3 {
			t.Errorf("%s: %v, want L1d %d, L2 %d, L3 %d", c.name, cs, c.l1, c.l2, c.l3)
		}
	}
}
