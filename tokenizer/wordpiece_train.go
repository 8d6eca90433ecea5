package tokenizer

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// WordPieceTrainOptions configures TrainWordPiece.
type WordPieceTrainOptions struct {
	// WordPieceOptions is the tokenizer being trained: the basic tokenizer's settings
	// (Lowercase, StripAccents, NoChineseSplit, NoCleanText) split the corpus into words, and
	// the special token names and Prefix are those of the result.
	WordPieceOptions
	// SpecialTokens take the first ids, in this order. nil means the options' pad, unk, cls,
	// sep and mask tokens ([PAD] [UNK] [CLS] [SEP] [MASK], ids 0 to 4 as in BERT's vocabularies).
	// The unk, cls and sep tokens must be among them.
	SpecialTokens []string
	// MinFrequency stops training when the most frequent pair occurs fewer times; 0 means 2, the
	// default of Hugging Face's BertWordPieceTokenizer.train.
	MinFrequency int
	// LimitAlphabet keeps only the most frequent characters; the others are left out of the
	// words (so they become [UNK]). 0 means 1000, as BertWordPieceTokenizer.train; negative, no
	// limit.
	LimitAlphabet int
}

// TrainWordPiece learns a WordPiece vocabulary of vocabSize tokens from corpus, as Hugging Face
// tokenizers' WordPieceTrainer does: the corpus is split into words by BERT's basic tokenizer;
// the vocabulary starts with the special tokens, then every character (the alphabet, by code
// point), then the continuation form ("##c") of every character that occurs inside a word; then
// BPE merges the most frequent adjacent pair of pieces within words (ties to the pair of
// smaller ids), a merged continuation piece dropping the prefix of its second part ("t" + "##o"
// = "to", "##o" + "##n" = "##on"), until the vocabulary has vocabSize tokens or no pair occurs
// MinFrequency times. Words longer than MaxInputCharsPerWord are left out (they encode as the
// unknown token whatever the vocabulary). Words are counted in a fixed order, so the result depends only on the
// corpus and the options.
func TrainWordPiece(ctx context.Context, corpus io.Reader, vocabSize int, opts *WordPieceTrainOptions) (*WordPiece, error) {
	var o WordPieceTrainOptions
	if opts != nil {
		o = *opts
	}
	o.defaults()
	if o.SpecialTokens == nil {
		o.SpecialTokens = []string{o.PadToken, o.UnkToken, o.ClsToken, o.SepToken, o.MaskToken}
	}
	if o.MinFrequency <= 0 {
		o.MinFrequency = 2
	}
	if o.LimitAlphabet == 0 {
		o.LimitAlphabet = 1000
	}
	seen := map[string]bool{}
	for _, s := range o.SpecialTokens {
		if s == "" || strings.ContainsAny(s, "\r\n") {
			return nil, fmt.Errorf("tokenizer: special token %q: must be non-empty and on one line", s)
		}
		if seen[s] {
			return nil, fmt.Errorf("tokenizer: special token %q is listed twice", s)
		}
		seen[s] = true
	}
	if vocabSize <= len(o.SpecialTokens) || vocabSize >= 1<<31-1 {
		return nil, fmt.Errorf("tokenizer: vocabulary size %d: want more than the %d special tokens and less than 2^31", vocabSize, len(o.SpecialTokens))
	}

	// Count the words, line by line so that memory follows the distinct words.
	pre := &WordPiece{opts: o.WordPieceOptions}
	counts := map[string]int64{}
	br := bufio.NewReaderSize(corpus, 1<<16)
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("tokenizer: WordPiece training stopped while reading the corpus: %w", err)
			}
		}
		line, err := br.ReadString('\n')
		for _, w := range pre.BasicTokenize(line) {
			// A word longer than MaxInputCharsPerWord always encodes as [UNK]: nothing to learn.
			if utf8.RuneCountInString(w) <= o.MaxInputCharsPerWord {
				counts[w]++
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tokenizer: reading the training corpus: %w", err)
		}
	}
	if len(counts) == 0 {
		return nil, fmt.Errorf("tokenizer: the training corpus holds no words")
	}

	t := newWordPieceTrainer(counts, o)
	if len(t.tokens) > vocabSize {
		return nil, fmt.Errorf("tokenizer: vocabulary size %d is below the %d special tokens, characters and continuation characters of the corpus; raise it (or lower LimitAlphabet)", vocabSize, len(t.tokens))
	}
	if err := t.train(ctx, vocabSize, int64(o.MinFrequency)); err != nil {
		return nil, err
	}
	vocab := make([]string, len(t.tokens))
	for i, tok := range t.tokens {
		vocab[i] = wordPieceTrainName(tok, o.Prefix)
	}
	w, err := NewWordPiece(vocab, o.WordPieceOptions)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: training made an invalid vocabulary: %w", err)
	}
	return w, nil
}

