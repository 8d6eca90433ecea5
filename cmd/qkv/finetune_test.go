package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/finetune"
	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tokenizer"
)

// fixtureWords make up the fixture pairs; the vocabulary holds them after the special tokens.
var fixtureWords = strings.Fields("a man woman dog cat is are running sitting on the grass sofa outside inside not sleeping")

// fixtureModel writes a tiny BERT (pretraining heads) with its vocab.txt into dir, of vocabSize
// tokens (the fixture vocabulary, padded with unused pieces).
func fixtureModel(t *testing.T, dir string, vocabSize int) string {
	t.Helper()
	vocab := append([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."}, fixtureWords...)
	for i := len(vocab); i < vocabSize; i++ {
		vocab = append(vocab, fmt.Sprintf("[unused%d]", i))
	}
	saveTinyBERT(t, dir, vocab, bert.Config{HiddenSize: 32, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 64,
		HiddenAct: "gelu", MaxPositionEmbeddings: 32, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenDropoutProb: 0.1, AttentionDropoutProb: 0.1}, 1)
	return dir
}

// rteFixture writes n RTE pairs as JSON lines: the label is not_entailment exactly when the
// hypothesis says "not".
func rteFixture(t *testing.T, dir, name string, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		who := fixtureWords[1+i%3]
		premise := fmt.Sprintf("a %s is running on the grass outside .", who)
		hyp, label := fmt.Sprintf("a %s is outside .", who), "entailment"
		if i%2 == 1 {
			hyp, label = fmt.Sprintf("a %s is not outside .", who), "not_entailment"
		}
		if i == 0 { // longer than the model's 32 positions: truncated, never an index panic
			premise = strings.Repeat("the man is running on the grass ", 6)
		}
		fmt.Fprintf(&b, `{"premise": %q, "hypothesis": %q, "label": %q, "idx": %d}`+"\n", premise, hyp, label, i)
	}
	return writeFile(t, dir, name, b.String())
}

// qkv finetune trains a BERT on RTE-format files end to end: one evaluation per epoch, the best
// model saved as a BertForSequenceClassification folder that model/auto loads, a predictions
// line per dev pair, the run's metrics with the dev accuracy, and a resumable run.
func TestFinetuneBERTEndToEnd(t *testing.T) {
	dir := t.TempDir()
	model := fixtureModel(t, filepath.Join(dir, "model"), 40)
	tr, dev := rteFixture(t, dir, "train.jsonl", 64), rteFixture(t, dir, "val.jsonl", 16)
	out := filepath.Join(dir, "ft")
	log, err := run(t, "", "finetune", "--model", model, "--task", "rte", "--train", tr, "--dev", dev, "--epochs", "3",
		"--lr", "3e-3", "--batch", "16", "--max-length", "32", "--seed", "1", "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	for _, want := range []string{"2 pairs truncated to 32 tokens (longest_first)", "epoch 1 │ dev accuracy", "epoch 3 │", "best epoch"} {
		if !strings.Contains(log, want) {
			t.Fatalf("output lacks %q:\n%s", want, log)
		}
	}
	m, err := auto.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	bm, ok := auto.Family(m).(*bert.Model)
	if !ok || bm.Config.Head != bert.HeadClassification || bm.Config.Label(1) != "not_entailment" {
		t.Fatalf("saved model: %T %+v", auto.Family(m), bm.Config)
	}
	preds, err := os.ReadFile(filepath.Join(out, finetune.PredictionsFile("dev")))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(preds)), "\n")
	var p finetune.Prediction
	if len(lines) != 16 || json.Unmarshal([]byte(lines[3]), &p) != nil || p.Index != 3 || len(p.Probabilities) != 2 {
		t.Fatalf("predictions: %d lines, line 4 %q", len(lines), lines[3])
	}
	var res finetune.Results
	data, _ := os.ReadFile(filepath.Join(out, finetune.ResultsFile))
	if err := json.Unmarshal(data, &res); err != nil || len(res.Evals) != 3 {
		t.Fatalf("results.json: %v, %s", err, data)
	}
	metrics, _ := os.ReadFile(filepath.Join(out, "run", "metrics.jsonl"))
	if !strings.Contains(string(metrics), `"val_dev_accuracy_full"`) {
		t.Fatalf("metrics.jsonl lacks the dev accuracy:\n%s", metrics)
	}
	// Resuming a finished run changes nothing and keeps its evaluations.
	if log, err := run(t, "", "finetune", "--resume", out, "--lr", "1"); err == nil || !strings.Contains(err.Error(), "--lr") {
		t.Fatalf("--resume with a changed --lr: %v\n%s", err, log)
	}
}

