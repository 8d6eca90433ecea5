package seq2seq

import (
	"context"
	"fmt"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
)

// Pair is one source sequence and its target, as token ids (no BOS, no EOS).
type Pair struct{ Src, Tgt []int }

// Task trains a Model on source–target pairs with teacher forcing; it implements the shared
// training loop's train.Task. Make one with NewTask.
type Task struct {
	Model      *Model
	Train, Val []Pair
	Batch      int // B
	// EvalPairs is how many validation pairs a periodic evaluation reads (evenly spaced over
	// the split); the final evaluation reads them all. 0 means 256.
	EvalPairs int

	bt       Batch
	src, tgt [][]int
}

// Params implements train.Task.
func (t *Task) Params() *nn.Params { return &t.Model.Params }

// Loss implements train.Task: a batch of B pairs drawn uniformly from the training split.
// It returns the loss and the number of target tokens (EOS included) it averages over.
func (t *Task) Loss(g *autograd.Graph, data, dropout *tensor.RNG) (*autograd.Var, int) {
	if len(t.Train) == 0 || t.Batch <= 0 {
		panic(fmt.Sprintf("seq2seq.Task: %d training pairs, batch %d", len(t.Train), t.Batch))
	}
	t.src, t.tgt = t.src[:0], t.tgt[:0]
	for range t.Batch {
		p := t.Train[data.IntN(len(t.Train))]
		t.src, t.tgt = append(t.src, p.Src), append(t.tgt, p.Tgt)
	}
	if err := t.Model.MakeBatch(&t.bt, t.src, t.tgt); err != nil {
		panic(fmt.Sprintf("seq2seq.Task: a training pair the model cannot take (NewTask checks them): %v", err))
	}
	var rng *tensor.RNG
	if t.Model.Config.Dropout > 0 {
		rng = dropout
	}
	return t.Model.LossDropout(g, &t.bt, rng), t.bt.Tokens
}

// NewTask returns a task over the given splits after checking that the model can take every
// pair (no empty or overlong sequence, no id outside a vocabulary) and that there is
// something to train on.
func NewTask(m *Model, train, val []Pair, batch int) (*Task, error) {
	if len(train) == 0 || batch <= 0 {
		return nil, fmt.Errorf("seq2seq: %d training pairs and a batch of %d; want at least one pair and a positive batch size", len(train), batch)
	}
	t := &Task{Model: m, Train: train, Val: val, Batch: batch}
	for _, split := range []struct {
		name  string
		pairs []Pair
	}{{"training", train}, {"validation", val}} {
		for i, p := range split.pairs {
			if err := m.MakeBatch(&t.bt, [][]int{p.Src}, [][]int{p.Tgt}); err != nil {
				return nil, fmt.Errorf("%s pair %d: %w", split.name, i, err)
			}
		}
	}
	return t, nil
}

// Evaluate implements train.Task: the mean per-token loss over the validation pairs — all of
// them when full is set, else EvalPairs spread evenly over the split.
func (t *Task) Evaluate(ctx context.Context, full bool) (float64, error) {
	n := len(t.Val)
	use := n
	if !full {
		use = t.EvalPairs
		if use <= 0 {
			use = 256
		}
		use = min(use, n)
	}
	if use == 0 {
		return 0, nil
	}
	per := max(t.Batch, 1)
	g := autograd.NewGraph()
	g.SetGrad(false)
	var bt Batch
	var total float64
	var tokens int
	for start := 0; start < use; start += per {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		var src, tgt [][]int
		for i := start; i < min(start+per, use); i++ {
			p := t.Val[i*n/use]
			src, tgt = append(src, p.Src), append(tgt, p.Tgt)
		}
		if err := t.Model.MakeBatch(&bt, src, tgt); err != nil {
			return 0, fmt.Errorf("seq2seq: validation: %w", err)
		}
		g.Reset()
		total += float64(t.Model.Loss(g, &bt).Value.Item()) * float64(bt.Tokens)
		tokens += bt.Tokens
	}
	return total / float64(tokens), nil
}

// SaveModel implements train.Task: config.json and model.safetensors.
func (t *Task) SaveModel(dir string) error { return t.Model.Save(dir) }
