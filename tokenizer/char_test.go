package tokenizer

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

var (
	_ Tokenizer = (*Char)(nil)
	_ Tokenizer = Byte{}
)

// newTestChar builds a Char from corpus or fails the test.
func newTestChar(t testing.TB, corpus string) *Char {
	t.Helper()
	c, err := NewChar(corpus)
	if err != nil {
		t.Fatalf("NewChar(%q): %v", corpus, err)
	}
	return c
}

// writeQKVTokenizer writes data as the qkv_tokenizer.json of a new temporary folder and returns
// the folder.
func writeQKVTokenizer(t testing.TB, data []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, qkvTokenizerFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// seqIDs returns 0, 1, ..., n-1.
func seqIDs(n int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i
	}
	return ids
}

// wantOutOfRange checks that err is Decode's complaint about id at position pos of a vocabulary
// of n ids.
func wantOutOfRange(t *testing.T, what string, err error, id, pos, n int) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	want := fmt.Sprintf("id %d at position %d is out of range [0, %d)", id, pos, n)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%s: error %q, want it to say %q", what, err, want)
	}
}

func TestChar(t *testing.T) {
	for _, c := range []struct {
		name, corpus string
		vocab        string // the vocabulary's characters in id order
		text         string // inside the vocabulary
		ids          []int  // Encode(text)
	}{
		{"ascii and ö", "hello, wörld\n", "\n ,dehlorwö", "hello, wörld\n", []int{5, 4, 6, 6, 7, 2, 1, 9, 10, 8, 6, 3, 0}},
		{"repeats collapse", "aaaa", "a", "aa", []int{0, 0}},
		{"one character", "x", "x", "", []int{}},
		{"sorted by code point", "é€a🤗Z", "Zaé€🤗", "🤗€éaZ", []int{4, 3, 2, 1, 0}},
		{"CJK and emoji", "日本語 🤗!", " !日本語🤗", "語日🤗 本!", []int{4, 2, 5, 0, 3, 1}},
		{"controls and JSON specials", "\x00\"\\\t\u2028", "\x00\t\"\\\u2028", "\\\"\x00\u2028\t", []int{3, 2, 0, 4, 1}},
		{"replacement character", "a\uFFFDb", "ab\uFFFD", "\uFFFDab", []int{2, 0, 1}},
		// A character-level vocabulary reads text as runes: each invalid byte is U+FFFD.
		{"invalid UTF-8 reads as U+FFFD", "a\xffb\xfe", "ab\uFFFD", "ba\uFFFD", []int{1, 0, 2}},
	} {
		ch := newTestChar(t, c.corpus)
		if got := string(ch.chars); got != c.vocab {
			t.Errorf("%s: vocabulary %q, want %q", c.name, got, c.vocab)
		}
		if n := utf8.RuneCountInString(c.vocab); ch.VocabSize() != n {
			t.Errorf("%s: VocabSize %d, want %d", c.name, ch.VocabSize(), n)
		}
		if ch.Kind() != "char" {
			t.Errorf("%s: Kind %q", c.name, ch.Kind())
		}
		// Each character of the vocabulary is its own id.
		for id, r := range []rune(c.vocab) {
			if got := ch.Encode(string(r)); !slices.Equal(got, []int{id}) {
				t.Errorf("%s: Encode(%q) = %v, want [%d]", c.name, r, got, id)
			}
		}
		got := ch.Encode(c.text)
		if !slices.Equal(got, c.ids) {
			t.Errorf("%s: Encode(%q) = %v, want %v", c.name, c.text, got, c.ids)
		}
		if back, err := ch.Decode(got); err != nil || back != c.text {
			t.Errorf("%s: Decode(%v) = %q, %v, want %q", c.name, got, back, err, c.text)
		}
		if r, ok := ch.Covers(c.text); !ok || r != 0 {
			t.Errorf("%s: Covers(%q) = %q, %v, want covered", c.name, c.text, r, ok)
		}
		// The whole vocabulary, in id order, decodes to itself.
		if back, err := ch.Decode(seqIDs(ch.VocabSize())); err != nil || back != c.vocab {
			t.Errorf("%s: Decode(all ids) = %q, %v", c.name, back, err)
		}
		if utf8.ValidString(c.corpus) {
			if back, err := ch.Decode(ch.Encode(c.corpus)); err != nil || back != c.corpus {
				t.Errorf("%s: corpus round trip: %q, %v", c.name, back, err)
			}
		}
	}
}

