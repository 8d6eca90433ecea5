package autograd

import (
	"fmt"
	"sync"

	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// Fused additive (Bahdanau) attention scores.
//
// Notation: B batch, T queries (decoder steps), S source positions, A the hidden size of the
// additive score. For projected queries q (B, T, A), projected keys k (B, S, A) and the score
// vector v (A),
//
//	s[b,t,j] = Σ_a v[a]·tanh(q[b,t,a] + k[b,j,a])       (B, T, S)
//
// Composed from primitives (Add of q and k broadcast to (B, T, S, A), Tanh, MatMul with v) the
// graph holds several (B, T, S, A) tensors until Backward: the sum, the tanh and their
// gradients, gigabytes for a training batch, and every pass over them runs at memory speed.
// AdditiveScores keeps none: the forward pass builds one row y = tanh(q[b,t] + k[b,j]) (A) at a
// time in a scratch buffer that stays in L1, and the backward pass recomputes it. With
// c = dS[b,t,j] and y as above, the gradients are
//
//	dq[b,t,a] += v[a]·Σ_j c·(1 − y[a]²)  =  v[a]·(Σ_j c − Σ_j c·y[a]²)
//	dk[b,j,a] += v[a]·Σ_t c·(1 − y[a]²)  =  v[a]·(Σ_t c − Σ_t c·y[a]²)
//	dv[a]     += Σ_{b,t,j} c·y[a]
//
// accumulated in the right-hand form, so that each source position costs one Add, Tanh, Mul
// and up to three Axpy of vectorised kernels over A, and v multiplies each gradient row once at
// the end. The forward pass runs in parallel over (b, t) rows, the backward pass over b: the
// worker of b owns dq[b] and dk[b] and its own partial of dv, and the partials are summed in
// order of b, so the result does not depend on the number of threads.

// additiveWork is the least number of tanh evaluations (b, t, j, a) worth a parallel chunk.
const additiveWork = 1 << 14

// AdditiveScores returns s[b,t,j] = Σ_a v[a]·tanh(q[b,t,a] + k[b,j,a]) (B, T, S) for q (B, T, A),
// k (B, S, A) and v (A); the inputs may be strided views. It stores nothing beyond its inputs
// (see the notes above).
func (g *Graph) AdditiveScores(q, k, v *Var) *Var {
	Q, K, V := q.Value, k.Value, v.Value
	if Q.Dims() != 3 || K.Dims() != 3 || V.Dims() != 1 || K.Dim(0) != Q.Dim(0) || K.Dim(2) != Q.Dim(2) || V.Dim(0) != Q.Dim(2) {
		panic(fmt.Sprintf("autograd.AdditiveScores: q %v, k %v, v %v; want (B, T, A), (B, S, A), (A)", Q.Shape(), K.Shape(), V.Shape()))
	}
	b, t, s, a := Q.Dim(0), Q.Dim(1), K.Dim(1), Q.Dim(2)
	Q, K, V = contiguous(g, Q), contiguous(g, K), contiguous(g, V)
	out := g.arena.New(b, t, s)
	rows := b * t
	chunks := max(1, min(rows, 4*kernel.Threads(), rows*s*a/additiveWork))
	kernel.ParallelPooled(&additiveTasks, chunks, 1, additiveTask{
		q: Q.Data(), k: K.Data(), v: V.Data(), s: out.Data(), scratch: g.arena.New(chunks, a).Data(),
		T: t, S: s, A: a, rows: rows, chunks: chunks, run: (*additiveTask).forward,
	})
	y, n := g.result(out, g.tracking(q, k, v), additiveScoresBackward, q, k, v)
	if n != nil {
		n.saved = [3]*tensor.Tensor{Q, K, V}
	}
	return y
}

// additiveScoresBackward recomputes the tanh rows and accumulates dq, dk and dv from dS (see
// the notes above).
func additiveScoresBackward(g *Graph, n *node) {
	Q, K, V := n.saved[0], n.saved[1], n.saved[2]
	b, t, s, a := Q.Dim(0), Q.Dim(1), K.Dim(1), Q.Dim(2)
	task := additiveTask{
		q: Q.Data(), k: K.Data(), v: V.Data(), ds: contiguous(g, n.out.grad).Data(),
		scratch: g.arena.New(b, a+s).Data(), T: t, S: s, A: a, run: (*additiveTask).backward,
	}
	var dq, dk *tensor.Tensor
	if n.needs(0) {
		dq = g.arena.New(b, t, a)
		task.dq = dq.Data()
	}
	if n.needs(1) {
		dk = g.arena.New(b, s, a)
		task.dk = dk.Data()
	}
	var partials *tensor.Tensor
	if n.needs(2) {
		partials = g.arena.New(b, a)
		task.dvp = partials.Data()
	}
	kernel.ParallelPooled(&additiveTasks, b, max(1, additiveWork/(t*s*a)), task)
	if dq != nil {
		g.accumulateGrad(n.in[0], dq, true)
	}
	if dk != nil {
		g.accumulateGrad(n.in[1], dk, true)
	}
	if partials != nil {
		pd := partials.Data()
		dv := g.arena.New(a)
		dvd := dv.Data()
		copy(dvd, pd[:a])
		for i := 1; i < b; i++ {
			kernel.AddTo(dvd, pd[i*a:(i+1)*a])
		}
		g.accumulateGrad(n.in[2], dv, true)
	}
}

// additiveTask is one parallel loop of AdditiveScores: over chunks of (b, t) rows forward, over
// b backward. All slices are contiguous.
type additiveTask struct {
	q, k, v, s  []float32 // inputs (B, T, A), (B, S, A), (A); scores (B, T, S), forward
	ds          []float32 // dS (B, T, S), backward
	dq, dk, dvp []float32 // backward, nil where not needed: dq (B, T, A), dk (B, S, A), dv partials (B, A)
	scratch     []float32 // forward: A per chunk; backward: A + S per b
	T, S, A     int
	rows        int // forward: B·T
	chunks      int // forward: how many chunks the rows are split into
	run         func(t *additiveTask, lo, hi int)
}

var additiveTasks sync.Pool

func (task *additiveTask) Run(lo, hi int) { task.run(task, lo, hi) }

// forward computes the scores of the rows of chunks [lo, hi).
func (task *additiveTask) forward(lo, hi int) {
	T, S, A := task.T, task.S, task.A
	for c := lo; c < hi; c++ {
		y := task.scratch[c*A : (c+1)*A]
		for r := c * task.rows / task.chunks; r < (c+1)*task.rows/task.chunks; r++ {
			b := r / T
			qr, sr := task.q[r*A:(r+1)*A], task.s[r*S:(r+1)*S]
			for j := range sr {
				kernel.Add(y, qr, task.k[(b*S+j)*A:(b*S+j+1)*A])
				kernel.Tanh(y, y)
				sr[j] = kernel.Dot(y, task.v)
			}
		}
	}
}

// backward accumulates the gradients of batch rows [lo, hi).
func (task *additiveTask) backward(lo, hi int) {
	T, S, A := task.T, task.S, task.A
	for b := lo; b < hi; b++ {
		y, ksum := task.scratch[b*(A+S):b*(A+S)+A], task.scratch[b*(A+S)+A:(b+1)*(A+S)]
		clear(ksum)
		var dk, dv []float32
		if task.dk != nil {
			dk = task.dk[b*S*A : (b+1)*S*A]
			clear(dk)
		}
		if task.dvp != nil {
			dv = task.dvp[b*A : (b+1)*A]
			clear(dv)
		}
		for t := 0; t < T; t++ {
			r := b*T + t
			qr := task.q[r*A : (r+1)*A]
			var dq []float32
			if task.dq != nil {
				dq = task.dq[r*A : (r+1)*A]
				clear(dq)
			}
			var csum float32
			for j, c := range task.ds[r*S : (r+1)*S] {
				if c == 0 {
					continue // a masked source position, or no gradient
				}
				kernel.Add(y, qr, task.k[(b*S+j)*A:(b*S+j+1)*A])
				kernel.Tanh(y, y)
				if dv != nil {
					kernel.Axpy(c, y, dv) // dv += c·y
				}
				if dq == nil && dk == nil {
					continue
				}
				kernel.Mul(y, y, y) // y²
				if dq != nil {
					kernel.Axpy(-c, y, dq)
					csum += c
				}
				if dk != nil {
					kernel.Axpy(-c, y, dk[j*A:(j+1)*A])
					ksum[j] += c
				}
			}
			if dq != nil {
				finishAdditiveGrad(dq, csum, task.v)
			}
		}
		if dk != nil {
			for j := 0; j < S; j++ {
				finishAdditiveGrad(dk[j*A:(j+1)*A], ksum[j], task.v)
			}
		}
	}
}

// finishAdditiveGrad turns row = −Σ c·y² into the gradient v∘(Σ c − Σ c·y²), given sum = Σ c.
func finishAdditiveGrad(row []float32, sum float32, v []float32) {
	kernel.Mul(row, row, v)
	kernel.Axpy(sum, v, row)
}
