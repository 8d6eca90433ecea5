package tokenizer

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func trainWP(t *testing.T, text string, size int, o *WordPieceTrainOptions) *WordPiece {
	t.Helper()
	w, err := TrainWordPiece(context.Background(), strings.NewReader(text), size, o)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var bertSpecials = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}

// TestTrainWordPieceTiny follows the algorithm by hand on corpora small enough to count.
func TestTrainWordPieceTiny(t *testing.T) {
	one := &WordPieceTrainOptions{MinFrequency: 1}
	for _, c := range []struct {
		name, text string
		size       int
		opts       *WordPieceTrainOptions
		want       []string
	}{
		// Pairs: (a, ##b) 3+1, (##b, ##c) 1: "ab" first, then (ab, ##c) 1 gives "abc".
		{"merges", "ab ab ab abc", 12, one, []string{"a", "b", "c", "##b", "##c", "ab", "abc"}},
		{"stops at the size", "ab ab ab abc", 11, one, []string{"a", "b", "c", "##b", "##c", "ab"}},
		// MinFrequency 2 (the default) stops before the pair seen once.
		{"min frequency", "ab ab ab abc", 100, nil, []string{"a", "b", "c", "##b", "##c", "ab"}},
		// (##y, ##z) occurs twice: a continuation merge keeps the prefix; then the two pairs seen
		// once tie and the smaller ids (a before b) go first.
		{"continuation merge and ties", "ayz byz", 100, one, []string{"a", "b", "y", "z", "##y", "##z", "##yz", "ayz", "byz"}},
		// Lower-casing and accent stripping as the basic tokenizer does; punctuation is a word of
		// its own, so "!" never continues one. Continuation characters come in the order the
		// sorted words show them; the three pairs of "cafe" tie at 2, (c, ##a) has the smallest
		// ids, then (##f, ##e) beats (ca, ##f).
		{"basic tokenizer", "Café CAFE!", 100, &WordPieceTrainOptions{WordPieceOptions: WordPieceOptions{Lowercase: true}},
			[]string{"!", "a", "c", "e", "f", "##a", "##f", "##e", "ca", "##fe", "cafe"}},
		{"cased", "Ab ab", 100, one, []string{"A", "a", "b", "##b", "Ab", "ab"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := trainWP(t, c.text, c.size, c.opts)
			want := append(append([]string(nil), bertSpecials...), c.want...)
			if !reflect.DeepEqual(w.vocab, want) {
				t.Errorf("vocab %q\nwant  %q", w.vocab, want)
			}
		})
	}
}

const trainText = `The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away!
Tokenizers split words into pieces: un-break-able, breaking, breakable, unbreakable.
Numbers 12345 and 2024-12-02, e-mail someone@example.com, naïve café résumé.
中文字符 and ｆｕｌｌｗｉｄｔｈ text, emoji 🙂🙂 and tabs	here.
`

// TestTrainWordPieceRoundTrip: the training text encodes without [UNK], its pieces rejoin into
// its words, and the vocabulary has the size asked for.
func TestTrainWordPieceRoundTrip(t *testing.T) {
	text := strings.Repeat(trainText, 3)
	for _, lower := range []bool{false, true} {
		o := &WordPieceTrainOptions{WordPieceOptions: WordPieceOptions{Lowercase: lower}}
		w := trainWP(t, text, 200, o)
		if w.VocabSize() != 200 {
			t.Errorf("lowercase %v: %d tokens, want 200", lower, w.VocabSize())
		}
		if w.PadID() != 0 || w.UnkID() != 1 || w.ClsID() != 2 || w.SepID() != 3 || w.MaskID() != 4 {
			t.Errorf("special ids %d %d %d %d %d, want 0..4", w.PadID(), w.UnkID(), w.ClsID(), w.SepID(), w.MaskID())
		}
		words := w.BasicTokenize(text)
		var rejoined []string
		for _, p := range w.Tokenize(text) {
			if p == "[UNK]" {
				t.Fatalf("lowercase %v: the training text encodes with [UNK]", lower)
			}
			if rest, ok := strings.CutPrefix(p, "##"); ok {
				rejoined[len(rejoined)-1] += rest
			} else {
				rejoined = append(rejoined, p)
			}
		}
		if !reflect.DeepEqual(rejoined, words) {
			t.Errorf("lowercase %v: pieces rejoin to %q\nwant %q", lower, rejoined, words)
		}
		if n := len(w.Encode(text)); n >= len(strings.Join(words, "")) {
			t.Errorf("lowercase %v: %d pieces for %d characters: no merge helped", lower, n, len(strings.Join(words, "")))
		}
	}
}

// TestTrainWordPieceDeterministic: training twice gives the same vocabulary (the words are
// counted in a map, whose order varies between runs).
func TestTrainWordPieceDeterministic(t *testing.T) {
	first := trainWP(t, trainText, 150, nil).vocab
	for range 4 {
		if again := trainWP(t, trainText, 150, nil).vocab; !reflect.DeepEqual(first, again) {
			t.Fatalf("two trainings differ:\n%q\n%q", first, again)
		}
	}
}

