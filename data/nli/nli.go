// Package nli reads natural language inference benchmarks in the formats they ship in: MNLI,
// QNLI and RTE as GLUE TSV files, SNLI and SuperGLUE RTE as JSON lines, SciTail as its
// tab-separated or JSON-lines files. Every loader returns premise–hypothesis pairs with a label
// index into the task's label list, ordered as the Hugging Face datasets (glue, super_glue,
// snli) order them.
// FORMATS.md describes each format.
package nli

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Unlabeled is the Label of an example from a test split that ships without labels.
const Unlabeled = -1

// Example is one premise–hypothesis pair. QNLI's question is its premise and its sentence the
// hypothesis (GLUE's text_a and text_b).
type Example struct {
	ID         string // the file's pairID, idx or index when it has one
	Premise    string
	Hypothesis string
	Label      int // index into the task's Labels, or Unlabeled
}

// Dataset is the examples of one file.
type Dataset struct {
	Task     *Task
	Path     string
	Examples []Example
	// Labeled is false for a test split without a label column or field.
	Labeled bool
	// Skipped counts examples left out for having no gold label (SNLI's and MNLI's "-": the
	// annotators did not agree).
	Skipped int
}

// Task is an NLI benchmark: its labels and where its files keep each field.
type Task struct {
	Name   string
	Labels []string // label index -> name, in the order of the Hugging Face datasets' ClassLabel

	// aliases maps other spellings of a label in the task's own files to its index
	// (SciTail's JSON-lines files say "entailment" where its TSV files say "entails").
	aliases map[string]int
	// skip lists the gold labels that mean "no gold label": the example is skipped and counted.
	skip []string
	// premise, hypothesis, label and id name the columns (TSV header) or fields (JSON) that
	// may hold each part, in order of preference.
	premise, hypothesis, label, id []string
	// headerless is the order of the columns of a TSV file without a header (SciTail's
	// premise, hypothesis, label), or nil when the task's TSV files all have a header.
	headerless []string
}

var tasks = map[string]*Task{
	"mnli": {
		Name: "mnli", Labels: []string{"entailment", "neutral", "contradiction"},
		skip:    []string{"-"},
		premise: []string{"sentence1", "premise"}, hypothesis: []string{"sentence2", "hypothesis"}, label: []string{"gold_label", "label"},
		id: []string{"pairID", "idx", "index"},
	},
	"snli": {
		Name: "snli", Labels: []string{"entailment", "neutral", "contradiction"},
		skip:    []string{"-"},
		premise: []string{"sentence1", "premise"}, hypothesis: []string{"sentence2", "hypothesis"}, label: []string{"gold_label", "label"},
		id: []string{"pairID", "idx", "index"},
	},
	"scitail": {
		Name: "scitail", Labels: []string{"entails", "neutral"},
		aliases: map[string]int{"entailment": 0},
		premise: []string{"sentence1", "premise"}, hypothesis: []string{"sentence2", "hypothesis"}, label: []string{"gold_label", "label"},
		id:         []string{"pairID", "idx", "index"},
		headerless: []string{"premise", "hypothesis", "label"},
	},
	"qnli": {
		Name: "qnli", Labels: []string{"entailment", "not_entailment"},
		premise: []string{"question"}, hypothesis: []string{"sentence"}, label: []string{"label"},
		id: []string{"idx", "index"},
	},
	"rte": {
		Name: "rte", Labels: []string{"entailment", "not_entailment"},
		premise: []string{"sentence1", "premise"}, hypothesis: []string{"sentence2", "hypothesis"}, label: []string{"label"},
		id: []string{"idx", "index"},
	},
}

// Lookup returns the task registered under name (mnli, snli, scitail, qnli, rte), in any case.
func Lookup(name string) (*Task, error) {
	if t, ok := tasks[strings.ToLower(strings.TrimSpace(name))]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("nli: unknown task %q (want one of %s)", name, strings.Join(TaskNames(), ", "))
}

// TaskNames lists the registered tasks in alphabetical order.
func TaskNames() []string {
	names := make([]string, 0, len(tasks))
	for n := range tasks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NumLabels is the number of classes.
func (t *Task) NumLabels() int { return len(t.Labels) }

// labelIndex maps a label as written in a file to its index. ok is false for a label outside
// the task's set; skip is true for a "no gold label" marker.
func (t *Task) labelIndex(s string) (i int, skip, ok bool) {
	s = strings.TrimSpace(s)
	if i := slices.Index(t.Labels, s); i >= 0 {
		return i, false, true
	}
	if i, found := t.aliases[s]; found {
		return i, false, true
	}
	if slices.Contains(t.skip, s) {
		return 0, true, true
	}
	return 0, false, false
}

// badLabel says which labels the task accepts.
func (t *Task) badLabel(s string) error {
	allowed := append([]string(nil), t.Labels...)
	for a := range t.aliases {
		allowed = append(allowed, a)
	}
	sort.Strings(allowed[len(t.Labels):])
	return fmt.Errorf("label %q is not a %s label (want %s)", clip(s), t.Name, strings.Join(allowed, ", "))
}

// clip shortens a string for an error message.
func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
