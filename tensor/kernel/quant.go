package kernel

import (
	"fmt"
	"math"
)

// Compact weight formats for inference: bfloat16 and int8 with per-group scales.
//
// Decoding one token multiplies a single activation row by every weight matrix of the model
// once, so it runs at the speed memory delivers the weights: halving or quartering the bytes
// per weight speeds it up by about as much, provided the kernels widen the weights to float32
// faster than memory delivers them. The activations x stay float32 throughout; only the
// weights are compact, and every product is accumulated in float32.
//
// Both formats store a weight matrix of N output rows by K inputs row-major by output row:
// the layout of y = x·Wᵀ (nn.Linear, the tied LM head). They are converted once, from
// float32 weights in that layout or in the transposed (K, N) layout of GPT-2's Conv1D.
//
// Kernels: on amd64 with AVX-512 the GEMV kernels widen 16 weights per instruction, with
// AVX2/FMA 8; elsewhere, and under the purego tag, pure-Go kernels compute the same sums. They
// run at memory speed on weights streamed from DRAM (BenchmarkQuantDecode). GEMM (several
// input rows, a prompt prefill) runs on AVX-512 tile kernels that widen each weight once per
// six rows of X and feed the FMAs straight from the rows of X and W; without AVX-512 it
// widens the weights into float32 panels and multiplies them with Sgemm.
//
// Accuracy (TestQuantAccuracy, GPT-2-like weights and inputs, K = 768): the RMS error of a
// GEMV against float32 weights is about 0.2% of the RMS output with bfloat16 weights and
// 0.5% with int8 weights. Against the rounded weights themselves (bfloat16 widened, int8
// dequantised to q·s) the kernels are as exact as an SGEMV: float32 products and sums.

// Q8Group is the number of consecutive inputs (K values of one output row) that share one
// int8 scale in a Q8Matrix.
const Q8Group = 32

const (
	// quantRows is the most output rows one GEMV task computes; its accumulators live on the
	// stack.
	quantRows = 256
	// quantSerialBytes is the weight size in bytes under which a GEMV runs on the calling
	// goroutine only: below it, waking the pool costs more than it saves.
	quantSerialBytes = 1 << 17
)

// BF16Matrix is an (N, K) weight matrix in bfloat16, row-major by output row:
// Data[j·K+p] holds the weight of input p in output j, as the upper 16 bits of its float32.
//
// bfloat16 keeps float32's exponent range with an 8-bit significand: a converted weight is
// within a relative 2⁻⁹ of the original (round to nearest, ties to even), widening back to
// float32 is exact, and it takes 2 bytes per weight. A matrix is only read after conversion:
// any number of goroutines may multiply by it at once.
type BF16Matrix struct {
	N, K int
	Data []uint16
}

// Q8Matrix is an (N, K) weight matrix in symmetric int8 with one float32 scale per group of
// Q8Group consecutive inputs of a row, row-major by output row: the weight of input p in
// output j is Q[j·K+p]·Scales[j·G+p/Q8Group], where G = ceil(K/Q8Group) is the number of
// groups per row (the last group of a row is shorter when K is not a multiple of Q8Group).
//
// A group's scale is max|w|/127 over the group, so its largest weight maps to ±127; it is 0
// for an all-zero group. Every weight is within half its group's scale of the original. It
// takes 1 byte per weight plus 4 bytes per group (1.125 bytes per weight). A matrix is only
// read after conversion: any number of goroutines may multiply by it at once.
type Q8Matrix struct {
	N, K   int
	Q      []int8
	Scales []float32
}

// q8Groups returns the number of scale groups in a row of k inputs.
func q8Groups(k int) int { return (k + Q8Group - 1) / Q8Group }

