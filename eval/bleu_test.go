package eval

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/qkvdev/qkv/internal/testenv"
)

// fixtures are the cases scripts/reference/bleu_reference.py wrote: a standard-library Python
// restatement of sacreBLEU's algorithm, whose string handling (str.split, str.lower, re.sub)
// is Python's own.
type fixtures struct {
	Cases      []fixture `json:"cases"`
	SharedData []fixture `json:"shared_data"`
}

type fixture struct {
	Name      string   `json:"name"`
	Hyp       string   `json:"hyp"`  // file content, or for shared data a file name and slice
	Refs      []string `json:"refs"` // likewise
	Lowercase bool     `json:"lowercase"`
	Expected  struct {
		BLEU struct {
			Score      float64    `json:"score"`
			Precisions [4]float64 `json:"precisions"`
			BP         float64    `json:"bp"`
			SysLen     int        `json:"sys_len"`
			RefLen     int        `json:"ref_len"`
			Correct    [4]int     `json:"correct"`
			Total      [4]int     `json:"total"`
			Line       string     `json:"line"`
		} `json:"bleu"`
		CHRF struct {
			Score float64 `json:"score"`
			Stats []int   `json:"stats"`
			Line  string  `json:"line"`
		} `json:"chrf"`
	} `json:"expected"`
}

func loadFixtures(t *testing.T) fixtures {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "bleu_fixtures.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f fixtures
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 20 {
		t.Fatalf("only %d fixture cases", len(f.Cases))
	}
	return f
}

// check compares a score with the reference's: every statistic exactly, the scores to 1e-12
// (Go's and C's exp and log may differ in the last bit), and the printed lines byte for byte.
func (fx fixture) check(t *testing.T, hyps []string, refs [][]string) {
	t.Helper()
	opt := Options{Lowercase: fx.Lowercase}
	b, err := BLEU(hyps, refs, opt)
	if err != nil {
		t.Fatal(err)
	}
	want := fx.Expected.BLEU
	if b.HypLen != want.SysLen || b.RefLen != want.RefLen || b.Correct != want.Correct || b.Total != want.Total {
		t.Errorf("BLEU stats %+v, want c=%d r=%d correct=%v total=%v", b.BLEUStats, want.SysLen, want.RefLen, want.Correct, want.Total)
	}
	if math.Abs(b.Score-want.Score) > 1e-12 || math.Abs(b.BP-want.BP) > 1e-15 {
		t.Errorf("BLEU %.17g BP %.17g, want %.17g BP %.17g", b.Score, b.BP, want.Score, want.BP)
	}
	for n := range MaxOrder {
		if math.Abs(b.Precisions[n]-want.Precisions[n]) > 1e-12 {
			t.Errorf("p_%d = %.17g, want %.17g", n+1, b.Precisions[n], want.Precisions[n])
		}
	}
	if got := b.String(); got != want.Line {
		t.Errorf("BLEU line\n got %s\nwant %s", got, want.Line)
	}
	c, err := CHRF(hyps, refs, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Stats[:], fx.Expected.CHRF.Stats) {
		t.Errorf("chrF stats %v, want %v", c.Stats, fx.Expected.CHRF.Stats)
	}
	if math.Abs(c.Score-fx.Expected.CHRF.Score) > 1e-12 {
		t.Errorf("chrF %.17g, want %.17g", c.Score, fx.Expected.CHRF.Score)
	}
	if got := c.String(); got != fx.Expected.CHRF.Line {
		t.Errorf("chrF line %q, want %q", got, fx.Expected.CHRF.Line)
	}
}

// TestFixtures scores each fixture from files written with its content, through ReadSegments
// as the command line reads them.
func TestFixtures(t *testing.T) {
	for _, fx := range loadFixtures(t).Cases {
		t.Run(fx.Name, func(t *testing.T) {
			dir := t.TempDir()
			read := func(name, content string) []string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				lines, err := ReadSegments(p)
				if err != nil {
					t.Fatal(err)
				}
				return lines
			}
			hyps := read("hyp", fx.Hyp)
			var refs [][]string
			for k, r := range fx.Refs {
				refs = append(refs, read("ref"+strconv.Itoa(k), r))
			}
			fx.check(t, hyps, refs)
		})
	}
}

// TestSharedData scores Multi30k captions against unrelated captions of the same domain:
// thousands of segments of German with umlauts, ß and punctuation.
func TestSharedData(t *testing.T) {
	dir := testenv.RequireDataSubdir(t, "multi30k-en-de")
	slice := regexp.MustCompile(`^(.+)\[:(\d+)\]$`)
	read := func(spec string) []string {
		m := slice.FindStringSubmatch(spec)
		if m == nil {
			t.Fatalf("fixture names %q, want FILE[:N]", spec)
		}
		lines, err := ReadSegments(filepath.Join(dir, m[1]))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(m[2])
		return lines[:n]
	}
	cases := loadFixtures(t).SharedData
	if len(cases) == 0 {
		t.Fatal("the fixtures hold no shared-data case: rerun bleu_reference.py with --data")
	}
	for _, fx := range cases {
		t.Run(fx.Name, func(t *testing.T) {
			var refs [][]string
			for _, r := range fx.Refs {
				refs = append(refs, read(r))
			}
			fx.check(t, read(fx.Hyp), refs)
		})
	}
}

