package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvalBLEU(t *testing.T) {
	dir := t.TempDir()
	hyp := writeFile(t, dir, "hyp.txt", "the cat sat on the mat\n")
	ref := writeFile(t, dir, "ref.txt", "the cat is on the mat\n")
	out, err := run(t, "", "eval", "bleu", "--hyp", hyp, "--ref", ref)
	if err != nil {
		t.Fatal(err)
	}
	// The line scripts/reference/bleu_reference.py prints (eval/testdata, case hand_cat).
	if want := "BLEU = 37.99 83.3/60.0/25.0/16.7 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)\nchrF2 = 64.58\n"; out != want {
		t.Fatalf("output\n%s\nwant\n%s", out, want)
	}

	out, err = run(t, "", "eval", "bleu", "--hyp", hyp, "--ref", ref, "--ref", writeFile(t, dir, "ref2.txt", "the cat sat on the mat\n"), "--json", "--width", "1")
	if err != nil {
		t.Fatal(err)
	}
	var scores []struct {
		Name      string  `json:"name"`
		Score     float64 `json:"score"`
		Signature string  `json:"signature"`
		NRefs     string  `json:"nrefs"`
	}
	if err := json.Unmarshal([]byte(out), &scores); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(scores) != 2 || scores[0].Name != "BLEU" || scores[0].Score != 100 || scores[0].NRefs != "2" ||
		scores[1].Name != "chrF2" || scores[1].Signature != "nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no" {
		t.Fatalf("JSON %+v", scores)
	}
}

func TestEvalBLEURejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	two := writeFile(t, dir, "two.txt", "a\nb\n")
	three := writeFile(t, dir, "three.txt", "a\nb\nc\n")
	empty := writeFile(t, dir, "empty.txt", "")
	blankRef := writeFile(t, dir, "blank.txt", "a\n  \n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--hyp", two}, "--hyp and at least one --ref are required"},
		{[]string{"--ref", two}, "--hyp and at least one --ref are required"},
		{[]string{"--hyp", filepath.Join(dir, "missing.txt"), "--ref", two}, "missing.txt: no such file"},
		{[]string{"--hyp", two, "--ref", filepath.Join(dir, "missing.txt")}, "missing.txt: no such file"},
		{[]string{"--hyp", two, "--ref", dir}, "not a regular file"},
		{[]string{"--hyp", empty, "--ref", two}, "empty.txt is empty"},
		{[]string{"--hyp", two, "--ref", empty}, "empty.txt is empty"},
		{[]string{"--hyp", two, "--ref", two, "--ref", three}, two + " has 2 lines but " + three + " has 3"},
		{[]string{"--hyp", two, "--ref", blankRef}, "segment 2"},
		{[]string{"--hyp", two, "--ref", two, "--width", "-1"}, "--width -1"},
		{[]string{"--hyp", two, "--ref", writeFile(t, dir, "latin1.txt", "a\nGr\xf6\xdfe\n")}, "latin1.txt:2: not valid UTF-8"},
	} {
		_, err := run(t, "", append([]string{"eval", "bleu"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("eval bleu %q: error %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}