// NewBF16Matrix converts the float32 weights w of an (n, k) matrix to bfloat16, rounding to
// nearest with ties to even. w holds exactly n·k weights: (n, k) row-major, or (k, n)
// row-major when kn (GPT-2's Conv1D layout), which is transposed on the way.
//
// Infinities and NaNs are kept (a NaN stays a NaN, quietened); finite weights of magnitude
// at least 0x1.FFp127 ≈ 3.39e38 round to infinity, as round-to-nearest requires. Programmer
// errors (negative sizes, a w of the wrong length) panic.
func NewBF16Matrix(w []float32, n, k int, kn bool) *BF16Matrix {
	checkQuantSource("NewBF16Matrix", w, n, k)
	m := &BF16Matrix{N: n, K: k, Data: make([]uint16, n*k)}
	quantConvert(w, n, k, kn, func(j int, row []float32) {
		d := m.Data[j*k : (j+1)*k]
		for p, v := range row {
			d[p] = bf16Round(v)
		}
	})
	return m
}

// NewQ8Matrix quantises the float32 weights w of an (n, k) matrix to int8 with one scale per
// group of Q8Group consecutive inputs of each output row. w holds exactly n·k weights: (n, k)
// row-major, or (k, n) row-major when kn (GPT-2's Conv1D layout), which is transposed on the
// way.
//
// A group's scale is s = max|w|/127 rounded to float32 (where that rounding left max|w|/s
// above 127, the least float32 above it that does not), and each weight becomes round(w/s),
// ties to even, so |q| ≤ 127 and |w − q·s| ≤ s/2. An all-zero group has scale 0.
//
// int8 cannot carry an infinity or a NaN, and one would spoil its whole group, so a weight
// that is not finite panics, naming its output row and input column: check weights from an
// untrusted source before converting them. Other programmer errors (negative sizes, a w of
// the wrong length) panic too.
func NewQ8Matrix(w []float32, n, k int, kn bool) *Q8Matrix {
	checkQuantSource("NewQ8Matrix", w, n, k)
	g := q8Groups(k)
	m := &Q8Matrix{N: n, K: k, Q: make([]int8, n*k), Scales: make([]float32, n*g)}
	quantConvert(w, n, k, kn, func(j int, row []float32) {
		q8QuantizeRow(m.Q[j*k:(j+1)*k], m.Scales[j*g:(j+1)*g], row, j)
	})
	return m
}

// checkQuantSource panics unless w holds an (n, k) matrix exactly.
func checkQuantSource(op string, w []float32, n, k int) {
	if n < 0 || k < 0 {
		panic(fmt.Sprintf("kernel: %s with negative size n=%d k=%d", op, n, k))
	}
	if len(w) != n*k {
		panic(fmt.Sprintf("kernel: %s: w has %d elements, want n·k = %d·%d = %d", op, len(w), n, k, n*k))
	}
}

// quantConvert calls fn(j, row) once for each output row j < n with its k weights, read from
// w in (n, k) layout or, when kn, in (k, n) layout. Rows are handed out in parallel.
func quantConvert(w []float32, n, k int, kn bool, fn func(j int, row []float32)) {
	const tile = 16 // rows gathered together from the (k, n) layout: one cache line of w
	Parallel((n+tile-1)/tile, max(1, (1<<16)/max(1, tile*k)), func(lo, hi int) {
		var buf []float32
		if kn {
			buf = make([]float32, tile*k)
		}
		for t := lo; t < hi; t++ {
			j0, j1 := t*tile, min(t*tile+tile, n)
			if !kn {
				for j := j0; j < j1; j++ {
					fn(j, w[j*k:(j+1)*k])
				}
				continue
			}
			// Gather rows j0..j1 of the (n, k) matrix: column j of the (k, n) layout.
			jn := j1 - j0
			for p := range k {
				for i, v := range w[p*n+j0 : p*n+j1] {
					buf[i*k+p] = v
				}
			}
			for i := range jn {
				fn(j0+i, buf[i*k:(i+1)*k])
			}
		}
	})
}

