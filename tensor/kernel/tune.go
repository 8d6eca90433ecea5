package kernel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/qkvdev/qkv/internal/atomicfile"
)

// Tuning, in the manner of FFTW's wisdom: Tune times a small grid of blocks around those the
// caches give (blocksFor) on the machine at hand, and keeps the fastest of each kernel path in
// the user's cache folder, os.UserCacheDir()/qkv/tune-<hash of the CPU model>.json. Later
// runs load it before their first blocked Sgemm. A file written for another CPU model, or
// for other cache sizes, or that does not parse, is ignored with a warning; each entry is
// validated (its tile must be the kernel's, its blocks valid, see validBlocks) before it is
// used. QKV_TUNE=off ignores the file. Without a file the blocks come from the caches alone,
// which are already good: tuning gains a few per cent where the analytical model misjudges
// the caches' behaviour.
//
// Each candidate is timed by the CPU time of the measuring thread (RUSAGE_THREAD, with the
// pool set to one thread and the goroutine locked to its thread), the median of several runs:
// on a machine shared with other work, wall time would measure the other tenants.

// tuneFormat names the layout of the tuning file.
const tuneFormat = "qkv-tune/1"

// tuneFile is the tuning file: the CPU and caches it was measured on and the winning blocks
// of each kernel path.
type tuneFile struct {
	Format  string                `json:"format"`
	CPU     string                `json:"cpu"`
	Caches  tuneCaches            `json:"caches"`
	Kernels map[string]tuneWinner `json:"kernels"`
}

// tuneCaches are the cache sizes a file was measured with.
type tuneCaches struct {
	L1D int `json:"l1d"`
	L2  int `json:"l2"`
	L3  int `json:"l3"`
}

// tuneWinner is the entry of one kernel path.
type tuneWinner struct {
	MR            int     `json:"mr"` // the kernel's register tile
	NR            int     `json:"nr"`
	KC            int     `json:"kc"`
	MC            int     `json:"mc"`
	NC            int     `json:"nc"`
	GFLOPS        float64 `json:"gflops,omitempty"`         // the winner's speed (see TuneResult)
	Threads       int     `json:"threads,omitempty"`        // the threads it was measured on
	DefaultGFLOPS float64 `json:"default_gflops,omitempty"` // that of the blocks from the caches
	When          string  `json:"when,omitempty"`
}

func (w tuneWinner) blocks() Blocks { return Blocks{KC: w.KC, MC: w.MC, NC: w.NC} }

// maxTuneFile bounds what is read of a tuning file: a real one is under 2 KiB.
const maxTuneFile = 1 << 20

// tuneWarn receives the warnings of loading a tuning file.
var tuneWarn io.Writer = os.Stderr

// tunedFrom maps a kernel path to the file its blocks were loaded from.
var tunedFrom = map[string]string{}

var tuneOnce sync.Once

// loadTuningOnce loads the tuning file, once, unless QKV_TUNE=off.
func loadTuningOnce() {
	tuneOnce.Do(func() { loadTuning(tuneWarn) })
}

// loadTuning loads the tuning file of this CPU into the kernels, unless QKV_TUNE=off, and
// reports what it ignores to warn.
func loadTuning(warn io.Writer) {
	switch v := strings.ToLower(strings.TrimSpace(os.Getenv("QKV_TUNE"))); v {
	case "off", "0", "false", "no":
		return
	case "", "on", "1", "true", "yes":
	default:
		fmt.Fprintf(warn, "qkv: QKV_TUNE=%s is not off or on; using the tuning cache\n", v)
	}
	path, err := TunePath()
	if err != nil {
		return // no cache folder: nothing was tuned
	}
	applyTuning(path, warn)
}

// TunePath is where the tuning file of this CPU lives: os.UserCacheDir()/qkv/
// tune-<first 16 hex digits of the SHA-256 of the CPU model>.json.
func TunePath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "qkv", tuneFileName(cpuModel())), nil
}

func tuneFileName(model string) string {
	h := sha256.Sum256([]byte(model))
	return "tune-" + hex.EncodeToString(h[:8]) + ".json"
}

