package main

import (
	"bytes"
	"testing"

	"github.com/qkvdev/qkv/tokenizer"
)

// The streamer never prints half a UTF-8 character or the start of a stop sequence, and stops
// before a stop sequence split across tokens.
func TestStreamer(t *testing.T) {
	tok := tokenizer.Byte{}
	cases := []struct {
		name  string
		text  string
		stops []string
		want  string
		steps []string // what is visible after each token
	}{
		{"utf-8 split over tokens", "aé", nil, "aé", []string{"a", "a", "aé"}},
		{"stop across tokens", "ab<END>cd", []string{"<END>"}, "ab", []string{"a", "ab", "ab", "ab", "ab", "ab", "ab"}},
		{"partial stop that is not one", "x<Ey", []string{"<END>"}, "x<Ey", []string{"x", "x", "x", "x<Ey"}},
	}
	for _, c := range cases {
		var out bytes.Buffer
		s := newStreamer(&out, tok, c.stops)
		ids := tok.Encode(c.text)
		for i, id := range ids {
			more := s.emit(id)
			if i < len(c.steps) && out.String() != c.steps[i] {
				t.Errorf("%s: after token %d printed %q, want %q", c.name, i, out.String(), c.steps[i])
			}
			if !more {
				break
			}
		}
		s.flush()
		if out.String() != c.want {
			t.Errorf("%s: printed %q, want %q", c.name, out.String(), c.want)
		}
	}
}
