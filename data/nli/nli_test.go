package nli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
)

// write puts a fixture file in a fresh folder and returns its path.
func write(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustTask(t *testing.T, name string) *Task {
	t.Helper()
	task, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// The label order of every task is GLUE's and Hugging Face datasets' (ClassLabel names).
func TestTaskLabels(t *testing.T) {
	want := map[string][]string{
		"mnli":    {"entailment", "neutral", "contradiction"},
		"snli":    {"entailment", "neutral", "contradiction"},
		"scitail": {"entails", "neutral"},
		"qnli":    {"entailment", "not_entailment"},
		"rte":     {"entailment", "not_entailment"},
	}
	if got := TaskNames(); !reflect.DeepEqual(got, []string{"mnli", "qnli", "rte", "scitail", "snli"}) {
		t.Errorf("TaskNames() = %v", got)
	}
	for name, labels := range want {
		task := mustTask(t, strings.ToUpper(name))
		if task.Name != name || !reflect.DeepEqual(task.Labels, labels) || task.NumLabels() != len(labels) {
			t.Errorf("%s: %q labels %v", name, task.Name, task.Labels)
		}
	}
	if _, err := Lookup("sst2"); err == nil || !strings.Contains(err.Error(), "mnli, qnli, rte, scitail, snli") {
		t.Errorf("unknown task: %v", err)
	}
}

func TestLoadFormats(t *testing.T) {
	ex := func(id, p, h string, l int) Example { return Example{ID: id, Premise: p, Hypothesis: h, Label: l} }
	for _, c := range []struct {
		task, file, text string
		want             []Example
		labeled          bool
		skipped          int
	}{
		{"mnli", "dev_matched.tsv",
			"index\tpromptID\tpairID\tgenre\tsentence1\tsentence2\tlabel1\tgold_label\r\n" +
				"0\t31193\t31193n\tgov\tHe said \"yes.\tNo \"quotes\" here\tneutral\tneutral\r\n" +
				"1\t1\t1e\tgov\tA\tB\tentailment\tentailment\r\n" +
				"2\t2\t2c\tgov\tC\tD\tcontradiction\tcontradiction\r\n",
			[]Example{ex("31193n", `He said "yes.`, `No "quotes" here`, 1), ex("1e", "A", "B", 0), ex("2c", "C", "D", 2)}, true, 0},
		{"mnli", "test_matched.tsv",
			"\uFEFFindex\tpromptID\tpairID\tgenre\tsentence1\tsentence2\n0\t1\t1x\tfiction\tP\tH\n",
			[]Example{ex("1x", "P", "H", Unlabeled)}, false, 0},
		{"snli", "snli.jsonl",
			`{"gold_label": "neutral", "sentence1": "S1", "sentence2": "S2", "pairID": "p1"}` + "\n" +
				`{"gold_label": "-", "sentence1": "x", "sentence2": "y", "pairID": "p2"}` + "\n\n" +
				`{"gold_label": "contradiction", "sentence1": "S3", "sentence2": "", "pairID": "p3"}`,
			[]Example{ex("p1", "S1", "S2", 1), ex("p3", "S3", "", 2)}, true, 1},
		{"snli", "snli_1.0_dev.txt",
			"gold_label\tsentence1_binary_parse\tsentence1\tsentence2\tpairID\n-\t( a )\ta\tb\tq0\nentailment\t( c )\tc\td\tq1\n",
			[]Example{ex("q1", "c", "d", 0)}, true, 1},
		{"scitail", "scitail_1.0_train.tsv",
			"Pluto rotates once on its axis every 6.39 Earth days.\tEarth rotates on its axis once times in one day.\tneutral\n" +
				"a \"quoted\" premise\thypothesis\tentails\n",
			[]Example{ex("", "Pluto rotates once on its axis every 6.39 Earth days.", "Earth rotates on its axis once times in one day.", 1), ex("", `a "quoted" premise`, "hypothesis", 0)}, true, 0},
		{"scitail", "scitail_1.0_dev.txt",
			`{"sentence1": "P", "sentence2": "H", "gold_label": "entailment"}` + "\n" + `{"sentence1": "P2", "sentence2": "H2", "gold_label": "neutral"}` + "\n",
			[]Example{ex("", "P", "H", 0), ex("", "P2", "H2", 1)}, true, 0},
		{"qnli", "dev.tsv",
			"index\tquestion\tsentence\tlabel\n0\tWhat?\tThis.\tnot_entailment\n1\tWho?\tHim.\tentailment\n",
			[]Example{ex("0", "What?", "This.", 1), ex("1", "Who?", "Him.", 0)}, true, 0},
		{"qnli", "test.tsv", "index\tquestion\tsentence\n0\tWhat?\tThis.\n", []Example{ex("0", "What?", "This.", Unlabeled)}, false, 0},
		{"rte", "train.tsv",
			"index\tsentence1\tsentence2\tlabel\n0\tP\tH\tentailment\n",
			[]Example{ex("0", "P", "H", 0)}, true, 0},
		{"rte", "val.jsonl",
			`{"premise": "P", "hypothesis": "H", "label": "not_entailment", "idx": 0}` + "\r\n" + `{"premise": "P1", "hypothesis": "H1", "label": 0, "idx": 1}`,
			[]Example{ex("0", "P", "H", 1), ex("1", "P1", "H1", 0)}, true, 0},
		{"rte", "test.jsonl", `{"premise": "P", "hypothesis": "H", "idx": 7}`, []Example{ex("7", "P", "H", Unlabeled)}, false, 0},
	} {
		t.Run(c.task+"/"+c.file, func(t *testing.T) {
			d, err := mustTask(t, c.task).Load(write(t, c.file, c.text))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Examples, c.want) || d.Labeled != c.labeled || d.Skipped != c.skipped {
				t.Errorf("got %+v (labeled %v, skipped %d)\nwant %+v (labeled %v, skipped %d)", d.Examples, d.Labeled, d.Skipped, c.want, c.labeled, c.skipped)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	glue := "index\tsentence1\tsentence2\tlabel\n"
	for _, c := range []struct {
		name, task, file, text, want string
	}{
		{"empty", "rte", "train.tsv", "", "train.tsv is empty"},
		{"empty JSONL", "rte", "val.jsonl", "", "val.jsonl is empty"},
		{"header only", "rte", "train.tsv", glue, "holds no examples"},
		{"label outside the set", "rte", "train.tsv", glue + "0\tP\tH\tentailment\n1\tP\tH\tneutral\n", `train.tsv:3: label "neutral" is not a rte label (want entailment, not_entailment)`},
		{"SNLI label in SciTail", "scitail", "t.tsv", "P\tH\tcontradiction\n", `t.tsv:1: label "contradiction" is not a scitail label (want entails, neutral, entailment)`},
		{"missing column", "qnli", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n", "dev.tsv:1: no question column for the qnli task"},
		{"short row", "rte", "train.tsv", glue + "0\tP\tH\tentailment\n1\tP\tentailment\n", "train.tsv:3: 3 tab-separated fields where the header has 4"},
		{"tab in a text", "rte", "train.tsv", glue + "0\tP\tx\tH\tentailment\n", "train.tsv:2: 5 tab-separated fields"},
		{"headerless row too long", "scitail", "s.tsv", "P\tH\tentails\nP\tH\tx\tentails\n", "s.tsv:2: 4 tab-separated fields where the headerless format (premise, hypothesis, label) has 3"},
		{"headerless not allowed", "mnli", "train.tsv", "P\tH\tentailment\n", "train.tsv:1: no sentence1 or premise column"},
		{"duplicate column", "rte", "train.tsv", "sentence1\tsentence1\tsentence2\tlabel\n", `column "sentence1" twice`},
		{"not UTF-8", "rte", "train.tsv", glue + "0\tP\xff\tH\tentailment\n", "train.tsv:2: not UTF-8"},
		{"all without gold", "snli", "d.jsonl", `{"gold_label": "-", "sentence1": "a", "sentence2": "b"}`, "none of its 1 examples has a gold label"},
		{"malformed JSON", "snli", "d.jsonl", `{"gold_label": "neutral", "sentence1": "a", "sentence2": "b"}` + "\n{\"gold_label\": \n", "d.jsonl:2: not a JSON object"},
		{"JSON array", "snli", "d.jsonl", `[1, 2]`, "d.jsonl:1: not a JSON object"},
		{"JSON null", "snli", "d.jsonl", "null\n", "d.jsonl:1: not a JSON object"},
		{"missing field", "rte", "val.jsonl", `{"premise": "P", "label": "entailment"}`, `val.jsonl:1: no "sentence2" or "hypothesis" field for the rte task`},
		{"number premise", "rte", "val.jsonl", `{"premise": 3, "hypothesis": "H", "label": "entailment"}`, `val.jsonl:1: field "premise" is 3, want a string`},
		{"null hypothesis", "rte", "val.jsonl", `{"premise": "P", "hypothesis": null, "label": "entailment"}`, `field "hypothesis" is null`},
		{"label index out of range", "rte", "val.jsonl", `{"premise": "P", "hypothesis": "H", "label": 2}`, "label index 2 is outside [0, 2)"},
		{"label of another task", "rte", "val.jsonl", `{"premise": "P", "hypothesis": "H", "label": "contradiction"}`, `val.jsonl:1: field "label": label "contradiction" is not a rte label`},
		{"label a float", "rte", "val.jsonl", `{"premise": "P", "hypothesis": "H", "label": 0.5}`, "0.5 is neither a label name nor a label index"},
		{"labels then none", "rte", "val.jsonl", `{"premise": "P", "hypothesis": "H", "label": 0}` + "\n" + `{"premise": "P", "hypothesis": "H"}`, `val.jsonl:2: no "label" field, while the records before have one`},
		{"none then labels", "rte", "val.jsonl", `{"premise": "P", "hypothesis": "H"}` + "\n" + `{"premise": "P", "hypothesis": "H", "label": 0}`, `val.jsonl:2: a "label" field, while the records before have none`},
		{"line too long", "rte", "val.jsonl", `{"premise": "` + strings.Repeat("a", MaxLineBytes) + `"}`, "val.jsonl:1: a line longer than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := mustTask(t, c.task).Load(write(t, c.file, c.text))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v\nwant one containing %q", err, c.want)
			}
		})
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "train.tsv")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, dir, "/dev/zero", filepath.Join(dir, "missing.tsv")} {
		if _, err := mustTask(t, "rte").Load(p); err == nil {
			t.Errorf("%s: loaded", p)
		}
	}
}

// TestFormatDetection: the extension decides for .tsv and .jsonl, the first character
// otherwise.
func TestFormatDetection(t *testing.T) {
	rte := mustTask(t, "rte")
	jsonl := `{"premise": "P", "hypothesis": "H", "label": "entailment"}` + "\n"
	tsv := "index\tsentence1\tsentence2\tlabel\n0\tP\tH\tentailment\n"
	for _, c := range []struct {
		file, text string
		ok         bool
	}{
		{"a.txt", jsonl, true}, {"a.txt", "\uFEFF \n" + jsonl, true}, {"a", tsv, true},
		{"a.jsonl", tsv, false}, {"a.tsv", jsonl, false},
	} {
		_, err := rte.Load(write(t, c.file, c.text))
		if (err == nil) != c.ok {
			t.Errorf("%s holding %.20q: error %v", c.file, c.text, err)
		}
	}
}

func TestLoadSplit(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"train.tsv", "dev_matched.tsv", "dev_mismatched.tsv", "snli_1.0_test_first10.jsonl", "notes.md"} {
		body := "index\tsentence1\tsentence2\tgold_label\n0\t" + n + "\tH\tneutral\n"
		if strings.HasSuffix(n, ".jsonl") {
			body = `{"sentence1": "` + n + `", "sentence2": "H", "gold_label": "neutral"}`
		}
		if err := os.WriteFile(filepath.Join(dir, n), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mnli := mustTask(t, "mnli")
	for split, file := range map[string]string{"train": "train.tsv", "dev_matched": "dev_matched.tsv", "dev_mismatched": "dev_mismatched.tsv", "test": "snli_1.0_test_first10.jsonl"} {
		d, err := mnli.LoadSplit(dir, split)
		if err != nil {
			t.Fatal(err)
		}
		if d.Examples[0].Premise != file {
			t.Errorf("split %s read %s, want %s", split, d.Examples[0].Premise, file)
		}
	}
	if _, err := mnli.LoadSplit(dir, "validation"); err == nil || !strings.Contains(err.Error(), "no file for the validation split") {
		t.Errorf("missing split: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x_train.tsv"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := mnli.LoadSplit(dir, "train"); err == nil || !strings.Contains(err.Error(), "train.tsv, x_train.tsv") {
		t.Errorf("ambiguous split: %v", err)
	}
}

// TestSharedData loads the SNLI sample and SuperGLUE RTE and checks the counts their
// SOURCE.md states.
func TestSharedData(t *testing.T) {
	snli, rte := testenv.RequireDataSubdir(t, "snli-sample"), testenv.RequireDataSubdir(t, "rte")
	for _, c := range []struct {
		task, path string
		counts     []int
		skipped    int
		first      Example
	}{
		{"snli", filepath.Join(snli, "snli_1.0_dev_first1289.jsonl"), []int{433, 421, 419}, 16,
			Example{ID: "4705552913.jpg#2r1n", Premise: "Two women are embracing while holding to go packages.", Hypothesis: "The sisters are hugging goodbye while holding to go packages after just eating lunch.", Label: 1}},
		{"snli", filepath.Join(snli, "snli_1.0_test_first1277.jsonl"), []int{405, 429, 420}, 23, Example{}},
		{"rte", filepath.Join(rte, "train.jsonl"), []int{1249, 1241}, 0, Example{}},
		{"rte", filepath.Join(rte, "val.jsonl"), []int{146, 131}, 0,
			Example{ID: "0", Premise: "Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age 44, according to the Christopher Reeve Foundation.", Hypothesis: "Christopher Reeve had an accident.", Label: 1}},
	} {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			d, err := mustTask(t, c.task).Load(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Counts(), c.counts) || d.Skipped != c.skipped || !d.Labeled {
				t.Errorf("counts %v, %d skipped; want %v, %d", d.Counts(), d.Skipped, c.counts, c.skipped)
			}
			if c.first.Premise != "" && d.Examples[0] != c.first {
				t.Errorf("first example %+v\nwant %+v", d.Examples[0], c.first)
			}
		})
	}
	if d, err := mustTask(t, "rte").LoadSplit(rte, "dev"); err != nil || len(d.Examples) != 277 {
		t.Errorf("rte dev split: %v", err)
	}
	if d, err := mustTask(t, "snli").LoadSplit(snli, "test"); err != nil || len(d.Examples) != 1254 {
		t.Errorf("snli test split: %v", err)
	}
}