func TestCharOutsideVocabulary(t *testing.T) {
	ch := newTestChar(t, "hello, wörld\n")
	for _, c := range []struct {
		text    string
		ids     []int
		first   rune // the first character outside the vocabulary; 0 when covered
		covered bool
	}{
		{"", []int{}, 0, true},
		{"hello", []int{5, 4, 6, 6, 7}, 0, true},
		{"Hello", []int{4, 6, 6, 7}, 'H', false},
		{"hello xyz", []int{5, 4, 6, 6, 7, 1}, 'x', false},
		{"wörld!?", []int{9, 10, 8, 6, 3}, '!', false},
		{"world", []int{9, 7, 8, 6, 3}, 0, true},
		{"wörld 🤗 日本", []int{9, 10, 8, 6, 3, 1, 1}, '🤗', false},
		{"d\xffe", []int{3, 4}, utf8.RuneError, false},
		{"é", []int{}, 'é', false},
		{"o\u0308", []int{7}, '\u0308', false}, // decomposed ö: only the o is known
		{"\r\n", []int{0}, '\r', false},
	} {
		if got := ch.Encode(c.text); !slices.Equal(got, c.ids) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.ids)
		}
		if r, ok := ch.Covers(c.text); r != c.first || ok != c.covered {
			t.Errorf("Covers(%q) = %q, %v, want %q, %v", c.text, r, ok, c.first, c.covered)
		}
	}
}

func TestCharErrors(t *testing.T) {
	if ch, err := NewChar(""); err == nil || ch != nil || !strings.Contains(err.Error(), "empty corpus") {
		t.Errorf("NewChar(\"\") = %v, %v, want an empty-corpus error", ch, err)
	}
	if ch, err := newChar([]rune("aba")); err == nil || ch != nil || !strings.Contains(err.Error(), "'a' appears twice") {
		t.Errorf("newChar(aba) = %v, %v, want a duplicate error", ch, err)
	}
	ch := newTestChar(t, "hello, wörld\n") // 11 characters
	n := ch.VocabSize()
	if n != 11 {
		t.Fatalf("VocabSize %d, want 11", n)
	}
	for _, c := range []struct {
		ids     []int
		id, pos int // the first bad id and where it is
	}{
		{[]int{-1}, -1, 0},
		{[]int{n}, n, 0},
		{[]int{0, 1, n + 1}, n + 1, 2},
		{[]int{3, -7, n}, -7, 1},
		{[]int{1 << 40}, 1 << 40, 0},
	} {
		back, err := ch.Decode(c.ids)
		wantOutOfRange(t, fmt.Sprintf("Char.Decode(%v)", c.ids), err, c.id, c.pos, n)
		if back != "" {
			t.Errorf("Char.Decode(%v) returned %q with its error", c.ids, back)
		}
	}
	if back, err := ch.Decode(nil); err != nil || back != "" {
		t.Errorf("Decode(nil) = %q, %v", back, err)
	}
	if back, err := ch.Decode([]int{n - 1, 0}); err != nil || back != "ö\n" {
		t.Errorf("Decode of the last and first ids = %q, %v", back, err)
	}
}

