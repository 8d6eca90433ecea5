package tokenizer

import (
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Accent stripping, as BERT's uncased tokenizer does it: put text in Unicode canonical
// decomposition (NFD) and drop the nonspacing marks (category Mn). The decompositions come from
// nfd_table.go (all canonical decompositions of the Unicode Character Database, see nfd_gen.go)
// plus the arithmetic decomposition of Hangul syllables. The table holds Unicode 14.0.0's
// decompositions while the nonspacing-mark test uses Go's unicode tables (15.0.0): a character
// added after 14.0 is not decomposed. Canonical reordering across a character's neighbours is
// not done: it only moves combining marks, and the marks that matter here are dropped.

var (
	nfdOnce sync.Once
	nfdMap  map[rune][]rune
)

func loadNFD() {
	m := make(map[rune][]rune, 2100)
	for _, e := range strings.Split(strings.TrimSuffix(nfdData, ","), ",") {
		k, v, _ := strings.Cut(e, ":")
		key, _ := strconv.ParseUint(k, 16, 32)
		var d []rune
		for _, h := range strings.Fields(v) {
			x, _ := strconv.ParseUint(h, 16, 32)
			d = append(d, rune(x))
		}
		m[rune(key)] = d
	}
	nfdMap = m
}

// Hangul syllable decomposition constants (Unicode §3.12).
const (
	hangulSBase  = 0xAC00
	hangulLBase  = 0x1100
	hangulVBase  = 0x1161
	hangulTBase  = 0x11A7
	hangulTCount = 28
	hangulNCount = 21 * hangulTCount
	hangulSCount = 19 * hangulNCount
)

// appendNFD appends the canonical decomposition of r to dst.
func appendNFD(dst []rune, r rune) []rune {
	if r < 0xC0 {
		return append(dst, r)
	}
	if s := r - hangulSBase; s >= 0 && s < hangulSCount {
		dst = append(dst, hangulLBase+s/hangulNCount, hangulVBase+(s%hangulNCount)/hangulTCount)
		if t := s % hangulTCount; t != 0 {
			dst = append(dst, hangulTBase+t)
		}
		return dst
	}
	nfdOnce.Do(loadNFD)
	if d, ok := nfdMap[r]; ok {
		return append(dst, d...)
	}
	return append(dst, r)
}

// appendStripped appends r without its accents: its decomposition less the nonspacing marks.
func appendStripped(dst []rune, r rune) []rune {
	if r < 0xC0 {
		return append(dst, r)
	}
	n := len(dst)
	dst = appendNFD(dst, r)
	out := dst[:n]
	for _, x := range dst[n:] {
		if !unicode.Is(unicode.Mn, x) {
			out = append(out, x)
		}
	}
	return out
}

// StripAccents returns s in canonical decomposition without nonspacing marks ("Café" ->
// "Cafe"), as BERT's uncased tokenizer does.
func StripAccents(s string) string {
	var buf []rune
	for _, r := range s {
		buf = appendStripped(buf, r)
	}
	return string(buf)
}