// applyTuning loads the winners of path into the kernels, each validated; it reports what it
// ignores to warn. A missing file is not a problem (nothing was tuned).
func applyTuning(path string, warn io.Writer) {
	won, warnings := readTuning(path, cpuModel(), caches)
	for _, w := range warnings {
		fmt.Fprintf(warn, "qkv: tuning cache %s: %s\n", path, w)
	}
	for _, K := range builtinGemmKernels() {
		if b, ok := won[K.name]; ok {
			K.setBlocks(b)
			tunedFrom[K.name] = path
		}
	}
}

// readTuning reads a tuning file and returns the valid blocks it holds by kernel path, and
// why anything was left out. The file is trusted only as far as it checks out: the format,
// the CPU model and the cache sizes must be this machine's, and each entry's tile that of a
// kernel of this build, with valid blocks.
func readTuning(path, model string, cs CacheSizes) (map[string]Blocks, []string) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []string{err.Error() + "; ignored"}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTuneFile+1))
	switch {
	case err != nil:
		return nil, []string{err.Error() + "; ignored"}
	case len(data) > maxTuneFile:
		return nil, []string{fmt.Sprintf("larger than %d bytes, not a tuning file; ignored (delete it, or rerun qkv bench --tune)", maxTuneFile)}
	}
	var tf tuneFile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&tf); err != nil {
		return nil, []string{"not valid JSON (" + err.Error() + "); ignored (rerun qkv bench --tune)"}
	}
	switch {
	case tf.Format != tuneFormat:
		return nil, []string{fmt.Sprintf("format %q, want %q; ignored (rerun qkv bench --tune)", tf.Format, tuneFormat)}
	case tf.CPU != model:
		return nil, []string{fmt.Sprintf("measured on CPU %q, this is %q; ignored", tf.CPU, model)}
	case tf.Caches != (tuneCaches{cs.L1D, cs.L2, cs.L3}):
		return nil, []string{fmt.Sprintf("measured with caches %+v, this CPU reports %+v; ignored (rerun qkv bench --tune)", tf.Caches, tuneCaches{cs.L1D, cs.L2, cs.L3})}
	}
	won := map[string]Blocks{}
	var warnings []string
	for _, name := range slices.Sorted(maps.Keys(tf.Kernels)) {
		w := tf.Kernels[name]
		K := kernelNamed(name)
		switch {
		case K == nil:
			warnings = append(warnings, fmt.Sprintf("kernel %q is not one of this build; its entry is ignored", name))
		case w.MR != K.mr || w.NR != K.nr:
			warnings = append(warnings, fmt.Sprintf("kernel %s: tile %d×%d, this build's is %d×%d; its entry is ignored", name, w.MR, w.NR, K.mr, K.nr))
		default:
			if err := K.validBlocks(w.blocks()); err != nil {
				warnings = append(warnings, fmt.Sprintf("kernel %s: %v; its entry is ignored", name, err))
				continue
			}
			won[name] = w.blocks()
		}
	}
	return won, warnings
}

// kernelNamed returns the micro-kernel of this build called name, or nil.
func kernelNamed(name string) *gemmKernel {
	for _, K := range builtinGemmKernels() {
		if K.name == name {
			return K
		}
	}
	return nil
}

// writeTuning writes tf to path atomically: a temporary file in the same folder, synced,
// then renamed over path, so a reader sees the old file or the new one, never half of one.
func writeTuning(path string, tf *tuneFile) error {
	data, err := json.MarshalIndent(tf, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o644)
}

// TuneResult is the outcome of tuning one kernel path.
type TuneResult struct {
	Kernel        string  // the kernel path, e.g. avx512 or avx512bf16
	Default, Best Blocks  // the blocks from the caches, and the fastest measured
	DefaultGFLOPS float64 // per thread of CPU time on one thread; of wall time on several
	BestGFLOPS    float64
	Candidates    int // blocks measured
	Threads       int // the threads they ran on
}

