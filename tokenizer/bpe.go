package tokenizer

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// The merge step of byte-level BPE. A piece (one match of the pre-tokenizer) starts as one token
// per byte; the adjacent pair with the lowest merge rank is replaced by its merged token, the
// leftmost one on ties, until no adjacent pair has a merge. This is the rule of GPT-2's
// encoder.py, Hugging Face tokenizers and tiktoken.
//
// Short pieces (almost all of them) run the direct loop, quadratic in the piece length but with
// no allocation. Long pieces use a linked list of tokens and a min-heap of adjacent pairs keyed
// by (rank, position), so a piece of n bytes costs O(n log n): a megabyte with no spaces, which
// the pre-tokenizer returns as one piece, is no worse than a megabyte of prose.

// merge is the result of merging an adjacent pair of tokens.
type merge struct {
	rank int32 // priority: lower merges first
	id   int32 // the merged token
}

const noRank = math.MaxInt32

// smallPiece is the longest piece handled by the direct loop.
const smallPiece = 48

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// bpeMerger holds what the merge step needs: the token of each byte and the merge table.
type bpeMerger struct {
	byteID [256]int32
	merges map[uint64]merge
	// monotone: every merge ranks after the merges that make its two tokens, so a merge only
	// creates pairs of higher rank (true of every trained table, GPT-2's included). bpeByRank
	// relies on it.
	monotone bool
}

// setMonotone works out whether the merge table is monotone.
func (m *bpeMerger) setMonotone(mergeIDs [][3]int32, n int) {
	made := make([]int32, n) // the highest rank that makes each token, -1 for none
	for i := range made {
		made[i] = -1
	}
	for r, t := range mergeIDs {
		made[t[2]] = max(made[t[2]], int32(r))
	}
	m.monotone = true
	for r, t := range mergeIDs {
		if int32(r) <= made[t[0]] || int32(r) <= made[t[1]] {
			m.monotone = false
			return
		}
	}
}

func (m *bpeMerger) lookup(a, b int32) (merge, bool) {
	r, ok := m.merges[pairKey(a, b)]
	return r, ok
}

// bpe appends the tokens of piece to out.
func (m *bpeMerger) bpe(piece string, out []int) []int {
	switch {
	case len(piece) == 0:
		return out
	case len(piece) == 1:
		return append(out, int(m.byteID[piece[0]]))
	case len(piece) <= smallPiece:
		return m.bpeSmall(piece, out)
	case m.monotone:
		return m.bpeByRank(piece, out)
	}
	return m.bpeLong(piece, out)
}

// bpeSmall is the direct loop: find the lowest-ranked pair, merge it, repeat.
func (m *bpeMerger) bpeSmall(piece string, out []int) []int {
	var ids [smallPiece]int32
	var next [smallPiece]merge // next[i]: merge of ids[i] and ids[i+1], rank noRank if none
	n := len(piece)
	for i := 0; i < n; i++ {
		ids[i] = m.byteID[piece[i]]
	}
	for i := 0; i+1 < n; i++ {
		next[i] = m.pair(ids[i], ids[i+1])
	}
	for n > 1 {
		best, at := int32(noRank), -1
		for i := 0; i+1 < n; i++ {
			if next[i].rank < best {
				best, at = next[i].rank, i
			}
		}
		if at < 0 {
			break
		}
		ids[at] = next[at].id
		copy(ids[at+1:n-1], ids[at+2:n])
		copy(next[at:n-2], next[at+1:n-1])
		n--
		if at > 0 {
			next[at-1] = m.pair(ids[at-1], ids[at])
		}
		if at+1 < n {
			next[at] = m.pair(ids[at], ids[at+1])
		}
	}
	for i := 0; i < n; i++ {
		out = append(out, int(ids[i]))
	}
	return out
}

func (m *bpeMerger) pair(a, b int32) merge {
	if r, ok := m.merges[pairKey(a, b)]; ok {
		return r
	}
	return merge{rank: noRank}
}

// bpeNode is one token of a piece being merged, in a doubly linked list over positions, with
// the merge of the pair it starts.
type bpeNode struct {
	id, prev, next int32 // id < 0: merged into its left neighbour
	pair           merge // the merge of (id, next's id); rank noRank if none
}

// bpeLong merges with a heap of candidate pairs. An entry is rank<<32 | position of the pair's
// left token; entries go stale when a neighbour merges and are checked when popped: the entry is
// live when the pair now at that position still has that rank (a rank names one merge).
func (m *bpeMerger) bpeLong(piece string, out []int) []int {
	nodes := m.newNodes(piece)
	h := heap[uint64]{items: make([]uint64, 0, len(nodes)), less: cmp.Less[uint64]}
	for i, nd := range nodes {
		if nd.pair.rank != noRank {
			h.items = append(h.items, uint64(nd.pair.rank)<<32|uint64(i))
		}
	}
	h.init()
	for h.len() > 0 {
		e := h.pop()
		rank, pos := int32(e>>32), int32(uint32(e))
		if nodes[pos].id < 0 || nodes[pos].pair.rank != rank {
			continue
		}
		for _, p := range m.mergeAt(nodes, pos) {
			if p >= 0 && nodes[p].pair.rank != noRank {
				h.push(uint64(nodes[p].pair.rank)<<32 | uint64(p))
			}
		}
	}
	return appendNodes(out, nodes)
}

// newNodes returns the bytes of piece as a linked list of tokens, each with the merge of the
// pair it starts.
func (m *bpeMerger) newNodes(piece string) []bpeNode { return m.fillNodes(nil, piece) }

