package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// GPT2Pattern is the pre-tokenizer regular expression of GPT-2 (and of tiktoken's gpt2 and
// r50k_base encodings). Go's regexp package has no lookahead, so nextPiece implements it by hand.
const GPT2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// Character classes of the pattern: \p{L}, \p{N}, \s and everything else.
const (
	clsOther uint8 = iota
	clsLetter
	clsNumber
	clsSpace
)

var asciiClass [utf8.RuneSelf]uint8

func init() {
	for c := 0; c < utf8.RuneSelf; c++ {
		asciiClass[c] = runeClass(rune(c))
	}
}

func runeClass(r rune) uint8 {
	switch {
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	case unicode.IsSpace(r): // the Unicode White_Space property, as \s in tiktoken's regex
		return clsSpace
	}
	return clsOther
}

// classAt returns the class and byte length of the character at s[i]. A byte that does not
// start valid UTF-8 counts as one character of class other, as U+FFFD would: so any byte string
// splits into pieces, and the pieces put back together give the input.
func classAt(s string, i int) (uint8, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size <= 1 {
		return clsOther, 1
	}
	return runeClass(r), size
}

// PretokenizeGPT2 splits text into the pieces that GPT-2's pattern (GPT2Pattern) finds. BPE
// never merges across pieces. The pieces cover text exactly, in order, whatever its bytes.
func PretokenizeGPT2(text string) []string {
	var out []string
	for i := 0; i < len(text); {
		j := nextPiece(text, i)
		out = append(out, text[i:j])
		i = j
	}
	return out
}

// nextPiece returns the end of the piece that starts at s[i] (i < len(s)). It follows the
// alternatives of GPT2Pattern in order, as a backtracking regex engine would:
//
//	's|'t|'re|'ve|'m|'ll|'d   a contraction (case-sensitive)
//	 ?\p{L}+                 letters, with at most one leading space
//	 ?\p{N}+                 numbers, likewise
//	 ?[^\s\p{L}\p{N}]+       anything else, likewise
//	\s+(?!\S)                whitespace not followed by a non-space: a run at the end of the
//	                         text, or a run less its last character (which then leads the next
//	                         piece if it is a space)
//	\s+                      a single whitespace character before a non-space
func nextPiece(s string, i int) int {
	c := s[i]
	if c == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	start := i
	cls, size := classAt(s, i)
	if c == ' ' && i+1 < len(s) {
		if next, nsize := classAt(s, i+1); next != clsSpace {
			cls, size = next, nsize
			i++
		}
	}
	if cls != clsSpace {
		j := i + size
		for j < len(s) {
			if b := s[j]; b < utf8.RuneSelf {
				if asciiClass[b] != cls {
					break
				}
				j++
				continue
			}
			k, n := classAt(s, j)
			if k != cls {
				break
			}
			j += n
		}
		return j
	}
	// A whitespace run: last is where its last character starts.
	j, last := i+size, i
	for j < len(s) {
		k, n := classAt(s, j)
		if k != clsSpace {
			break
		}
		last = j
		j += n
	}
	if j == len(s) || last == start {
		return j
	}
	return last
}
