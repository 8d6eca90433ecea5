package eval

import (
	"fmt"
	"strconv"
	"strings"
)

// chrF (Popović, 2015) as sacreBLEU 2.x computes it by default: character n-grams of orders 1
// to CharOrder with whitespace removed, no word n-grams, and F_β with β = Beta (recall weighed
// β² = 4 times as much as precision). Per order n, the corpus sums give
//
//	P_n = match_n / hyp_n,  R_n = match_n / ref_n          (orders where hyp_n, ref_n > 0)
//	P = mean P_n,  R = mean R_n  over those "effective" orders
//	chrF = 100 · (1 + β²) · P · R / (β² · P + R)
//
// With several references, each segment contributes the statistics of the reference that
// gives it the highest sentence chrF (the first on a tie).
const (
	CharOrder = 6
	Beta      = 2
)

// CHRFScore is corpus chrF and the statistics it came from.
type CHRFScore struct {
	Score float64 // in [0, 100]
	// Stats holds (hyp_n, ref_n, match_n) for n = 1..CharOrder: Stats[3(n-1)+0..2].
	Stats [3 * CharOrder]int
	NRefs int // references per segment; -1 when it varies
}

// Format prints the score as sacreBLEU does: "chrF2 = 58.12" for width 2.
func (s *CHRFScore) Format(width int) string {
	return fmt.Sprintf("chrF%d = %s", Beta, strconv.FormatFloat(s.Score, 'f', width, 64))
}

// String is Format(2).
func (s *CHRFScore) String() string { return s.Format(2) }

// Signature is sacreBLEU's description of the settings, without its version field.
func (s *CHRFScore) Signature(opt Options) string {
	return fmt.Sprintf("nrefs:%s|case:%s|eff:yes|nc:%d|nw:0|space:no", nrefs(s.NRefs), caseName(opt), CharOrder)
}

// CHRF is corpus chrF of hyps against the reference streams refs (refs[k][i] is the k-th
// reference of segment i).
func CHRF(hyps []string, refs [][]string, opt Options) (*CHRFScore, error) {
	nref, err := checkStreams(hyps, refs)
	if err != nil {
		return nil, err
	}
	out := &CHRFScore{NRefs: nref}
	var h, r ngramCounts
	for i, hyp := range hyps {
		seg, err := segmentRefs(refs, i)
		if err != nil {
			return nil, err
		}
		h.count(lower(hyp, opt))
		var best [3 * CharOrder]int
		bestF := -1.0
		for _, ref := range seg {
			r.count(lower(ref, opt))
			var st [3 * CharOrder]int
			for n := range CharOrder {
				st[3*n+0], st[3*n+1], st[3*n+2] = matchStats(h[n], r[n])
			}
			if f := chrfScore(st[:]); f > bestF {
				best, bestF = st, f
			}
		}
		for j, v := range best {
			out.Stats[j] += v
		}
	}
	out.Score = chrfScore(out.Stats[:])
	return out, nil
}

// ngramCounts holds the counts of character n-grams by order: (CharOrder) maps.
type ngramCounts [CharOrder]map[string]int

// count replaces the counts with those of s, n = 1..CharOrder, after removing whitespace.
// The keys are substrings of the stripped string and the maps are reused, so counting
// allocates little.
func (c *ngramCounts) count(s string) {
	s = strings.Join(pyFields(s), "")
	var off []int // byte offset of each character, then len(s)
	for i := range s {
		off = append(off, i)
	}
	off = append(off, len(s))
	chars := len(off) - 1
	for n := 1; n <= CharOrder; n++ {
		m := c[n-1]
		if m == nil {
			m = make(map[string]int, chars)
			c[n-1] = m
		}
		clear(m)
		for i := 0; i+n <= chars; i++ {
			m[s[off[i]:off[i+n]]]++
		}
	}
}

// matchStats is (hyp_n, ref_n, match_n) for one order: match_n counts each n-gram at most as
// often as the reference holds it; hyp_n counts as 0 when the reference has no n-gram of this
// order (sacreBLEU's _get_match_statistics).
func matchStats(hyp, ref map[string]int) (nHyp, nRef, nMatch int) {
	for g, c := range hyp {
		nHyp += c
		nMatch += min(c, ref[g])
	}
	for _, c := range ref {
		nRef += c
	}
	if len(ref) == 0 {
		nHyp = 0
	}
	return nHyp, nRef, nMatch
}

// chrfScore is F_β over the effective orders of stats (see the package constants).
func chrfScore(stats []int) float64 {
	const factor = Beta * Beta
	var avgP, avgR float64
	eff := 0
	for n := range CharOrder {
		nHyp, nRef, nMatch := stats[3*n], stats[3*n+1], stats[3*n+2]
		if nHyp > 0 && nRef > 0 {
			avgP += float64(nMatch) / float64(nHyp)
			avgR += float64(nMatch) / float64(nRef)
			eff++
		}
	}
	if eff == 0 {
		return 0
	}
	avgP /= float64(eff)
	avgR /= float64(eff)
	if avgP+avgR == 0 {
		return 0
	}
	return 100 * ((1 + factor) * avgP * avgR / (factor*avgP + avgR))
}