// bf16Round returns the bfloat16 nearest to f (ties to even) as its 16 bits. A NaN stays a
// NaN (quietened, sign kept); magnitudes past the largest bfloat16 round to infinity.
func bf16Round(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// bf16Widen returns the float32 of the bfloat16 bits h (exact).
func bf16Widen(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// q8Scale returns the scale of a group whose largest magnitude is mx (finite, ≥ 0): mx/127
// rounded to float32, raised until mx/s ≤ 127 holds exactly, so that no weight of the group
// rounds past ±127. It is 0 when mx is.
func q8Scale(mx float32) float32 {
	if mx == 0 {
		return 0
	}
	s := mx / 127
	// 127·s is exact in float64 (8 + 24 significant bits).
	for float64(mx) > 127*float64(s) {
		s = math.Nextafter32(s, float32(math.Inf(1)))
	}
	return s
}

// q8QuantizeRow quantises the weights of output row j into q (len(row)) and its group scales
// into s (one per group). It panics on a weight that is not finite.
func q8QuantizeRow(q []int8, s []float32, row []float32, j int) {
	for g := range s {
		p0 := g * Q8Group
		seg := row[p0:min(p0+Q8Group, len(row))]
		var mx float32
		for i, v := range seg {
			a := float32(math.Abs(float64(v)))
			if !(a <= math.MaxFloat32) {
				panic(fmt.Sprintf("kernel: NewQ8Matrix: weight of output row %d, input column %d is %v; int8 weights must be finite", j, p0+i, v))
			}
			mx = max(mx, a)
		}
		sc := q8Scale(mx)
		s[g] = sc
		qs := q[p0 : p0+len(seg)]
		if sc == 0 {
			clear(qs)
			continue
		}
		// |v/sc| ≤ 127 by the choice of sc, so the rounded quotient fits in int8.
		d := float64(sc)
		for i, v := range seg {
			qs[i] = int8(math.RoundToEven(float64(v) / d))
		}
	}
}

// Bytes returns the size of the weights in memory: 2 bytes per weight.
func (m *BF16Matrix) Bytes() int64 { return 2 * int64(len(m.Data)) }

// Bytes returns the size of the weights in memory: 1 byte per weight plus 4 per group scale.
func (m *Q8Matrix) Bytes() int64 { return int64(len(m.Q)) + 4*int64(len(m.Scales)) }

// check panics unless the matrix's slices match its sizes.
func (m *BF16Matrix) check(op string) {
	if m.N < 0 || m.K < 0 || len(m.Data) != m.N*m.K {
		panic(fmt.Sprintf("kernel: %s: BF16Matrix (%d, %d) holds %d weights", op, m.N, m.K, len(m.Data)))
	}
}

// check panics unless the matrix's slices match its sizes.
func (m *Q8Matrix) check(op string) {
	if m.N < 0 || m.K < 0 || len(m.Q) != m.N*m.K || len(m.Scales) != m.N*q8Groups(m.K) {
		panic(fmt.Sprintf("kernel: %s: Q8Matrix (%d, %d) holds %d weights and %d scales", op, m.N, m.K, len(m.Q), len(m.Scales)))
	}
}

// Row writes row i of the matrix, widened to float32 (exactly), to dst[:K]: the embedding of
// token i when the matrix is a tied embedding table. dst must hold at least K floats.
func (m *BF16Matrix) Row(i int, dst []float32) {
	m.check("BF16Matrix.Row")
	if i < 0 || i >= m.N || len(dst) < m.K {
		panic(fmt.Sprintf("kernel: BF16Matrix.Row(%d) of (%d, %d) into %d floats", i, m.N, m.K, len(dst)))
	}
	bf16Dequant(dst[:m.K], m.Data[i*m.K:(i+1)*m.K])
}

// Row writes row i of the matrix, dequantised to float32, to dst[:K]: element p is
// float32(Q)·scale, rounded once. dst must hold at least K floats.
func (m *Q8Matrix) Row(i int, dst []float32) {
	m.check("Q8Matrix.Row")
	if i < 0 || i >= m.N || len(dst) < m.K {
		panic(fmt.Sprintf("kernel: Q8Matrix.Row(%d) of (%d, %d) into %d floats", i, m.N, m.K, len(dst)))
	}
	g := q8Groups(m.K)
	q8Dequant(dst[:m.K], m.Q[i*m.K:(i+1)*m.K], m.Scales[i*g:(i+1)*g])
}

// checkQuantGemv panics unless x and y are long enough for an (n, k) matrix.
func checkQuantGemv(op string, n, k int, x, y []float32) {
	if len(x) < k || len(y) < n {
		panic(fmt.Sprintf("kernel: %s: len(x)=%d, len(y)=%d, too short for k=%d n=%d", op, len(x), len(y), k, n))
	}
}

// GemvBF16 computes y = alpha·W·x + beta·y for the bfloat16 matrix W (N, K), one input row x
// (K) and one output row y (N): the matrix–vector product of decoding.
//
// The weights are widened to float32 exactly and multiplied with x in float32, so the result
// is that of an SGEMV on the widened weights (up to the order of the additions). beta == 0
// overwrites y without reading it; alpha == 0 or K == 0 only scales y by beta. Only x[:K] and
// y[:N] are used; y must not overlap x. The output rows are split over the worker pool.
func GemvBF16(m *BF16Matrix, alpha float32, x []float32, beta float32, y []float32) {
	m.check("GemvBF16")
	checkQuantGemv("GemvBF16", m.N, m.K, x, y)
	quantGemv(m, nil, alpha, x[:m.K], beta, y[:m.N])
}

// GemvQ8 computes y = alpha·W·x + beta·y for the int8 matrix W (N, K), one input row x (K) and
// one output row y (N): the matrix–vector product of decoding.
//
// x stays float32: each group's products q·x are summed in float32 and scaled by the group's
// scale, so the result is that of an SGEMV on the dequantised weights q·s up to float32
// rounding. beta == 0 overwrites y without reading it; alpha == 0 or K == 0 only scales y by
// beta. Only x[:K] and y[:N] are used; y must not overlap x. The output rows are split over
// the worker pool.
func GemvQ8(m *Q8Matrix, alpha float32, x []float32, beta float32, y []float32) {
	m.check("GemvQ8")
	checkQuantGemv("GemvQ8", m.N, m.K, x, y)
	quantGemv(nil, m, alpha, x[:m.K], beta, y[:m.N])
}

// quantGemvCall holds the arguments of one GEMV call, shared by the threads working on it.
type quantGemvCall struct {
	v           MatVec
	alpha, beta float32
	y           []float32
	chunk       int // output rows per task, a multiple of 4
	runFn       func(lo, hi int)
}

var quantGemvCalls = freeList[quantGemvCall]{init: func(c *quantGemvCall) { c.runFn = c.run }}

// quantGemv runs a GEMV for whichever of bf and q8 is set; x and y have lengths K and N.
func quantGemv(bf *BF16Matrix, q8 *Q8Matrix, alpha float32, x []float32, beta float32, y []float32) {
	n, k := len(y), len(x)
	if n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scaleMatrix(1, n, beta, y, n)
		return
	}
	c := quantGemvCalls.get()
	c.alpha, c.beta, c.y = alpha, beta, y
	var bytes int64
	if bf != nil {
		bytes = bf.Bytes()
		c.v.BindBF16(bf)
	} else {
		bytes = q8.Bytes()
		c.v.BindQ8(q8)
	}
	c.v.Input(x)
	threads := Threads()
	if bytes < quantSerialBytes {
		threads = 1
	}
	c.chunk = c.v.Chunk(threads)
	chunks := (n + c.chunk - 1) / c.chunk
	if threads == 1 {
		c.run(0, chunks)
	} else {
		Parallel(chunks, 1, c.runFn)
	}
	c.v.Release()
	c.y = nil
	quantGemvCalls.put(c)
}

// q8UsesAct reports whether an int8 GEMV quantises its input row and runs a VNNI kernel
// (AVX512-VNNI, or AVX-VNNI without AVX-512).
func q8UsesAct() bool {
	return useAsm && (useAVX512 && useVNNI || !useAVX512 && useAVXVNNI)
}

// quantGrow returns s resized to n elements, reusing its storage when large enough.
func quantGrow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// quantTasks rounds a number of equal tasks up to one that Parallel hands out evenly over
// threads: Parallel deals tasks out in chunks of ceil(tasks/(4·threads)), so up to 4·threads
// tasks go one by one and the count should be a multiple of threads; beyond that it should be
// a multiple of 4·threads. (10 tasks on 2 threads would go as 5 chunks of 2: 6 on one
// thread, 4 on the other.)
func quantTasks(tasks, threads int) int {
	switch {
	case threads <= 1:
		return tasks
	case tasks <= 4*threads:
		return (tasks + threads - 1) / threads * threads
	}
	return (tasks + 4*threads - 1) / (4 * threads) * (4 * threads)
}

// run computes the output chunks [lo, hi).
func (c *quantGemvCall) run(lo, hi int) {
	var acc [quantRows]float32
	n := len(c.y)
	for ch := lo; ch < hi; ch++ {
		j0 := ch * c.chunk
		j1 := min(j0+c.chunk, n)
		t := acc[:j1-j0]
		c.v.Rows(j0, j1, t)
		storeScaled(c.alpha, c.beta, t, c.y[j0:j1])
	}
}

// bf16Block is the number of inputs the bfloat16 assembly kernels take per step: one 64-byte
// load of weights, 16 pairs.
const bf16Block = 32

// bf16PermuteX regroups x for the bfloat16 assembly kernels and returns it in dst's storage,
// or dst[:0] when they will not run. Within each whole block of 32 inputs the kernels split
// the 16 pairs of weights into the even weights (the low halves of the 32-bit pairs, shifted
// up) and the odd ones (the high halves, masked), so x is stored as the 16 even inputs of the
// block followed by its 16 odd inputs.
func bf16PermuteX(dst, x []float32) []float32 {
	blocks := len(x) / bf16Block
	if !useAsm || blocks == 0 {
		return dst[:0]
	}
	if cap(dst) < blocks*bf16Block {
		dst = make([]float32, blocks*bf16Block)
	}
	dst = dst[:blocks*bf16Block]
	for b := range blocks {
		src := (*[bf16Block]float32)(x[b*bf16Block:])
		d := (*[bf16Block]float32)(dst[b*bf16Block:])
		for i := range bf16Block / 2 {
			d[i] = src[2*i]
			d[bf16Block/2+i] = src[2*i+1]
		}
	}
	return dst
}

// bf16DotGo returns Σ widen(w[p])·x[p] over len(w) == len(x), in float32 with four partial
// sums.
func bf16DotGo(w []uint16, x []float32) float32 {
	var s0, s1, s2, s3 float32
	x = x[:len(w)]
	for len(w) >= 4 && len(x) >= 4 {
		wv, xv := (*[4]uint16)(w), (*[4]float32)(x)
		s0 += bf16Widen(wv[0]) * xv[0]
		s1 += bf16Widen(wv[1]) * xv[1]
		s2 += bf16Widen(wv[2]) * xv[2]
		s3 += bf16Widen(wv[3]) * xv[3]
		w, x = w[4:], x[4:]
	}
	for i, v := range w {
		s0 += bf16Widen(v) * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// bf16RowsGo sets t[i] = Σ_p W[j0+i][p]·x[p] for the rows j0 ≤ j0+i < j0+len(t).
func bf16RowsGo(m *BF16Matrix, j0 int, x, t []float32) {
	k := m.K
	for i := range t {
		j := j0 + i
		t[i] = bf16DotGo(m.Data[j*k:(j+1)*k], x)
	}
}

// q8DotGo returns Σ_g s[g]·Σ_{p in group g} q[p]·x[p] for one row: q and x of the same
// length, s holding one scale per group. Each group's sum is taken in float32 with four
// partial sums.
func q8DotGo(q []int8, s []float32, x []float32) float32 {
	var acc float32
	x = x[:len(q)]
	for g, sc := range s {
		p0 := g * Q8Group
		qg := q[p0:min(p0+Q8Group, len(q))]
		xg := x[p0 : p0+len(qg)]
		var s0, s1, s2, s3 float32
		for len(qg) >= 4 && len(xg) >= 4 {
			qv, xv := (*[4]int8)(qg), (*[4]float32)(xg)
			s0 += float32(qv[0]) * xv[0]
			s1 += float32(qv[1]) * xv[1]
			s2 += float32(qv[2]) * xv[2]
			s3 += float32(qv[3]) * xv[3]
			qg, xg = qg[4:], xg[4:]
		}
		for i, v := range qg {
			s0 += float32(v) * xg[i]
		}
		acc += sc * ((s0 + s1) + (s2 + s3))
	}
	return acc
}

// q8RowsGo sets t[i] = Σ_p W[j0+i][p]·x[p] for the rows j0 ≤ j0+i < j0+len(t).
func q8RowsGo(m *Q8Matrix, j0 int, x, t []float32) {
	k, g := m.K, q8Groups(m.K)
	for i := range t {
		j := j0 + i
		t[i] = q8DotGo(m.Q[j*k:(j+1)*k], m.Scales[j*g:(j+1)*g], x)
	}
}

// bf16WidenGo writes the float32 of each bfloat16 in src to dst (same length).
func bf16WidenGo(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = bf16Widen(h)
	}
}

// q8DequantGo writes the dequantised weights q[p]·s[p/Q8Group] of one row (or a run of whole
// groups of it) to dst (same length as q).
func q8DequantGo(dst []float32, q []int8, s []float32) {
	dst = dst[:len(q)]
	for g, sc := range s {
		p0 := g * Q8Group
		for p := p0; p < min(p0+Q8Group, len(q)); p++ {
			dst[p] = float32(q[p]) * sc
		}
	}
}

// GemmBF16 computes Y = alpha·X·Wᵀ + beta·Y for the bfloat16 matrix W (N, K) and M input rows:
// X is (M, K) with row stride ldx and Y is (M, N) with row stride ldy (a prompt prefill).
//
// The weights are widened to float32 exactly and multiplied in float32, so the result is that
// of Sgemm on the widened weights (up to the order of the additions). beta == 0 overwrites Y
// without reading it; alpha == 0 or K == 0 only scales Y by beta. A few rows (M ≤ 2, or up to
// 8 without AVX-512) run as one GemvBF16 each. Y must not overlap X. The work is split over
// the worker pool; steady-state calls do not allocate.
func GemmBF16(m *BF16Matrix, M int, alpha float32, x []float32, ldx int, beta float32, y []float32, ldy int) {
	m.check("GemmBF16")
	quantGemm("GemmBF16", m, nil, m.N, m.K, M, alpha, x, ldx, beta, y, ldy)
}

// GemmQ8 computes Y = alpha·X·Wᵀ + beta·Y for the int8 matrix W (N, K) and M input rows: X is
// (M, K) with row stride ldx and Y is (M, N) with row stride ldy (a prompt prefill).
//
// With AVX512-VNNI and K whole groups, each row of X is quantised as GemvQ8 quantises its row
// and multiplied in int8 on VPDPBUSD tiles (quant_gemm_vnni_amd64.go): each row's result is
// its GEMV's, up to the order of the float32 additions. Otherwise the weights are dequantised
// to float32 (q·s, rounded once) and multiplied in float32, so the result is that of Sgemm on
// the dequantised weights (up to the order of the additions). beta == 0 overwrites Y without
// reading it; alpha == 0 or K == 0 only scales Y by beta. A few rows (M ≤ 2, or up to 8
// without AVX-512) run as one GemvQ8 each. Y must not overlap X.
// The work is split over the worker pool; steady-state calls do not allocate.
func GemmQ8(m *Q8Matrix, M int, alpha float32, x []float32, ldx int, beta float32, y []float32, ldy int) {
	m.check("GemmQ8")
	quantGemm("GemmQ8", nil, m, m.N, m.K, M, alpha, x, ldx, beta, y, ldy)
}

// quantGemmCall holds the state of one GEMM call on panels, the way without tile kernels.
//
// The weights are widened block by block into a float32 panel of rows of W (all K inputs),
// the threads of the pool sharing the rows, and each panel is multiplied by Sgemm, which
// shares its work over the pool as for float32 weights. The panel (up to 8 MiB, kept for
// reuse) lives in the last-level cache between the two steps.
type quantGemmCall struct {
	bf    *BF16Matrix // one of bf and q8 is set
	q8    *Q8Matrix
	j0    int       // first row of W in the panel
	panel []float32 // (rows, K)
	widen func(lo, hi int)
}

var (
	quantGemmCalls  = freeList[quantGemmCall]{init: func(g *quantGemmCall) { g.widen = g.widenRows }}
	quantGemmPanels freeList[scratchBuf]
)

// quantGemmPanel is the most float32 weights of a widened panel.
const quantGemmPanel = 2 << 20

// The most rows of X a GEMM runs as one GEMV per row, with the tile kernels and with panels:
// below them, streaming the weights once per row costs less than the tiles' padding to six
// rows, or than widening the weights into a panel.
const (
	quantTiledGemvRows = 2
	quantPanelGemvRows = 8
)

func quantGemm(op string, bf *BF16Matrix, q8 *Q8Matrix, n, k, M int, alpha float32, x []float32, ldx int, beta float32, y []float32, ldy int) {
	if M < 0 {
		panic(fmt.Sprintf("kernel: %s with negative M=%d", op, M))
	}
	checkMatrix(op, "X", M, k, x, ldx)
	checkMatrix(op, "Y", M, n, y, ldy)
	if M == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scaleMatrix(M, n, beta, y, ldy)
		return
	}
	if M <= quantTiledGemvRows || M <= quantPanelGemvRows && !quantHasTiles(bf, q8) {
		// Streaming the weights once per row costs less than widening them.
		for i := range M {
			quantGemv(bf, q8, alpha, x[i*ldx:i*ldx+k], beta, y[i*ldy:i*ldy+n])
		}
		return
	}
	if quantGemmTiled(bf, q8, M, alpha, x, ldx, beta, y, ldy) {
		return
	}
	g := quantGemmCalls.get()
	p := quantGemmPanels.get()
	g.bf, g.q8 = bf, q8
	// Even panels of at most quantGemmPanel weights.
	panels := (n*k + quantGemmPanel - 1) / quantGemmPanel
	nb := (n + panels - 1) / panels
	for j0 := 0; j0 < n; j0 += nb {
		j1 := min(j0+nb, n)
		g.j0, g.panel = j0, p.floats((j1-j0)*k)
		if (j1-j0)*k < quantSerialBytes/4 {
			g.widenRows(0, j1-j0)
		} else {
			Parallel(j1-j0, 16, g.widen)
		}
		Sgemm(false, true, M, j1-j0, k, alpha, x, ldx, g.panel, k, beta, y[j0:], ldy)
	}
	g.bf, g.q8, g.panel = nil, nil, nil
	quantGemmPanels.put(p)
	quantGemmCalls.put(g)
}

// widenRows widens rows [lo, hi) of the panel (rows j0+lo.. of W) to float32.
func (g *quantGemmCall) widenRows(lo, hi int) {
	if g.bf != nil {
		k := g.bf.K
		bf16Dequant(g.panel[lo*k:hi*k], g.bf.Data[(g.j0+lo)*k:(g.j0+hi)*k])
		return
	}
	k, gs := g.q8.K, q8Groups(g.q8.K)
	for i := lo; i < hi; i++ {
		j := g.j0 + i
		q8Dequant(g.panel[i*k:(i+1)*k], g.q8.Q[j*k:(j+1)*k], g.q8.Scales[j*gs:(j+1)*gs])
	}
}
