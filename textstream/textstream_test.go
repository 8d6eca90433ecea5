package textstream

import (
	"testing"

	"github.com/qkvdev/qkv/tokenizer"
)

// Deltas never split a UTF-8 character or show the start of a stop sequence, and the text ends
// before a stop sequence split across tokens.
func TestStream(t *testing.T) {
	tok := tokenizer.Byte{}
	cases := []struct {
		name    string
		text    string
		stops   []string
		want    string
		stopped bool
		deltas  []string
	}{
		{"utf-8 split over tokens", "aé", nil, "aé", false, []string{"a", "", "é"}},
		{"stop across tokens", "ab<END>cd", []string{"<END>"}, "ab", true, []string{"a", "b", "", "", "", "", ""}},
		{"partial stop that is not one", "x<Ey", []string{"<END>"}, "x<Ey", false, []string{"x", "", "", "<Ey"}},
		{"earliest of two stops", "hello world", []string{"world", "lo"}, "hel", true, nil},
		{"4-byte character", "😀", nil, "😀", false, []string{"", "", "", "😀"}},
	}
	for _, c := range cases {
		s := New(tok, c.stops)
		got := ""
		for i, id := range tok.Encode(c.text) {
			d, stopped, err := s.Push(id)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if c.deltas != nil && d != c.deltas[i] {
				t.Errorf("%s: token %d gave %q, want %q", c.name, i, d, c.deltas[i])
			}
			got += d
			if stopped {
				break
			}
		}
		rest, err := s.Flush()
		if err != nil {
			t.Fatal(err)
		}
		got += rest
		if got != c.want || s.Stopped() != c.stopped {
			t.Errorf("%s: text %q stopped %v, want %q %v", c.name, got, s.Stopped(), c.want, c.stopped)
		}
	}
}

func TestCompleteUTF8(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{{"", 0}, {"abc", 3}, {"a\xc3", 1}, {"a\xc3\xa9", 3}, {"\xe2\x82", 0}, {"\xf0\x9f\x98", 0}, {"\x80\x80\x80\x80", 4}} {
		if got := CompleteUTF8(c.s); got != c.want {
			t.Errorf("CompleteUTF8(%q) = %d, want %d", c.s, got, c.want)
		}
	}
}
