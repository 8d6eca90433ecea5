package tensor

import (
	"fmt"
	"math"
	"math/bits"
	"sync"

	"github.com/qkvdev/qkv/tensor/kernel"
)

// Fused scaled dot-product attention. Notation: B batch, nh heads, T queries, S keys, hs head
// size. q is (B, nh, T, hs); k and v are (B, nh, S, hs): any strided views whose last dimension
// is contiguous, such as the heads of a fused (B, T, 3C) projection or the rows of a KV cache,
// read in place. The output is written in merged-head layout, (B, T, nh, hs) — that is
// (B, T, C) — so no transpose or copy follows.
//
// For each (batch, head) pair, in parallel over pairs:
//
//	S = scale · q·kᵀ + mask        (T, S)  scores
//	P = softmax(S)                 (T, S)  rows; causal: query t sees keys j ≤ t + S − T
//	O = P·v                        (T, hs)
//
// AttentionForward keeps P for the backward pass (training); AttentionInfer never forms the
// (T, S) matrix: it streams key blocks with an online softmax (running max and sum), as
// FlashAttention does, so memory stays O(T·hs) however long the context.

// AttentionMask is an additive mask over keys, one row per batch entry: mask[b·S + j] is added
// to every score of key j in batch b (0 to keep, a large negative value to drop padding).
type AttentionMask []float32

// AttentionArgs are the operands of fused attention.
type AttentionArgs struct {
	Q, K, V *Tensor       // (B, nh, T, hs), (B, nh, S, hs), (B, nh, S, hs)
	Out     *Tensor       // (B, T, nh, hs), contiguous
	Scale   float32       // usually 1/√hs
	Causal  bool          // autoregressive mask
	Mask    AttentionMask // optional (B·S) additive key mask
}

func (a *AttentionArgs) dims(op string) (b, nh, t, s, hs int) {
	q, k, v, o := a.Q, a.K, a.V, a.Out
	if q.ndim != 4 || k.ndim != 4 || v.ndim != 4 || o.ndim != 4 {
		panic(fmt.Sprintf("tensor.%s: want 4-d q, k, v, out; got %v %v %v %v", op, q.Shape(), k.Shape(), v.Shape(), o.Shape()))
	}
	b, nh, t, hs = q.shape[0], q.shape[1], q.shape[2], q.shape[3]
	s = k.shape[2]
	if k.shape[0] != b || k.shape[1] != nh || k.shape[3] != hs || !equalInts(v.Shape(), k.Shape()) ||
		o.shape[0] != b || o.shape[1] != t || o.shape[2] != nh || o.shape[3] != hs {
		panic(fmt.Sprintf("tensor.%s: q %v, k %v, v %v, out %v do not agree", op, q.Shape(), k.Shape(), v.Shape(), o.Shape()))
	}
	for _, x := range []*Tensor{q, k, v, o} {
		if x.strides[3] != 1 {
			panic(fmt.Sprintf("tensor.%s: the head dimension must be contiguous (strides %v)", op, x.Strides()))
		}
	}
	if !o.IsContiguous() {
		panic(fmt.Sprintf("tensor.%s: out must be contiguous", op))
	}
	if a.Mask != nil && len(a.Mask) != b*s {
		panic(fmt.Sprintf("tensor.%s: mask has %d values, want B·S = %d", op, len(a.Mask), b*s))
	}
	return
}

// head returns the data offset of (b, h) in x and its row stride.
func head(x *Tensor, b, h int) (int, int) {
	return x.off + b*x.strides[0] + h*x.strides[1], x.strides[2]
}

// visible returns how many keys query row t may see.
func visible(causal bool, t, T, S int) int {
	if !causal {
		return S
	}
	return max(0, min(S, t+S-T+1))
}

// AttentionForward computes the output and saves the probabilities P (B, nh, T, S), contiguous,
// for AttentionBackward.
func AttentionForward(a *AttentionArgs, p *Tensor) {
	B, nh, T, S, hs := a.dims("AttentionForward")
	mustLen("AttentionForward", "probabilities", p, B*nh*T*S)
	mustContiguous("AttentionForward", p)
	kernel.ParallelPooled(&attentionTasks, B*nh, 1, attentionTask{AttentionArgs: *a, nh: nh, T: T, S: S, hs: hs, pd: p.Data(),
		run: (*attentionTask).forward})
}

const attnBlock = 64

