package eval

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// sacreBLEU is Python: it splits on str.isspace, strips with str.rstrip and lowercases with
// str.lower. These are their Go twins, so that scores agree byte for byte.

// pyIsSpace reports whether Python's str.isspace holds for r: Go's unicode.IsSpace plus the
// four information separators U+001C..U+001F, which Python counts as whitespace.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyFields splits s around runs of Python whitespace, as s.split() does.
func pyFields(s string) []string { return strings.FieldsFunc(s, pyIsSpace) }

// pyRstrip removes trailing Python whitespace, as s.rstrip() does.
func pyRstrip(s string) string { return strings.TrimRightFunc(s, pyIsSpace) }

// pyLower lowercases s as Python's str.lower does: the simple lowercase mapping of each
// character, except that U+0130 (İ) becomes "i̇" (two code points, its full mapping in
// SpecialCasing.txt) and a capital sigma at the end of a word becomes final sigma ς (the
// Final_Sigma context). Go's strings.ToLower does neither.
func pyLower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range rs {
		switch r {
		case 0x130:
			b.WriteString("i\u0307")
		case 0x3a3:
			if finalSigma(rs, i) {
				b.WriteRune(0x3c2)
			} else {
				b.WriteRune(0x3c3)
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma reports whether the capital sigma at rs[i] is in the Final_Sigma context of the
// Unicode standard (§3.13): a cased letter before it and none after it, skipping
// case-ignorable characters on both sides.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && caseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !cased(rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && caseIgnorable(rs[j]) {
		j++
	}
	return j == len(rs) || !cased(rs[j])
}

// cased is the Unicode Cased property: Lu, Ll, Lt, Other_Lowercase, Other_Uppercase.
func cased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// caseIgnorable is the Unicode Case_Ignorable property: Mn, Me, Cf, Lm, Sk, and the
// characters whose Word_Break is MidLetter, MidNumLet or Single_Quote.
func caseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
