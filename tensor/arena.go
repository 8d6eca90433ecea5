package tensor

import (
	"fmt"
	"math/bits"
)

// Arena hands out tensors whose memory is recycled on Reset. A training step that allocates its
// activations and gradients from an arena, and resets it before the next step, reuses the same
// buffers every step: after the first step, it allocates nothing.
//
// Tensors from an arena are valid until the next Reset. An arena is not safe for concurrent use.
//
// Buffers are pooled by size class (four classes per power of two, so a tensor wastes at most a
// quarter of its buffer) and handed out last-in first-out: a step that asks for the same shapes
// as the step before gets the same buffers back, and steps of different structure (a batch of
// another length, an evaluation between training steps) reuse each other's buffers — a request
// takes a free buffer up to four classes larger before it allocates — instead of each leaving
// its own behind. A buffer no step has used for idleResets resets is let go.
type Arena struct {
	free   map[int][]pooled // size class → buffers not handed out since the last Reset
	used   [][]float32      // buffers handed out since the last Reset
	resets int              // Reset calls so far
	hdrs   [][]Tensor       // headers in chunks, so that pointers stay valid while more are added
	nhdr   int
	bytes  int
}

// pooled is a free buffer and the Reset after which it was last free.
type pooled struct {
	buf  []float32
	last int
}

const (
	hdrChunk   = 256
	idleResets = 32 // a pooled buffer unused for this many resets is released
	classReach = 4  // a request may take a free buffer up to this many classes larger
)

// New returns a tensor of the given shape whose contents are unspecified (left over from an
// earlier step): the caller must write every element.
func (a *Arena) New(shape ...int) *Tensor {
	n := checkShape("Arena.New", shape)
	c := sizeClass(n)
	buf := a.take(c)
	if buf == nil {
		buf = make([]float32, c)
		a.bytes += 4 * c
	}
	a.used = append(a.used, buf)
	t := a.header()
	t.init(buf[:n:n], shape)
	return t
}

// take pops a free buffer of class c, or of one of the next classReach classes, or returns nil.
func (a *Arena) take(c int) []float32 {
	for range classReach + 1 {
		if pool := a.free[c]; len(pool) > 0 {
			p := pool[len(pool)-1]
			pool[len(pool)-1] = pooled{}
			a.free[c] = pool[:len(pool)-1]
			return p.buf
		}
		c = sizeClass(c + 1)
	}
	return nil
}

// sizeClass is the capacity of the buffers that hold n values: n rounded up to a multiple of 16
// up to 256, above that to a multiple of a quarter of the largest power of two ≤ n.
func sizeClass(n int) int {
	if n <= 256 {
		return (n + 15) &^ 15
	}
	step := 1 << (bits.Len(uint(n)) - 3) // a quarter of the largest power of two ≤ n
	return (n + step - 1) &^ (step - 1)
}

// Zeros returns a zero-filled tensor of the given shape.
func (a *Arena) Zeros(shape ...int) *Tensor {
	t := a.New(shape...)
	Zero(t) // split over the pool when large
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
	a.resets++
	if a.free == nil && len(a.used) > 0 {
		a.free = make(map[int][]pooled)
	}
	for c, pool := range a.free { // release what has sat idle; the oldest are at the bottom
		idle := 0
		for idle < len(pool) && a.resets-pool[idle].last > idleResets {
			a.bytes -= 4 * cap(pool[idle].buf)
			idle++
		}
		if idle > 0 {
			a.free[c] = append(pool[:0], pool[idle:]...)
			clear(pool[len(pool)-idle:])
		}
	}
	for i, buf := range a.used {
		a.free[cap(buf)] = append(a.free[cap(buf)], pooled{buf, a.resets})
		a.used[i] = nil
	}
	a.used = a.used[:0]
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
