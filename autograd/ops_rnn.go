package autograd

import (
	"fmt"
	"math"

	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// Primitives of recurrent networks: the element-wise Sigmoid, Exp and Log, Concat along a
// dimension, and the fused LSTM and GRU cell steps (one node per time step, with the
// padding of variable-length batches built in).

// Sigmoid returns σ(x) = 1/(1 + e^−x) element-wise.
func (g *Graph) Sigmoid(x *Var) *Var {
	X := contiguous(g, x.Value)
	out := g.arena.New(X.Shape()...)
	sigmoid(out.Data(), X.Data())
	v, _ := g.result(out, g.tracking(x), sigmoidBackward, x)
	return v
}

// sigmoidBackward: y = σ(x) ⇒ dx += y·(1 − y)·dy.
func sigmoidBackward(g *Graph, n *node) {
	y, dy := n.out.Value.Data(), contiguous(g, n.out.grad).Data()
	local := g.arena.New(n.out.Value.Shape()...)
	ld := local.Data()
	for i, v := range y {
		ld[i] = v * (1 - v) * dy[i]
	}
	g.accumulateGrad(n.in[0], local, true)
}

// Exp returns e^x element-wise.
func (g *Graph) Exp(x *Var) *Var {
	X := contiguous(g, x.Value)
	out := g.arena.New(X.Shape()...)
	kernel.Exp(out.Data(), X.Data())
	v, _ := g.result(out, g.tracking(x), expBackward, x)
	return v
}

// expBackward: y = e^x ⇒ dx += y·dy.
func expBackward(g *Graph, n *node) {
	local := g.arena.New(n.out.Value.Shape()...)
	kernel.Mul(local.Data(), n.out.Value.Data(), contiguous(g, n.out.grad).Data())
	g.accumulateGrad(n.in[0], local, true)
}

// Log returns the natural logarithm of x element-wise (−Inf at 0, NaN below).
func (g *Graph) Log(x *Var) *Var {
	X := contiguous(g, x.Value)
	out := g.arena.New(X.Shape()...)
	od := out.Data()
	for i, v := range X.Data() {
		od[i] = float32(math.Log(float64(v)))
	}
	v, n := g.result(out, g.tracking(x), logBackward, x)
	if n != nil {
		n.saved[0] = X
	}
	return v
}

// logBackward: y = ln x ⇒ dx += dy / x.
func logBackward(g *Graph, n *node) {
	x, dy := n.saved[0].Data(), contiguous(g, n.out.grad).Data()
	local := g.arena.New(n.saved[0].Shape()...)
	ld := local.Data()
	for i, v := range x {
		ld[i] = dy[i] / v
	}
	g.accumulateGrad(n.in[0], local, true)
}

// Concat joins xs along dimension dim (negative counts from the end); every other dimension
// must agree. The inputs may be strided views. It records one node per input that needs a
// gradient, all sharing the output.
func (g *Graph) Concat(dim int, xs ...*Var) *Var {
	if len(xs) == 0 {
		panic("autograd.Concat: no inputs")
	}
	first := xs[0].Value
	nd := first.Dims()
	if dim < 0 {
		dim += nd
	}
	if dim < 0 || dim >= nd {
		panic(fmt.Sprintf("autograd.Concat: dimension %d out of range for shape %v", dim, first.Shape()))
	}
	var buf [tensor.MaxDims]int
	shape := append(buf[:0], first.Shape()...)
	shape[dim] = 0
	for _, x := range xs {
		s := x.Value.Shape()
		if len(s) != nd {
			panic(fmt.Sprintf("autograd.Concat: shapes %v and %v along dimension %d", first.Shape(), s, dim))
		}
		for d := range s {
			if d != dim && s[d] != shape[d] {
				panic(fmt.Sprintf("autograd.Concat: shapes %v and %v along dimension %d", first.Shape(), s, dim))
			}
		}
		shape[dim] += s[dim]
	}
	out := g.arena.New(shape...)
	off := 0
	for _, x := range xs {
		k := x.Value.Dim(dim)
		tensor.CopyInto(g.arena.Narrow(out, dim, off, k), x.Value)
		off += k
	}
	v := g.newVar()
	v.Value = out
	if !g.tracking(xs...) {
		return v
	}
	v.requiresGrad = true
	off = 0
	for _, x := range xs {
		if x.requiresGrad {
			g.nodes = append(g.nodes, node{backward: concatBackward, out: v, in: [3]*Var{x}, i: off})
		}
		off += x.Value.Dim(dim)
	}
	return v
}

// concatBackward: y = [x₀; x₁; …] along dim ⇒ dxₖ += dy[offₖ : offₖ + lenₖ] along dim. The
// dimension is the one where x's shape differs from y's (any, if they are equal).
func concatBackward(g *Graph, n *node) {
	x, y := n.in[0].Value, n.out.Value
	dim := 0
	for d := 0; d < y.Dims(); d++ {
		if x.Dim(d) != y.Dim(d) {
			dim = d
			break
		}
	}
	dy := g.arena.Narrow(n.out.grad, dim, n.i, x.Dim(dim))
	dx, acc := g.gradFor(n.in[0])
	if !acc {
		tensor.CopyInto(dx, dy)
		return
	}
	tensor.BinaryInto(dx, tensor.OpAdd, dx, dy, false)
}

// LSTMCell is one time step of a long short-term memory layer (Hochreiter & Schmidhuber, 1997)
// for a batch, with PyTorch's gate order i, f, g, o:
//
//	a = gx + gh                          gx = W_ih·x_t + b_ih, gh = W_hh·h_{t−1} + b_hh   (B, 4H)
//	i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
//	c_t = f⊙c_{t−1} + i⊙g,  h_t = o⊙tanh(c_t)
//
// state is (B, 2H), the rows [h_{t−1} | c_{t−1}]; the result is [h_t | c_t]. With lengths set,
// row b steps only while t < lengths[b]; past its end it keeps its state unchanged, so a
// padded position never alters a finished sequence, and its gradient passes straight through.
// lengths must stay unchanged until Backward.
func (g *Graph) LSTMCell(gx, gh, state *Var, lengths []int, t int) *Var {
	GX, GH, S := contiguous(g, gx.Value), contiguous(g, gh.Value), contiguous(g, state.Value)
	b, h := checkCell("LSTMCell", GX, GH, S, 4, 2, lengths)
	gates := g.arena.New(b, 4*h) // i, f, g, o after their nonlinearities
	tc := g.arena.New(b, h)      // tanh(c_t)
	out := g.arena.New(b, 2*h)
	gd, td, od, sd := gates.Data(), tc.Data(), out.Data(), S.Data()
	kernel.Add(gd, GX.Data(), GH.Data())
	for r := 0; r < b; r++ {
		o, s := od[r*2*h:(r+1)*2*h], sd[r*2*h:(r+1)*2*h]
		if !active(lengths, r, t) {
			copy(o, s)
			continue
		}
		a := gd[r*4*h : (r+1)*4*h]
		sigmoid(a[:2*h], a[:2*h])
		kernel.Tanh(a[2*h:3*h], a[2*h:3*h])
		sigmoid(a[3*h:], a[3*h:])
		ig, fg, gg, og := a[:h], a[h:2*h], a[2*h:3*h], a[3*h:]
		c, hn, cn, tcr := s[h:], o[:h], o[h:], td[r*h:(r+1)*h]
		for j := range cn {
			cn[j] = fg[j]*c[j] + ig[j]*gg[j]
		}
		kernel.Tanh(tcr, cn)
		kernel.Mul(hn, og, tcr)
	}
	return g.cellResult(out, lstmCellBackward, [3]*Var{gx, gh, state}, [3]*tensor.Tensor{gates, tc, S}, lengths, t)
}

// lstmCellBackward, for an active row, from dh_t and dc_t (the two halves of the output's
// gradient):
//
//	dc = dc_t + dh_t⊙o⊙(1 − tanh²c_t)
//	da_i = dc⊙g⊙i(1−i),  da_f = dc⊙c_{t−1}⊙f(1−f),  da_g = dc⊙i⊙(1−g²),  da_o = dh_t⊙tanh(c_t)⊙o(1−o)
//	dgx += da,  dgh += da,  dc_{t−1} += dc⊙f,  dh_{t−1} += 0 (h_{t−1} acts through gh only)
//
// An inactive row passes its gradient to the previous state and gives the gates none.
func lstmCellBackward(g *Graph, n *node) {
	gates, tc, S := n.saved[0], n.saved[1], n.saved[2]
	b, h := tc.Dim(0), tc.Dim(1)
	dS := contiguous(g, n.out.grad).Data()
	da, dprev := g.arena.New(b, 4*h), g.arena.New(b, 2*h)
	gd, td, sd, dad, dpd := gates.Data(), tc.Data(), S.Data(), da.Data(), dprev.Data()
	for r := 0; r < b; r++ {
		dsr, dp, a := dS[r*2*h:(r+1)*2*h], dpd[r*2*h:(r+1)*2*h], dad[r*4*h:(r+1)*4*h]
		if !active(n.ids, r, n.i) {
			copy(dp, dsr)
			clear(a)
			continue
		}
		gr, c, tcr := gd[r*4*h:(r+1)*4*h], sd[r*2*h+h:(r+1)*2*h], td[r*h:(r+1)*h]
		for j := 0; j < h; j++ {
			ig, fg, gg, og := gr[j], gr[h+j], gr[2*h+j], gr[3*h+j]
			dh := dsr[j]
			dc := dsr[h+j] + dh*og*(1-tcr[j]*tcr[j])
			a[j] = dc * gg * ig * (1 - ig)
			a[h+j] = dc * c[j] * fg * (1 - fg)
			a[2*h+j] = dc * ig * (1 - gg*gg)
			a[3*h+j] = dh * tcr[j] * og * (1 - og)
			dp[j] = 0
			dp[h+j] = dc * fg
		}
	}
	g.accumulateInputs(n, [3]*tensor.Tensor{da, da, dprev})
}

// GRUCell is one time step of a gated recurrent unit (Cho et al., 2014) for a batch, in
// PyTorch's form, with gates in the order r, z, n:
//
//	gx = W_ih·x_t + b_ih, gh = W_hh·h_{t−1} + b_hh                       (B, 3H)
//	r = σ(gx_r + gh_r),  z = σ(gx_z + gh_z),  n = tanh(gx_n + r⊙gh_n)
//	h_t = (1 − z)⊙n + z⊙h_{t−1}
//
// h is h_{t−1} (B, H); the result is h_t. With lengths set, row b steps only while
// t < lengths[b] and otherwise keeps its state (see LSTMCell). lengths must stay unchanged
// until Backward.
func (g *Graph) GRUCell(gx, gh, h *Var, lengths []int, t int) *Var {
	GX, GH, Hp := contiguous(g, gx.Value), contiguous(g, gh.Value), contiguous(g, h.Value)
	b, hs := checkCell("GRUCell", GX, GH, Hp, 3, 1, lengths)
	gates := g.arena.New(b, 3*hs) // r, z, n after their nonlinearities
	out := g.arena.New(b, hs)
	gd, xd, hd, pd, od := gates.Data(), GX.Data(), GH.Data(), Hp.Data(), out.Data()
	for row := 0; row < b; row++ {
		o, p := od[row*hs:(row+1)*hs], pd[row*hs:(row+1)*hs]
		if !active(lengths, row, t) {
			copy(o, p)
			continue
		}
		a, x, hh := gd[row*3*hs:(row+1)*3*hs], xd[row*3*hs:(row+1)*3*hs], hd[row*3*hs:(row+1)*3*hs]
		kernel.Add(a[:2*hs], x[:2*hs], hh[:2*hs])
		sigmoid(a[:2*hs], a[:2*hs])
		r, z, nn := a[:hs], a[hs:2*hs], a[2*hs:]
		for j := range nn {
			nn[j] = x[2*hs+j] + r[j]*hh[2*hs+j]
		}
		kernel.Tanh(nn, nn)
		for j := range o {
			o[j] = nn[j] + z[j]*(p[j]-nn[j])
		}
	}
	return g.cellResult(out, gruCellBackward, [3]*Var{gx, gh, h}, [3]*tensor.Tensor{gates, GH, Hp}, lengths, t)
}

// gruCellBackward, for an active row, from dh_t:
//
//	dn = dh_t⊙(1 − z),  dz = dh_t⊙(h_{t−1} − n),  dh_{t−1} += dh_t⊙z
//	da_n = dn⊙(1 − n²),  da_r = da_n⊙gh_n⊙r(1−r),  da_z = dz⊙z(1−z)
//	dgx += [da_r, da_z, da_n],  dgh += [da_r, da_z, da_n⊙r]
//
// An inactive row passes dh_t to h_{t−1} and gives the gates none.
func gruCellBackward(g *Graph, n *node) {
	gates, GH, Hp := n.saved[0], n.saved[1], n.saved[2]
	b, hs := Hp.Dim(0), Hp.Dim(1)
	dh := contiguous(g, n.out.grad).Data()
	dgx, dgh, dprev := g.arena.New(b, 3*hs), g.arena.New(b, 3*hs), g.arena.New(b, hs)
	gd, hd, pd := gates.Data(), GH.Data(), Hp.Data()
	dxd, dhd, dpd := dgx.Data(), dgh.Data(), dprev.Data()
	for row := 0; row < b; row++ {
		d, dp := dh[row*hs:(row+1)*hs], dpd[row*hs:(row+1)*hs]
		ax, ah := dxd[row*3*hs:(row+1)*3*hs], dhd[row*3*hs:(row+1)*3*hs]
		if !active(n.ids, row, n.i) {
			copy(dp, d)
			clear(ax)
			clear(ah)
			continue
		}
		a, hh, p := gd[row*3*hs:(row+1)*3*hs], hd[row*3*hs:(row+1)*3*hs], pd[row*hs:(row+1)*hs]
		for j := 0; j < hs; j++ {
			r, z, nv := a[j], a[hs+j], a[2*hs+j]
			dan := d[j] * (1 - z) * (1 - nv*nv)
			dar := dan * hh[2*hs+j] * r * (1 - r)
			daz := d[j] * (p[j] - nv) * z * (1 - z)
			ax[j], ax[hs+j], ax[2*hs+j] = dar, daz, dan
			ah[j], ah[hs+j], ah[2*hs+j] = dar, daz, dan*r
			dp[j] = d[j] * z
		}
	}
	g.accumulateInputs(n, [3]*tensor.Tensor{dgx, dgh, dprev})
}

// cellResult records a cell step: its inputs gx, gh and the previous state, what its backward
// rule needs, and the step's place in the padded batch.
func (g *Graph) cellResult(out *tensor.Tensor, backward func(*Graph, *node), in [3]*Var, saved [3]*tensor.Tensor, lengths []int, t int) *Var {
	v, n := g.result(out, g.tracking(in[:]...), backward, in[:]...)
	if n != nil {
		n.saved = saved
		n.ids, n.i = lengths, t
	}
	return v
}

// checkCell checks the shapes of a cell step's inputs: gx and gh (B, gates·H), the state
// (B, parts·H), and lengths (B values, if any). It returns B and H.
func checkCell(op string, gx, gh, state *tensor.Tensor, gates, parts int, lengths []int) (b, h int) {
	if state.Dims() == 2 && state.Dim(1)%parts == 0 {
		b, h = state.Dim(0), state.Dim(1)/parts
	}
	ok := h > 0 && gx.Dims() == 2 && gh.Dims() == 2 && gx.Dim(0) == b && gh.Dim(0) == b &&
		gx.Dim(1) == gates*h && gh.Dim(1) == gates*h && (lengths == nil || len(lengths) == b)
	if !ok {
		panic(fmt.Sprintf("autograd.%s: gx %v, gh %v, state %v, %d lengths", op, gx.Shape(), gh.Shape(), state.Shape(), len(lengths)))
	}
	return b, h
}

// active reports whether row r takes step t: always when lengths is nil.
func active(lengths []int, r, t int) bool { return lengths == nil || t < lengths[r] }

// sigmoid sets dst = σ(src) = (1 + tanh(src/2))/2, the identity that lets the vectorised tanh
// do the work. dst may alias src.
func sigmoid(dst, src []float32) {
	kernel.Scale(dst, src, 0.5)
	kernel.Tanh(dst, dst)
	for i, v := range dst {
		dst[i] = 0.5 + 0.5*v
	}
}

// accumulateInputs adds grads[i] into the gradient of each input i of n that needs one. A
// buffer is handed over (see accumulateGrad) at its last use only.
func (g *Graph) accumulateInputs(n *node, grads [3]*tensor.Tensor) {
	for i, d := range grads {
		if !n.needs(i) {
			continue
		}
		last := true
		for j := i + 1; j < len(grads); j++ {
			last = last && !(grads[j] == d && n.needs(j))
		}
		g.accumulateGrad(n.in[i], d, last)
	}
}

// accumulateGrad adds local (contiguous, with v's number of elements) into v's gradient. With
// handOver set and nothing yet flowed into v, local itself becomes the gradient (the caller
// must not use it again).
func (g *Graph) accumulateGrad(v *Var, local *tensor.Tensor, handOver bool) {
	if handOver && v.grad == nil && v.base == nil && !v.param {
		v.grad = g.arena.Reshape(local, v.Value.Shape()...)
		return
	}
	dv, acc := g.gradFor(v)
	local = g.arena.Reshape(local, dv.Shape()...)
	if !acc {
		tensor.CopyInto(dv, local)
		return
	}
	tensor.BinaryInto(dv, tensor.OpAdd, dv, local, false)
}
