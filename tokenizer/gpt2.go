package tokenizer

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
)

// EndOfText is GPT-2's end-of-text special token (id 50256 in GPT-2's vocabulary).
const EndOfText = "<|endoftext|>"

// ErrDisallowedSpecial is returned (wrapped) by EncodeSpecial when the text contains a special
// token that the caller did not allow.
var ErrDisallowedSpecial = errors.New("text contains a special token that is not allowed")

// tokenKind tells how a GPT2 id behaves.
type tokenKind uint8

const (
	// kindRegular tokens are raw bytes that BPE produces (or could: see GPT2.direct).
	kindRegular tokenKind = iota
	// kindAdded tokens are literal strings outside the BPE alphabet; Decode writes them, Encode
	// never produces them.
	kindAdded
	// kindSpecial tokens are added tokens that EncodeSpecial recognises in text, such as
	// <|endoftext|>.
	kindSpecial
)

// GPT2 is a byte-level BPE tokenizer: GPT-2's own (LoadGPT2) or one learned by TrainBPE. Text is
// split by GPT-2's pre-tokenizer pattern, each piece's UTF-8 bytes are merged by rank, and
// Decode concatenates the bytes of the tokens, so Decode(Encode(s)) == s for every string s,
// valid UTF-8 or not. On valid UTF-8 the ids are those of tiktoken's gpt2 encoding and of
// Hugging Face's GPT-2 tokenizer. A byte that is not part of valid UTF-8 is split as one
// character that is neither letter, number nor space (as U+FFFD would be), then merged like any
// other byte; tiktoken has no exact counterpart (its str API replaces such text with U+FFFD, and
// its bytes API merges everything after the first bad byte as a single piece).
//
// A GPT2 is safe for concurrent use.
type GPT2 struct {
	bpeMerger
	data  []byte  // the bytes of every token, in id order
	off   []int32 // token id is data[off[id]:off[id+1]]
	kinds []tokenKind

	vocab    map[string]int32 // regular tokens by their bytes
	special  map[string]int32 // special tokens by their text
	mergeIDs [][3]int32       // left, right, merged, in rank order

	// direct says, per id, whether a piece equal to the token's bytes encodes to that single
	// token: 0 not yet known, 1 yes, 2 no. For GPT-2's vocabulary every token does, and the
	// lookup spares the merge loop for most pieces; a vocabulary with unreachable tokens gets
	// the result of the merges (as Hugging Face tokenizers does). ignoreMerges makes every
	// whole-piece match direct (tokenizer.json's "ignore_merges").
	direct       []atomic.Uint32
	ignoreMerges bool

	cache pieceCache
}

// gpt2Spec is a byte-level BPE vocabulary before checking.
type gpt2Spec struct {
	tokens       []string // per id: raw bytes (regular) or the literal text (added, special)
	kinds        []tokenKind
	merges       [][2]int32 // pairs of ids, in rank order
	ignoreMerges bool
}

