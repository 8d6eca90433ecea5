package tokenizer

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBERTSquadVectors checks the basic tokens, word pieces and ids of the 10,570 SQuAD dev
// questions against bert-base-uncased's reference tokenizer output.
func TestBERTSquadVectors(t *testing.T) {
	w := loadTestBERT(t)
	dir := dataDir(t, "bert-base-uncased-vocab")
	var toks []struct {
		Original  string   `json:"original"`
		Basic     []string `json:"basic"`
		WordPiece []string `json:"wordpiece"`
	}
	var ids [][]int
	readJSON(t, filepath.Join(dir, "squad_dev_questions_tokens.json"), &toks)
	readJSON(t, filepath.Join(dir, "squad_dev_questions_token_ids.json"), &ids)
	if len(toks) != 10570 || len(ids) != len(toks) {
		t.Fatalf("%d token vectors and %d id vectors, want 10570", len(toks), len(ids))
	}
	bad := 0
	for i, c := range toks {
		basic := w.BasicTokenize(c.Original)
		pieces := w.Tokenize(c.Original)
		got := w.Encode(c.Original)
		if !slices.Equal(basic, c.Basic) || !slices.Equal(pieces, c.WordPiece) || !slices.Equal(got, ids[i]) {
			bad++
			if bad <= 5 {
				t.Errorf("%q:\n basic %q\n  want %q\n pieces %q\n  want %q\n ids %v\n want %v", c.Original, basic, c.Basic, pieces, c.WordPiece, got, ids[i])
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d questions differ", bad, len(toks))
	}
	t.Logf("%d questions match", len(toks))
}

// miniVocab is a small WordPiece vocabulary for tests that need no data files.
var miniVocab = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "un", "##aff", "##able", ".", ",", "!", "?", "'", "s", "a", "##s", "e", "##e", "中", "文", "$", "hello", "world", "##ing", "play", "i", "über", "uber", "ω", "ς", "σ", "ᄒ", "##ᅡ", "##ᆫ", "x"}

func newMini(t testing.TB, opts WordPieceOptions) *WordPiece {
	t.Helper()
	w, err := NewWordPiece(miniVocab, opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWordPieceBasic(t *testing.T) {
	uncased := newMini(t, WordPieceOptions{Lowercase: true})
	cased := newMini(t, WordPieceOptions{})
	noStrip := false
	lowerKeep := newMini(t, WordPieceOptions{Lowercase: true, StripAccents: &noStrip})
	for _, c := range []struct {
		w    *WordPiece
		text string
		want []string
	}{
		{uncased, "The cat SAT on the mat.", []string{"the", "cat", "sat", "on", "the", "mat", "."}},
		{uncased, "unaffable", []string{"un", "##aff", "##able"}},
		{uncased, "unaffablex", []string{"[UNK]"}}, // no piece for the rest: the whole word is unknown
		{uncased, "playing", []string{"play", "##ing"}},
		{uncased, "Über über", []string{"uber", "uber"}},
		{lowerKeep, "Über", []string{"über"}},
		{cased, "Über", []string{"[UNK]"}},
		{uncased, "中文", []string{"中", "文"}},
		{uncased, "a中a", []string{"a", "中", "a"}},
		{uncased, "$hello!world?", []string{"$", "hello", "!", "world", "?"}},
		{uncased, "cat's", []string{"cat", "'", "s"}},
		{uncased, "e\u0301", []string{"e"}},         // combining accent stripped
		{uncased, "\u0301", nil},                    // only a mark: nothing left
		{uncased, "Ω", []string{"ω"}},               // lower-cased
		{uncased, "한", []string{"ᄒ", "##ᅡ", "##ᆫ"}}, // Hangul decomposes to jamo
		{uncased, "hello\u00a0world\u2028x", []string{"hello", "world", "x"}},
		{uncased, strings.Repeat("a", 101), []string{"[UNK]"}},
		{uncased, "", nil},
		{uncased, "  \n ", nil},
		{uncased, "\xff\xfehello", []string{"hello"}}, // invalid bytes read as U+FFFD, which cleaning drops
	} {
		if got := c.w.Tokenize(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", c.text, got, c.want)
		}
	}
	// Cleaning drops NUL, U+FFFD, format and other control characters (\v included: only tab,
	// newline and carriage return are whitespace), and unassigned code points.
	for text, want := range map[string][]string{
		"hello\x00world\ufffd\u200b!":    {"helloworld", "!"},
		"hello\tworld\r\nx\vx\x85y":      {"hello", "world", "xxy"},
		"a\U000E0001b\uE000c\U0010FFFEd": {"abcd"},
		"a\u2029b\u3000c":                {"a", "b", "c"},
		"x\u037e":                        {"x", ";"}, // GREEK QUESTION MARK decomposes to ';'
	} {
		if got := uncased.BasicTokenize(text); !slices.Equal(got, want) {
			t.Errorf("BasicTokenize(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestStripAccents(t *testing.T) {
	for in, want := range map[string]string{
		"Café naïve résumé": "Cafe naive resume",
		"ÅΩ":                "AΩ", // U+00C5; U+2126 OHM SIGN decomposes to U+03A9
		"Ångström":          "Angstrom",
		"ǅ":                 "ǅ", // compatibility decomposition only: unchanged
		"\uF900":            "\u8C48",
		"한국어":               "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165",
		"ḗ":                 "e",
		"Ελληνικά":          "Ελληνικα",
		"Йй":                "Ии",
		"ﬁ":                 "ﬁ",
	} {
		if got := StripAccents(in); got != want {
			t.Errorf("StripAccents(%q) = %q (%+q), want %q", in, got, got, want)
		}
	}
}

func TestWordPieceDecode(t *testing.T) {
	w := loadTestBERT(t)
	for text, want := range map[string]string{
		"Hello, world! It's unaffable.":           "hello, world! it's unaffable.",
		"How many teams can boast a 15–1 record?": "how many teams can boast a 15 – 1 record?",
	} {
		got, err := w.Decode(w.Encode(text))
		if err != nil || got != want {
			t.Errorf("Decode(Encode(%q)) = %q, %v; want %q", text, got, err, want)
		}
	}
	if _, err := w.Decode([]int{30522}); err == nil {
		t.Error("Decode of an id out of range: no error")
	}
}

func TestWordPieceSpecialIDs(t *testing.T) {
	w := loadTestBERT(t)
	if w.VocabSize() != 30522 || w.PadID() != 0 || w.UnkID() != 100 || w.ClsID() != 101 || w.SepID() != 102 || w.MaskID() != 103 || w.Kind() != "wordpiece" {
		t.Fatalf("size %d pad %d unk %d cls %d sep %d mask %d", w.VocabSize(), w.PadID(), w.UnkID(), w.ClsID(), w.SepID(), w.MaskID())
	}
	if id, ok := w.TokenID("##ing"); !ok || id != 2075 {
		t.Errorf("TokenID(##ing) = %d, %v", id, ok)
	}
	// Special tokens written in text are plain text.
	if got := w.Tokenize("[SEP]"); !slices.Equal(got, []string{"[", "sep", "]"}) {
		t.Errorf("Tokenize([SEP]) = %q", got)
	}
}

func FuzzWordPiece(f *testing.F) {
	for _, s := range []string{"", "Hello, world!", "unaffable", "中文 한국어 Ελληνικά", "e\u0301\u0301", "\x00\xff\ufffd", strings.Repeat("ab", 60), "[CLS] x [SEP]", "İstanbul ΣΑΣ"} {
		f.Add(s, "second text")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		w := loadTestBERT(t)
		ids := w.Encode(a)
		toks := w.Tokenize(a)
		if len(ids) != len(toks) {
			t.Fatalf("%d ids but %d tokens", len(ids), len(toks))
		}
		for i, id := range ids {
			if id < 0 || id >= w.VocabSize() || w.vocab[id] != toks[i] {
				t.Fatalf("Encode(%q): bad id %d (token %q)", a, id, toks[i])
			}
		}
		if _, err := w.Decode(ids); err != nil {
			t.Fatal(err)
		}
		for _, opts := range []EncodeOptions{{}, {MaxLength: 8, Truncation: LongestFirst, Padding: PadToMaxLength}, {MaxLength: 5, Truncation: OnlySecond}} {
			e, err := w.EncodePair(a, b, opts)
			if err != nil {
				continue // only_second may not be able to make room
			}
			if len(e.IDs) != len(e.TypeIDs) || len(e.IDs) != len(e.AttentionMask) || len(e.IDs) != len(e.Tokens) {
				t.Fatalf("ragged encoding %+v", e)
			}
			if opts.Truncation != NoTruncation && len(e.IDs) > opts.MaxLength {
				t.Fatalf("%d ids with MaxLength %d", len(e.IDs), opts.MaxLength)
			}
		}
	})
}
