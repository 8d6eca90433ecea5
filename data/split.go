package data

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"path/filepath"
	"slices"
	"strings"
)

// holdOutSeed seeds the hash that picks a folder's validation files. It is fixed, so every
// training run and qkv eval hold out the same files of a corpus, whatever the training seed.
const holdOutSeed = 0x716b76 // "qkv"

// HoldOut divides a corpus read from a folder into training and validation text by whole
// files, so that validation is a fair sample of the corpus rather than its last files in path
// order. Files are ranked by a seeded hash of their path relative to the corpus root and taken
// in that order while they fit into valFraction of the text; the others, in their order, form
// the training text. It reports ok = false, and the caller splits the text at its tail
// instead, for a single file, a bad share, or files too large to make up half the share.
func (c *Corpus) HoldOut(valFraction float64) (train, val string, files int, ok bool) {
	if c.Root == "" || len(c.Files) < 2 || len(c.Ends) != len(c.Files) || !(valFraction > 0 && valFraction < 1) {
		return "", "", 0, false
	}
	order := make([]int, len(c.Files))
	keys := make([]uint64, len(c.Files))
	for i, f := range c.Files {
		order[i] = i
		keys[i] = holdOutKey(c.Root, f)
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(keys[a], keys[b]) })
	target := valFraction * float64(len(c.Text))
	held := make([]bool, len(c.Files))
	var got int
	for _, i := range order {
		if n := c.fileLen(i); float64(got+n) <= target {
			held[i] = true
			got += n
			files++
		}
	}
	if float64(got) < target/2 {
		return "", "", 0, false
	}
	var tb, vb strings.Builder
	tb.Grow(len(c.Text) - got)
	vb.Grow(got)
	for i := range c.Files {
		text := c.Text[c.fileStart(i):c.Ends[i]]
		if held[i] {
			vb.WriteString(text)
		} else {
			tb.WriteString(text)
		}
	}
	return tb.String(), vb.String(), files, true
}

func (c *Corpus) fileStart(i int) int {
	if i == 0 {
		return 0
	}
	return c.Ends[i-1]
}

func (c *Corpus) fileLen(i int) int { return c.Ends[i] - c.fileStart(i) }

// holdOutKey hashes a file's path relative to root (with forward slashes, so the choice is the
// same on every system and wherever the folder lies).
func holdOutKey(root, path string) uint64 {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		rel = path
	}
	h := fnv.New64a()
	var seed [8]byte
	binary.LittleEndian.PutUint64(seed[:], holdOutSeed)
	h.Write(seed[:])
	h.Write([]byte(filepath.ToSlash(rel)))
	return h.Sum64()
}
