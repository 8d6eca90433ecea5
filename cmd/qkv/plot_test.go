package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPlotCompare(t *testing.T) {
	dir := t.TempDir()
	// A run folder of metrics: training records with elapsed_s when timed, validation records.
	runDir := func(name string, timed bool) string {
		t.Helper()
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		recs := `{"step":10,"loss":8.9,"lr":3e-05,"elapsed_s":37.5}
{"step":20,"loss":7.1,"lr":6e-05,"elapsed_s":75}
{"step":20,"val_loss":7.4,"val_bleu":1.2}
{"step":30,"loss":6.3,"lr":9e-05,"elapsed_s":112.5}
{"step":30,"val_loss_full":6.6,"val_bleu_full":2.5}
`
		if !timed {
			recs = strings.NewReplacer(`,"elapsed_s":37.5`, "", `,"elapsed_s":75`, "", `,"elapsed_s":112.5`, "").Replace(recs)
		}
		writeFile(t, d, "metrics.jsonl", recs)
		return d
	}
	a, b, old := runDir("a/run", true), runDir("b/run", true), runDir("old", false)
	empty := filepath.Join(dir, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, empty, "metrics.jsonl", `{"step":10,"elapsed_s":3,"tokens_per_s":100}`+"\n")

	for _, tc := range []struct {
		name string
		args []string // after "plot"
		want string   // in the error; "" for none
	}{
		{"time, labelled", []string{a, b, "--out", filepath.Join(dir, "x.png"), "--x", "time", "--label", "a", "--label", "b"}, ""},
		{"steps, folder names", // a/run and b/run are "run" and "run #2"
			[]string{a, b, old, "--out", filepath.Join(dir, "y.svg")}, ""},
		{"one run", []string{a, "--out", filepath.Join(dir, "z.png")}, ""},
		{"unknown x", []string{a, b, "--out", filepath.Join(dir, "e1.png"), "--x", "tokens"}, `--x: x axis "tokens"`},
		{"label count", []string{a, b, "--out", filepath.Join(dir, "e2.png"), "--label", "a"}, "--label given 1 times for 2 runs"},
		{"same labels", []string{a, b, "--out", filepath.Join(dir, "e3.png"), "--label", "a", "--label", "a"}, `two runs are named "a"`},
		{"no elapsed_s", []string{a, old, "--out", filepath.Join(dir, "e4.png"), "--x", "time"}, "old: the metrics have no elapsed_s"},
		{"nothing to draw", []string{a, empty, "--out", filepath.Join(dir, "e5.png")}, "empty: the metrics hold no loss"},
	} {
		out, err := run(t, "", append([]string{"plot"}, tc.args...)...)
		pic := tc.args[slices.Index(tc.args, "--out")+1]
		_, statErr := os.Stat(pic)
		if tc.want == "" {
			if err != nil || statErr != nil || !strings.Contains(out, "wrote "+pic) {
				t.Errorf("%s: %v, %v\n%s", tc.name, err, statErr, out)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error with %q", tc.name, err, tc.want)
		}
		if statErr == nil {
			t.Errorf("%s: a refused plot wrote %s", tc.name, pic)
		}
	}
}