// TuneOptions adjust Tune.
type TuneOptions struct {
	Runs int       // timed runs per candidate, the median kept (default 5)
	Log  io.Writer // one line per candidate, if set
	Path string    // the tuning file (default TunePath())
	// Threads is how many threads the products run on (default 1). On one thread a candidate
	// is timed by the thread's CPU time, which a busy machine disturbs least; on more, by the
	// wall clock, since what two threads lose to each other (a shared L3, the memory bus,
	// waiting at the end of each block) is part of what is measured. The blocks that win
	// on one thread can lose on two: on a Zen 5, kc=768 mc=252 ran 4096×768×3072 at 185
	// GFLOP/s on one thread and 191 on two, where kc=768 mc=816 ran 184 and 338–364.
	Threads int

	// timer runs f and returns the CPU time it took, and shapes are the products timed
	// (tests replace them).
	timer  func(f func()) time.Duration
	shapes [][3]int
}

// tuneShapes are the products (m, n, k) a candidate is timed on: a GPT-2 124M layer's fused
// q, k, v projection and its MLP output projection over 512 tokens, whose depths of 768 and
// 3072 take one and several k blocks.
var tuneShapes = [][3]int{{512, 2304, 768}, {512, 768, 3072}}

// Tune measures candidate blocks around the defaults for the SGEMM kernel that runs now and,
// where the CPU has it, the bfloat16-compute kernel, keeps the fastest of each in effect and
// writes them to the tuning file (merged with the entries of other paths already there). It
// runs on o.Threads threads and restores the pool size when done.
func Tune(ctx context.Context, o TuneOptions) ([]TuneResult, string, error) {
	if o.Runs <= 0 {
		o.Runs = 5
	}
	o.Threads = max(o.Threads, 1)
	if o.timer == nil {
		o.timer = cpuTimer
		if o.Threads > 1 {
			o.timer = wallTimer
		}
	}
	if o.shapes == nil {
		o.shapes = tuneShapes
	}
	if o.Path == "" {
		p, err := TunePath()
		if err != nil {
			return nil, "", fmt.Errorf("kernel: no cache folder for the tuning file: %w", err)
		}
		o.Path = p
	}
	loadTuningOnce()
	kernels := []*gemmKernel{activeKernelFor(false)}
	if bf := activeKernelFor(true); bf != kernels[0] {
		kernels = append(kernels, bf)
	}
	old := Threads()
	SetThreads(o.Threads)
	defer SetThreads(old)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	var results []TuneResult
	for _, K := range kernels {
		r, err := tuneKernel(ctx, K, o)
		if err != nil {
			return results, o.Path, err
		}
		results = append(results, r)
	}
	// Merge with what other paths (other QKV_CPU caps) left in the file, if it is this CPU's.
	tf := &tuneFile{Format: tuneFormat, CPU: cpuModel(), Caches: tuneCaches{caches.L1D, caches.L2, caches.L3}, Kernels: map[string]tuneWinner{}}
	prev, _ := readTuning(o.Path, tf.CPU, caches)
	for name, b := range prev {
		K := kernelNamed(name)
		tf.Kernels[name] = tuneWinner{MR: K.mr, NR: K.nr, KC: b.KC, MC: b.MC, NC: b.NC}
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for _, r := range results {
		K := kernelNamed(r.Kernel)
		tf.Kernels[r.Kernel] = tuneWinner{MR: K.mr, NR: K.nr, KC: r.Best.KC, MC: r.Best.MC, NC: r.Best.NC, GFLOPS: r.BestGFLOPS, DefaultGFLOPS: r.DefaultGFLOPS, Threads: o.Threads, When: now}
	}
	if err := writeTuning(o.Path, tf); err != nil {
		return results, o.Path, fmt.Errorf("kernel: writing the tuning file: %w", err)
	}
	return results, o.Path, nil
}

// activeKernelFor is the kernel Sgemm runs under fp32 (bf16 false) or bfloat16 compute.
func activeKernelFor(bf16 bool) *gemmKernel {
	old := computeBF16
	computeBF16 = bf16
	defer func() { computeBF16 = old }()
	return activeGemmKernel()
}

// tuneCandidates is the grid around d: KC × ½, ¾, 1, 1½, 2, 3 and MC × ½, 1, 2 (each rounded
// to the tile and kept where valid), at d's NC; NC × ½ and 2 are then tried at the best of
// those (see tuneKernel). The deep KCs are there because the cache model's KC keeps a B
// micro-panel in L1, and on a Zen 5 with its fast L2 fewer passes over C paid more:
// 4096×768×3072 on two threads ran at 292–299 GFLOP/s with the model's kc=256 and 338–364
// with kc=768.
func tuneCandidates(K *gemmKernel, d Blocks) []Blocks {
	var out []Blocks
	for _, kf := range [][2]int{{1, 1}, {1, 2}, {3, 4}, {3, 2}, {2, 1}, {3, 1}} { // the default first
		for _, mf := range [][2]int{{1, 1}, {1, 2}, {2, 1}} {
			b := Blocks{KC: d.KC * kf[0] / kf[1] / kcAlign * kcAlign, MC: d.MC * mf[0] / mf[1] / K.mr * K.mr, NC: d.NC}
			if K.validBlocks(b) == nil && !slices.Contains(out, b) {
				out = append(out, b)
			}
		}
	}
	return out
}

// tuneKernel times K's candidates and makes the fastest K's blocks.
func tuneKernel(ctx context.Context, K *gemmKernel, o TuneOptions) (TuneResult, error) {
	saved := K.blocks()
	d := blocksFor(K, caches)
	r := TuneResult{Kernel: K.name, Default: d, Threads: o.Threads}
	rng := rand.New(rand.NewPCG(1, 2))
	var ops [][3][]float32
	flops := 0.0
	for _, s := range o.shapes {
		m, n, k := s[0], s[1], s[2]
		ops = append(ops, [3][]float32{randUniform(rng, m*k), randUniform(rng, k*n), make([]float32, m*n)})
		flops += 2 * float64(m*n*k)
	}
	oldCompute := computeBF16
	computeBF16 = K.pairs
	defer func() { computeBF16 = oldCompute }()
	measure := func(b Blocks) (float64, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		K.setBlocks(b)
		run := func() {
			for i, s := range o.shapes {
				Sgemm(false, false, s[0], s[1], s[2], 1, ops[i][0], s[2], ops[i][1], s[1], 0, ops[i][2], s[1])
			}
		}
		run() // warm the caches and the packing buffers
		times := make([]time.Duration, o.Runs)
		for i := range times {
			times[i] = o.timer(run)
		}
		slices.Sort(times)
		med := times[len(times)/2]
		gf := flops / max(med.Seconds(), 1e-9) / 1e9
		r.Candidates++
		if o.Log != nil {
			clock := "CPU time"
			if o.Threads > 1 {
				clock = fmt.Sprintf("wall time, %d threads", o.Threads)
			}
			fmt.Fprintf(o.Log, "tune %s %d×%d %s: %.1f GFLOP/s (median of %d, %s)\n", K.name, K.mr, K.nr, b, gf, o.Runs, clock)
		}
		return gf, nil
	}
	best, bestGF := d, -1.0
	try := func(b Blocks) error {
		gf, err := measure(b)
		if err != nil {
			return err
		}
		if b == d {
			r.DefaultGFLOPS = gf
		}
		if gf > bestGF {
			best, bestGF = b, gf
		}
		return nil
	}
	for _, b := range tuneCandidates(K, d) {
		if err := try(b); err != nil {
			K.setBlocks(saved)
			return r, err
		}
	}
	for _, nc := range []int{best.NC / 2 / K.nr * K.nr, best.NC * 2} {
		b := Blocks{KC: best.KC, MC: best.MC, NC: nc}
		if K.validBlocks(b) != nil {
			continue
		}
		if err := try(b); err != nil {
			K.setBlocks(saved)
			return r, err
		}
	}
	r.Best, r.BestGFLOPS = best, bestGF
	K.setBlocks(best)
	return r, nil
}

// randUniform returns n values uniform in [-1, 1).
func randUniform(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = 2*rng.Float32() - 1
	}
	return x
}

// wallTimer times f by the wall clock.
func wallTimer(f func()) time.Duration {
	t0 := time.Now()
	f()
	return time.Since(t0)
}

// cpuTimer times f by the CPU time of the calling thread, or by the wall clock where the OS
// cannot tell.
func cpuTimer(f func()) time.Duration {
	c0, ok := threadCPUTime()
	t0 := time.Now()
	f()
	if c1, ok1 := threadCPUTime(); ok && ok1 {
		return c1 - c0
	}
	return time.Since(t0)
}
