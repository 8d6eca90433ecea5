package nli

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkRead reads data as every task in format and checks what a successful read promises:
// at least one example, no more than the lines of the file, each label in the task's range
// (Unlabeled exactly when the file has no labels), every text valid UTF-8.
func checkRead(t *testing.T, data []byte, format Format) {
	for _, name := range TaskNames() {
		task := tasks[name]
		d, err := task.Read(bytes.NewReader(data), "fuzz", format)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "nli: fuzz") {
				t.Fatalf("%s: error does not name the file: %v", name, err)
			}
			continue
		}
		if len(d.Examples) == 0 || len(d.Examples)+d.Skipped > bytes.Count(data, []byte("\n"))+1 {
			t.Fatalf("%s: %d examples and %d skipped from %d bytes", name, len(d.Examples), d.Skipped, len(data))
		}
		for _, e := range d.Examples {
			if d.Labeled && (e.Label < 0 || e.Label >= len(task.Labels)) || !d.Labeled && e.Label != Unlabeled {
				t.Fatalf("%s: label %d (labeled %v)", name, e.Label, d.Labeled)
			}
			if !utf8.ValidString(e.Premise) || !utf8.ValidString(e.Hypothesis) || !utf8.ValidString(e.ID) {
				t.Fatalf("%s: invalid UTF-8 in %+v", name, e)
			}
		}
	}
}

func FuzzReadTSV(f *testing.F) {
	for _, s := range []string{
		"index\tsentence1\tsentence2\tlabel\n0\tP\tH\tentailment\n",
		"index\tquestion\tsentence\tlabel\r\n0\t\"Q\t\"S\"\tnot_entailment\r\n",
		"\uFEFFindex\tpairID\tsentence1\tsentence2\tgold_label\n0\tp\ta\tb\t-\n1\tq\tc\td\tneutral\n",
		"premise\thypothesis\tentails\nP\tH\tneutral\n",
		"index\tsentence1\tsentence2\n0\tP\tH\n",
		"\n\n\t\t\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkRead(t, data, FormatTSV) })
}

func FuzzReadJSONL(f *testing.F) {
	for _, s := range []string{
		`{"premise": "P", "hypothesis": "H", "label": "entailment", "idx": 0}` + "\n",
		`{"sentence1": "P", "sentence2": "H", "gold_label": "-"}` + "\n" + `{"sentence1": "P", "sentence2": "H", "gold_label": "neutral", "pairID": "x"}`,
		`{"question": "Q", "sentence": "S", "label": 1}`,
		`{"premise": "P", "hypothesis": "H", "label": null}` + "\r\n" + `{"premise": "P", "hypothesis": "H", "label": -1}`,
		`{"premise": "P", "hypothesis": "H"}`,
		"[]\n{}\nnull",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkRead(t, data, FormatJSONL) })
}
