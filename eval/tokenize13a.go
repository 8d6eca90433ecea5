package eval

import "strings"

// Tokenize13a splits a segment into tokens the way mteval-v13a.pl does, which is sacreBLEU's
// default BLEU tokenizer ("13a"):
//
//  1. drop "<skipped>", join lines broken at "-\n", turn other newlines into spaces, and
//     unescape &quot; &amp; &lt; &gt; (in that order, once each);
//  2. put spaces around every ASCII symbol and punctuation mark except the period, the comma
//     and the hyphen-minus: the regex ([\{-\~\[-\` -\&\(-\+\:-\@\/]) → " \1 ";
//  3. split a period or comma from a preceding non-digit: ([^0-9])([\.,]) → "\1 \2 ";
//  4. split a period or comma from a following non-digit: ([\.,])([^0-9]) → " \1 \2";
//  5. split a hyphen from a preceding digit: ([0-9])(-) → "\1 \2 ";
//  6. split on whitespace.
//
// So "3.14" and "1,000" stay whole, "end." becomes "end ." and "1990-2000" becomes
// "1990 - 2000". Letters of any script are never split: a CJK sentence without spaces is one
// token.
func Tokenize13a(line string) []string {
	line = strings.ReplaceAll(line, "<skipped>", "")
	line = strings.ReplaceAll(line, "-\n", "")
	line = strings.ReplaceAll(line, "\n", " ")
	line = strings.ReplaceAll(line, "&quot;", `"`)
	line = strings.ReplaceAll(line, "&amp;", "&")
	line = strings.ReplaceAll(line, "&lt;", "<")
	line = strings.ReplaceAll(line, "&gt;", ">")
	rs := []rune(" " + line + " ")

	// Step 2: one character at a time.
	out := make([]rune, 0, 2*len(rs))
	for _, r := range rs {
		if isSymbol13a(r) {
			out = append(out, ' ', r, ' ')
		} else {
			out = append(out, r)
		}
	}
	rs = out
	// Steps 3-5: each pattern is two characters long, so a left-to-right scan that skips past
	// a match finds exactly the non-overlapping matches re.sub replaces.
	rs = replacePairs(rs, notDigit, isPeriodComma, spaceAfterEach)  // "\1 \2 "
	rs = replacePairs(rs, isPeriodComma, notDigit, spaceBeforeEach) // " \1 \2"
	rs = replacePairs(rs, isDigit, isHyphen, spaceAfterEach)        // "\1 \2 "
	return pyFields(string(rs))
}

// isSymbol13a is the character class [\{-\~\[-\` -\&\(-\+\:-\@\/]: the ranges {..~, [..`,
// space..&, (..+, :..@ and the slash.
func isSymbol13a(r rune) bool {
	return (r >= '{' && r <= '~') || (r >= '[' && r <= '`') || (r >= ' ' && r <= '&') ||
		(r >= '(' && r <= '+') || (r >= ':' && r <= '@') || r == '/'
}

func isDigit(r rune) bool       { return r >= '0' && r <= '9' }
func notDigit(r rune) bool      { return !isDigit(r) }
func isPeriodComma(r rune) bool { return r == '.' || r == ',' }
func isHyphen(r rune) bool      { return r == '-' }

func spaceAfterEach(out []rune, a, b rune) []rune  { return append(out, a, ' ', b, ' ') }
func spaceBeforeEach(out []rune, a, b rune) []rune { return append(out, ' ', a, ' ', b) }

// replacePairs replaces every non-overlapping pair (a, b) with first(a) and second(b), scanning
// left to right, by what emit appends for it.
func replacePairs(rs []rune, first, second func(rune) bool, emit func(out []rune, a, b rune) []rune) []rune {
	out := make([]rune, 0, len(rs)+len(rs)/2)
	for i := 0; i < len(rs); i++ {
		if i+1 < len(rs) && first(rs[i]) && second(rs[i+1]) {
			out = emit(out, rs[i], rs[i+1])
			i++
			continue
		}
		out = append(out, rs[i])
	}
	return out
}
