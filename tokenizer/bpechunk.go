package tokenizer

import "slices"

// Merging a long piece in chunks. A piece can be megabytes long (a run of newlines, a "word"
// with no spaces), and merging it whole takes some 20 bytes a byte of working memory. With a
// monotone merge table (see bpeMerger.monotone) it is merged instead in chunks of chunkBytes,
// with exactly the result of merging it whole: the chunks are merged on their own, and a
// boundary between two of them is kept only when merging them together would never join a
// token of one with a token of the other.
//
// Merging rank by rank, the pairs inside each chunk merge as they would on their own for as long
// as the pair across the boundary — the left chunk's last token and the right chunk's first —
// does not merge. When rank q comes, the pairs of rank q are taken from left to right: the left
// chunk's first, then the pair across, then the right chunk's. So the pair across merges at rank
// q exactly when the left chunk's last token after rank q and the right chunk's first token
// before rank q make a pair of rank q. Merging each chunk on its own records the succession of
// its end tokens with the rank that made each, which is enough to check every rank (crosses).
// Boundaries are chosen where a cheap probe says one likely holds, and checked in full.

// chunkBytes is the length of the chunks a long piece is merged in, and the length above which a
// piece is merged in chunks.
const chunkBytes = 16 << 10

// A chunk ends where a probe finds a likely boundary: merging probeBytes on each side on their
// own, no merge crosses it. Up to maxProbes ends are probed for a chunk, and up to maxShifts of
// them merged in full when the first fails, before the piece is merged whole.
const (
	probeBytes = 64
	maxProbes  = 64
	maxShifts  = 16
)

// bpeChunked appends the tokens of piece to out, merging it in chunks of at most w bytes
// (w >= 2). The table must be monotone. after is how many bytes of text follow the piece, for
// sizing out.
func (m *bpeMerger) bpeChunked(piece string, out []int, w, after int) []int {
	start, n := len(out), len(piece)
	c := chunker{m: m, piece: piece, w: w}
	c.left, c.right, c.probeLeft, c.probeRight = &c.bufs[0], &c.bufs[1], &c.bufs[2], &c.bufs[3]
	a, e := 0, c.end(0)
	m.mergeByRank(c.right, piece[:e], true)
	for e < n {
		// right holds piece[a:e], whose first tokens were checked against prev: it is the left
		// of the next boundary, tried at e first.
		c.left, c.right = c.right, c.left
		b := e
		e = c.end(b)
		m.mergeByRank(c.right, piece[b:e], true)
		if m.crosses(c.left.last, c.right.first) {
			var ok bool
			if b, e, ok = c.shift(a, b); !ok {
				return m.bpeByRank(piece, out[:start])
			}
		}
		out = appendChunk(out, c.left.nodes, len(out)-start, a, b-a, n-b, after)
		c.prev = append(c.prev[:0], c.left.last...)
		a = b
	}
	return appendChunk(out, c.right.nodes, len(out)-start, a, n-a, 0, after)
}

// chunker holds the state of bpeChunked.
type chunker struct {
	m     *bpeMerger
	piece string
	w     int
	bufs  [4]rankMerge
	// left and right are the merges of the chunks on each side of the boundary being tried,
	// probeLeft and probeRight those of the probes.
	left, right, probeLeft, probeRight *rankMerge
	prev                               []edgeToken // the last tokens of the chunk appended last; nil before the first
}

// end returns where the chunk that starts at s ends: the end of the piece, or a likely boundary
// at most w bytes from s.
func (c *chunker) end(s int) int {
	e := s + c.w
	if e >= len(c.piece) {
		return len(c.piece)
	}
	for b := e; b > s && e-b < maxProbes; b-- {
		if c.likely(s, b) {
			return b
		}
	}
	return e
}

// likely reports whether a boundary at b probably holds, for a chunk that starts at s.
func (c *chunker) likely(s, b int) bool {
	c.m.mergeByRank(c.probeLeft, c.piece[max(s, b-probeBytes):b], true)
	c.m.mergeByRank(c.probeRight, c.piece[b:min(b+probeBytes, len(c.piece))], true)
	return !c.m.crosses(c.probeLeft.last, c.probeRight.first)
}

// shift finds a boundary between a and b, right to left, for the chunk that starts at a: it
// leaves the merges of the chunks on each side in left and right and returns the boundary and
// the end of the right chunk; ok is false when none was found.
func (c *chunker) shift(a, b int) (boundary, end int, ok bool) {
	tries := 0
	for bb := b - 1; bb > a && b-bb <= maxProbes && tries < maxShifts; bb-- {
		if !c.likely(a, bb) {
			continue
		}
		tries++
		c.m.mergeByRank(c.left, c.piece[a:bb], true)
		if c.prev != nil && c.m.crosses(c.prev, c.left.first) {
			continue
		}
		e := c.end(bb)
		c.m.mergeByRank(c.right, c.piece[bb:e], true)
		if !c.m.crosses(c.left.last, c.right.first) {
			return bb, e, true
		}
	}
	return 0, 0, false
}

// crosses reports whether two chunks merged as one piece would merge the left one's last token
// with the right one's first, given the succession of each (rankMerge.last and .first).
func (m *bpeMerger) crosses(last, first []edgeToken) bool {
	for i, l := range last {
		lEnd := int32(noRank) // l is the last token after the ranks in [l.since, lEnd)
		if i+1 < len(last) {
			lEnd = last[i+1].since
		}
		for j, r := range first {
			rEnd := int32(noRank) // r is the first token before the ranks in (r.since, rEnd]
			if j+1 < len(first) {
				rEnd = first[j+1].since
			}
			if mg, ok := m.lookup(l.id, r.id); ok && mg.rank >= l.since && mg.rank < lEnd && mg.rank > r.since && mg.rank <= rEnd {
				return true
			}
		}
	}
	return false
}

// appendChunk appends the tokens left in nodes to out. When out must grow, it grows once to
// what the rest of the piece will need at the rate of the tokens so far (have tokens for the done
// bytes before this chunk of size bytes; rest bytes of the piece follow it), and the after bytes
// of text at one token in four, as Encode allocates; so a piece of megabytes does not copy its
// tokens over and over as they grow.
func appendChunk(out []int, nodes []bpeNode, have, done, size, rest, after int) []int {
	k := 0
	for i := int32(0); i >= 0; i = nodes[i].next {
		k++
	}
	if cap(out)-len(out) < k {
		perByte := float64(have+k) / float64(done+size)
		out = slices.Grow(out, k+int(perByte*float64(rest)*1.05)+after/4+1)
	}
	return appendNodes(out, nodes)
}