func addRow(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

// AttentionBackward accumulates the gradients of q, k and v (any of dq, dk, dv may be nil) from
// dout (B, T, nh, hs), given the saved probabilities p and the forward output out. dq, dk and dv
// have the shapes and may have the strides of q, k and v.
func AttentionBackward(a *AttentionArgs, p, dout, dq, dk, dv *Tensor) {
	B, nh, T, S, hs := a.dims("AttentionBackward")
	mustContiguous("AttentionBackward", p, dout)
	kernel.ParallelPooled(&attentionTasks, B*nh, 1, attentionTask{AttentionArgs: *a, nh: nh, T: T, S: S, hs: hs, pd: p.Data(),
		dout: dout, dq: dq, dk: dk, dv: dv, run: (*attentionTask).backward})
}

// AttentionInfer computes the output without forming the (T, S) score matrix, as
// FlashAttention does: for each block of up to 64 queries, key blocks of up to 128 are streamed
// through a running softmax. For each query row it keeps the running maximum m and sum l of
// exp(score − m), and a partial output O; a key block's scores S (a small GEMM) raise the
// maximum to m′, so O and l are first rescaled by exp(m − m′), then P = exp(S − m′) adds
// rowsum(P) to l and P·v (another small GEMM) to O. At the end O /= l. Memory stays
// O(block · (hs + block)) per thread, whatever T and S are.
func AttentionInfer(a *AttentionArgs) {
	B, nh, T, S, hs := a.dims("AttentionInfer")
	qBlocks := (T + inferBlockQ - 1) / inferBlockQ
	kernel.ParallelPooled(&attentionTasks, B*nh*qBlocks, 1, attentionTask{AttentionArgs: *a, nh: nh, T: T, S: S, hs: hs,
		run: (*attentionTask).infer})
}

// AttentionLoop is AttentionInfer as a loop for a caller's own parallel region
// (kernel.RunSteps): Set checks the operands and returns the number of items, Run computes
// items [lo, hi). Item i is batch entry i / (nh·q), head (i / q) mod nh, block i mod q of
// 64 queries: for a decoding step (B = 1, T = 1) item h is head h.
type AttentionLoop struct{ t attentionTask }

// Set prepares the loop for a and returns its number of items.
func (l *AttentionLoop) Set(a *AttentionArgs) int {
	B, nh, T, S, hs := a.dims("AttentionLoop")
	l.t = attentionTask{AttentionArgs: *a, nh: nh, T: T, S: S, hs: hs}
	return B * nh * ((T + inferBlockQ - 1) / inferBlockQ)
}

// Run computes items [lo, hi).
func (l *AttentionLoop) Run(lo, hi int) { l.t.infer(lo, hi) }

// Block sizes of AttentionInfer: queries, keys.
const inferBlockQ, inferBlockK = 64, 128

// attentionTask is one parallel loop of attention: over (batch, head) pairs for the forward and
// backward passes, over (batch, head, query block) triples for inference.
type attentionTask struct {
	AttentionArgs
	nh, T, S, hs     int
	pd               []float32 // saved probabilities (B, nh, T, S)
	dout, dq, dk, dv *Tensor   // backward only
	run              func(t *attentionTask, lo, hi int)
}

var attentionTasks sync.Pool

func (t *attentionTask) Run(lo, hi int) { t.run(t, lo, hi) }

func (task *attentionTask) forward(lo, hi int) {
	a, nh, T, S, hs := &task.AttentionArgs, task.nh, task.T, task.S, task.hs
	pd, od, C := task.pd, a.Out.Data(), nh*hs
	for bh := lo; bh < hi; bh++ {
		b, h := bh/nh, bh%nh
		qo, qs := head(a.Q, b, h)
		ko, ks := head(a.K, b, h)
		vo, vs := head(a.V, b, h)
		P := pd[bh*T*S : (bh+1)*T*S]
		oo := b*T*C + h*hs
		// One block of query rows at a time, skipping keys no row of the block sees.
		for t0 := 0; t0 < T; t0 += attnBlock {
			t1 := min(T, t0+attnBlock)
			n := visible(a.Causal, t1-1, T, S)
			if n > 0 { // S = scale·q·kᵀ for the block's rows and visible keys
				kernel.Sgemm(false, true, t1-t0, n, hs, a.Scale, a.Q.data[qo+t0*qs:], qs, a.K.data[ko:], ks, 0, P[t0*S:], S)
			}
			for t := t0; t < t1; t++ {
				row := P[t*S : (t+1)*S]
				m := visible(a.Causal, t, T, S)
				if a.Mask != nil {
					addRow(row[:m], a.Mask[b*S:b*S+m])
				}
				kernel.SoftmaxRow(row[:m], row[:m])
				clear(row[m:])
			}
			if !a.Causal {
				continue // O = P·v in one product below
			}
			// O = P·v for the block's rows, over the keys they see, into the merged-head output.
			if n > 0 {
				kernel.Sgemm(false, false, t1-t0, hs, n, 1, P[t0*S:], S, a.V.data[vo:], vs, 0, od[oo+t0*C:], C)
			} else {
				for t := t0; t < t1; t++ {
					clear(od[oo+t*C : oo+t*C+hs])
				}
			}
		}
		if !a.Causal { // O = P·v, written into the merged-head output
			kernel.Sgemm(false, false, T, hs, S, 1, P, S, a.V.data[vo:], vs, 0, od[oo:], C)
		}
	}
}

// firstSeer is the first query row that sees key j: every row when not causal, otherwise row
// j + T − S (row t sees keys j ≤ t + S − T); T when no row does.
func firstSeer(causal bool, j, T, S int) int {
	if !causal {
		return 0
	}
	return min(T, max(0, j+T-S))
}

// The backward pass, for one (batch, head) pair (the saved P and dS are zero where a key is
// masked or not visible, so each product may skip what it would only multiply by zero):
//
//	dV += Pᵀ·dO                        (S, hs)
//	dP  = dO·vᵀ                        (T, S)
//	dS  = P∘(dP − rowsum(dO∘O))        (T, S)   the softmax's Jacobian, row by row
//	dQ += scale·dS·k                   (T, hs)
//	dK += scale·dSᵀ·q                  (S, hs)
//
// Under a causal mask each product runs by blocks of attnBlock rows of its output, over only
// the keys (for dP and dQ: those the block's queries see) or the queries (for dV and dK:
// those that see the block's keys) that are not zero: about 5/8 of the full products for
// T = S = 256.
func (task *attentionTask) backward(lo, hi int) {
	a, nh, T, S, hs := &task.AttentionArgs, task.nh, task.T, task.S, task.hs
	dq, dk, dv := task.dq, task.dk, task.dv
	pd, od, gd, C := task.pd, a.Out.Data(), task.dout.Data(), nh*hs
	scratch := getScratch(T*S + T)
	defer putScratch(scratch)
	dS, di := (*scratch)[:T*S], (*scratch)[T*S:T*S+T]
	step, kstep := T, S // rows and keys of a block: all of them, or attnBlock under a causal mask
	if a.Causal {
		step, kstep = attnBlock, attnBlock
	}
	for bh := lo; bh < hi; bh++ {
		b, h := bh/nh, bh%nh
		P := pd[bh*T*S : (bh+1)*T*S]
		oo := b*T*C + h*hs
		qo, qs := head(a.Q, b, h)
		ko, ks := head(a.K, b, h)
		vo, vs := head(a.V, b, h)
		// By blocks of query rows: dP, dS, dQ.
		for t0 := 0; t0 < T && (dq != nil || dk != nil); t0 += step {
			t1 := min(T, t0+step)
			n := visible(a.Causal, t1-1, T, S) // keys the block's last row sees
			if n > 0 {                         // dP = dO·vᵀ
				kernel.Sgemm(false, true, t1-t0, n, hs, 1, gd[oo+t0*C:], C, a.V.data[vo:], vs, 0, dS[t0*S:], S)
			}
			for t := t0; t < t1; t++ {
				di[t] = kernel.Dot(gd[oo+t*C:oo+t*C+hs], od[oo+t*C:oo+t*C+hs])
				m := visible(a.Causal, t, T, S)
				pr, sr := P[t*S:t*S+m], dS[t*S:t*S+S]
				for j, pv := range pr {
					sr[j] = pv * (sr[j] - di[t])
				}
				clear(sr[m:])
			}
			if dq != nil && n > 0 { // dQ += scale·dS·k
				o, s := head(dq, b, h)
				kernel.Sgemm(false, false, t1-t0, hs, n, a.Scale, dS[t0*S:], S, a.K.data[ko:], ks, 1, dq.data[o+t0*s:], s)
			}
		}
		// By blocks of keys, over the query rows from the first that sees any of them: dV, dK.
		for j0 := 0; j0 < S; j0 += kstep {
			j1, t0 := min(S, j0+kstep), firstSeer(a.Causal, j0, T, S)
			if t0 == T {
				continue
			}
			if dv != nil { // dV += Pᵀ·dO
				o, s := head(dv, b, h)
				kernel.Sgemm(true, false, j1-j0, hs, T-t0, 1, P[t0*S+j0:], S, gd[oo+t0*C:], C, 1, dv.data[o+j0*s:], s)
			}
			if dk != nil { // dK += scale·dSᵀ·q
				o, s := head(dk, b, h)
				kernel.Sgemm(true, false, j1-j0, hs, T-t0, a.Scale, dS[t0*S+j0:], S, a.Q.data[qo+t0*qs:], qs, 1, dk.data[o+j0*s:], s)
			}
		}
	}
}

func (task *attentionTask) infer(lo, hi int) {
	a, nh, T, S, hs := &task.AttentionArgs, task.nh, task.T, task.S, task.hs
	od, C := a.Out.Data(), nh*hs
	const bq, bk = inferBlockQ, inferBlockK
	qBlocks := (T + bq - 1) / bq
	scratch := getScratch(bq*bk + bq*hs + 2*bq)
	defer putScratch(scratch)
	sc := (*scratch)[:bq*bk]
	acc := (*scratch)[bq*bk : bq*bk+bq*hs]
	ms := (*scratch)[bq*bk+bq*hs : bq*bk+bq*hs+bq]
	ls := (*scratch)[bq*bk+bq*hs+bq : bq*bk+bq*hs+2*bq]
	for job := lo; job < hi; job++ {
		bh, qb := job/qBlocks, job%qBlocks
		b, h := bh/nh, bh%nh
		qo, qs := head(a.Q, b, h)
		ko, ks := head(a.K, b, h)
		vo, vs := head(a.V, b, h)
		t0, t1 := qb*bq, min(T, qb*bq+bq)
		rows := t1 - t0
		n := visible(a.Causal, t1-1, T, S) // keys the last row of the block sees
		for r := 0; r < rows; r++ {
			ms[r], ls[r] = float32(math.Inf(-1)), 0
		}
		clear(acc[:rows*hs])
		for j0 := 0; j0 < n; j0 += bk {
			j1 := min(n, j0+bk)
			w := j1 - j0
			blk := sc[:rows*w]
			kernel.Sgemm(false, true, rows, w, hs, a.Scale, a.Q.data[qo+t0*qs:], qs, a.K.data[ko+j0*ks:], ks, 0, blk, w)
			for r := 0; r < rows; r++ {
				row := blk[r*w : r*w+w]
				vis := visible(a.Causal, t0+r, T, S) - j0 // keys of this block the row sees
				if a.Mask != nil {
					addRow(row[:max(0, min(w, vis))], a.Mask[b*S+j0:b*S+j1])
				}
				if vis < w {
					for j := max(vis, 0); j < w; j++ {
						row[j] = float32(math.Inf(-1))
					}
				}
				bm := kernel.Max(row)
				if math.IsInf(float64(bm), -1) {
					clear(row) // nothing visible in this block
					continue
				}
				if bm > ms[r] { // rescale what was accumulated under the old maximum
					c := float32(math.Exp(float64(ms[r] - bm)))
					ls[r] *= c
					// Before the row's first visible block there is nothing to rescale: acc
					// is zeros (and c is 0).
					if c != 1 && !math.IsInf(float64(ms[r]), -1) {
						kernel.Scale(acc[r*hs:r*hs+hs], acc[r*hs:r*hs+hs], c)
					}
					ms[r] = bm
				}
				ls[r] += float32(kernel.ExpSubSum(row, row, ms[r]))
			}
			// O += P·v for the block.
			kernel.Sgemm(false, false, rows, hs, w, 1, blk, w, a.V.data[vo+j0*vs:], vs, 1, acc, hs)
		}
		for r := 0; r < rows; r++ {
			t := t0 + r
			out := od[b*T*C+t*C+h*hs : b*T*C+t*C+h*hs+hs]
			if ls[r] == 0 {
				clear(out) // no visible key
				continue
			}
			kernel.Scale(out, acc[r*hs:r*hs+hs], 1/ls[r])
		}
	}
}

// Scratch buffers for the kernels, pooled by size class (capacity 2^k), so that a request
// never finds a buffer too small to use.
var scratchPools [bits.UintSize]sync.Pool

// getScratch returns a buffer of n float32 with unspecified contents; putScratch returns it.
func getScratch(n int) *[]float32 {
	k := bits.Len(uint(max(n, 1) - 1))
	if p, ok := scratchPools[k].Get().(*[]float32); ok {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n, 1<<k)
	return &s
}

func putScratch(p *[]float32) { scratchPools[bits.Len(uint(cap(*p)))-1].Put(p) } // class: 2^k <= cap
