// Package textstream turns generated token ids into text as they arrive, for a terminal or a
// server-sent event stream: it holds back an incomplete UTF-8 sequence at the end (byte-level
// tokens may split a character) and any tail that could begin a stop sequence, and ends the
// text at the first stop sequence (which is not shown).
package textstream

import (
	"strings"

	"github.com/qkvdev/qkv/tokenizer"
)

// Stream accumulates token ids and hands out the text they add. It is not safe for concurrent
// use.
type Stream struct {
	tok     tokenizer.Tokenizer
	stops   []string
	ids     []int
	shown   int // bytes of the decoded text already handed out
	stopped bool
}

// New returns a stream decoding with tok that stops at the first of stops (none: never).
func New(tok tokenizer.Tokenizer, stops []string) *Stream {
	return &Stream{tok: tok, stops: stops}
}

// Push adds a token and returns the text that can be shown now (possibly empty) and whether a
// stop sequence has ended the text; after that, generation should stop and the stream hands
// out nothing more.
func (s *Stream) Push(id int) (delta string, stopped bool, err error) {
	if s.stopped {
		return "", true, nil
	}
	s.ids = append(s.ids, id)
	text, err := s.tok.Decode(s.ids)
	if err != nil {
		return "", false, err
	}
	if i, ok := FirstStop(text, s.stops); ok {
		s.stopped = true
		return s.take(text[:i]), true, nil
	}
	safe := len(text)
	for _, st := range s.stops { // keep back a possible start of a stop sequence
		for k := min(len(st)-1, len(text)); k > 0; k-- {
			if strings.HasSuffix(text, st[:k]) {
				safe = min(safe, len(text)-k)
				break
			}
		}
	}
	return s.take(text[:CompleteUTF8(text[:safe])]), false, nil
}

// Flush returns whatever was held back, once generation has ended without a stop sequence.
func (s *Stream) Flush() (string, error) {
	if s.stopped {
		return "", nil
	}
	text, err := s.tok.Decode(s.ids)
	if err != nil {
		return "", err
	}
	return s.take(text), nil
}

// Stopped reports whether a stop sequence ended the text.
func (s *Stream) Stopped() bool { return s.stopped }

// IDs returns the tokens pushed so far.
func (s *Stream) IDs() []int { return s.ids }

// take returns what text has beyond what was already handed out.
func (s *Stream) take(text string) string {
	if len(text) <= s.shown {
		return ""
	}
	d := text[s.shown:]
	s.shown = len(text)
	return d
}

// FirstStop returns the index of the earliest occurrence in text of any of stops.
func FirstStop(text string, stops []string) (int, bool) {
	best, found := len(text), false
	for _, st := range stops {
		if i := strings.Index(text, st); i >= 0 && i < best {
			best, found = i, true
		}
	}
	return best, found
}

// CompleteUTF8 returns the length of the longest prefix of s that does not end inside a UTF-8
// sequence that more bytes could complete.
func CompleteUTF8(s string) int {
	for back := 1; back <= 3 && back <= len(s); back++ {
		c := s[len(s)-back]
		if c < 0x80 {
			return len(s)
		}
		if c >= 0xC0 { // a lead byte: is its sequence complete?
			if need := seqLen(c); need > back {
				return len(s) - back
			}
			return len(s)
		}
	}
	return len(s)
}

func seqLen(lead byte) int {
	switch {
	case lead >= 0xF0:
		return 4
	case lead >= 0xE0:
		return 3
	}
	return 2
}
