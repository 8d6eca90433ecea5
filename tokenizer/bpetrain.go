package tokenizer

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// BPETrainOptions configures TrainBPE.
type BPETrainOptions struct {
	// SpecialTokens get the ids after the merged tokens, in this order, and are cut out of the
	// corpus before training (no merge crosses them). nil means []string{EndOfText}; pass an
	// empty, non-nil slice for none.
	SpecialTokens []string
	// MinFrequency stops training when the most frequent pair occurs fewer times; 0 means 1.
	MinFrequency int
}

// TrainBPE learns a byte-level BPE vocabulary of vocabSize tokens from corpus: the 256 bytes
// (with GPT-2's ids), then one token per merge, then the special tokens. The corpus is split
// with GPT-2's pre-tokenizer, and each step merges the most frequent adjacent pair of tokens
// within a word (ties go to the pair with the smaller ids). Pair counts are kept up to date
// from the words each merge touches, so a step costs the size of those words, not of the corpus.
// Training stops early when no pair occurs MinFrequency times.
func TrainBPE(ctx context.Context, corpus io.Reader, vocabSize int, opts *BPETrainOptions) (*GPT2, error) {
	var o BPETrainOptions
	if opts != nil {
		o = *opts
	}
	if o.SpecialTokens == nil {
		o.SpecialTokens = []string{EndOfText}
	}
	if o.MinFrequency < 1 {
		o.MinFrequency = 1
	}
	seen := map[string]bool{}
	for _, s := range o.SpecialTokens {
		if len(s) < 2 {
			return nil, fmt.Errorf("tokenizer: special token %q: must be at least two bytes (single bytes are already tokens)", s)
		}
		if seen[s] {
			return nil, fmt.Errorf("tokenizer: special token %q is listed twice", s)
		}
		seen[s] = true
	}
	if vocabSize < 256+len(o.SpecialTokens) {
		return nil, fmt.Errorf("tokenizer: vocabulary size %d is below the 256 byte tokens plus %d special tokens", vocabSize, len(o.SpecialTokens))
	}
	if vocabSize >= 1<<31-1 {
		return nil, fmt.Errorf("tokenizer: vocabulary size %d is too large", vocabSize)
	}
	data, err := io.ReadAll(corpus)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: reading the training corpus: %w", err)
	}
	t := newBPETrainer(string(data), o.SpecialTokens)
	if err := t.train(ctx, vocabSize-len(o.SpecialTokens), int64(o.MinFrequency)); err != nil {
		return nil, err
	}
	spec := gpt2Spec{merges: t.merges}
	for _, b := range t.tokens {
		spec.tokens = append(spec.tokens, b)
		spec.kinds = append(spec.kinds, kindRegular)
	}
	for _, s := range o.SpecialTokens {
		spec.tokens = append(spec.tokens, s)
		spec.kinds = append(spec.kinds, kindSpecial)
	}
	g, err := newGPT2(spec)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: training made an invalid vocabulary: %w", err)
	}
	return g, nil
}

// bpeTrainer holds the corpus as distinct words with their counts, and the count of every
// adjacent pair of tokens over all words.
type bpeTrainer struct {
	words  [][]int32 // each distinct word as tokens
	freq   []int64   // how often each word occurs
	counts map[uint64]int64
	where  map[uint64][]int32 // words that may hold the pair (a superset: entries go stale)
	stamp  []int              // the step that last visited a word

	tokens  []string         // bytes of each token
	ids     map[string]int32 // token bytes -> id
	merges  [][2]int32
	special map[string]bool
}

func newBPETrainer(text string, specials []string) *bpeTrainer {
	t := &bpeTrainer{
		counts:  map[uint64]int64{},
		where:   map[uint64][]int32{},
		ids:     map[string]int32{},
		special: map[string]bool{},
	}
	for _, b := range byteOrder {
		t.ids[string([]byte{b})] = int32(len(t.tokens))
		t.tokens = append(t.tokens, string([]byte{b}))
	}
	for _, s := range specials {
		t.special[s] = true
	}
	wordFreq := map[string]int64{}
	for _, chunk := range splitOnSpecials(text, specials) {
		for i := 0; i < len(chunk); {
			j := nextPiece(chunk, i)
			wordFreq[chunk[i:j]]++
			i = j
		}
	}
	distinct := make([]string, 0, len(wordFreq))
	for w := range wordFreq {
		distinct = append(distinct, w)
	}
	slices.Sort(distinct) // a fixed order, so training is deterministic
	for wi, w := range distinct {
		syms := make([]int32, len(w))
		for i := 0; i < len(w); i++ {
			syms[i] = t.ids[w[i:i+1]]
		}
		f := wordFreq[w]
		t.words = append(t.words, syms)
		t.freq = append(t.freq, f)
		for i := 0; i+1 < len(syms); i++ {
			k := pairKey(syms[i], syms[i+1])
			t.counts[k] += f
			t.addWhere(k, int32(wi))
		}
	}
	t.stamp = make([]int, len(t.words))
	return t
}

