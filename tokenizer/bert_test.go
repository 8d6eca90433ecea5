package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

func TestEncodePairBERT(t *testing.T) {
	w := loadTestBERT(t)
	e, err := w.EncodePair("What was the theme of Super Bowl 50?", "Gold.", EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []int{101, 2054, 2001, 1996, 4323, 1997, 3565, 4605, 2753, 1029, 102, 2751, 1012, 102}
	if !slices.Equal(e.IDs, want) {
		t.Errorf("IDs = %v, want %v", e.IDs, want)
	}
	if wantT := []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1}; !slices.Equal(e.TypeIDs, wantT) {
		t.Errorf("TypeIDs = %v, want %v", e.TypeIDs, wantT)
	}
	if e.Tokens[0] != "[CLS]" || e.Tokens[len(e.Tokens)-1] != "[SEP]" || e.Tokens[11] != "gold" {
		t.Errorf("Tokens = %q", e.Tokens)
	}
	s, err := w.EncodeSingle("Gold.", EncodeOptions{MaxLength: 8, Padding: PadToMaxLength})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.IDs, []int{101, 2751, 1012, 102, 0, 0, 0, 0}) || !slices.Equal(s.AttentionMask, []int{1, 1, 1, 1, 0, 0, 0, 0}) || s.Tokens[7] != "[PAD]" {
		t.Errorf("EncodeSingle = %+v", s)
	}
}

func TestTruncation(t *testing.T) {
	w := newMini(t, WordPieceOptions{Lowercase: true})
	six := "the cat sat on the mat" // 6 tokens
	two := "hello world"
	four := "the cat sat on"
	lens := func(e Encoding) (int, int) {
		a, b := 0, 0
		for i, id := range e.IDs {
			if id == w.ClsID() || id == w.SepID() || id == w.PadID() {
				continue
			}
			if e.TypeIDs[i] == 0 {
				a++
			} else {
				b++
			}
		}
		return a, b
	}
	for _, c := range []struct {
		a, b         string
		pair         bool
		opts         EncodeOptions
		wantA, wantB int
		wantErr      string
	}{
		{six, two, true, EncodeOptions{MaxLength: 100, Truncation: LongestFirst}, 6, 2, ""},
		{six, two, true, EncodeOptions{MaxLength: 8, Truncation: LongestFirst}, 3, 2, ""},
		{two, six, true, EncodeOptions{MaxLength: 8, Truncation: LongestFirst}, 2, 3, ""},
		{six, six, true, EncodeOptions{MaxLength: 10, Truncation: LongestFirst}, 3, 4, ""}, // odd room: the second gets it
		{six, four, true, EncodeOptions{MaxLength: 10, Truncation: LongestFirst}, 4, 3, ""},
		{six, four, true, EncodeOptions{MaxLength: 9, Truncation: LongestFirst}, 3, 3, ""},
		{six, two, true, EncodeOptions{MaxLength: 3, Truncation: LongestFirst}, 0, 0, ""},
		{six, two, true, EncodeOptions{MaxLength: 2, Truncation: LongestFirst}, 0, 0, "no room"},
		{six, two, true, EncodeOptions{MaxLength: 8, Truncation: OnlyFirst}, 3, 2, ""},
		{two, six, true, EncodeOptions{MaxLength: 8, Truncation: OnlyFirst}, 0, 0, "only_first"},
		{six, four, true, EncodeOptions{MaxLength: 10, Truncation: OnlySecond}, 6, 1, ""},
		{six, two, true, EncodeOptions{MaxLength: 8, Truncation: OnlySecond}, 0, 0, "only_second"},
		{six, "", false, EncodeOptions{MaxLength: 5, Truncation: LongestFirst}, 3, 0, ""},
		{six, "", false, EncodeOptions{MaxLength: 5, Truncation: OnlyFirst}, 3, 0, ""},
		{six, "", false, EncodeOptions{MaxLength: 5, Truncation: OnlySecond}, 0, 0, "second sequence"},
		{six, "", false, EncodeOptions{MaxLength: 5}, 6, 0, ""}, // no strategy: no truncation
		{six, "", false, EncodeOptions{MaxLength: -1}, 0, 0, "negative"},
		{six, "", false, EncodeOptions{Truncation: "middle_out"}, 0, 0, "unknown truncation"},
		{six, "", false, EncodeOptions{Padding: PadToMaxLength}, 0, 0, "needs MaxLength"},
		{six, "", false, EncodeOptions{Padding: "left"}, 0, 0, "unknown padding"},
	} {
		var e Encoding
		var err error
		if c.pair {
			e, err = w.EncodePair(c.a, c.b, c.opts)
		} else {
			e, err = w.EncodeSingle(c.a, c.opts)
		}
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q/%q %+v: err = %v, want %q", c.a, c.b, c.opts, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q/%q %+v: %v", c.a, c.b, c.opts, err)
			continue
		}
		if a, b := lens(e); a != c.wantA || b != c.wantB {
			t.Errorf("%q/%q %+v: kept %d+%d tokens, want %d+%d", c.a, c.b, c.opts, a, b, c.wantA, c.wantB)
		}
		if c.opts.Truncation != NoTruncation && len(e.IDs) > c.opts.MaxLength {
			t.Errorf("%q/%q %+v: %d ids", c.a, c.b, c.opts, len(e.IDs))
		}
	}
}

func TestPadding(t *testing.T) {
	w := newMini(t, WordPieceOptions{Lowercase: true})
	encs, err := w.EncodeBatch([]string{"the cat", "the cat sat on the mat", "x"}, []string{"hello", "world", "hello world"}, EncodeOptions{Padding: PadToLongest})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range encs {
		if e.Len() != 10 {
			t.Errorf("encoding %d has %d ids, want 10", i, e.Len())
		}
	}
	e := encs[2] // [CLS] x [SEP] hello world [SEP] + 4 padding
	if !slices.Equal(e.AttentionMask, []int{1, 1, 1, 1, 1, 1, 0, 0, 0, 0}) || !slices.Equal(e.TypeIDs, []int{0, 0, 0, 1, 1, 1, 0, 0, 0, 0}) || e.IDs[9] != w.PadID() {
		t.Errorf("padded encoding = %+v", e)
	}
	// Padding to a max_length shorter than the input leaves it longer.
	long, err := w.EncodeSingle("the cat sat on the mat", EncodeOptions{MaxLength: 4, Padding: PadToMaxLength})
	if err != nil || long.Len() != 8 {
		t.Errorf("EncodeSingle = %+v, %v", long, err)
	}
	if _, err := w.EncodeBatch([]string{"a"}, []string{"a", "b"}, EncodeOptions{}); err == nil {
		t.Error("mismatched batch: no error")
	}
	noPad, err := NewWordPiece([]string{"[UNK]", "[CLS]", "[SEP]", "x"}, WordPieceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noPad.EncodeSingle("x", EncodeOptions{MaxLength: 5, Padding: PadToMaxLength}); err == nil || !strings.Contains(err.Error(), "pad token") {
		t.Errorf("padding without [PAD]: err = %v", err)
	}
}
