package translate

import (
	"context"
	"fmt"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/data"
	"github.com/qkvdev/qkv/eval"
	"github.com/qkvdev/qkv/model/seq2seq"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
)

// Task trains a translation model on sentence pairs for the shared training loop (package
// train): batches of about MaxTokens padded tokens (data.TokenBatches), drawn at random with
// the loop's data generator, cross-entropy with label smoothing, and at each evaluation the
// validation loss and the BLEU of greedy translations of the validation sources (sacreBLEU's
// cased BLEU, package eval). Make one with NewTask.
type Task struct {
	*Translator
	Train, Val []data.Pair
	// ValSrc and ValRef are the validation sentences as text: the sources translated and the
	// references BLEU compares with (the same pairs as Val).
	ValSrc, ValRef []string
	Smoothing      float32 // label smoothing ε
	// EvalPairs is how many validation pairs a periodic evaluation reads, for the loss and for
	// BLEU (evenly spaced over the split); the final evaluation reads them all. 0 means 256.
	EvalPairs int

	batches  [][]int
	src, tgt [][]int
}

// NewTask checks the pairs against the model (no empty source, nothing longer than it takes,
// naming the line of the first that is) and groups the training pairs into batches of at most
// maxTokens padded tokens.
func NewTask(t *Translator, train, val []data.Pair, valSrc, valRef []string, maxTokens int, smoothing float32, seed uint64) (*Task, error) {
	if len(train) == 0 || len(val) == 0 {
		return nil, fmt.Errorf("translate: %d training and %d validation pairs; want at least one of each", len(train), len(val))
	}
	if len(valSrc) != len(val) || len(valRef) != len(val) {
		return nil, fmt.Errorf("translate: %d validation pairs but %d sources and %d references", len(val), len(valSrc), len(valRef))
	}
	if !(smoothing >= 0 && smoothing < 1) {
		return nil, fmt.Errorf("translate: label smoothing %g: want a number in [0, 1)", smoothing)
	}
	for _, split := range []struct {
		name  string
		pairs []data.Pair
	}{{"training", train}, {"validation", val}} {
		for _, p := range split.pairs {
			switch {
			case len(p.Src) == 0 || len(p.Tgt) == 0:
				return nil, fmt.Errorf("translate: the %s pair on line %d has an empty side", split.name, p.Line)
			case len(p.Src) > t.MaxSource() || len(p.Tgt)+1 > t.MaxTarget():
				return nil, fmt.Errorf("translate: the %s pair on line %d has %d source and %d target tokens; the model takes %d and %d (end token included)", split.name, p.Line, len(p.Src), len(p.Tgt), t.MaxSource(), t.MaxTarget()-1)
			}
		}
	}
	batches, err := data.TokenBatches(train, maxTokens, seed)
	if err != nil {
		return nil, err
	}
	return &Task{Translator: t, Train: train, Val: val, ValSrc: valSrc, ValRef: valRef, Smoothing: smoothing, batches: batches}, nil
}

// Batches is the number of training batches.
func (t *Task) Batches() int { return len(t.batches) }

// Params implements train.Task.
func (t *Task) Params() *nn.Params { return t.family.params() }

// Loss implements train.Task: one of the token batches, drawn uniformly. It returns the loss
// and the number of target tokens (end tokens included).
func (t *Task) Loss(g *autograd.Graph, rng, dropout *tensor.RNG) (*autograd.Var, int) {
	t.src, t.tgt = t.src[:0], t.tgt[:0]
	for _, i := range t.batches[rng.IntN(len(t.batches))] {
		t.src, t.tgt = append(t.src, t.Train[i].Src), append(t.tgt, t.Train[i].Tgt)
	}
	loss, n, err := t.family.loss(g, t.src, t.tgt, dropout, t.Smoothing)
	if err != nil {
		panic(fmt.Sprintf("translate: a training batch the model cannot take (NewTask checks them): %v", err))
	}
	return loss, n
}