// fillNodes is newNodes reusing the memory of buf.
func (m *bpeMerger) fillNodes(buf []bpeNode, piece string) []bpeNode {
	n := len(piece)
	nodes := slices.Grow(buf[:0], n)[:n]
	for i := 0; i < n; i++ {
		nodes[i] = bpeNode{id: m.byteID[piece[i]], prev: int32(i - 1), next: int32(i + 1)}
	}
	nodes[n-1].next = -1
	nodes[n-1].pair.rank = noRank
	for i := 0; i+1 < n; i++ {
		nodes[i].pair = m.pair(nodes[i].id, nodes[i+1].id)
	}
	return nodes
}

// mergeAt applies the merge of the pair that starts at pos, and returns the two positions
// whose pair changed (pos itself and its left neighbour; -1 when there is none).
func (m *bpeMerger) mergeAt(nodes []bpeNode, pos int32) [2]int32 {
	left := &nodes[pos]
	right := &nodes[left.next]
	left.id = left.pair.id
	right.id = -1
	left.next = right.next
	left.pair.rank = noRank
	if left.next >= 0 {
		nodes[left.next].prev = pos
		left.pair = m.pair(left.id, nodes[left.next].id)
	}
	if left.prev >= 0 {
		p := &nodes[left.prev]
		p.pair = m.pair(p.id, left.id)
	}
	return [2]int32{pos, left.prev}
}

// appendNodes appends the ids of the tokens left in the list.
func appendNodes(out []int, nodes []bpeNode) []int {
	for i := int32(0); i >= 0; i = nodes[i].next {
		out = append(out, int(nodes[i].id))
	}
	return out
}

// bpeByRank merges a long piece rank by rank, as GPT-2's encoder.py does: take the lowest rank
// present, merge its pairs from left to right (skipping those an overlapping merge took), and
// go on. In a monotone table a merge only creates pairs of higher rank, so this is the same as
// merging the lowest pair one at a time; the priority queue holds the distinct ranks present,
// which are few, each with the positions of its pairs.
func (m *bpeMerger) bpeByRank(piece string, out []int) []int {
	var s rankMerge
	m.mergeByRank(&s, piece, false)
	return appendNodes(out, s.nodes)
}

// rankMerge is the working state of bpeByRank, kept so that the chunks of a long piece reuse
// its memory.
type rankMerge struct {
	nodes []bpeNode
	at    map[int32][]int32 // positions of the pairs of each rank, left token's
	spare [][]int32         // emptied lists of at, for reuse
	ranks heap[int32]
	// first and last, when tracked, are the successive first and last tokens of the piece.
	first, last []edgeToken
}

// edgeToken is a token at one end of a piece being merged, and since when it is there.
type edgeToken struct {
	id    int32
	since int32 // the rank of the merge that made it; -1 for a byte's token
}

// mergeByRank merges piece into s.nodes (see bpeByRank); track records s.first and s.last.
func (m *bpeMerger) mergeByRank(s *rankMerge, piece string, track bool) {
	s.nodes = m.fillNodes(s.nodes, piece)
	nodes := s.nodes
	if s.at == nil {
		s.at = map[int32][]int32{}
		s.ranks.less = cmp.Less[int32]
	}
	s.first, s.last = s.first[:0], s.last[:0]
	if track {
		s.first = append(s.first, edgeToken{nodes[0].id, -1})
		s.last = append(s.last, edgeToken{nodes[len(nodes)-1].id, -1})
	}
	add := func(rank, pos int32) {
		l, ok := s.at[rank]
		if !ok {
			s.ranks.push(rank)
			if k := len(s.spare); k > 0 {
				l, s.spare = s.spare[k-1], s.spare[:k-1]
			}
		}
		s.at[rank] = append(l, pos)
	}
	for i, nd := range nodes {
		if nd.pair.rank != noRank {
			add(nd.pair.rank, int32(i))
		}
	}
	for s.ranks.len() > 0 {
		rank := s.ranks.pop()
		list := s.at[rank]
		delete(s.at, rank)
		slices.Sort(list)
		for _, pos := range list {
			if nodes[pos].id < 0 || nodes[pos].pair.rank != rank {
				continue
			}
			changed := m.mergeAt(nodes, pos)
			if track {
				if pos == 0 {
					s.first = append(s.first, edgeToken{nodes[0].id, rank})
				}
				if nodes[pos].next < 0 {
					s.last = append(s.last, edgeToken{nodes[pos].id, rank})
				}
			}
			for _, p := range changed {
				if p >= 0 && nodes[p].pair.rank != noRank {
					add(nodes[p].pair.rank, p)
				}
			}
		}
		s.spare = append(s.spare, list[:0])
	}
}

// pieceCache remembers the tokens of pieces that are not single tokens. It is safe for
// concurrent use and bounded: when it holds cacheLimit pieces it starts again empty.
type pieceCache struct {
	m sync.Map // string -> []int32
	n atomic.Int64
}

const (
	cacheLimit    = 1 << 16
	cacheMaxPiece = 64 // longer pieces are not cached
)

func (c *pieceCache) get(piece string) ([]int32, bool) {
	v, ok := c.m.Load(piece)
	if !ok {
		return nil, false
	}
	return v.([]int32), true
}

func (c *pieceCache) put(piece string, ids []int) {
	if len(piece) > cacheMaxPiece {
		return
	}
	if c.n.Add(1) > cacheLimit {
		c.m.Clear()
		c.n.Store(1)
	}
	v := make([]int32, len(ids))
	for i, id := range ids {
		v[i] = int32(id)
	}
	// Clone the key so the cache does not keep the whole input text alive.
	c.m.Store(strings.Clone(piece), v)
}

func (c *pieceCache) clear() {
	c.m.Clear()
	c.n.Store(0)
}