// TestHandWorked checks two scores worked out by hand.
func TestHandWorked(t *testing.T) {
	// hyp "the cat sat on the mat", ref "the cat is on the mat" (6 tokens each, BP = 1):
	//   1-grams: the×2, cat, on, mat match; sat does not          p1 = 5/6 = 83.33%
	//   2-grams: "the cat", "on the", "the mat" of 5               p2 = 3/5 = 60%
	//   3-grams: "on the mat" of 4                                 p3 = 1/4 = 25%
	//   4-grams: none of 3; the first order without a match is smoothed with 1/2:
	//                                                              p4 = 100/(2·3) = 16.67%
	//   BLEU = (83.333 · 60 · 25 · 16.667)^(1/4) = 2083333.3^(1/4) = 37.99
	b, err := BLEU([]string{"the cat sat on the mat"}, [][]string{{"the cat is on the mat"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := math.Pow(100.0*5/6*60*25*100/6, 0.25); math.Abs(b.Score-want) > 1e-9 || b.String() != "BLEU = 37.99 83.3/60.0/25.0/16.7 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)" {
		t.Errorf("got %s (%.6f), want %.6f", b, b.Score, want)
	}

	// Two references of 4 and 6 tokens for a 5-token hypothesis: both are 1 away, so r is the
	// shorter, 4 (c ≥ r: BP = 1, ratio 1.25). Every n-gram of "a b c d e" occurs in the second
	// reference, so every p_n = 100 and BLEU = 100.
	b, err = BLEU([]string{"a b c d e"}, [][]string{{"a b c d"}, {"a b c d e f"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.RefLen != 4 || math.Abs(b.Score-100) > 1e-12 || b.BP != 1 {
		t.Errorf("tie: %s, want ref_len 4 and BLEU 100", b)
	}

	// hyp "a b c", ref "a b c d e": p1..p3 = 100%, but no 4-gram exists (Total_4 = 0), so p4
	// stays 0 and BLEU is 0 however good the rest; BP = exp(1 - 5/3) = 0.513.
	b, err = BLEU([]string{"a b c"}, [][]string{{"a b c d e"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Score != 0 || math.Abs(b.BP-math.Exp(-2.0/3)) > 1e-15 {
		t.Errorf("short: %s, want BLEU 0 and BP %.3f", b, math.Exp(-2.0/3))
	}

	// chrF of "ab" against "abc": 1-grams a, b match (P1 = 2/2, R1 = 2/3), the 2-gram "ab"
	// matches (P2 = 1/1, R2 = 1/2); no hypothesis 3-gram, so two effective orders:
	// P = 1, R = 7/12, chrF = 100 · 5 · P · R / (4P + R) = 100 · (35/12) / (55/12) = 63.64.
	c, err := CHRF([]string{"ab"}, [][]string{{"abc"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := 100 * 35.0 / 55; math.Abs(c.Score-want) > 1e-12 {
		t.Errorf("chrF %v, want %v", c.Score, want)
	}
}

func TestTokenize13a(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Hello, world.", "Hello , world ."},
		{"3.14 and 1,000", "3.14 and 1,000"},
		{"1990-2000 well-known", "1990 - 2000 well-known"},
		{"&quot;hi&quot; &amp;amp; a&lt;b&gt;c", `" hi " & amp ; a < b > c`},
		{"x <skipped> y", "x y"},
		{"a\tb\u00a0c\x1cd", "a b c d"},
		{"Größe: 5€ (ca.)", "Größe : 5€ ( ca . )"},
		{"我爱北京。", "我爱北京。"},
		{"", ""},
		{"...", ". . ."},
		{"1.a", "1 . a"},
		{"a.1", "a . 1"},
	} {
		if got := strings.Join(Tokenize13a(tc.in), " "); got != tc.want {
			t.Errorf("Tokenize13a(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// regexp13a transliterates the four mteval-v13a substitutions with Go's regexp package, the
// way sacreBLEU's tokenizer_re.py applies them with re.sub, for the fuzz target to compare.
var regexp13a = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile("([\\{-\\~\\[-\\` -\\&\\(-\\+\\:-\\@\\/])"), " ${1} "},
	{regexp.MustCompile(`([^0-9])([\.,])`), "${1} ${2} "},
	{regexp.MustCompile(`([\.,])([^0-9])`), " ${1} ${2}"},
	{regexp.MustCompile(`([0-9])(-)`), "${1} ${2} "},
}

func FuzzTokenize13a(f *testing.F) {
	for _, s := range []string{"Hello, world.", "1990-2000", "a.,b..c", "&quot;x&quot;", "Größe 3,5.", "-\nx", "我爱。", "a\x1cb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // the readers refuse invalid UTF-8 before tokenizing
		}
		got := Tokenize13a(s)
		line := s
		for _, r := range [][2]string{{"<skipped>", ""}, {"-\n", ""}, {"\n", " "}, {"&quot;", `"`}, {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}} {
			line = strings.ReplaceAll(line, r[0], r[1])
		}
		line = " " + line + " "
		for _, r := range regexp13a {
			line = r.re.ReplaceAllString(line, r.repl)
		}
		if want := pyFields(line); !slices.Equal(got, want) {
			t.Fatalf("Tokenize13a(%q) = %q, the regexes give %q", s, got, want)
		}
		for _, tok := range got {
			if tok == "" || strings.IndexFunc(tok, pyIsSpace) >= 0 {
				t.Fatalf("token %q is empty or holds whitespace", tok)
			}
		}
	})
}

func TestPyLower(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ABC", "abc"},
		{"ÄÖÜ ẞ", "äöü ß"},
		{"ΟΔΥΣΣΕΥΣ", "οδυσσευς"},       // final sigma at the end of a word only
		{"ΣΑΣ.", "σας."},               // … also before punctuation
		{"Σ", "σ"},                     // a lone capital sigma is not final
		{"ΑΣ'Β", "ασ'β"},               // a cased letter after case-ignorables: not final
		{"İstanbul", "i\u0307stanbul"}, // U+0130's full lowercase mapping
	} {
		if got := pyLower(tc.in); got != tc.want {
			t.Errorf("pyLower(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		hyps []string
		refs [][]string
		want string
	}{
		{"no hypotheses", nil, [][]string{{}}, "no hypotheses"},
		{"no references", []string{"a"}, nil, "no references"},
		{"length mismatch", []string{"a", "b"}, [][]string{{"a", "b"}, {"a"}}, "reference stream 2 has 1 lines but there are 2 hypotheses"},
		{"all references empty", []string{"a", "b"}, [][]string{{"a", ""}, {"x", ""}}, "segment 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := BLEU(tc.hyps, tc.refs, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("BLEU error %v, want one saying %q", err, tc.want)
			}
			_, err2 := CHRF(tc.hyps, tc.refs, Options{})
			if err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("CHRF error %v, BLEU's %v", err2, err)
			}
		})
	}
	_, err := BLEU([]string{"a"}, [][]string{{""}}, Options{})
	if !errors.Is(err, ErrNoReferences) {
		t.Fatalf("empty reference: %v, want ErrNoReferences", err)
	}
}

func TestSignature(t *testing.T) {
	b, err := BLEU([]string{"a", "b"}, [][]string{{"a", "b"}, {"a", ""}}, Options{Lowercase: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.Signature(Options{Lowercase: true}), "nrefs:var|case:lc|eff:no|tok:13a|smooth:exp"; got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
	c, err := CHRF([]string{"a"}, [][]string{{"a"}, {"b"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Signature(Options{}), "nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no"; got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
}

// FuzzScores: any hypothesis and reference give finite scores in [0, 100], and a hypothesis
// scored against itself gets 100 (BLEU when it has 4 or more tokens, chrF when it has any
// character besides whitespace).
func FuzzScores(f *testing.F) {
	for _, s := range [][2]string{{"the cat sat", "the cat"}, {"", "x"}, {"&quot; .", "\" ."}, {"ΣΑΣ", "σας"}, {"a\x1cb", "a b"}} {
		f.Add(s[0], s[1], false)
	}
	f.Fuzz(func(t *testing.T, hyp, ref string, lowercase bool) {
		if !utf8.ValidString(hyp) || !utf8.ValidString(ref) || ref == "" {
			return
		}
		opt := Options{Lowercase: lowercase}
		b, err := BLEU([]string{hyp}, [][]string{{ref}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		c, err := CHRF([]string{hyp}, [][]string{{ref}}, opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []float64{b.Score, c.Score, b.BP, b.Ratio} {
			if math.IsNaN(x) || x < 0 || x > 100+1e-9 {
				t.Fatalf("BLEU %v chrF %v", b, c)
			}
		}
		self, _ := BLEU([]string{hyp}, [][]string{{hyp}}, opt)
		if hyp != "" && len(Tokenize13a(pyRstrip(lower(hyp, opt)))) >= MaxOrder && math.Abs(self.Score-100) > 1e-9 {
			t.Fatalf("BLEU of %q against itself: %v", hyp, self)
		}
		selfC, _ := CHRF([]string{hyp}, [][]string{{hyp}}, opt)
		if hyp != "" && strings.TrimFunc(hyp, pyIsSpace) != "" && math.Abs(selfC.Score-100) > 1e-9 {
			t.Fatalf("chrF of %q against itself: %v", hyp, selfC)
		}
	})
}