// While training, a token's text tells its kind by its first byte, which never starts valid
// UTF-8: a piece that starts a word is initialMark + text, a special token specialMark + name,
// and a continuation piece is its bare text. So the BPE trainer's merge (the concatenation of
// the two texts) gives the right kind — initial + continuation = initial, continuation +
// continuation = continuation — and no piece can take a special token's place.
const (
	initialMark = "\xff"
	specialMark = "\xfe"
)

func wordPieceTrainName(tok, prefix string) string {
	if rest, ok := strings.CutPrefix(tok, initialMark); ok {
		return rest
	}
	if rest, ok := strings.CutPrefix(tok, specialMark); ok {
		return rest
	}
	return prefix + tok
}

// newWordPieceTrainer lays out the initial vocabulary (special tokens, alphabet, continuation
// characters) and the words as pieces, on the BPE trainer's pair counts.
func newWordPieceTrainer(counts map[string]int64, o WordPieceTrainOptions) *bpeTrainer {
	t := &bpeTrainer{
		counts:  map[uint64]int64{},
		where:   map[uint64][]int32{},
		ids:     map[string]int32{},
		special: map[string]bool{},
	}
	add := func(s string) int32 {
		if id, ok := t.ids[s]; ok {
			return id
		}
		id := int32(len(t.tokens))
		t.ids[s] = id
		t.tokens = append(t.tokens, s)
		return id
	}
	for _, s := range o.SpecialTokens {
		add(specialMark + s)
	}
	words := make([]string, 0, len(counts))
	chars := map[rune]int64{}
	for w, c := range counts {
		words = append(words, w)
		for _, r := range w {
			chars[r] += c
		}
	}
	slices.Sort(words) // a fixed order, so training is deterministic
	alphabet := make([]rune, 0, len(chars))
	for r := range chars {
		alphabet = append(alphabet, r)
	}
	if o.LimitAlphabet > 0 && len(alphabet) > o.LimitAlphabet {
		// Keep the most frequent characters (ties to the smaller code point).
		slices.SortFunc(alphabet, func(a, b rune) int {
			if c := cmp.Compare(chars[b], chars[a]); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		alphabet = alphabet[:o.LimitAlphabet]
	}
	slices.Sort(alphabet)
	kept := make(map[rune]bool, len(alphabet))
	for _, r := range alphabet {
		kept[r] = true
		add(initialMark + string(r))
	}
	for _, w := range words {
		syms := make([]int32, 0, utf8.RuneCountInString(w))
		for i, r := range w {
			if !kept[r] {
				continue
			}
			if len(syms) == 0 && i == 0 {
				syms = append(syms, t.ids[initialMark+string(r)])
			} else {
				syms = append(syms, add(string(r)))
			}
		}
		wi := int32(len(t.words))
		t.words = append(t.words, syms)
		t.freq = append(t.freq, counts[w])
		for i := 0; i+1 < len(syms); i++ {
			k := pairKey(syms[i], syms[i+1])
			t.counts[k] += counts[w]
			t.addWhere(k, wi)
		}
	}
	t.stamp = make([]int, len(t.words))
	return t
}