func TestByte(t *testing.T) {
	var b Byte
	if b.VocabSize() != 256 || b.Kind() != "byte" {
		t.Errorf("VocabSize %d, Kind %q", b.VocabSize(), b.Kind())
	}
	// Every byte alone, and all of them in one string.
	all := make([]byte, 256)
	for i := range 256 {
		all[i] = byte(i)
		s := string([]byte{byte(i)})
		ids := b.Encode(s)
		if !slices.Equal(ids, []int{i}) {
			t.Errorf("Encode(%q) = %v, want [%d]", s, ids, i)
		}
		if back, err := b.Decode(ids); err != nil || back != s {
			t.Errorf("Decode([%d]) = %q, %v", i, back, err)
		}
	}
	if ids := b.Encode(string(all)); !slices.Equal(ids, seqIDs(256)) {
		t.Errorf("Encode(all bytes) = %v", ids)
	}
	if back, err := b.Decode(seqIDs(256)); err != nil || back != string(all) {
		t.Errorf("Decode(0..255) = %q, %v", back, err)
	}
	for _, c := range []struct {
		text string
		ids  []int
	}{
		{"", []int{}},
		{"hi\n", []int{'h', 'i', '\n'}},
		{"ö", []int{0xc3, 0xb6}},
		{"🤗", []int{0xf0, 0x9f, 0xa4, 0x97}},
		{"\xff\xfe", []int{0xff, 0xfe}},           // not UTF-8
		{"\xe2\x80", []int{0xe2, 0x80}},           // truncated rune
		{"\xed\xa0\x80", []int{0xed, 0xa0, 0x80}}, // surrogate
		{"\x00a\x00", []int{0, 'a', 0}},
	} {
		ids := b.Encode(c.text)
		if !slices.Equal(ids, c.ids) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, ids, c.ids)
		}
		if back, err := b.Decode(ids); err != nil || back != c.text {
			t.Errorf("Decode(%v) = %q, %v, want %q", ids, back, err, c.text)
		}
	}
	for _, c := range []struct {
		ids     []int
		id, pos int
	}{
		{[]int{256}, 256, 0},
		{[]int{-1}, -1, 0},
		{[]int{'a', 'b', 256}, 256, 2},
		{[]int{255, -1, 0}, -1, 1},
		{[]int{1 << 40}, 1 << 40, 0},
	} {
		back, err := b.Decode(c.ids)
		wantOutOfRange(t, fmt.Sprintf("Byte.Decode(%v)", c.ids), err, c.id, c.pos, 256)
		if back != "" {
			t.Errorf("Byte.Decode(%v) returned %q with its error", c.ids, back)
		}
	}
}

