package tensor

import "fmt"

// Arena hands out tensors whose memory is recycled on Reset. A training step that allocates its
// activations and gradients from an arena, and resets it before the next step, reuses the same
// buffers every step: after the first step, it allocates nothing.
//
// Tensors from an arena are valid until the next Reset. An arena is not safe for concurrent use.
type Arena struct {
	bufs  [][]float32
	next  int
	hdrs  [][]Tensor // headers in chunks, so that pointers stay valid while more are added
	nhdr  int
	bytes int
}

const hdrChunk = 256

// New returns a tensor of the given shape whose contents are unspecified (left over from an
// earlier step): the caller must write every element.
func (a *Arena) New(shape ...int) *Tensor {
	n := checkShape("Arena.New", shape)
	var buf []float32
	if a.next < len(a.bufs) && cap(a.bufs[a.next]) >= n {
		buf = a.bufs[a.next][:n:n]
	} else {
		buf = make([]float32, n)
		a.bytes += 4 * n
		if a.next < len(a.bufs) {
			a.bytes -= 4 * cap(a.bufs[a.next])
			a.bufs[a.next] = buf
		} else {
			a.bufs = append(a.bufs, buf)
		}
	}
	a.next++
	t := a.header()
	t.init(buf, shape)
	return t
}

// Zeros returns a zero-filled tensor of the given shape.
func (a *Arena) Zeros(shape ...int) *Tensor {
	t := a.New(shape...)
	clear(t.data)
	return t
}

// Wrap returns an arena-owned contiguous tensor of the given shape over data (not copied), as
// FromData does, without allocating a header.
func (a *Arena) Wrap(data []float32, shape ...int) *Tensor {
	if n := checkShape("Arena.Wrap", shape); len(data) != n {
		panic(fmt.Sprintf("tensor.Arena.Wrap: %d values do not fill shape %s (%d elements)", len(data), dimsString(shape), n))
	}
	t := a.header()
	t.init(data, shape)
	return t
}

// View returns an arena-owned copy of the header of t (sharing t's data), for building views
// without allocating.
func (a *Arena) View(t *Tensor) *Tensor {
	h := a.header()
	*h = *t
	return h
}

func (a *Arena) header() *Tensor {
	c, i := a.nhdr/hdrChunk, a.nhdr%hdrChunk
	if c == len(a.hdrs) {
		a.hdrs = append(a.hdrs, make([]Tensor, hdrChunk))
	}
	a.nhdr++
	return &a.hdrs[c][i]
}

// Reset makes every tensor handed out so far available again.
func (a *Arena) Reset() {
	a.next = 0
	for c := 0; c*hdrChunk < a.nhdr; c++ {
		clear(a.hdrs[c])
	}
	a.nhdr = 0
}

// Bytes is the memory the arena holds for tensor data.
func (a *Arena) Bytes() int { return a.bytes }

// Reshape returns an arena-owned Reshape view of t.
func (a *Arena) Reshape(t *Tensor, shape ...int) *Tensor {
	h := a.header()
	*h = t.reshape(shape)
	return h
}

// Transpose returns an arena-owned Transpose view of t.
func (a *Arena) Transpose(t *Tensor, d0, d1 int) *Tensor {
	h := a.header()
	*h = t.transpose(d0, d1)
	return h
}

// Permute returns an arena-owned Permute view of t.
func (a *Arena) Permute(t *Tensor, dims ...int) *Tensor {
	h := a.header()
	*h = t.permute(dims)
	return h
}

// Narrow returns an arena-owned Narrow view of t.
func (a *Arena) Narrow(t *Tensor, dim, start, length int) *Tensor {
	h := a.header()
	*h = t.narrow(dim, start, length)
	return h
}

// SplitDim returns an arena-owned SplitDim view of t.
func (a *Arena) SplitDim(t *Tensor, dim, n int) *Tensor {
	h := a.header()
	*h = t.splitDim(dim, n)
	return h
}