// newGPT2 checks a vocabulary and builds the tokenizer. Errors name ids and merge numbers
// (1-based, in rank order); callers add the file.
func newGPT2(s gpt2Spec) (*GPT2, error) {
	n := len(s.tokens)
	if n == 0 {
		return nil, fmt.Errorf("empty vocabulary")
	}
	if n >= 1<<31-1 {
		return nil, fmt.Errorf("vocabulary of %d tokens is too large", n)
	}
	if len(s.kinds) != n {
		return nil, fmt.Errorf("internal: %d kinds for %d tokens", len(s.kinds), n)
	}
	g := &GPT2{
		off:          make([]int32, n+1),
		kinds:        append([]tokenKind(nil), s.kinds...),
		vocab:        make(map[string]int32, n),
		special:      map[string]int32{},
		direct:       make([]atomic.Uint32, n),
		ignoreMerges: s.ignoreMerges,
	}
	size := 0
	for _, t := range s.tokens {
		size += len(t)
	}
	if size >= 1<<31-1 {
		return nil, fmt.Errorf("vocabulary holds %d bytes of token text; at most 2 GiB is supported", size)
	}
	g.data = make([]byte, 0, size)
	for i := range g.byteID {
		g.byteID[i] = -1
	}
	for id, t := range s.tokens {
		g.off[id] = int32(len(g.data))
		g.data = append(g.data, t...)
		if t == "" {
			return nil, fmt.Errorf("token %d is empty", id)
		}
		switch s.kinds[id] {
		case kindRegular:
			if prev, dup := g.vocab[t]; dup {
				return nil, fmt.Errorf("tokens %d and %d are the same bytes %q", prev, id, t)
			}
			g.vocab[t] = int32(id)
			if len(t) == 1 {
				g.byteID[t[0]] = int32(id)
			}
		case kindSpecial:
			if prev, dup := g.special[t]; dup {
				return nil, fmt.Errorf("special tokens %d and %d are the same text %q", prev, id, t)
			}
			g.special[t] = int32(id)
		case kindAdded:
		default:
			return nil, fmt.Errorf("internal: token %d has unknown kind %d", id, s.kinds[id])
		}
	}
	g.off[n] = int32(len(g.data))
	var missing []string
	for b, id := range g.byteID {
		if id < 0 {
			missing = append(missing, fmt.Sprintf("%#02x", b))
		}
	}
	if len(missing) > 0 {
		if len(missing) > 8 {
			missing = append(missing[:8], fmt.Sprintf("and %d more", len(missing)-8))
		}
		return nil, fmt.Errorf("byte-level BPE needs a token for each of the 256 bytes; missing %s", strings.Join(missing, ", "))
	}
	g.merges = make(map[uint64]merge, len(s.merges))
	g.mergeIDs = make([][3]int32, 0, len(s.merges))
	for rank, p := range s.merges {
		a, b := p[0], p[1]
		if a < 0 || int(a) >= n || b < 0 || int(b) >= n {
			return nil, fmt.Errorf("merge %d refers to id %d or %d, outside [0, %d)", rank+1, a, b, n)
		}
		if s.kinds[a] != kindRegular || s.kinds[b] != kindRegular {
			return nil, fmt.Errorf("merge %d (%q %q) uses a special or added token", rank+1, s.tokens[a], s.tokens[b])
		}
		key := pairKey(a, b)
		if _, dup := g.merges[key]; dup {
			continue // a repeated merge never applies: the first one always wins
		}
		res, ok := g.vocab[s.tokens[a]+s.tokens[b]]
		if !ok {
			return nil, fmt.Errorf("merge %d (%q %q) makes %q, which is not in the vocabulary", rank+1, s.tokens[a], s.tokens[b], s.tokens[a]+s.tokens[b])
		}
		g.merges[key] = merge{rank: int32(len(g.mergeIDs)), id: res}
		g.mergeIDs = append(g.mergeIDs, [3]int32{a, b, res})
	}
	g.setMonotone(g.mergeIDs, n)
	return g, nil
}

// Encode returns the tokens of text, treating special tokens written in it as plain text (as
// tiktoken's encode_ordinary does).
func (g *GPT2) Encode(text string) []int {
	// A token every four bytes, unless the text starts with a piece merged in chunks, which
	// sizes the output from its own rate (see appendChunk).
	var out []int
	if len(text) == 0 || nextPiece(text, 0) <= chunkBytes {
		out = make([]int, 0, len(text)/4+1)
	}
	return g.appendOrdinary(out, text)
}

// appendOrdinary appends the tokens of text to out.
func (g *GPT2) appendOrdinary(out []int, text string) []int {
	for i := 0; i < len(text); {
		j := nextPiece(text, i)
		if j-i > chunkBytes {
			out = g.appendLong(out, text[i:j], len(text)-j)
		} else {
			out = g.appendPiece(out, text[i:j])
		}
		i = j
	}
	return out
}

func (g *GPT2) appendPiece(out []int, piece string) []int {
	if id, ok := g.vocab[piece]; ok && g.isDirect(id, piece) {
		return append(out, int(id))
	}
	if len(piece) <= cacheMaxPiece {
		if ids, ok := g.cache.get(piece); ok {
			for _, id := range ids {
				out = append(out, int(id))
			}
			return out
		}
	}
	start := len(out)
	out = g.bpe(piece, out)
	g.cache.put(piece, out[start:])
	return out
}

