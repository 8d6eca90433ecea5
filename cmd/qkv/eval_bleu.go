package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/eval"
)

func newEvalBLEUCmd() *cobra.Command {
	var hypPath string
	var refPaths []string
	var lowercase, asJSON bool
	var width int
	cmd := &cobra.Command{
		Use:   "bleu --hyp FILE --ref FILE [--ref FILE ...]",
		Short: "Score translations with corpus BLEU and chrF, as sacreBLEU does",
		Long: `Score a system's translations (--hyp, one segment a line) against one or more reference
files (--ref, line i of each translating the same source line) with corpus BLEU and chrF2,
computed exactly as 'sacrebleu HYP -r REF' computes them: 13a tokenisation, 4-grams, 'exp'
smoothing, the closest reference length, cased unless --lowercase; chrF with character 6-grams,
beta 2, whitespace excluded. Files may be gzipped (.gz). An empty reference line means that
reference is missing for the segment; every segment needs at least one.

The lines read as sacreBLEU's score objects print ("BLEU = 34.51 67.2/42.1/28.0/19.3 (BP = ...)",
"chrF2 = 58.12"); its command line rounds to one decimal (--width 1). --json prints sacreBLEU's
JSON fields (name, score, signature, verbose_score, ...) and the statistics behind them; the
signatures leave out sacreBLEU's version field.`,
		Example: `  qkv eval bleu --hyp out.de --ref ../shared/data/multi30k-en-de/test_2016_flickr.de.gz
  qkv eval bleu --hyp out.de --ref ref1.de --ref ref2.de --lowercase --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if hypPath == "" || len(refPaths) == 0 {
				return fmt.Errorf("--hyp and at least one --ref are required")
			}
			if width < 0 || width > 17 {
				return fmt.Errorf("--width %d: want 0..17 decimals", width)
			}
			hyps, refs, err := readSegmentFiles(hypPath, refPaths)
			if err != nil {
				return err
			}
			if n := tokenizedLines(hyps); n >= 100 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %d lines of %s end in a tokenized period (' .'): detokenize the output first, or the score is not comparable\n", n, hypPath)
			}
			opt := eval.Options{Lowercase: lowercase}
			bleu, err := eval.BLEU(hyps, refs, opt)
			if err != nil {
				return fmt.Errorf("%s: %w", hypPath, err)
			}
			chrf, err := eval.CHRF(hyps, refs, opt)
			if err != nil {
				return fmt.Errorf("%s: %w", hypPath, err)
			}
			out := cmd.OutOrStdout()
			if !asJSON {
				_, err := fmt.Fprintf(out, "%s\n%s\n", bleu.Format(width), chrf.Format(width))
				return err
			}
			enc := json.NewEncoder(out)
			enc.SetIndent("", " ")
			enc.SetEscapeHTML(false)
			return enc.Encode([]scoreJSON{bleuJSON(bleu, opt, width), chrfJSON(chrf, opt, width)})
		},
	}
	f := cmd.Flags()
	f.StringVar(&hypPath, "hyp", "", "the system's translations, one segment a line")
	f.StringArrayVar(&refPaths, "ref", nil, "a reference file, line for line with --hyp (repeat for several references)")
	f.BoolVar(&lowercase, "lowercase", false, "compare lowercased text")
	f.BoolVar(&asJSON, "json", false, "print the scores as JSON (sacreBLEU's fields plus the statistics)")
	f.IntVar(&width, "width", 2, "decimals of the scores")
	return cmd
}

// readSegmentFiles reads the hypotheses and the reference files, refusing empty files and
// files whose line counts differ, by name.
func readSegmentFiles(hypPath string, refPaths []string) (hyps []string, refs [][]string, err error) {
	read := func(path, what string) ([]string, error) {
		lines, err := eval.ReadSegments(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if len(lines) == 0 {
			return nil, fmt.Errorf("%s %s is empty: there is nothing to score", what, path)
		}
		return lines, nil
	}
	if hyps, err = read(hypPath, "--hyp"); err != nil {
		return nil, nil, err
	}
	for _, p := range refPaths {
		r, err := read(p, "--ref")
		if err != nil {
			return nil, nil, err
		}
		if len(r) != len(hyps) {
			return nil, nil, fmt.Errorf("%s has %d lines but %s has %d: line i of each must be the same segment", hypPath, len(hyps), p, len(r))
		}
		refs = append(refs, r)
	}
	return hyps, refs, nil
}

// tokenizedLines counts the lines that end in " .", sacreBLEU's sign of tokenized output.
func tokenizedLines(lines []string) int {
	n := 0
	for _, l := range lines {
		if strings.HasSuffix(l, " .") {
			n++
		}
	}
	return n
}

// scoreJSON is sacreBLEU's JSON for a score, in its order: name, score rounded to width
// decimals, the signature and each of its fields; then, for BLEU, the statistics behind it.
type scoreJSON struct {
	Name         string  `json:"name"`
	Score        float64 `json:"score"`
	Signature    string  `json:"signature"`
	VerboseScore string  `json:"verbose_score,omitempty"`
	NRefs        string  `json:"nrefs"`
	Case         string  `json:"case"`
	Eff          string  `json:"eff"`
	Tok          string  `json:"tok,omitempty"`
	Smooth       string  `json:"smooth,omitempty"`
	NC           string  `json:"nc,omitempty"`
	NW           string  `json:"nw,omitempty"`
	Space        string  `json:"space,omitempty"`

	Counts     []int     `json:"counts,omitempty"`
	Totals     []int     `json:"totals,omitempty"`
	Precisions []float64 `json:"precisions,omitempty"`
	BP         *float64  `json:"bp,omitempty"`
	Ratio      *float64  `json:"ratio,omitempty"`
	SysLen     *int      `json:"sys_len,omitempty"`
	RefLen     *int      `json:"ref_len,omitempty"`
	Stats      []int     `json:"stats,omitempty"`
}

func newScoreJSON(name string, score float64, signature string, width int) scoreJSON {
	rounded, _ := strconv.ParseFloat(strconv.FormatFloat(score, 'f', width, 64), 64)
	j := scoreJSON{Name: name, Score: rounded, Signature: signature}
	fields := map[string]*string{"nrefs": &j.NRefs, "case": &j.Case, "eff": &j.Eff, "tok": &j.Tok,
		"smooth": &j.Smooth, "nc": &j.NC, "nw": &j.NW, "space": &j.Space}
	for _, kv := range strings.Split(signature, "|") {
		k, v, _ := strings.Cut(kv, ":")
		*fields[k] = v
	}
	return j
}

func bleuJSON(s *eval.BLEUScore, opt eval.Options, width int) scoreJSON {
	j := newScoreJSON("BLEU", s.Score, s.Signature(opt), width)
	j.VerboseScore = s.Verbose()
	j.Counts, j.Totals, j.Precisions = s.Correct[:], s.Total[:], s.Precisions[:]
	j.BP, j.Ratio, j.SysLen, j.RefLen = &s.BP, &s.Ratio, &s.HypLen, &s.RefLen
	return j
}

func chrfJSON(s *eval.CHRFScore, opt eval.Options, width int) scoreJSON {
	j := newScoreJSON(fmt.Sprintf("chrF%d", eval.Beta), s.Score, s.Signature(opt), width)
	j.Stats = s.Stats[:]
	return j
}
