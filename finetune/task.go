package finetune

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/data/nli"
	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

// ResultsFile, in the output folder, records every evaluation and which one was the best.
const ResultsFile = "results.json"

// DevSet is one evaluation file.
type DevSet struct {
	Name  string // "dev", "MNLI-m", "MNLI-mm": the name in logs, metrics and file names
	Path  string
	Pairs []Pair
	IDs   []string // the examples' ids in the file ("" when it has none)
}

// Saver writes a tokenizer's files into a folder.
type Saver interface{ Save(dir string) error }

// Task fine-tunes Model on Train: epoch e visits every training pair once in an order drawn from
// Seed and e, in batches of Batch (the last one of an epoch may be smaller). The loop evaluates
// after each epoch (its EvalInterval is StepsPerEpoch); each evaluation measures every dev set,
// and when the first one's accuracy is the best so far the model, the tokenizer and a
// predictions file per dev set are written into OutDir. It is a train.Task.
type Task struct {
	Model     Model
	Tokenizer Saver
	Labels    []string // class names, by id
	Train     []Pair
	Dev       []DevSet
	Batch     int
	Seed      uint64
	OutDir    string    // the best model, its predictions and ResultsFile
	Log       io.Writer // a line per evaluation (nil: none)

	step      int
	order     []int
	orderFrom int // the epoch order holds, -1 before the first
	pairs     []Pair
	labels    []int
	results   Results
	scores    map[string]float64
}

// Results is the content of ResultsFile.
type Results struct {
	Labels []string     `json:"labels"`
	Evals  []Evaluation `json:"evaluations"`
	Best   int          `json:"best"` // index into Evals of the best evaluation (on the first dev set), -1 before any
}

// Evaluation is the dev-set accuracies after an epoch.
type Evaluation struct {
	Epoch    int                `json:"epoch"`
	Step     int                `json:"step"`
	Accuracy map[string]float64 `json:"accuracy"` // by dev set name
	Loss     map[string]float64 `json:"loss"`     // mean cross-entropy, by dev set name
}

// StepsPerEpoch is the number of batches of one pass over the training pairs.
func (t *Task) StepsPerEpoch() int { return (len(t.Train) + t.Batch - 1) / max(t.Batch, 1) }

// Params implements train.Task.
func (t *Task) Params() *nn.Params { return t.Model.Params() }

// Check reports a task the loop cannot run: a batch size below 1, no training pairs or dev set,
// a dev set without examples, a label outside the classes, a token outside the vocabulary or a
// pair too long for the model.
func (t *Task) Check() error {
	switch {
	case t.Batch < 1:
		return fmt.Errorf("fine-tuning: batch size %d, want at least 1", t.Batch)
	case len(t.Train) == 0:
		return fmt.Errorf("fine-tuning: no training examples")
	case len(t.Dev) == 0:
		return fmt.Errorf("fine-tuning: no dev set")
	case t.OutDir == "":
		return fmt.Errorf("fine-tuning: no output folder")
	}
	check := func(what string, pairs []Pair) error {
		for i, p := range pairs {
			if p.Label < 0 || p.Label >= len(t.Labels) {
				return fmt.Errorf("fine-tuning: %s example %d: label %d is not a class id in [0, %d)", what, i, p.Label, len(t.Labels))
			}
			if n := len(p.A) + len(p.B) + t.Model.Specials(); n > t.Model.Positions() {
				return fmt.Errorf("fine-tuning: %s example %d: %d tokens, more than the model's %d positions", what, i, n, t.Model.Positions())
			}
			for _, s := range [][]int{p.A, p.B} {
				for _, id := range s {
					if id < 0 || id >= t.Model.VocabSize() {
						return fmt.Errorf("fine-tuning: %s example %d: token id %d is outside the vocabulary of %d", what, i, id, t.Model.VocabSize())
					}
				}
			}
		}
		return nil
	}
	if err := check("training", t.Train); err != nil {
		return err
	}
	for _, d := range t.Dev {
		if len(d.Pairs) == 0 {
			return fmt.Errorf("fine-tuning: dev set %s (%s) has no examples", d.Name, d.Path)
		}
		if err := check(d.Name, d.Pairs); err != nil {
			return err
		}
	}
	return nil
}

// Seek places the task at step and reads back the evaluations OutDir records up to it. A new
// run needs no call; a resumed one calls it, before train.Run, with the step of the checkpoint
// it continues from, so that its batches and best epoch are those of an uninterrupted run.
func (t *Task) Seek(step int) error {
	t.step, t.orderFrom = step, -1
	t.results = Results{Labels: t.Labels, Best: -1}
	data, err := fileutil.ReadFile(filepath.Join(t.OutDir, ResultsFile), fileutil.SmallFileLimit, "a results file")
	if errors.Is(err, os.ErrNotExist) || step == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fine-tuning: %w", err)
	}
	var r Results
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("fine-tuning: %s: %w", filepath.Join(t.OutDir, ResultsFile), err)
	}
	for _, e := range r.Evals {
		if e.Step <= step {
			t.record(e)
		}
	}
	return nil
}