// GPT-1's road: a GPT run folder fine-tunes with the pair tokens added, and its output loads
// back as a pair classifier with the task's labels.
func TestFinetuneGPTEndToEnd(t *testing.T) {
	dir := t.TempDir()
	wpDir := fixtureModel(t, filepath.Join(dir, "bert"), 40) // its vocab.txt serves the GPT too
	tok, err := tokenizer.Load(wpDir)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := gpt.New(gpt.Config{VocabSize: tok.VocabSize(), NPositions: 24, NEmbd: 32, NLayer: 1, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "gpt")
	if err := lm.Save(model); err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(model); err != nil {
		t.Fatal(err)
	}
	tr, dev := rteFixture(t, dir, "train.jsonl", 48), rteFixture(t, dir, "val.jsonl", 8)
	out := filepath.Join(dir, "ft")
	log, err := run(t, "", "finetune", "--model", model, "--task", "rte", "--train", tr, "--dev", dev, "--epochs", "2",
		"--lr", "1e-3", "--batch", "16", "--max-length", "24", "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if !strings.Contains(log, "GPT (pretrained weights) as GPT-1 fine-tunes") {
		t.Fatalf("output:\n%s", log)
	}
	c, err := gpt.LoadClassifier(out)
	if err != nil {
		t.Fatal(err)
	}
	if c.Config.VocabSize != tok.VocabSize()+gpt.PairTokens || len(c.Labels) != 2 || c.Labels[1] != "not_entailment" {
		t.Fatalf("saved classifier: vocabulary %d, labels %v", c.Config.VocabSize, c.Labels)
	}
	// A fine-tuned classifier refuses a task with another number of classes.
	snli := writeFile(t, dir, "snli.jsonl", `{"sentence1": "a man", "sentence2": "a dog", "gold_label": "neutral"}`+"\n")
	if log, err := run(t, "", "finetune", "--model", out, "--task", "snli", "--train", snli, "--dev", snli, "--out", filepath.Join(dir, "x")); err == nil || !strings.Contains(err.Error(), "3") {
		t.Fatalf("3-class task on a 2-class classifier: %v\n%s", err, log)
	}
}

// Bad input is refused with a message naming the file and line or what does not match, and
// leaves no output folder behind.
func TestFinetuneRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	model := fixtureModel(t, filepath.Join(dir, "model"), 40)
	good := rteFixture(t, dir, "good.jsonl", 8)
	// A model whose embedding is larger than its vocab.txt.
	mismatched := fixtureModel(t, filepath.Join(dir, "mismatched"), 40)
	small := append([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}, fixtureWords...)
	writeFile(t, mismatched, "vocab.txt", strings.Join(small, "\n")+"\n")
	os.Remove(filepath.Join(mismatched, "tokenizer.json"))
	// A classifier fine-tuned for two classes.
	twoClass := filepath.Join(dir, "twoclass")
	if log, err := run(t, "", "finetune", "--model", model, "--task", "rte", "--train", good, "--dev", good, "--epochs", "1", "--max-length", "32", "--out", twoClass); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	snli := writeFile(t, dir, "snli.jsonl", `{"sentence1": "a man", "sentence2": "a dog", "gold_label": "neutral"}`+"\n")
	cases := []struct {
		name  string
		args  []string
		wants []string
	}{
		{"label outside the set", []string{"--train", writeFile(t, dir, "badlabel.jsonl", `{"premise": "a", "hypothesis": "b", "label": "entailment"}`+"\n"+`{"premise": "a", "hypothesis": "b", "label": "maybe"}`+"\n")}, []string{"badlabel.jsonl", "2", "maybe"}},
		{"missing column", []string{"--train", writeFile(t, dir, "nohyp.jsonl", `{"premise": "a", "label": "entailment"}`+"\n")}, []string{"nohyp.jsonl", "hypothesis"}},
		{"malformed line", []string{"--train", writeFile(t, dir, "broken.jsonl", `{"premise": "a", "hypothesis": "b", "label": "entailment"}`+"\n{\"premise\": \n")}, []string{"broken.jsonl", "2"}},
		{"empty file", []string{"--train", writeFile(t, dir, "empty.jsonl", "")}, []string{"empty.jsonl"}},
		{"vocabulary", []string{"--model", mismatched}, []string{"vocab_size 40", "tokens"}},
		{"label count", []string{"--model", twoClass, "--task", "snli", "--train", snli, "--dev", snli}, []string{"2 classes", "snli has 3"}},
		{"unknown task", []string{"--task", "squad"}, []string{"squad"}},
		{"truncation", []string{"--truncation", "middle"}, []string{"--truncation", "longest_first"}},
		{"pair does not fit", []string{"--truncation", "do_not_truncate", "--max-length", "32"}, []string{"good.jsonl", "example 1", "longest_first"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(c.name, " ", "-"))
			args := map[string]string{"--model": model, "--task": "rte", "--train": good, "--dev": good, "--out": out}
			for i := 0; i < len(c.args); i += 2 {
				args[c.args[i]] = c.args[i+1]
			}
			var argv []string
			for k, v := range args {
				argv = append(argv, k, v)
			}
			log, err := run(t, "", append([]string{"finetune", "--epochs", "1"}, argv...)...)
			if err == nil {
				t.Fatalf("accepted:\n%s", log)
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not say %q", err, w)
				}
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("a refused run left %s behind", out)
			}
		})
	}
}

// MNLI's two dev files are reported as MNLI-m and MNLI-mm; other dev files as dev, dev1, dev2.
func TestDevNames(t *testing.T) {
	for _, tc := range []struct {
		task string
		n    int
		want string
	}{{"mnli", 2, "MNLI-m MNLI-mm"}, {"mnli", 1, "dev"}, {"rte", 1, "dev"}, {"snli", 3, "dev1 dev2 dev3"}} {
		if got := strings.Join(devNames(tc.task, tc.n), " "); got != tc.want {
			t.Errorf("devNames(%s, %d) = %s, want %s", tc.task, tc.n, got, tc.want)
		}
	}
}
