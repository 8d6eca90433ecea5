package eval

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestSacreBLEU scores the corpora that sacreBLEU 2.6.0 itself scored
// (scripts/reference/sacrebleu_fixtures.py): random sentences over a vocabulary of umlauts, CJK,
// emoji, HTML entities, numbers with separators, abbreviations and glued punctuation, with one
// and three references, upper-cased lines cased and lowercased, short hypotheses (brevity
// penalty) and empty lines. Statistics must be equal and the printed lines identical.
func TestSacreBLEU(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "sacrebleu_fixtures.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Cases []struct {
			Name      string     `json:"name"`
			Hyp       []string   `json:"hyp"`
			Refs      [][]string `json:"refs"`
			Lowercase bool       `json:"lowercase"`
			BLEU      struct {
				Score          float64 `json:"score"`
				Correct, Total [MaxOrder]int
				SysLen         int    `json:"sys_len"`
				RefLen         int    `json:"ref_len"`
				Line           string `json:"line"`
			} `json:"bleu"`
			CHRF struct {
				Score float64 `json:"score"`
				Line  string  `json:"line"`
			} `json:"chrf"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Cases) < 6 {
		t.Fatalf("%d cases in sacrebleu_fixtures.json, want 6", len(fx.Cases))
	}
	for _, c := range fx.Cases {
		t.Run(c.Name, func(t *testing.T) {
			opt := Options{Lowercase: c.Lowercase}
			bl, err := BLEU(c.Hyp, c.Refs, opt)
			if err != nil {
				t.Fatal(err)
			}
			want := BLEUStats{HypLen: c.BLEU.SysLen, RefLen: c.BLEU.RefLen, Correct: c.BLEU.Correct, Total: c.BLEU.Total}
			if bl.BLEUStats != want {
				t.Errorf("BLEU statistics %+v, sacreBLEU %+v", bl.BLEUStats, want)
			}
			if math.Abs(bl.Score-c.BLEU.Score) > 1e-9 || bl.String() != c.BLEU.Line {
				t.Errorf("BLEU %v %q, sacreBLEU %v %q", bl.Score, bl.String(), c.BLEU.Score, c.BLEU.Line)
			}
			ch, err := CHRF(c.Hyp, c.Refs, opt)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(ch.Score-c.CHRF.Score) > 1e-9 || ch.String() != c.CHRF.Line {
				t.Errorf("chrF %v %q, sacreBLEU %v %q", ch.Score, ch.String(), c.CHRF.Score, c.CHRF.Line)
			}
		})
	}
}