// appendLong appends the tokens of a piece longer than chunkBytes, which after bytes of text
// follow: merged in chunks, in bounded memory, when the merge table allows it.
func (g *GPT2) appendLong(out []int, piece string, after int) []int {
	if id, ok := g.vocab[piece]; ok && g.isDirect(id, piece) {
		return append(out, int(id))
	}
	if g.monotone {
		return g.bpeChunked(piece, out, chunkBytes, after)
	}
	return g.bpe(piece, out) // too long for the cache
}

func (g *GPT2) isDirect(id int32, piece string) bool {
	if g.ignoreMerges {
		return true
	}
	switch g.direct[id].Load() {
	case 1:
		return true
	case 2:
		return false
	}
	var buf [8]int
	got := g.bpe(piece, buf[:0])
	ok := len(got) == 1 && got[0] == int(id)
	if ok {
		g.direct[id].Store(1)
	} else {
		g.direct[id].Store(2)
	}
	return ok
}

// EncodeSpecial encodes text as tiktoken's encode does: the special tokens named in allowed
// become their ids wherever they occur, and any other special token of the vocabulary found in
// the text is an error wrapping ErrDisallowedSpecial. Pass SpecialTokens() to allow them all, nil
// to allow none.
func (g *GPT2) EncodeSpecial(text string, allowed []string) ([]int, error) {
	allow := make(map[string]bool, len(allowed))
	for _, s := range allowed {
		if _, ok := g.special[s]; !ok {
			return nil, fmt.Errorf("tokenizer: %q is not a special token of this vocabulary (it has %s)", s, quoteList(g.SpecialTokens()))
		}
		allow[s] = true
	}
	for _, s := range g.SpecialTokens() {
		if !allow[s] {
			if i := strings.Index(text, s); i >= 0 {
				return nil, fmt.Errorf("tokenizer: special token %q at byte %d: %w (allow it to encode it as a special token, or use Encode to encode it as plain text)", s, i, ErrDisallowedSpecial)
			}
		}
	}
	// Split at the leftmost allowed special token (the longest one where several start at the
	// same byte). next[i] caches where allowed[i] next occurs, so each is searched for once per
	// byte of text.
	names := make([]string, 0, len(allow))
	for s := range allow {
		names = append(names, s)
	}
	sort.Strings(names)
	next := make([]int, len(names))
	for i := range next {
		next[i] = -2 // not searched yet
	}
	out := make([]int, 0, len(text)/4+1)
	for start := 0; ; {
		at, which := -1, -1
		for i, s := range names {
			if next[i] != -1 && next[i] < start {
				if j := strings.Index(text[start:], s); j >= 0 {
					next[i] = start + j
				} else {
					next[i] = -1
				}
			}
			if next[i] >= 0 && (at < 0 || next[i] < at || next[i] == at && len(s) > len(names[which])) {
				at, which = next[i], i
			}
		}
		if at < 0 {
			return g.appendOrdinary(out, text[start:]), nil
		}
		out = g.appendOrdinary(out, text[start:at])
		out = append(out, int(g.special[names[which]]))
		start = at + len(names[which])
	}
}

// Decode returns the bytes of the tokens as a string; it is the inverse of Encode for any
// string, and may hold invalid UTF-8 when ids split a character.
func (g *GPT2) Decode(ids []int) (string, error) {
	n := len(g.kinds)
	size := 0
	for i, id := range ids {
		if id < 0 || id >= n {
			return "", fmt.Errorf("tokenizer: id %d at position %d is out of range [0, %d)", id, i, n)
		}
		size += int(g.off[id+1] - g.off[id])
	}
	var b strings.Builder
	b.Grow(size)
	for _, id := range ids {
		b.Write(g.data[g.off[id]:g.off[id+1]])
	}
	return b.String(), nil
}

// VocabSize is the number of ids, special tokens included (50,257 for GPT-2).
func (g *GPT2) VocabSize() int { return len(g.kinds) }