// record appends an evaluation and reports whether it is the best so far.
func (t *Task) record(e Evaluation) bool {
	t.results.Evals = append(t.results.Evals, e)
	i, first := len(t.results.Evals)-1, t.Dev[0].Name
	best := i == 0 || t.results.Best < 0 || e.Accuracy[first] > t.results.Evals[t.results.Best].Accuracy[first]
	if best {
		t.results.Best = i
	}
	return best
}

// Loss implements train.Task: the next batch of the epoch's order.
func (t *Task) Loss(g *autograd.Graph, _, dropout *tensor.RNG) (*autograd.Var, int) {
	spe := t.StepsPerEpoch()
	epoch, i := t.step/spe, t.step%spe
	if t.orderFrom != epoch || len(t.order) != len(t.Train) {
		t.order = resize(t.order, len(t.Train))
		for j := range t.order {
			t.order[j] = j
		}
		rng := tensor.NewRNG(t.Seed ^ (0x9e3779b97f4a7c15 * uint64(epoch+1)))
		for j := len(t.order) - 1; j > 0; j-- {
			k := rng.IntN(j + 1)
			t.order[j], t.order[k] = t.order[k], t.order[j]
		}
		t.orderFrom = epoch
	}
	t.step++
	idx := t.order[i*t.Batch : min(len(t.Train), (i+1)*t.Batch)]
	t.pairs, t.labels = t.pairs[:0], t.labels[:0]
	tokens := 0
	for _, j := range idx {
		p := t.Train[j]
		t.pairs = append(t.pairs, p)
		t.labels = append(t.labels, p.Label)
		tokens += len(p.A) + len(p.B) + t.Model.Specials()
	}
	_, loss := t.Model.Forward(g, t.pairs, t.labels, dropout)
	return loss, tokens
}

// predict returns the class probabilities of every pair of d, and the mean cross-entropy.
func (t *Task) predict(ctx context.Context, d DevSet) ([][]float64, float64, error) {
	g := autograd.NewGraph()
	g.SetGrad(false)
	probs := make([][]float64, 0, len(d.Pairs))
	var loss float64
	for start := 0; start < len(d.Pairs); start += t.Batch {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		g.Reset()
		batch := d.Pairs[start:min(len(d.Pairs), start+t.Batch)]
		logits, _ := t.Model.Forward(g, batch, nil, nil)
		K := logits.Value.Dim(1)
		x := logits.Value.Data()
		for i, p := range batch {
			row := softmax(x[i*K : (i+1)*K])
			probs = append(probs, row)
			loss -= math.Log(max(row[p.Label], 1e-30))
		}
	}
	return probs, loss / float64(len(d.Pairs)), nil
}

