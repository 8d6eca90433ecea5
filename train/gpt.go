package train

import (
	"context"
	"fmt"
	"slices"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/data"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

// GPTTask trains a GPT on next-token prediction over a token stream.
type GPTTask struct {
	Model      *gpt.Model
	Tokenizer  tokenizer.Tokenizer
	Train, Val []int // token ids
	Batch      int   // B
	Block      int   // T
	// EvalWindows is how many validation windows a periodic evaluation reads (evenly spaced
	// over the split); the final evaluation reads them all. 0 means 128.
	EvalWindows int

	x, y []int
}

// Params implements Task.
func (t *GPTTask) Params() *nn.Params { return &t.Model.Params }

// Check reports a task the loop cannot run: a batch or block size out of range, a split too
// short for one block, or a token id outside the model's vocabulary (Run calls it first).
func (t *GPTTask) Check() error {
	c := t.Model.Config
	switch {
	case t.Batch < 1:
		return fmt.Errorf("gpt task: batch size %d, want at least 1", t.Batch)
	case t.Block < 1 || t.Block > c.NPositions:
		return fmt.Errorf("gpt task: block of %d tokens, want 1..%d (the model's n_positions)", t.Block, c.NPositions)
	}
	for _, s := range []struct {
		name string
		ids  []int
	}{{"training", t.Train}, {"validation", t.Val}} {
		if err := data.CheckBlock(s.name, s.ids, t.Block); err != nil {
			return fmt.Errorf("gpt task: %w", err)
		}
		if i := slices.IndexFunc(s.ids, func(id int) bool { return id < 0 || id >= c.VocabSize }); i >= 0 {
			return fmt.Errorf("gpt task: token %d of the %s split is id %d, outside the vocabulary of %d", i, s.name, s.ids[i], c.VocabSize)
		}
	}
	return nil
}

// Loss implements Task: a batch of B random windows of T tokens.
func (t *GPTTask) Loss(g *autograd.Graph, rng, dropout *tensor.RNG) (*autograd.Var, int) {
	n := t.Batch * t.Block
	if len(t.x) != n {
		t.x, t.y = make([]int, n), make([]int, n)
	}
	data.RandomBatch(t.Train, t.Batch, t.Block, rng, t.x, t.y)
	c := t.Model.Config
	s := &gpt.State{}
	if c.EmbdPdrop > 0 || c.ResidPdrop > 0 || c.AttnPdrop > 0 {
		s.Dropout = dropout
	}
	logits := t.Model.Forward(g, t.x, t.Batch, t.Block, s)
	return t.Model.Loss(g, logits, t.y), n
}

// Evaluate implements Task: the mean loss over non-overlapping windows of the validation split.
func (t *GPTTask) Evaluate(ctx context.Context, full bool) (float64, error) {
	return EvalLM(ctx, t.Model, t.Val, t.Block, evalWindows(full, t.EvalWindows))
}

func evalWindows(full bool, n int) int {
	if full {
		return 0
	}
	if n <= 0 {
		return 128
	}
	return n
}

// SaveModel implements Task: config.json, model.safetensors and the tokenizer's files.
func (t *GPTTask) SaveModel(dir string) error {
	if err := t.Model.Save(dir); err != nil {
		return err
	}
	return t.Tokenizer.Save(dir)
}

// EvalLM returns the mean next-token loss of m over the non-overlapping windows of block tokens
// in ids — all of them, or limit windows spread evenly over the split (limit > 0).
func EvalLM(ctx context.Context, m *gpt.Model, ids []int, block, limit int) (float64, error) {
	if block < 1 || block > m.Config.NPositions {
		return 0, fmt.Errorf("evaluation windows of %d tokens: want 1..%d (the model's n_positions)", block, m.Config.NPositions)
	}
	nw := data.Windows(ids, block)
	if nw <= 0 {
		return 0, fmt.Errorf("%d tokens hold no window of %d tokens and its next-token targets to evaluate", len(ids), block)
	}
	use := nw
	if limit > 0 && limit < nw {
		use = limit
	}
	// Windows per forward pass: bounded so the logits stay around 16M floats.
	per := max(1, min(256, (16<<20)/(block*m.Config.VocabSize)))
	g := autograd.NewGraph()
	g.SetGrad(false)
	x, y := make([]int, per*block), make([]int, per*block)
	var total float64
	var count int
	for start := 0; start < use; start += per {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		b := min(per, use-start)
		for i := 0; i < b; i++ {
			w := (start + i) * nw / use // evenly spaced when limited
			data.Window(ids, block, w, x[i*block:(i+1)*block], y[i*block:(i+1)*block])
		}
		g.Reset()
		logits := m.Forward(g, x[:b*block], b, block, nil)
		loss := m.Loss(g, logits, y[:b*block])
		total += float64(loss.Value.Item()) * float64(b)
		count += b
	}
	return total / float64(count), nil
}
