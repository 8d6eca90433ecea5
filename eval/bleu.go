// Package eval scores a system's translations against references with corpus BLEU (Papineni
// et al., 2002) and chrF (Popović, 2015), computed exactly as sacreBLEU 2.x computes them with
// its defaults (Post, 2018, "A Call for Clarity in Reporting BLEU Scores"), so that a score
// printed by qkv can be quoted beside one printed by `sacrebleu HYP -r REF`.
//
// Notation: a corpus is N segments; hyps[i] is the system's output for segment i and
// refs[k][i] the k-th reference for it (K reference streams, each N lines long, as sacreBLEU
// takes them). An empty reference line means "no k-th reference for this segment"; every
// segment needs at least one non-empty reference.
package eval

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxOrder is BLEU's n-gram order N: precisions of 1- to 4-grams.
const MaxOrder = 4

// Options are the choices sacreBLEU's command line offers for both metrics.
type Options struct {
	Lowercase bool // compare lowercased text (sacreBLEU --lowercase); cased by default
}

// BLEUStats are BLEU's sufficient statistics, summed over segments: c (HypLen), r (RefLen, the
// closest reference length of each segment), and for each order n the clipped matches
// Correct[n-1] and the hypothesis n-gram count Total[n-1].
type BLEUStats struct {
	HypLen, RefLen int
	Correct, Total [MaxOrder]int
}

// BLEUScore is corpus BLEU with the numbers sacreBLEU prints beside it.
type BLEUScore struct {
	BLEUStats
	Score      float64           // BP · exp(Σ log p_n / N), in [0, 100]
	Precisions [MaxOrder]float64 // p_n in percent, after 'exp' smoothing
	BP         float64           // brevity penalty: exp(1 - r/c) if c < r, else 1
	Ratio      float64           // c / r (0 when r = 0)
	NRefs      int               // references per segment; -1 when it varies
}

// logFloor is log(0) as sacreBLEU floors it (utils.my_log).
const logFloor = -9999999999

// Score turns summed statistics into BLEU the way sacreBLEU's BLEU.compute_bleu does with
// smooth_method='exp' (Chen & Cherry 2014, method 3, the NIST mteval-v13a smoothing):
//
//	p_n = 100 · Correct_n / Total_n                 when Correct_n > 0
//	p_n = 100 / (2^k · Total_n)                     for the k-th order with Correct_n = 0
//	BLEU = BP · exp((log p_1 + … + log p_4) / 4)
//
// An order with no hypothesis n-gram at all (Total_n = 0) ends the loop; it and the orders
// above keep p_n = 0, whose log is floored at -9999999999, so BLEU is 0. With no match of any
// order BLEU is 0 and every p_n is reported as 0.
func (s BLEUStats) Score() *BLEUScore {
	out := &BLEUScore{BLEUStats: s, BP: 1}
	c, r := s.HypLen, s.RefLen
	if r > 0 {
		out.Ratio = float64(c) / float64(r)
	}
	if c < r {
		out.BP = 0
		if c > 0 {
			out.BP = math.Exp(1 - float64(r)/float64(c))
		}
	}
	anyMatch := false
	for _, m := range s.Correct {
		anyMatch = anyMatch || m > 0
	}
	if !anyMatch {
		return out
	}
	smooth := 1.0
	for n := range MaxOrder {
		if s.Total[n] == 0 {
			break
		}
		if s.Correct[n] == 0 {
			smooth *= 2
			out.Precisions[n] = 100 / (smooth * float64(s.Total[n]))
		} else {
			out.Precisions[n] = 100 * float64(s.Correct[n]) / float64(s.Total[n])
		}
	}
	sum := 0.0
	for _, p := range out.Precisions {
		if p == 0 {
			sum += logFloor
		} else {
			sum += math.Log(p)
		}
	}
	out.Score = out.BP * math.Exp(sum/MaxOrder)
	return out
}

// Format prints the score as sacreBLEU does, the score with width decimals:
//
//	BLEU = 34.51 67.2/42.1/28.0/19.3 (BP = 1.000 ratio = 1.015 hyp_len = 12345 ref_len = 12163)
func (s *BLEUScore) Format(width int) string {
	return fmt.Sprintf("BLEU = %s %s", strconv.FormatFloat(s.Score, 'f', width, 64), s.Verbose())
}

// Verbose is the part of the line after the score, sacreBLEU's verbose_score.
func (s *BLEUScore) Verbose() string {
	prec := make([]string, MaxOrder)
	for n, p := range s.Precisions {
		prec[n] = strconv.FormatFloat(p, 'f', 1, 64)
	}
	return fmt.Sprintf("%s (BP = %.3f ratio = %.3f hyp_len = %d ref_len = %d)",
		strings.Join(prec, "/"), s.BP, s.Ratio, s.HypLen, s.RefLen)
}

// String is Format(2), sacreBLEU's str(score).
func (s *BLEUScore) String() string { return s.Format(2) }

