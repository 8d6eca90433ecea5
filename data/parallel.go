package data

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/tensor"
)

// Parallel corpora for translation: two files, one sentence a line, line i of the source
// aligned with line i of the target (Multi30k, WMT news, IWSLT talks). They are read whole,
// filtered by length, and cut into batches of about the same number of tokens.

// MaxParallelBytes is the default limit on the (uncompressed) size of each side of a parallel
// corpus.
const MaxParallelBytes = 1 << 30

// ReadLines reads a UTF-8 text file as lines, decompressing it first when its name ends in
// ".gz". Lines are split at "\n" only and keep everything else, "\r" included; a final line
// without a newline counts, a final newline does not start another line. It refuses what is
// not a regular file (a folder, a FIFO, a device), invalid UTF-8 (naming the line) and more
// than maxBytes of text.
func ReadLines(path string, maxBytes int64) ([]string, error) {
	f, err := fileutil.Open(path) // refuses a folder, a FIFO, a device without blocking
	if errors.Is(err, fileutil.ErrNotRegular) {
		return nil, fmt.Errorf("%w; want a text file with one sentence a line", err)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (the name ends in .gz but the file is not gzip)", path, err)
		}
		defer zr.Close()
		r = zr
	}
	text, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(text)) > maxBytes {
		return nil, fmt.Errorf("%s holds more than %d bytes of text; split it or raise the limit", path, maxBytes)
	}
	if len(text) == 0 {
		return nil, nil
	}
	text = bytes.TrimSuffix(text, []byte{'\n'})
	lines := strings.Split(string(text), "\n")
	for i, l := range lines {
		if !utf8.ValidString(l) {
			return nil, fmt.Errorf("%s:%d: not valid UTF-8; convert the file to UTF-8 (iconv -f LATIN1 -t UTF-8)", path, i+1)
		}
	}
	return lines, nil
}

// ParallelCorpus is a sentence-aligned corpus: Src[j] translates to Tgt[j].
type ParallelCorpus struct {
	Src, Tgt         []string
	Line             []int // the 1-based line number of pair j in both files
	SrcPath, TgtPath string
	// Empty counts the pairs dropped because one side or both were empty (or only
	// whitespace): a blank line is a missing translation, never a sentence to learn.
	Empty int
}

// ErrLineCount is returned when the two sides of a parallel corpus differ in length.
var ErrLineCount = errors.New("the two sides of a parallel corpus have different line counts")

// LoadParallel reads a parallel corpus from srcPath and tgtPath (either may be gzipped; see
// ReadLines). Each sentence is trimmed of surrounding whitespace ("\r" of Windows line ends
// included). Pairs with an empty side are dropped and counted in Empty, for the caller to
// report; a corpus with no pair left is an error, and so are files whose line counts differ.
func LoadParallel(srcPath, tgtPath string, maxBytes int64) (*ParallelCorpus, error) {
	src, err := ReadLines(srcPath, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("parallel corpus: %w", err)
	}
	tgt, err := ReadLines(tgtPath, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("parallel corpus: %w", err)
	}
	if len(src) != len(tgt) {
		return nil, fmt.Errorf("parallel corpus: %s has %d lines but %s has %d: %w; line i of one must translate line i of the other",
			srcPath, len(src), tgtPath, len(tgt), ErrLineCount)
	}
	c := &ParallelCorpus{SrcPath: srcPath, TgtPath: tgtPath}
	for i := range src {
		s, t := strings.TrimSpace(src[i]), strings.TrimSpace(tgt[i])
		if s == "" || t == "" {
			c.Empty++
			continue
		}
		c.Src = append(c.Src, s)
		c.Tgt = append(c.Tgt, t)
		c.Line = append(c.Line, i+1)
	}
	if len(c.Src) == 0 {
		return nil, fmt.Errorf("parallel corpus: %s and %s hold no pair of non-empty lines (%d lines read)", srcPath, tgtPath, len(src))
	}
	return c, nil
}

// Len is the number of pairs.
func (c *ParallelCorpus) Len() int { return len(c.Src) }

// Pair is one encoded sentence pair.
type Pair struct {
	Src, Tgt []int // token ids
	Line     int   // 1-based line in the corpus files
}

// LengthFilter keeps the pairs a translation model should train on, as Moses'
// clean-corpus-n.perl does: both sides between MinTokens and MaxTokens tokens, and the longer
// side at most MaxRatio times the shorter. A zero field imposes no limit.
type LengthFilter struct {
	MinTokens int
	MaxTokens int
	MaxRatio  float64
}