// Kind returns "gpt2-bpe".
func (g *GPT2) Kind() string { return "gpt2-bpe" }

// NumMerges is the number of merge rules.
func (g *GPT2) NumMerges() int { return len(g.mergeIDs) }

// SpecialTokens lists the special tokens in id order.
func (g *GPT2) SpecialTokens() []string {
	var out []string
	for id, k := range g.kinds {
		if k == kindSpecial {
			out = append(out, string(g.bytesOf(id)))
		}
	}
	return out
}

// SpecialTokenID returns the id of a special token, such as EndOfText.
func (g *GPT2) SpecialTokenID(name string) (int, bool) {
	id, ok := g.special[name]
	return int(id), ok
}

// TokenBytes returns the bytes that id decodes to.
func (g *GPT2) TokenBytes(id int) ([]byte, error) {
	if id < 0 || id >= len(g.kinds) {
		return nil, fmt.Errorf("tokenizer: id %d is out of range [0, %d)", id, len(g.kinds))
	}
	return append([]byte(nil), g.bytesOf(id)...), nil
}

// TokenString returns id as GPT-2's vocabulary files write it: regular tokens in the byte-level
// alphabet ("Ġworld" for " world"), special and added tokens as they are.
func (g *GPT2) TokenString(id int) (string, error) {
	if id < 0 || id >= len(g.kinds) {
		return "", fmt.Errorf("tokenizer: id %d is out of range [0, %d)", id, len(g.kinds))
	}
	if g.kinds[id] != kindRegular {
		return string(g.bytesOf(id)), nil
	}
	return byteLevelEncode(g.bytesOf(id)), nil
}

func (g *GPT2) bytesOf(id int) []byte { return g.data[g.off[id]:g.off[id+1]] }

// ClearCache empties the cache of encoded pieces (for measurements).
func (g *GPT2) ClearCache() { g.cache.clear() }

func quoteList(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// LoadGPT2 reads a byte-level BPE tokenizer from dir, from the first of these it finds:
// Hugging Face's vocab.json and merges.txt, OpenAI's encoder.json and vocab.bpe (the same
// formats under other names), or a Hugging Face tokenizer.json whose model is byte-level BPE.
func LoadGPT2(dir string) (*GPT2, error) {
	for _, names := range gpt2FileNames {
		if exists(filepath.Join(dir, names[0])) && exists(filepath.Join(dir, names[1])) {
			return loadGPT2Files(dir, names[0], names[1])
		}
	}
	path := filepath.Join(dir, tokenizerJSONFile)
	if !exists(path) {
		for _, names := range gpt2FileNames {
			a, b := exists(filepath.Join(dir, names[0])), exists(filepath.Join(dir, names[1]))
			if a != b {
				have, lack := names[0], names[1]
				if b {
					have, lack = lack, have
				}
				return nil, fmt.Errorf("tokenizer: %s: has %s but not %s", dir, have, lack)
			}
		}
	}
	if exists(path) {
		tok, err := LoadTokenizerJSON(path)
		if err != nil {
			return nil, err
		}
		g, ok := tok.(*GPT2)
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s: holds a %s tokenizer, not byte-level BPE", path, tok.Kind())
		}
		return g, nil
	}
	return nil, fmt.Errorf("tokenizer: %s: %w (expected vocab.json+merges.txt, encoder.json+vocab.bpe or tokenizer.json)", dir, ErrNoTokenizer)
}

// gpt2FileNames are the vocabulary and merges file names: Hugging Face's, then OpenAI's.
var gpt2FileNames = [][2]string{{"vocab.json", "merges.txt"}, {"encoder.json", "vocab.bpe"}}

func loadGPT2Files(dir, vocabName, mergesName string) (*GPT2, error) {
	vocabPath, mergesPath := filepath.Join(dir, vocabName), filepath.Join(dir, mergesName)
	vdata, err := readFile(vocabPath)
	if err != nil {
		return nil, err
	}
	mdata, err := readFile(mergesPath)
	if err != nil {
		return nil, err
	}
	var specials map[string]bool
	data, ok, err := readOptionalFile(filepath.Join(dir, specialTokensMapFile))
	if err != nil {
		return nil, err
	}
	if ok {
		if specials, err = parseSpecialTokensMap(data); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", filepath.Join(dir, specialTokensMapFile), err)
		}
	}
	return parseGPT2Files(vdata, mdata, vocabPath, mergesPath, specials)
}