// Signature is sacreBLEU's description of the settings, without its version field.
func (s *BLEUScore) Signature(opt Options) string {
	return fmt.Sprintf("nrefs:%s|case:%s|eff:no|tok:13a|smooth:exp", nrefs(s.NRefs), caseName(opt))
}

// BLEU is corpus BLEU of hyps against the reference streams refs (refs[k][i] is the k-th
// reference of segment i): 13a tokenisation, n-grams up to 4, matches clipped by the largest
// count in any one reference, the closest reference length per segment (the shorter on a
// tie), 'exp' smoothing.
func BLEU(hyps []string, refs [][]string, opt Options) (*BLEUScore, error) {
	nref, err := checkStreams(hyps, refs)
	if err != nil {
		return nil, err
	}
	var total BLEUStats
	for i, hyp := range hyps {
		seg, err := segmentRefs(refs, i)
		if err != nil {
			return nil, err
		}
		s := bleuSegment(hyp, seg, opt)
		total.HypLen += s.HypLen
		total.RefLen += s.RefLen
		for n := range MaxOrder {
			total.Correct[n] += s.Correct[n]
			total.Total[n] += s.Total[n]
		}
	}
	out := total.Score()
	out.NRefs = nref
	return out, nil
}

// bleuSegment is one segment's statistics.
func bleuSegment(hyp string, refs []string, opt Options) BLEUStats {
	maxRef := map[string]int{} // n-gram → its largest count in one reference
	refLens := make([]int, len(refs))
	for k, ref := range refs {
		toks := Tokenize13a(pyRstrip(lower(ref, opt)))
		refLens[k] = len(toks)
		for g, c := range countNgrams(toks) {
			maxRef[g] = max(maxRef[g], c)
		}
	}
	toks := Tokenize13a(pyRstrip(lower(hyp, opt)))
	s := BLEUStats{HypLen: len(toks), RefLen: closestRefLen(len(toks), refLens)}
	for g, c := range countNgrams(toks) {
		n := strings.Count(g, " ") // order - 1
		s.Total[n] += c
		s.Correct[n] += min(c, maxRef[g])
	}
	return s
}

// closestRefLen is the reference length nearest to the hypothesis length c, the shorter one
// when two are equally near (sacreBLEU's _get_closest_ref_len).
func closestRefLen(c int, refLens []int) int {
	best := -1
	for _, r := range refLens {
		d, bd := abs(c-r), abs(c-best)
		if best < 0 || d < bd || (d == bd && r < best) {
			best = r
		}
	}
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// countNgrams counts the 1- to 4-grams of toks, each keyed by its tokens joined with a space
// (tokens hold no whitespace, so the key is unambiguous and its spaces give the order). The
// keys are substrings of one joined string, so counting allocates only the map.
func countNgrams(toks []string) map[string]int {
	line := strings.Join(toks, " ")
	start := make([]int, len(toks)+1) // start[i]: offset of token i in line; start[len] = len+1
	for i, t := range toks {
		start[i+1] = start[i] + len(t) + 1
	}
	m := make(map[string]int, MaxOrder*len(toks))
	for n := 1; n <= MaxOrder; n++ {
		for i := 0; i+n <= len(toks); i++ {
			m[line[start[i]:start[i+n]-1]]++
		}
	}
	return m
}

func lower(s string, opt Options) string {
	if opt.Lowercase {
		return pyLower(s)
	}
	return s
}

func caseName(opt Options) string {
	if opt.Lowercase {
		return "lc"
	}
	return "mixed"
}

func nrefs(n int) string {
	if n < 0 {
		return "var"
	}
	return strconv.Itoa(n)
}

// ErrNoReferences is returned when a segment has no non-empty reference.
var ErrNoReferences = errors.New("no reference")

// checkStreams checks that there is at least one hypothesis and one reference stream and that
// every stream has as many lines as the hypotheses. It returns the number of non-empty
// references per segment, or -1 when that varies.
func checkStreams(hyps []string, refs [][]string) (int, error) {
	if len(hyps) == 0 {
		return 0, errors.New("eval: no hypotheses to score")
	}
	if len(refs) == 0 {
		return 0, errors.New("eval: no references to score against")
	}
	for k, r := range refs {
		if len(r) != len(hyps) {
			return 0, fmt.Errorf("eval: reference stream %d has %d lines but there are %d hypotheses", k+1, len(r), len(hyps))
		}
	}
	n := 0
	for i := range hyps {
		m := 0
		for _, r := range refs {
			if r[i] != "" {
				m++
			}
		}
		if i == 0 {
			n = m
		} else if m != n {
			n = -1
		}
	}
	return n, nil
}

// segmentRefs returns segment i's non-empty references.
func segmentRefs(refs [][]string, i int) ([]string, error) {
	var seg []string
	for _, r := range refs {
		if r[i] != "" {
			seg = append(seg, r[i])
		}
	}
	if len(seg) == 0 {
		return nil, fmt.Errorf("eval: segment %d: %w (every reference line is empty); sacreBLEU refuses such a corpus too: remove the segment or supply a reference", i+1, ErrNoReferences)
	}
	return seg, nil
}