func softmax(x []float32) []float64 {
	m := float64(slices.Max(x))
	out := make([]float64, len(x))
	var sum float64
	for i, v := range x {
		out[i] = math.Exp(float64(v) - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

func argmax(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// Evaluate implements train.Task: the accuracy on every dev set (all of it, whether or not
// full is set), kept for Scores; it returns the first dev set's mean loss. A new best writes the
// model and its predictions into OutDir.
func (t *Task) Evaluate(ctx context.Context, _ bool) (float64, error) {
	e := Evaluation{Epoch: t.step / t.StepsPerEpoch(), Step: t.step, Accuracy: map[string]float64{}, Loss: map[string]float64{}}
	if t.step%t.StepsPerEpoch() != 0 {
		e.Epoch++ // a partial epoch (a run shortened on purpose)
	}
	all := make([][][]float64, len(t.Dev))
	t.scores = map[string]float64{}
	for k, d := range t.Dev {
		probs, loss, err := t.predict(ctx, d)
		if err != nil {
			return 0, err
		}
		hit := 0
		for i, p := range probs {
			if argmax(p) == d.Pairs[i].Label {
				hit++
			}
		}
		all[k] = probs
		e.Accuracy[d.Name], e.Loss[d.Name] = float64(hit)/float64(len(probs)), loss
		t.scores[d.Name+"_accuracy"] = e.Accuracy[d.Name]
	}
	best := t.record(e)
	if t.Log != nil {
		fmt.Fprintf(t.Log, "epoch %d │", e.Epoch)
		for _, d := range t.Dev {
			fmt.Fprintf(t.Log, " %s accuracy %.2f%%", d.Name, 100*e.Accuracy[d.Name])
		}
		if best {
			fmt.Fprintf(t.Log, " │ best so far, saved to %s", t.OutDir)
		}
		fmt.Fprintln(t.Log)
	}
	if best {
		if err := t.saveBest(all); err != nil {
			return 0, err
		}
	}
	if err := t.writeResults(); err != nil {
		return 0, err
	}
	return e.Loss[t.Dev[0].Name], nil
}

// Scores returns the dev accuracies of the last evaluation (train.Scorer), as NAME_accuracy.
func (t *Task) Scores(context.Context, bool) (map[string]float64, error) { return t.scores, nil }

// Best is the best evaluation so far and whether there is one.
func (t *Task) Best() (Evaluation, bool) {
	if len(t.results.Evals) == 0 {
		return Evaluation{}, false
	}
	return t.results.Evals[t.results.Best], true
}

// Results returns every evaluation so far.
func (t *Task) Results() Results { return t.results }

// PredictionsFile is the name of the predictions file of a dev set.
func PredictionsFile(devName string) string { return "predictions-" + devName + ".jsonl" }

// Prediction is one line of a predictions file.
type Prediction struct {
	Index         int       `json:"index"`        // the example's position in its file (examples without a gold label skipped)
	ID            string    `json:"id,omitempty"` // the file's id of the example
	Label         string    `json:"label"`        // the predicted class
	Probabilities []float64 `json:"probabilities"`
	Gold          string    `json:"gold"`
}

// saveBest writes the model, the tokenizer and the predictions into a temporary folder inside
// OutDir and moves each file into place (config.json last), so that OutDir never holds a
// half-written file.
func (t *Task) saveBest(probs [][][]float64) error {
	if err := os.MkdirAll(t.OutDir, 0o755); err != nil {
		return fmt.Errorf("fine-tuning: %w", err)
	}
	tmp, err := os.MkdirTemp(t.OutDir, ".best-")
	if err != nil {
		return fmt.Errorf("fine-tuning: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := t.Model.Save(tmp); err != nil {
		return err
	}
	if t.Tokenizer != nil {
		if err := t.Tokenizer.Save(tmp); err != nil {
			return err
		}
	}
	for k, d := range t.Dev {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for i, p := range probs[k] {
			pr := Prediction{Index: i, Label: t.Labels[argmax(p)], Probabilities: p, Gold: t.Labels[d.Pairs[i].Label]}
			if i < len(d.IDs) {
				pr.ID = d.IDs[i]
			}
			if err := enc.Encode(pr); err != nil {
				return err
			}
		}
		if err := atomicfile.WriteFile(filepath.Join(tmp, PredictionsFile(d.Name)), buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("fine-tuning: %w", err)
		}
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("fine-tuning: %w", err)
	}
	slices.SortFunc(entries, func(a, b os.DirEntry) int { // config.json last: it makes the folder a model
		return boolInt(a.Name() == "config.json") - boolInt(b.Name() == "config.json")
	})
	for _, e := range entries {
		if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(t.OutDir, e.Name())); err != nil {
			return fmt.Errorf("fine-tuning: %w", err)
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (t *Task) writeResults() error {
	t.results.Labels = t.Labels
	data, err := json.MarshalIndent(t.results, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(t.OutDir, ResultsFile), append(data, '\n'), 0o644)
}

// SaveModel implements train.Task: the model folder, with the parameters' own names, and the
// tokenizer's files.
func (t *Task) SaveModel(dir string) error {
	if err := t.Model.SaveCheckpoint(dir); err != nil {
		return err
	}
	if t.Tokenizer == nil {
		return nil
	}
	return t.Tokenizer.Save(dir)
}

// EncodeOptions say how Encode lays out pairs.
type EncodeOptions struct {
	MaxLength int    // longest sequence, special tokens included
	Specials  int    // special tokens the model adds around a pair
	Strategy  string // truncation strategy
}

// Encode tokenizes the labelled examples of ds into pairs that fit opts.MaxLength. It returns
// the pairs, their ids, and how many were truncated; an unlabelled file or a pair the strategy
// cannot fit is an error naming the file and the example.
func Encode(ds *nli.Dataset, tok tokenizer.Tokenizer, opts EncodeOptions) ([]Pair, []string, int, error) {
	if !ds.Labeled {
		return nil, nil, 0, fmt.Errorf("%s: the file has no labels (a test split?); fine-tuning and evaluation need labelled examples", ds.Path)
	}
	if len(ds.Examples) == 0 {
		return nil, nil, 0, fmt.Errorf("%s: no labelled examples", ds.Path)
	}
	budget := opts.MaxLength - opts.Specials
	if budget < 2 {
		return nil, nil, 0, fmt.Errorf("maximum length %d leaves no room for a pair besides %d special tokens", opts.MaxLength, opts.Specials)
	}
	pairs := make([]Pair, 0, len(ds.Examples))
	ids := make([]string, 0, len(ds.Examples))
	truncated := 0
	for i, ex := range ds.Examples {
		a, b := tok.Encode(ex.Premise), tok.Encode(ex.Hypothesis)
		ta, tb, err := Truncate(a, b, budget, opts.Strategy)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("%s: example %d (id %q): %w", ds.Path, i+1, ex.ID, err)
		}
		if len(ta)+len(tb) < len(a)+len(b) {
			truncated++
		}
		pairs = append(pairs, Pair{A: ta, B: tb, Label: ex.Label})
		ids = append(ids, ex.ID)
	}
	return pairs, ids, truncated, nil
}