// evalRows is the validation subset: every pair when full, else EvalPairs spread evenly.
func (t *Task) evalRows(full bool) []int {
	n, use := len(t.Val), len(t.Val)
	if !full {
		use = t.EvalPairs
		if use <= 0 {
			use = 256
		}
		use = min(use, n)
	}
	rows := make([]int, use)
	for i := range rows {
		rows[i] = i * n / use
	}
	return rows
}

// evalBatch is how many validation pairs one forward pass takes.
const evalBatch = 64

// Evaluate implements train.Task: the mean per-token loss (without label smoothing) over the
// validation pairs.
func (t *Task) Evaluate(ctx context.Context, full bool) (float64, error) {
	rows := t.evalRows(full)
	g := autograd.NewGraph()
	g.SetGrad(false)
	var total float64
	var tokens int
	for start := 0; start < len(rows); start += evalBatch {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		var src, tgt [][]int
		for _, r := range rows[start:min(start+evalBatch, len(rows))] {
			src, tgt = append(src, t.Val[r].Src), append(tgt, t.Val[r].Tgt)
		}
		g.Reset()
		loss, n, err := t.family.loss(g, src, tgt, nil, 0)
		if err != nil {
			return 0, fmt.Errorf("translate: validation: %w", err)
		}
		total += float64(loss.Value.Item()) * float64(n)
		tokens += n
	}
	return total / float64(tokens), nil
}

// Scores implements train.Scorer: "bleu", the corpus BLEU of greedy translations of the
// validation sources against their references.
func (t *Task) Scores(ctx context.Context, full bool) (map[string]float64, error) {
	rows := t.evalRows(full)
	hyps, refs := make([]string, 0, len(rows)), make([]string, 0, len(rows))
	for start := 0; start < len(rows); start += evalBatch {
		var src [][]int
		for _, r := range rows[start:min(start+evalBatch, len(rows))] {
			src = append(src, t.Val[r].Src)
			refs = append(refs, t.ValRef[r])
		}
		ys, err := t.IDs(ctx, src, Options{Beams: 1})
		if err != nil {
			return nil, fmt.Errorf("translate: validation BLEU: %w", err)
		}
		for _, y := range ys {
			s, err := t.Text(y)
			if err != nil {
				return nil, fmt.Errorf("validation BLEU: %w", err)
			}
			hyps = append(hyps, s)
		}
	}
	b, err := eval.BLEU(hyps, [][]string{refs}, eval.Options{})
	if err != nil {
		return nil, err
	}
	return map[string]float64{"bleu": b.Score}, nil
}

// SaveModel implements train.Task: config.json, model.safetensors and the tokenizer's files.
func (t *Task) SaveModel(dir string) error {
	if err := t.family.save(dir); err != nil {
		return err
	}
	return t.Tok.Save(dir)
}

// Teacher-forced loss of each family.

func (f transformerFamily) params() *nn.Params { return &f.m.Params }
func (f transformerFamily) save(dir string) error {
	return f.m.Save(dir)
}

func (f transformerFamily) loss(g *autograd.Graph, src, tgt [][]int, rng *tensor.RNG, eps float32) (*autograd.Var, int, error) {
	b, err := f.m.MakeBatch(src, tgt)
	if err != nil {
		return nil, 0, err
	}
	enc := f.m.Encode(g, b, rng)
	logits := f.m.Decode(g, enc, b, rng) // (B, T, V)
	n := 0
	for _, y := range tgt {
		n += len(y) + 1
	}
	return f.m.Loss(g, logits, b.Labels, eps), n, nil
}

func (f seq2seqFamily) params() *nn.Params { return &f.m.Params }
func (f seq2seqFamily) save(dir string) error {
	return f.m.Save(dir)
}

func (f seq2seqFamily) loss(g *autograd.Graph, src, tgt [][]int, rng *tensor.RNG, eps float32) (*autograd.Var, int, error) {
	var bt seq2seq.Batch
	if err := f.m.MakeBatch(&bt, src, tgt); err != nil {
		return nil, 0, err
	}
	if f.m.Config.Dropout == 0 {
		rng = nil
	}
	logits, _ := f.m.Forward(g, &bt, rng) // (B, T, V_t)
	return g.LabelSmoothedCrossEntropy(logits, bt.Targets, eps), bt.Tokens, nil
}