func TestQKVTokenizerSaveLoad(t *testing.T) {
	sample := "hello, wörld\n\"quoted\" \\ 日本語🤗 \x00\t\u2028 \xff"
	for _, c := range []struct {
		name string
		tok  Tokenizer
	}{
		{"char", newTestChar(t, "hello, wörld\n")},
		{"char of the sample", newTestChar(t, sample)},
		{"char in JSON's escapes", newTestChar(t, "\x00\x01\x1f\"\\/<>&\u2028\u2029\u007f")},
		{"byte", Byte{}},
	} {
		dir := t.TempDir()
		if err := c.tok.Save(dir); err != nil {
			t.Fatalf("%s: Save: %v", c.name, err)
		}
		if !exists(filepath.Join(dir, qkvTokenizerFile)) {
			t.Fatalf("%s: Save wrote no %s", c.name, qkvTokenizerFile)
		}
		got, err := Load(dir)
		if err != nil {
			t.Fatalf("%s: Load: %v", c.name, err)
		}
		if got.Kind() != c.tok.Kind() || got.VocabSize() != c.tok.VocabSize() {
			t.Errorf("%s: loaded %s with %d ids, want %s with %d", c.name, got.Kind(), got.VocabSize(), c.tok.Kind(), c.tok.VocabSize())
		}
		if a, b := got.Encode(sample), c.tok.Encode(sample); !slices.Equal(a, b) {
			t.Errorf("%s: loaded Encode = %v, want %v", c.name, a, b)
		}
		all := seqIDs(c.tok.VocabSize())
		a, errA := got.Decode(all)
		b, errB := c.tok.Decode(all)
		if errA != nil || errB != nil || a != b {
			t.Errorf("%s: Decode(all ids): loaded %q, %v; saved %q, %v", c.name, a, errA, b, errB)
		}
		switch want := c.tok.(type) {
		case *Char:
			if g, ok := got.(*Char); !ok || !slices.Equal(g.chars, want.chars) {
				t.Errorf("%s: loaded %#v, want the characters %q", c.name, got, string(want.chars))
			}
		case Byte:
			if _, ok := got.(Byte); !ok {
				t.Errorf("%s: loaded %T, want Byte", c.name, got)
			}
		}
		// Saving again over the same folder gives the same file.
		first, err := os.ReadFile(filepath.Join(dir, qkvTokenizerFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := got.Save(dir); err != nil {
			t.Fatalf("%s: second Save: %v", c.name, err)
		}
		if second, err := os.ReadFile(filepath.Join(dir, qkvTokenizerFile)); err != nil || string(second) != string(first) {
			t.Errorf("%s: Save of the loaded tokenizer wrote\n%s\nwant\n%s", c.name, second, first)
		}
	}
}

// TestQKVTokenizerFileErrors feeds corrupt qkv_tokenizer.json files to Load: each must fail,
// without panicking, with an error that names the file and the problem.
func TestQKVTokenizerFileErrors(t *testing.T) {
	for _, c := range []struct {
		name, data, want string
	}{
		{"empty file", "", "not valid JSON"},
		{"not JSON", "type: char", "not valid JSON"},
		{"truncated", `{"type": "char", "chars": ["a"`, "not valid JSON"},
		{"trailing data", `{"type": "byte"} x`, "not valid JSON"},
		{"array", `["char"]`, "not valid JSON"},
		{"string", `"char"`, "not valid JSON"},
		{"type is a number", `{"type": 1}`, "not valid JSON"},
		{"chars is a string", `{"type": "char", "chars": "abc"}`, "not valid JSON"},
		{"chars holds a number", `{"type": "char", "chars": ["a", 1]}`, "not valid JSON"},
		{"null", `null`, `unknown type ""`},
		{"no type", `{"chars": ["a"]}`, `unknown type ""`},
		{"unknown type", `{"type": "bpe"}`, `unknown type "bpe" (want "char" or "byte")`},
		{"type in capitals", `{"type": "Char", "chars": ["a"]}`, `unknown type "Char"`},
		{"char without chars", `{"type": "char"}`, "empty character vocabulary"},
		{"char with null chars", `{"type": "char", "chars": null}`, "empty character vocabulary"},
		{"char with empty chars", `{"type": "char", "chars": []}`, "empty character vocabulary"},
		{"empty entry", `{"type": "char", "chars": ["a", ""]}`, `vocabulary entry 1 ("") is not a single character`},
		{"null entry", `{"type": "char", "chars": [null]}`, `vocabulary entry 0 ("") is not a single character`},
		{"two characters", `{"type": "char", "chars": ["ab"]}`, `vocabulary entry 0 ("ab") is not a single character`},
		{"two multi-byte characters", `{"type": "char", "chars": ["a", "b", "日本"]}`, `vocabulary entry 2 ("日本") is not a single character`},
		{"combining sequence", `{"type": "char", "chars": ["e\u0301"]}`, "vocabulary entry 0 (\"e\u0301\") is not a single character"},
		{"surrogate pair and more", `{"type": "char", "chars": ["\ud83e\udd17x"]}`, "vocabulary entry 0 (\"🤗x\") is not a single character"},
		{"duplicate", `{"type": "char", "chars": ["a", "b", "a"]}`, "'a' appears twice in the vocabulary"},
		{"duplicate multi-byte", `{"type": "char", "chars": ["ö", "\u00f6"]}`, "'ö' appears twice in the vocabulary"},
		{"invalid UTF-8", "{\"type\": \"char\", \"chars\": [\"\xff\"]}", "not valid UTF-8"},
		{"byte with a character list", `{"type": "byte", "chars": ["a", "b"]}`, "a byte tokenizer has no character list"},
		// encoding/json reads each lone surrogate as U+FFFD, so these two are the same character.
		{"two lone surrogates", `{"type": "char", "chars": ["\ud800", "\udc00"]}`, "'\uFFFD' appears twice in the vocabulary"},
	} {
		dir := writeQKVTokenizer(t, []byte(c.data))
		path := filepath.Join(dir, qkvTokenizerFile)
		tok, err := Load(dir)
		if err == nil {
			t.Errorf("%s: Load accepted %q as %s with %d ids", c.name, c.data, tok.Kind(), tok.VocabSize())
			continue
		}
		if tok != nil {
			t.Errorf("%s: Load returned %v with its error", c.name, tok)
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q should name %s and say %q", c.name, err, path, c.want)
		}
	}

	// A qkv_tokenizer.json that cannot be read.
	dir := t.TempDir()
	path := filepath.Join(dir, qkvTokenizerFile)
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("qkv_tokenizer.json is a folder: err = %v, want one naming %s", err, path)
	}
}

func FuzzCharRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a", "hello, wörld\n", "aaaa", "日本語 🤗!", "\x00\"\\\t\u2028", "a\uFFFDb", "\xff\xfe", "\xe2\x80", "\xed\xa0\x80", "e\u0301", strings.Repeat("ab", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b Byte
		ids := b.Encode(s)
		if len(ids) != len(s) {
			t.Fatalf("Byte.Encode(%q) gave %d ids for %d bytes", s, len(ids), len(s))
		}
		if back, err := b.Decode(ids); err != nil || back != s {
			t.Fatalf("Byte: Decode(Encode(%q)) = %q, %v", s, back, err)
		}

		ch, err := NewChar(s)
		if s == "" {
			if err == nil || ch != nil {
				t.Fatalf("NewChar(\"\") = %v, %v", ch, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("NewChar(%q): %v", s, err)
		}
		// The vocabulary is the sorted distinct runes of s.
		runes := []rune(s)
		want := slices.Clone(runes)
		slices.Sort(want)
		want = slices.Compact(want)
		if !slices.Equal(ch.chars, want) {
			t.Fatalf("NewChar(%q): vocabulary %q, want %q", s, string(ch.chars), string(want))
		}
		if r, ok := ch.Covers(s); !ok {
			t.Fatalf("Covers(%q) = %q, false for its own corpus", s, r)
		}
		ids = ch.Encode(s)
		if len(ids) != len(runes) {
			t.Fatalf("Char.Encode(%q) gave %d ids for %d runes", s, len(ids), len(runes))
		}
		back, err := ch.Decode(ids)
		if err != nil {
			t.Fatalf("Char.Decode(%v): %v", ids, err)
		}
		// Text is read as runes, so invalid UTF-8 comes back as U+FFFD; valid text comes back
		// unchanged.
		if back != string(runes) || utf8.ValidString(s) && back != s {
			t.Fatalf("Char: Decode(Encode(%q)) = %q", s, back)
		}
		if _, err := ch.Decode([]int{ch.VocabSize()}); err == nil {
			t.Fatal("Char.Decode accepted an id out of range")
		}
	})
}

func FuzzLoadQKVTokenizer(f *testing.F) {
	for _, tok := range []Tokenizer{newTestChar(f, "hello, wörld\n"), newTestChar(f, "日本語 🤗\x00\"\\"), Byte{}} {
		dir := f.TempDir()
		if err := tok.Save(dir); err != nil {
			f.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, qkvTokenizerFile))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `{"type": "byte"}`, `{"type": "char", "chars": []}`,
		`{"type": "char", "chars": ["b", "a"]}`, `{"type": "char", "chars": ["a", "a"]}`,
		`{"type": "char", "chars": ["", "ab"]}`, `{"type": "char", "chars": ["\ud800", "\ufffd"]}`,
		"{\"type\": \"char\", \"chars\": [\"\xff\"]}", `{"type": "char", "chars": [null, 1]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := writeQKVTokenizer(t, data)
		tok, err := Load(dir)
		if err != nil {
			if path := filepath.Join(dir, qkvTokenizerFile); !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name %s", err, path)
			}
			return
		}
		n := tok.VocabSize()
		switch tok.(type) {
		case *Char:
			if tok.Kind() != "char" || n < 1 {
				t.Fatalf("loaded a Char of kind %q with %d ids", tok.Kind(), n)
			}
		case Byte:
			if tok.Kind() != "byte" || n != 256 {
				t.Fatalf("loaded a Byte of kind %q with %d ids", tok.Kind(), n)
			}
		default:
			t.Fatalf("loaded %T from %s", tok, qkvTokenizerFile)
		}
		// Every id decodes, and the text of all of them encodes back to the same ids.
		all := seqIDs(n)
		text, err := tok.Decode(all)
		if err != nil {
			t.Fatalf("Decode(0..%d): %v", n-1, err)
		}
		if ids := tok.Encode(text); !slices.Equal(ids, all) {
			t.Fatalf("Encode(Decode(0..%d)) = %v", n-1, ids)
		}
		if _, err := tok.Decode([]int{n}); err == nil {
			t.Fatal("Decode accepted an id out of range")
		}
		if _, err := tok.Decode([]int{-1}); err == nil {
			t.Fatal("Decode accepted a negative id")
		}
		// What loads saves and loads again as the same tokenizer.
		dir2 := t.TempDir()
		if err := tok.Save(dir2); err != nil {
			t.Fatal(err)
		}
		tok2, err := Load(dir2)
		if err != nil {
			t.Fatalf("reloading a saved tokenizer: %v", err)
		}
		if tok2.Kind() != tok.Kind() || tok2.VocabSize() != n {
			t.Fatalf("reloaded %s with %d ids, want %s with %d", tok2.Kind(), tok2.VocabSize(), tok.Kind(), n)
		}
		if text2, err := tok2.Decode(all); err != nil || text2 != text {
			t.Fatalf("reloaded Decode(all) = %q, %v, want %q", text2, err, text)
		}
	})
}