// TestTrainWordPieceSaveLoad: the saved files load back, by vocab.txt and by the folder, as
// the same tokenizer.
func TestTrainWordPieceSaveLoad(t *testing.T) {
	w := trainWP(t, trainText, 150, &WordPieceTrainOptions{WordPieceOptions: WordPieceOptions{Lowercase: true}})
	dir := t.TempDir()
	if err := w.Save(dir); err != nil {
		t.Fatal(err)
	}
	fromTxt, err := LoadWordPiece(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	fromDir, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]Tokenizer{"vocab.txt": fromTxt, "folder": fromDir} {
		if tok.VocabSize() != w.VocabSize() || !reflect.DeepEqual(tok.Encode(trainText), w.Encode(trainText)) {
			t.Errorf("%s: loads as another tokenizer", name)
		}
	}
}

// TestTrainWordPieceLimits: the alphabet limit keeps the frequent characters, and a word too
// long to encode is not learned from.
func TestTrainWordPieceLimits(t *testing.T) {
	w := trainWP(t, "aaa bbb aaa bbb ccc x", 30, &WordPieceTrainOptions{LimitAlphabet: 2, MinFrequency: 1})
	if _, ok := w.TokenID("x"); ok {
		t.Error("the rarest character survived an alphabet limit of 2")
	}
	if got := w.Tokenize("x"); !reflect.DeepEqual(got, []string{"[UNK]"}) {
		t.Errorf("a character left out encodes as %q", got)
	}
	long := strings.Repeat("q", 101)
	w = trainWP(t, long+" ab ab", 100, nil)
	if _, ok := w.TokenID("q"); ok {
		t.Error("learned from a word longer than MaxInputCharsPerWord")
	}
}

func TestTrainWordPieceErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name, text string
		size       int
		opts       *WordPieceTrainOptions
		ctx        context.Context
		want       string
	}{
		{"size below the specials", "ab", 5, nil, nil, "vocabulary size 5"},
		{"size below the alphabet", "abcdef", 10, nil, nil, "below the 16 special tokens, characters"},
		{"empty corpus", " \n\t\n", 100, nil, nil, "no words"},
		{"duplicate special", "ab", 100, &WordPieceTrainOptions{SpecialTokens: []string{"[UNK]", "[UNK]"}}, nil, `"[UNK]" is listed twice`},
		{"special with newline", "ab", 100, &WordPieceTrainOptions{SpecialTokens: []string{"[UNK]\n"}}, nil, "on one line"},
		{"no [CLS]", "ab", 100, &WordPieceTrainOptions{SpecialTokens: []string{"[UNK]", "[SEP]"}}, nil, `lacks the special token "[CLS]"`},
		{"cancelled", "ab", 100, nil, ctx, "context canceled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := c.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, err := TrainWordPiece(ctx, strings.NewReader(c.text), c.size, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := TrainWordPiece(context.Background(), errReader{}, 100, nil); err == nil || !strings.Contains(err.Error(), "reading the training corpus") {
		t.Errorf("failing reader: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// TestTrainWordPieceMatchesHF compares with Hugging Face tokenizers 0.23.2 (its Node binding:
// a WordPiece model trained by its default WordPieceTrainer, i.e. no special tokens, min
// frequency 0, no alphabet limit, after a BertNormalizer with lowercase and the
// BertPreTokenizer). The corpora have no tied pair counts, so its output is the same on every
// run except for the order of the one-character "##" pieces, which follows a hash map there;
// that block is compared as a set.
func TestTrainWordPieceMatchesHF(t *testing.T) {
	corpus := func(words []string, count func(i int) int) string {
		var b strings.Builder
		for i, w := range words {
			for range count(i) {
				b.WriteString(w + " ")
			}
		}
		return b.String()
	}
	for _, c := range []struct {
		name, text, hf string
	}{
		{"sennrich", corpus([]string{"low", "lower", "newest", "widest", "slow", "wider", "newer"}, func(i int) int { return []int{5, 2, 6, 3, 1, 4, 7}[i] }),
			"d e i l n o r s t w ##d ##e ##i ##l ##o ##r ##s ##t ##w ##we ne newe ##st lo wi ##de newer wide newest low wider widest ##wer lower sl ##ow slow"},
		{"th-words", corpus([]string{"the", "then", "there", "these", "other", "another", "brother", "mother", "bother", "thesis", "hen", "ten", "tent", "tenth"}, func(i int) int { return 3*i + 1 + i*i }),
			"a b e h i m n o r s t ##e ##h ##i ##n ##o ##r ##s ##t ##en ten ##th ##er ##ther ##other tenth tent th hen the thes ##is thesis bother mother br brother an another other these ##ere there then"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := trainWP(t, strings.ToUpper(c.text), 30000, &WordPieceTrainOptions{WordPieceOptions: WordPieceOptions{Lowercase: true}, MinFrequency: 1, LimitAlphabet: -1})
			if got := strings.Join(sortCharPieces(w.vocab[len(bertSpecials):]), " "); got != c.hf {
				t.Errorf("vocab %s\nHF    %s", got, c.hf)
			}
		})
	}
}

// sortCharPieces sorts the runs of one-character continuation pieces ("##e").
func sortCharPieces(vocab []string) []string {
	out := append([]string(nil), vocab...)
	isChar := func(s string) bool { return strings.HasPrefix(s, "##") && utf8.RuneCountInString(s) == 3 }
	for i := 0; i < len(out); {
		j := i
		for j < len(out) && isChar(out[j]) {
			j++
		}
		slices.Sort(out[i:j])
		i = max(j, i+1)
	}
	return out
}
