package tokenizer

// heap is a binary heap: pop returns the entry that comes first by less. BPE encoding keeps its
// candidate merges in one (lowest rank first) and BPE training its pair counts (highest first).
type heap[T any] struct {
	items []T
	less  func(a, b T) bool
}

// init orders items filled by appending.
func (h *heap[T]) init() {
	for i := len(h.items)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *heap[T]) len() int { return len(h.items) }

func (h *heap[T]) push(x T) {
	h.items = append(h.items, x)
	s := h.items
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(x, s[p]) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = x
}

func (h *heap[T]) pop() T {
	s := h.items
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	h.items = s[:last]
	if last > 0 {
		h.down(0)
	}
	return top
}

func (h *heap[T]) down(i int) {
	s := h.items
	n := len(s)
	x := s[i]
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h.less(s[c+1], s[c]) {
			c++
		}
		if !h.less(s[c], x) {
			break
		}
		s[i] = s[c]
		i = c
	}
	s[i] = x
}