// splitOnSpecials cuts the special tokens out of text.
func splitOnSpecials(text string, specials []string) []string {
	chunks := []string{text}
	for _, s := range specials {
		var next []string
		for _, c := range chunks {
			next = append(next, strings.Split(c, s)...)
		}
		chunks = next
	}
	return chunks
}

func (t *bpeTrainer) addWhere(k uint64, wi int32) {
	l := t.where[k]
	if n := len(l); n > 0 && l[n-1] == wi {
		return
	}
	t.where[k] = append(l, wi)
}

// train merges until there are target tokens or no pair occurs minFreq times.
func (t *bpeTrainer) train(ctx context.Context, target int, minFreq int64) error {
	h := heap[pairCount]{items: make([]pairCount, 0, len(t.counts)), less: countFirst}
	for k, c := range t.counts {
		h.items = append(h.items, pairCount{c, k})
	}
	h.init()
	for step := 1; len(t.tokens) < target && h.len() > 0; step++ {
		if step%64 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("tokenizer: BPE training stopped after %d merges: %w", len(t.merges), err)
			}
		}
		top := h.pop()
		cur := t.counts[top.pair]
		if cur != top.count { // stale: counts only fall, so put it back with its count
			if cur > 0 {
				h.push(pairCount{cur, top.pair})
			}
			continue
		}
		if cur < minFreq {
			break
		}
		a, b := int32(top.pair>>32), int32(uint32(top.pair))
		merged := t.tokens[a] + t.tokens[b]
		if t.special[merged] {
			delete(t.counts, top.pair) // never make a token that is a special token's text
			continue
		}
		id, exists := t.ids[merged]
		if !exists {
			id = int32(len(t.tokens))
			t.ids[merged] = id
			t.tokens = append(t.tokens, merged)
		}
		t.merges = append(t.merges, [2]int32{a, b})
		for _, k := range t.apply(a, b, id, step) {
			if c := t.counts[k]; c > 0 {
				h.push(pairCount{c, k})
			}
		}
	}
	return nil
}

// apply replaces (a, b) by id in every word that holds it, updating the pair counts, and
// returns the new pairs (those with id) whose counts grew.
func (t *bpeTrainer) apply(a, b, id int32, step int) []uint64 {
	key := pairKey(a, b)
	grownSet := map[uint64]bool{}
	add := func(k uint64, d int64, wi int32) {
		t.counts[k] += d
		if d > 0 {
			grownSet[k] = true
			t.addWhere(k, wi)
		}
	}
	for _, wi := range t.where[key] {
		if t.stamp[wi] == step {
			continue
		}
		t.stamp[wi] = step
		syms, f := t.words[wi], t.freq[wi]
		out := syms[:0]
		for i := 0; i < len(syms); {
			if i+1 < len(syms) && syms[i] == a && syms[i+1] == b {
				if n := len(out); n > 0 {
					add(pairKey(out[n-1], a), -f, wi)
					add(pairKey(out[n-1], id), f, wi)
				}
				if i+2 < len(syms) {
					add(pairKey(b, syms[i+2]), -f, wi)
					add(pairKey(id, syms[i+2]), f, wi)
				}
				add(key, -f, wi)
				out = append(out, id)
				i += 2
				continue
			}
			out = append(out, syms[i])
			i++
		}
		t.words[wi] = out
	}
	delete(t.counts, key)
	delete(t.where, key)
	grown := make([]uint64, 0, len(grownSet))
	for k := range grownSet {
		grown = append(grown, k)
	}
	slices.Sort(grown)
	return grown
}

// pairCount is a heap entry: the count of a pair when it was pushed.
type pairCount struct {
	count int64
	pair  uint64
}

// countFirst orders the training heap: the highest count first, ties to the smaller pair.
func countFirst(a, b pairCount) bool {
	if a.count != b.count {
		return a.count > b.count
	}
	return a.pair < b.pair
}