// parseGPT2Files builds a tokenizer from the contents of a vocab.json (or encoder.json) and a
// merges.txt (or vocab.bpe). Tokens that no merge makes and that are not single bytes are
// special when written <|...|> or named in specials, and added tokens otherwise.
func parseGPT2Files(vdata, mdata []byte, vocabPath, mergesPath string, specials map[string]bool) (*GPT2, error) {
	entries, err := readVocabObject(vdata)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", vocabPath, err)
	}
	names, err := idOrder(entries, len(entries))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", vocabPath, err)
	}
	ids := make(map[string]int32, len(names))
	for id, s := range names {
		ids[s] = int32(id)
	}
	pairs, err := parseMergesText(mdata, ids)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", mergesPath, err)
	}
	made := make([]bool, len(names))
	for _, p := range pairs {
		made[ids[names[p[0]]+names[p[1]]]] = true
	}
	spec := gpt2Spec{tokens: make([]string, len(names)), kinds: make([]tokenKind, len(names)), merges: pairs}
	for id, s := range names {
		raw, ok := byteLevelDecode(s)
		isByte := ok && len(raw) == 1
		switch {
		case made[id] || isByte:
			if !ok {
				return nil, fmt.Errorf("tokenizer: %s: token %q (id %d) is used by %s but is not written in the byte-level alphabet", vocabPath, s, id, mergesPath)
			}
			spec.tokens[id] = string(raw)
		case specials[s] || strings.HasPrefix(s, "<|") && strings.HasSuffix(s, "|>") && len(s) > 4:
			spec.tokens[id], spec.kinds[id] = s, kindSpecial
		case ok:
			spec.tokens[id] = string(raw) // a token no merge makes: never produced by Encode
		default:
			spec.tokens[id], spec.kinds[id] = s, kindAdded
		}
	}
	g, err := newGPT2(spec)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s + %s: %w", vocabPath, mergesPath, err)
	}
	return g, nil
}

// parseMergesText reads merge rules, one "left right" pair a line; a first line starting with
// "#version" is a header. Both halves and their concatenation must be in the vocabulary.
func parseMergesText(data []byte, ids map[string]int32) ([][2]int32, error) {
	text := string(data)
	var pairs [][2]int32
	for lineNo := 1; text != ""; lineNo++ {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		line = strings.TrimSuffix(line, "\r")
		if lineNo == 1 && strings.HasPrefix(line, "#version") {
			continue
		}
		if line == "" && text == "" {
			break
		}
		p, err := resolveMerge(line, ids)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		pairs = append(pairs, p)
	}
	return pairs, nil
}

// resolveMerge turns "left right" into ids, checking that the merged token exists.
func resolveMerge(line string, ids map[string]int32) ([2]int32, error) {
	a, b, ok := strings.Cut(line, " ")
	if !ok || a == "" || b == "" || strings.Contains(b, " ") {
		return [2]int32{}, fmt.Errorf("merge %q is not two tokens separated by one space", clip(line))
	}
	return resolvePair(a, b, ids)
}

func resolvePair(a, b string, ids map[string]int32) ([2]int32, error) {
	ia, ok := ids[a]
	if !ok {
		return [2]int32{}, fmt.Errorf("merge %q %q: %q is not in the vocabulary", clip(a), clip(b), clip(a))
	}
	ib, ok := ids[b]
	if !ok {
		return [2]int32{}, fmt.Errorf("merge %q %q: %q is not in the vocabulary", clip(a), clip(b), clip(b))
	}
	if _, ok := ids[a+b]; !ok {
		return [2]int32{}, fmt.Errorf("merge %q %q makes %q, which is not in the vocabulary", clip(a), clip(b), clip(a+b))
	}
	return [2]int32{ia, ib}, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) <= 60 {
		return s
	}
	return s[:57] + "..."
}