// Validate reports a filter that cannot be meant.
func (f LengthFilter) Validate() error {
	switch {
	case f.MinTokens < 0:
		return fmt.Errorf("length filter: minimum %d tokens: want 0 or more", f.MinTokens)
	case f.MaxTokens < 0:
		return fmt.Errorf("length filter: maximum %d tokens: want 0 (no limit) or more", f.MaxTokens)
	case f.MaxTokens > 0 && f.MaxTokens < f.MinTokens:
		return fmt.Errorf("length filter: maximum %d tokens is below the minimum %d", f.MaxTokens, f.MinTokens)
	case !(f.MaxRatio == 0 || f.MaxRatio >= 1): // NaN fails too
		return fmt.Errorf("length filter: ratio %g: want 0 (no limit) or a number ≥ 1", f.MaxRatio)
	}
	return nil
}

// Keep reports whether a pair of ns source and nt target tokens passes the filter.
func (f LengthFilter) Keep(ns, nt int) bool {
	lo, hi := min(ns, nt), max(ns, nt)
	if lo < f.MinTokens || (f.MaxTokens > 0 && hi > f.MaxTokens) {
		return false
	}
	if f.MaxRatio > 0 && float64(hi) > f.MaxRatio*float64(max(lo, 1)) {
		return false
	}
	return true
}

// Encode tokenizes every pair with src and tgt and keeps those the filter passes; dropped
// counts the others.
func (c *ParallelCorpus) Encode(src, tgt func(string) []int, f LengthFilter) (pairs []Pair, dropped int, err error) {
	if err := f.Validate(); err != nil {
		return nil, 0, err
	}
	for j := range c.Src {
		s, t := src(c.Src[j]), tgt(c.Tgt[j])
		if !f.Keep(len(s), len(t)) {
			dropped++
			continue
		}
		pairs = append(pairs, Pair{Src: s, Tgt: t, Line: c.Line[j]})
	}
	if len(pairs) == 0 {
		return nil, dropped, fmt.Errorf("parallel corpus %s/%s: the length filter %+v drops all %d pairs", c.SrcPath, c.TgtPath, f, dropped)
	}
	return pairs, dropped, nil
}

// TokenBatches groups pairs into batches of at most maxTokens padded tokens each, where a
// batch of B pairs whose longest side has L tokens costs B·L (the padded (B, L) tensor of its
// longer side, fairseq's --max-tokens). Pairs are sorted by length first (longer side, then
// source, then target, then position), so a batch holds pairs of nearly equal length and
// padding stays small; the batches are then shuffled with seed, so that training does not see
// lengths in order. The result lists indices into pairs; the same pairs and seed give the
// same batches. A pair longer than maxTokens on its own is an error naming its line.
func TokenBatches(pairs []Pair, maxTokens int, seed uint64) ([][]int, error) {
	if maxTokens < 1 {
		return nil, fmt.Errorf("batches: %d tokens per batch: want at least 1", maxTokens)
	}
	cost := func(p Pair) int { return max(len(p.Src), len(p.Tgt)) }
	order := make([]int, len(pairs))
	for i := range order {
		order[i] = i
		if l := cost(pairs[i]); l > maxTokens {
			return nil, fmt.Errorf("batches: the pair on line %d has %d tokens, more than the %d of a whole batch; raise the batch size or filter long pairs", pairs[i].Line, l, maxTokens)
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		pa, pb := pairs[a], pairs[b]
		return cmp.Or(cmp.Compare(cost(pa), cost(pb)), cmp.Compare(len(pa.Src), len(pb.Src)),
			cmp.Compare(len(pa.Tgt), len(pb.Tgt)), cmp.Compare(a, b))
	})
	var batches [][]int
	var cur []int
	longest := 0
	for _, i := range order {
		l := max(longest, cost(pairs[i]))
		if len(cur) > 0 && (len(cur)+1)*l > maxTokens {
			batches = append(batches, cur)
			cur, l = nil, cost(pairs[i])
		}
		cur = append(cur, i)
		longest = l
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	rng := tensor.NewRNG(seed)
	for i := len(batches) - 1; i > 0; i-- { // Fisher–Yates
		j := rng.IntN(i + 1)
		batches[i], batches[j] = batches[j], batches[i]
	}
	return batches, nil
}
