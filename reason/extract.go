package reason

import (
	"math/big"
	"regexp"
	"strings"
)

// Answer extraction and normalisation: the text a model writes is reduced to a canonical
// answer string that votes and exact-match scoring compare. "" means unparseable.

var (
	numberPat = regexp.MustCompile(`-?\$?\d[\d,]*(?:\.\d+)?|-?\$?\.\d+`)
	answerIs  = regexp.MustCompile(`(?i)(?:the answer is|answer:|####)\s*:?\s*(.*)`)
	choicePat = regexp.MustCompile(`(?i)\(?\b([A-E])\b\)?`)
)

// NormalizeNumber canonicalises a number as written: commas, a dollar sign and a trailing
// period go, "-0" becomes "0", trailing fractional zeros are dropped ("3.50" → "3.5",
// "4.0" → "4"). It returns "" when s holds no number.
func NormalizeNumber(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, ".")
	s = strings.ReplaceAll(strings.ReplaceAll(s, ",", ""), "$", "")
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return ""
	}
	if r.IsInt() {
		return r.Num().String()
	}
	// Exact decimals keep their digits; others are written as a/b.
	if d := decimalString(s); d != "" {
		return d
	}
	return r.RatString()
}

func decimalString(s string) string {
	if !strings.Contains(s, ".") || strings.ContainsAny(s, "eE/") {
		return ""
	}
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if strings.HasPrefix(s, "-.") {
		s = "-0" + s[1:]
	} else if strings.HasPrefix(s, ".") {
		s = "0" + s
	}
	return s
}

// ExtractNumber returns the final numeric answer of a completion, normalised: the number
// after the last "The answer is" / "Answer:" / "####" if there is one, else the last number
// in the text (as the self-consistency paper parses free text). "" when there is none.
func ExtractNumber(text string) string {
	if ms := answerIs.FindAllStringSubmatch(text, -1); len(ms) > 0 {
		if n := numberPat.FindString(ms[len(ms)-1][1]); n != "" {
			return NormalizeNumber(n)
		}
	}
	all := numberPat.FindAllString(text, -1)
	if len(all) == 0 {
		return ""
	}
	return NormalizeNumber(all[len(all)-1])
}

// ExtractChoice returns the multiple-choice letter (A–E, upper case) a completion gives:
// the one after "The answer is" if present, else the first standalone letter. "" if none.
func ExtractChoice(text string) string {
	if ms := answerIs.FindAllStringSubmatch(text, -1); len(ms) > 0 {
		if m := choicePat.FindStringSubmatch(ms[len(ms)-1][1]); m != nil {
			return strings.ToUpper(m[1])
		}
	}
	if m := choicePat.FindStringSubmatch(text); m != nil {
		return strings.ToUpper(m[1])
	}
	return ""
}

// ExtractExpression returns an arithmetic expression's value, normalised, from the last line
// of text less "Answer:" and anything after "=" — the expression the model wrote, evaluated
// exactly. "" when it does not parse.
func ExtractExpression(text string, eval func(string) (*big.Rat, error)) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	expr := lines[len(lines)-1]
	if i := strings.Index(strings.ToLower(expr), "answer:"); i >= 0 {
		expr = expr[i+len("answer:"):]
	}
	expr, _, _ = strings.Cut(expr, "=")
	v, err := eval(expr)
	if err != nil {
		return ""
	}
	if v.IsInt() {
		return v.Num().String()
	}
	return v.RatString()
}

// Extractor turns a completion into a normalised answer ("" when there is none).
type Extractor func(text string) string
