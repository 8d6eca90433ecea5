package align

import (
	"context"
	"fmt"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/chat"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

// pairBatch lays out the pairs idx of ps as 2B rows of T ids, padded with id 0 after each
// sequence (the attention is causal, so padding after a sequence does not change it): the
// chosen sequences (prompt + chosen reply) first, then the rejected ones.
func pairBatch(ps []EncodedPair, idx []int) (ids, lengths, promptLens []int, T int) {
	for _, i := range idx {
		p := ps[i]
		T = max(T, len(p.Prompt)+len(p.Chosen), len(p.Prompt)+len(p.Rejected))
	}
	B := len(idx)
	ids = make([]int, 2*B*T)
	lengths, promptLens = make([]int, 2*B), make([]int, 2*B)
	for k, i := range idx {
		p := ps[i]
		for j, reply := range [2][]int{p.Chosen, p.Rejected} {
			r := j*B + k
			row := ids[r*T : (r+1)*T]
			copy(row, p.Prompt)
			copy(row[len(p.Prompt):], reply)
			lengths[r], promptLens[r] = len(p.Prompt)+len(reply), len(p.Prompt)
		}
	}
	return ids, lengths, promptLens, T
}

// replyRows lists, for n rows of T ids, the flat positions i·T+t whose next token is a reply
// token (t from promptLens[i]-1 to lengths[i]-2), that token, and the row it belongs to.
func replyRows(ids, lengths, promptLens []int, n, T int) (rows, targets, seg []int) {
	for i := range n {
		for t := promptLens[i] - 1; t < lengths[i]-1; t++ {
			rows = append(rows, i*T+t)
			targets = append(targets, ids[i*T+t+1])
			seg = append(seg, i)
		}
	}
	return rows, targets, seg
}

// replyLogProbs returns log π(reply | prompt) of each of n rows of T ids, summed over the reply
// tokens (positions promptLens[i] .. lengths[i]-1): (n, 1).
func replyLogProbs(g *autograd.Graph, lm *gpt.Model, ids, lengths, promptLens []int, n, T int, dropout *tensor.RNG) *autograd.Var {
	h := lm.Hidden(g, ids, n, T, dropout) // (n, T, C)
	rows, targets, seg := replyRows(ids, lengths, promptLens, n, T)
	C := lm.Config.NEmbd
	hr := g.Embedding(g.Reshape(h, n*T, C), rows)                    // (N, C): the positions that predict reply tokens
	logits := g.Linear(hr, lm.Wte.Weight, nil, true)                 // (N, V)
	return segmentSums(g, TokenLogProbs(g, logits, targets), seg, n) // (n, 1)
}

// checkPairs reports pair tokens outside the vocabulary or sequences beyond the context.
func checkPairs(name string, ps []EncodedPair, cfg gpt.Config) error {
	if len(ps) == 0 {
		return fmt.Errorf("no %s pairs", name)
	}
	for i, p := range ps {
		if len(p.Prompt) == 0 || len(p.Chosen) == 0 || len(p.Rejected) == 0 {
			return fmt.Errorf("%s pair %d: an empty prompt or reply", name, i+1)
		}
		if len(p.Prompt)+max(len(p.Chosen), len(p.Rejected)) > cfg.NPositions {
			return fmt.Errorf("%s pair %d is longer than the model's context of %d tokens", name, i+1, cfg.NPositions)
		}
		for _, s := range [][]int{p.Prompt, p.Chosen, p.Rejected} {
			for _, id := range s {
				if id < 0 || id >= cfg.VocabSize {
					return fmt.Errorf("%s pair %d: token id %d outside the model's vocabulary of %d", name, i+1, id, cfg.VocabSize)
				}
			}
		}
	}
	return nil
}

// drawPairs draws b pair indices from rng.
func drawPairs(rng *tensor.RNG, n, b int) []int {
	idx := make([]int, b)
	for i := range idx {
		idx[i] = rng.IntN(n)
	}
	return idx
}

// evalBatches calls fn with consecutive batches of indices 0..n-1 of size b.
func evalBatches(ctx context.Context, n, b int, fn func(idx []int)) error {
	for s := 0; s < n; s += b {
		if err := ctx.Err(); err != nil {
			return err
		}
		idx := make([]int, 0, b)
		for i := s; i < min(n, s+b); i++ {
			idx = append(idx, i)
		}
		fn(idx)
	}
	return nil
}

// RewardTask trains a reward model on preference pairs with the Bradley–Terry loss
// −log σ(r(x, y_chosen) − r(x, y_rejected)) (Ouyang et al. 2022, eq. 1).
type RewardTask struct {
	RM         *RewardModel
	Tok        tokenizer.Tokenizer
	Train, Val []EncodedPair
	Batch      int // B pairs per step
	EvalPairs  int // pairs a periodic evaluation reads (0: 256); the final one reads all

	accuracy, margin float64
}

// Params implements train.Task.
func (t *RewardTask) Params() *nn.Params { return &t.RM.LM.Params }

// Check implements train.Task's optional check.
func (t *RewardTask) Check() error {
	if t.Batch < 1 {
		return fmt.Errorf("reward model: batch size %d, want at least 1", t.Batch)
	}
	if err := checkPairs("training", t.Train, t.RM.LM.Config); err != nil {
		return fmt.Errorf("reward model: %w", err)
	}
	if err := checkPairs("validation", t.Val, t.RM.LM.Config); err != nil {
		return fmt.Errorf("reward model: %w", err)
	}
	return nil
}

// margins returns r_chosen − r_rejected of the pairs idx: (B, 1).
func (t *RewardTask) margins(g *autograd.Graph, ps []EncodedPair, idx []int, dropout *tensor.RNG) (*autograd.Var, int) {
	ids, lengths, _, T := pairBatch(ps, idx)
	B := len(idx)
	r := t.RM.Rewards(g, ids, lengths, 2*B, T, dropout) // (2B, 1)
	tokens := 0
	for _, n := range lengths {
		tokens += n
	}
	return g.Sub(g.Narrow(r, 0, 0, B), g.Narrow(r, 0, B, B)), tokens
}

// Loss implements train.Task.
func (t *RewardTask) Loss(g *autograd.Graph, rng, dropout *tensor.RNG) (*autograd.Var, int) {
	d, tokens := t.margins(g, t.Train, drawPairs(rng, len(t.Train), t.Batch), dropoutIf(t.RM.LM, dropout))
	return LogSigmoidLoss(g, d), tokens
}

// Evaluate implements train.Task: the mean loss over validation pairs; it also measures the
// pair accuracy (the chosen reply scored higher) and mean margin that Scores reports.
func (t *RewardTask) Evaluate(ctx context.Context, full bool) (float64, error) {
	n := len(t.Val)
	if !full {
		n = min(n, cmpOr(t.EvalPairs, 256))
	}
	g := autograd.NewGraph()
	g.SetGrad(false)
	var loss, correct, margin float64
	err := evalBatches(ctx, n, 16, func(idx []int) {
		g.Reset()
		d, _ := t.margins(g, t.Val, idx, nil)
		loss += float64(LogSigmoidLoss(g, d).Value.Item()) * float64(len(idx))
		for _, v := range d.Value.Data() {
			if v > 0 {
				correct++
			}
			margin += float64(v)
		}
	})
	if err != nil {
		return 0, err
	}
	t.accuracy, t.margin = correct/float64(n), margin/float64(n)
	return loss / float64(n), nil
}

// Scores implements train.Scorer: held-out pair accuracy and mean reward margin, from the
// evaluation just run.
func (t *RewardTask) Scores(context.Context, bool) (map[string]float64, error) {
	return map[string]float64{"accuracy": t.accuracy, "margin": t.margin}, nil
}

// SaveModel implements train.Task.
func (t *RewardTask) SaveModel(dir string) error { return t.RM.Save(dir, t.Tok) }

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// DPOTask is Direct Preference Optimization (Rafailov et al. 2023): the policy learns from
// preference pairs directly, with the loss −log σ(β·[(log π(y_c|x) − log π_ref(y_c|x)) −
// (log π(y_r|x) − log π_ref(y_r|x))]) against a frozen reference π_ref (the starting model).
// The reference's log-probabilities are computed once, before training.
type DPOTask struct {
	Policy     *gpt.Model
	Ref        *gpt.Model // frozen; nil: a copy of Policy as it is at Check
	Tok        tokenizer.Tokenizer
	Template   *chat.Template
	Train, Val []EncodedPair
	Beta       float64 // β: the strength of the KL constraint to the reference (0.1 is usual)
	Batch      int     // B pairs per step
	EvalPairs  int     // pairs a periodic evaluation reads (0: 256); the final one reads all

	refTrain, refVal [][2]float32 // log π_ref of the chosen and rejected replies
	scores           map[string]float64
}

// Params implements train.Task.
func (t *DPOTask) Params() *nn.Params { return &t.Policy.Params }

// Check implements train.Task's optional check; it computes the reference log-probabilities.
func (t *DPOTask) Check() error {
	if t.Batch < 1 {
		return fmt.Errorf("dpo: batch size %d, want at least 1", t.Batch)
	}
	if !(t.Beta > 0 && t.Beta <= 100) {
		return fmt.Errorf("dpo: beta %g, want a positive number such as 0.1", t.Beta)
	}
	for _, s := range []struct {
		name string
		ps   []EncodedPair
	}{{"training", t.Train}, {"validation", t.Val}} {
		if err := checkPairs(s.name, s.ps, t.Policy.Config); err != nil {
			return fmt.Errorf("dpo: %w", err)
		}
	}
	ref := t.Ref
	if ref == nil {
		ref = t.Policy
	}
	if ref.Config.VocabSize != t.Policy.Config.VocabSize {
		return fmt.Errorf("dpo: the reference model has %d tokens, the policy %d: they must share a tokenizer", ref.Config.VocabSize, t.Policy.Config.VocabSize)
	}
	t.refTrain = pairLogProbs(ref, t.Train)
	t.refVal = pairLogProbs(ref, t.Val)
	return nil
}

// pairLogProbs returns log π(chosen|prompt) and log π(rejected|prompt) of every pair.
func pairLogProbs(m *gpt.Model, ps []EncodedPair) [][2]float32 {
	out := make([][2]float32, len(ps))
	g := autograd.NewGraph()
	g.SetGrad(false)
	_ = evalBatches(context.Background(), len(ps), 16, func(idx []int) {
		g.Reset()
		ids, lengths, promptLens, T := pairBatch(ps, idx)
		lp := replyLogProbs(g, m, ids, lengths, promptLens, 2*len(idx), T, nil).Value.Data()
		for k, i := range idx {
			out[i] = [2]float32{lp[k], lp[len(idx)+k]}
		}
	})
	return out
}

// logits returns β·(Δ_chosen − Δ_rejected) of the pairs idx, (B, 1), and the implicit rewards
// β·Δ of the chosen and rejected replies.
func (t *DPOTask) logits(g *autograd.Graph, ps []EncodedPair, ref [][2]float32, idx []int, dropout *tensor.RNG) (z *autograd.Var, chosen, rejected []float32, tokens int) {
	ids, lengths, promptLens, T := pairBatch(ps, idx)
	B := len(idx)
	lp := replyLogProbs(g, t.Policy, ids, lengths, promptLens, 2*B, T, dropout) // (2B, 1)
	refLP := make([]float32, 2*B)
	for k, i := range idx {
		refLP[k], refLP[B+k] = ref[i][0], ref[i][1]
	}
	delta := g.Scale(g.Sub(lp, constant(g, refLP, 2*B, 1)), float32(t.Beta)) // (2B, 1): implicit rewards
	d := delta.Value.Data()
	chosen, rejected = append([]float32(nil), d[:B]...), append([]float32(nil), d[B:]...)
	for _, n := range lengths {
		tokens += n
	}
	return g.Sub(g.Narrow(delta, 0, 0, B), g.Narrow(delta, 0, B, B)), chosen, rejected, tokens
}

// Loss implements train.Task.
func (t *DPOTask) Loss(g *autograd.Graph, rng, dropout *tensor.RNG) (*autograd.Var, int) {
	z, _, _, tokens := t.logits(g, t.Train, t.refTrain, drawPairs(rng, len(t.Train), t.Batch), dropoutIf(t.Policy, dropout))
	return LogSigmoidLoss(g, z), tokens
}

// Evaluate implements train.Task: the DPO loss over validation pairs, and the implicit reward
// accuracy and margins that Scores reports.
func (t *DPOTask) Evaluate(ctx context.Context, full bool) (float64, error) {
	n := len(t.Val)
	if !full {
		n = min(n, cmpOr(t.EvalPairs, 256))
	}
	g := autograd.NewGraph()
	g.SetGrad(false)
	var loss, correct, margin, rc, rr float64
	err := evalBatches(ctx, n, 16, func(idx []int) {
		g.Reset()
		z, c, r, _ := t.logits(g, t.Val, t.refVal, idx, nil)
		loss += float64(LogSigmoidLoss(g, z).Value.Item()) * float64(len(idx))
		for k := range c {
			if c[k] > r[k] {
				correct++
			}
			margin += float64(c[k] - r[k])
			rc += float64(c[k])
			rr += float64(r[k])
		}
	})
	if err != nil {
		return 0, err
	}
	N := float64(n)
	t.scores = map[string]float64{"reward_accuracy": correct / N, "reward_margin": margin / N, "reward_chosen": rc / N, "reward_rejected": rr / N}
	return loss / N, nil
}

// Scores implements train.Scorer.
func (t *DPOTask) Scores(context.Context, bool) (map[string]float64, error) { return t.scores, nil }

// SaveModel implements train.Task: the policy as a chat model folder.
func (t *DPOTask) SaveModel(dir string) error {
	return SaveChatModel(dir, t.Policy, t.Tok, t.Template)
}
