package bert

import (
	"context"
	"fmt"
	"math"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/data"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

// PretrainTask trains a BERT with its pretraining heads on masked language modelling and
// next-sentence prediction; it is a train.Task.
//
// Each batch is B instances drawn from the training set by the loop's data RNG: the sampler of
// the set is placed at the start of a freshly drawn epoch, whose seeded order and masks are new
// (dynamic masking), and the batch is that order's first B instances. The batches are therefore
// a function of the data RNG alone, which every checkpoint stores, so a resumed run sees the
// batches an uninterrupted one would.
type PretrainTask struct {
	Model      *Model
	Tokenizer  *tokenizer.WordPiece
	Train, Val *data.Pretraining
	Batch      int // B
	// EvalBatches is how many validation batches a periodic evaluation reads; the final
	// evaluation reads the whole split once. 0 means 16.
	EvalBatches int

	sampler *data.PretrainSampler
	masked  MaskedPositions
	batch   Batch
	window  pretrainStats // the training batches since the last WindowMetrics
	scores  map[string]float64
}

// pretrainStats sums the two losses and counts the correct predictions of some batches.
type pretrainStats struct {
	steps            int
	mlm, nsp         float64 // loss sums over steps
	mlmHit, mlmTotal int
	nspHit, nspTotal int
}

func (s *pretrainStats) add(mlm, nsp float64, mlmHit, mlmTotal, nspHit, nspTotal int) {
	s.steps++
	s.mlm += mlm
	s.nsp += nsp
	s.mlmHit += mlmHit
	s.mlmTotal += mlmTotal
	s.nspHit += nspHit
	s.nspTotal += nspTotal
}

// means are the mean losses and the accuracies of s, by the names metrics.jsonl uses.
func (s *pretrainStats) means() map[string]float64 {
	ratio := func(a, b int) float64 {
		if b == 0 {
			return math.NaN()
		}
		return float64(a) / float64(b)
	}
	n := float64(max(s.steps, 1))
	return map[string]float64{
		"mlm_loss": s.mlm / n, "nsp_loss": s.nsp / n,
		"mlm_accuracy": ratio(s.mlmHit, s.mlmTotal), "nsp_accuracy": ratio(s.nspHit, s.nspTotal),
	}
}

// Params implements train.Task.
func (t *PretrainTask) Params() *nn.Params { return &t.Model.Params }

// Check reports a task the loop cannot run: no pretraining heads, a batch size below 1, an empty
// split, an instance longer than the model's positions or a vocabulary other than the model's.
func (t *PretrainTask) Check() error {
	c := t.Model.Config
	switch {
	case t.Model.Transform == nil || t.Model.NSP == nil:
		return fmt.Errorf("bert pretraining: the model has the %s head; pretraining needs %s", c.head(), HeadPretraining)
	case t.Batch < 1:
		return fmt.Errorf("bert pretraining: batch size %d, want at least 1", t.Batch)
	case t.Tokenizer != nil && t.Tokenizer.VocabSize() != c.VocabSize:
		return fmt.Errorf("bert pretraining: the tokenizer has %d tokens, the model's vocab_size is %d", t.Tokenizer.VocabSize(), c.VocabSize)
	}
	for _, s := range []struct {
		name string
		p    *data.Pretraining
	}{{"training", t.Train}, {"validation", t.Val}} {
		if s.p == nil || len(s.p.Instances) == 0 {
			return fmt.Errorf("bert pretraining: the %s split holds no instance", s.name)
		}
		for i, in := range s.p.Instances {
			if len(in.Tokens) > c.MaxPositionEmbeddings {
				return fmt.Errorf("bert pretraining: %s instance %d has %d tokens, more than max_position_embeddings = %d (lower the maximum sequence length)", s.name, i, len(in.Tokens), c.MaxPositionEmbeddings)
			}
			for _, id := range in.Tokens {
				if id < 0 || id >= c.VocabSize {
					return fmt.Errorf("bert pretraining: %s instance %d holds token id %d, outside the vocabulary of %d", s.name, i, id, c.VocabSize)
				}
			}
		}
	}
	return nil
}

// Loss implements train.Task: MLM plus NSP loss of the next batch, with dropout drawn from
// dropout when the config has any.
func (t *PretrainTask) Loss(g *autograd.Graph, rng, dropout *tensor.RNG) (*autograd.Var, int) {
	if t.sampler == nil {
		t.sampler = t.Train.Sampler(0) // every draw below comes from rng
	}
	t.sampler.Seek(int(rng.Uint64()>>2), 0)
	pb := t.sampler.Next(t.Batch)
	c := t.Model.Config
	if c.HiddenDropoutProb == 0 && c.AttentionDropoutProb == 0 {
		dropout = nil
	}
	mlm, nsp, total, logits := t.forward(g, pb, dropout)
	mh, mt, nh, nt := t.hits(logits, pb)
	t.window.add(float64(mlm.Value.Item()), float64(nsp.Value.Item()), mh, mt, nh, nt)
	return total, pb.B * pb.T
}

// forward runs the model on a batch and returns both losses, their sum and the two logits.
func (t *PretrainTask) forward(g *autograd.Graph, pb *data.PretrainBatch, dropout *tensor.RNG) (mlm, nsp, total *autograd.Var, logits [2]*autograd.Var) {
	t.batch = Batch{B: pb.B, T: pb.T, InputIDs: pb.InputIDs, TokenTypeIDs: pb.TokenTypeIDs, AttentionMask: pb.AttentionMask}
	t.masked.Set(pb.MLMLabels)
	m := t.Model
	out := m.Encode(g, &t.batch, dropout, nil)
	h := g.Reshape(out.Hidden, pb.B*pb.T, m.Config.HiddenSize) // (B·T, C)
	mlmLogits := m.MLMLogits(g, g.Embedding(h, t.masked.Positions))
	nspLogits := m.NSPLogits(g, out.Pooled)
	mlm, nsp, total = m.PretrainingLoss(g, mlmLogits, nspLogits, t.masked.Labels, pb.NSPLabels)
	return mlm, nsp, total, [2]*autograd.Var{mlmLogits, nspLogits}
}

// hits counts the correct MLM and NSP predictions of logits (from forward) and how many there were.
func (t *PretrainTask) hits(logits [2]*autograd.Var, pb *data.PretrainBatch) (mlmHit, mlmTotal, nspHit, nspTotal int) {
	for i, l := range t.masked.Labels {
		if l >= 0 {
			mlmTotal++
			if argmaxRow(logits[0].Value, i) == l {
				mlmHit++
			}
		}
	}
	for i, l := range pb.NSPLabels {
		nspTotal++
		if argmaxRow(logits[1].Value, i) == l {
			nspHit++
		}
	}
	return mlmHit, mlmTotal, nspHit, nspTotal
}

// argmaxRow is the index of the largest entry of row i of a contiguous (N, K) tensor.
func argmaxRow(x *tensor.Tensor, i int) int {
	k := x.Dim(x.Dims() - 1)
	row := x.Data()[i*k : (i+1)*k]
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

// WindowMetrics returns the mean MLM and NSP losses and the accuracies of the training batches
// since the last call, and starts a new window.
func (t *PretrainTask) WindowMetrics() map[string]float64 {
	m := t.window.means()
	t.window = pretrainStats{}
	return m
}

// Evaluate implements train.Task: the mean pretraining loss over the first EvalBatches batches
// of the validation split in a fixed order with fixed masks, or over every instance once when
// full is set. The MLM and NSP parts and accuracies are kept for Scores.
func (t *PretrainTask) Evaluate(ctx context.Context, full bool) (float64, error) {
	n := len(t.Val.Instances)
	batches := (n + t.Batch - 1) / t.Batch
	if !full {
		limit := t.EvalBatches
		if limit <= 0 {
			limit = 16
		}
		batches = min(batches, limit)
	}
	s := t.Val.Sampler(0) // the same order and masks at every evaluation
	g := autograd.NewGraph()
	g.SetGrad(false)
	var st pretrainStats
	var total float64
	for i := range batches {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		b := min(t.Batch, n-i*t.Batch)
		pb := s.Next(b)
		g.Reset()
		mlm, nsp, sum, logits := t.forward(g, pb, nil)
		mh, mt, nh, nt := t.hits(logits, pb)
		st.add(float64(mlm.Value.Item()), float64(nsp.Value.Item()), mh, mt, nh, nt)
		total += float64(sum.Value.Item())
	}
	t.scores = st.means()
	return total / float64(batches), nil
}

// Scores returns the MLM and NSP losses and accuracies of the last evaluation (train.Scorer).
func (t *PretrainTask) Scores(context.Context, bool) (map[string]float64, error) {
	return t.scores, nil
}

// SaveModel implements train.Task: config.json, model.safetensors and vocab.txt.
func (t *PretrainTask) SaveModel(dir string) error {
	if err := t.Model.Save(dir); err != nil {
		return err
	}
	if t.Tokenizer == nil {
		return nil
	}
	return t.Tokenizer.Save(dir)
}
