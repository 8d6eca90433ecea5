package align

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/chat"
	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/hf"
	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/optim"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
	"github.com/qkvdev/qkv/train"
)

// Rewarder scores replies to prompts: one number per reply, higher is better.
type Rewarder interface {
	Rewards(ctx context.Context, prompts []Conversation, replies []string) ([]float64, error)
}

// PPOConfig controls PPO fine-tuning. Names and defaults follow TRL's PPOConfig.
type PPOConfig struct {
	Steps        int     // PPO steps (each: one batch of rollouts, then Epochs of updates)
	BatchSize    int     // rollouts (prompts) per step
	MiniBatches  int     // minibatches per epoch
	Epochs       int     // optimisation epochs over each batch of rollouts
	MaxNewTokens int     // longest reply
	Temperature  float64 // sampling temperature of rollouts (1: the policy as it is)
	LR           float64 // AdamW learning rate (constant)
	Clip         float64 // global gradient-norm limit (0: none)
	ClipRange    float64 // ε of the clipped surrogate (0.2)
	ClipValue    float64 // ε of the clipped value loss (0.2)
	VFCoef       float64 // weight of the value loss (0.1)
	Gamma, Lam   float64 // GAE discount γ (1) and λ (0.95)
	InitKL       float64 // initial KL coefficient β (0.2); 0 with AdaptiveKL off: no KL penalty
	AdaptiveKL   bool    // adapt β towards TargetKL (Ziegler et al. 2019)
	TargetKL     float64 // KL target of the adaptive controller (nats per reply)
	Horizon      float64 // horizon of the adaptive controller (10000)
	WhitenScores bool    // whiten the scores over each batch before they enter the rewards
	Seed         uint64
	SaveEvery    int // checkpoint every this many steps (0: only at the end)

	RunDir   string
	Resume   bool
	Log      io.Writer      // plain progress lines (nil: none)
	Progress train.Progress // live display (nil: none)
	// TrueReward, if set, is also measured on every batch and logged as "true_reward": the
	// program-checked reward, when training against a learned reward model.
	TrueReward Rewarder
}

// defaults fills in zero values and validates c.
func (c *PPOConfig) defaults() error {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Temperature, 1)
	def(&c.ClipRange, 0.2)
	def(&c.ClipValue, 0.2)
	def(&c.VFCoef, 0.1)
	def(&c.Gamma, 1)
	def(&c.Lam, 0.95)
	def(&c.Horizon, 10000)
	def(&c.TargetKL, 6)
	if c.MiniBatches == 0 {
		c.MiniBatches = 1
	}
	if c.Epochs == 0 {
		c.Epochs = 4
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	switch {
	case c.Steps < 1:
		return fmt.Errorf("ppo: %d steps, want at least 1", c.Steps)
	case c.BatchSize < 1 || c.MiniBatches < 1 || c.BatchSize%c.MiniBatches != 0:
		return fmt.Errorf("ppo: batch size %d in %d minibatches: want a positive batch divisible by the minibatch count", c.BatchSize, c.MiniBatches)
	case c.MaxNewTokens < 1:
		return fmt.Errorf("ppo: max new tokens %d, want at least 1", c.MaxNewTokens)
	case !(c.LR > 0 && c.LR < 1):
		return fmt.Errorf("ppo: learning rate %g, want a small positive number such as 1e-5", c.LR)
	case !(c.InitKL >= 0) || math.IsInf(c.InitKL, 0):
		return fmt.Errorf("ppo: KL coefficient %g, want ≥ 0", c.InitKL)
	case !(c.Temperature > 0 && c.Temperature <= 10):
		return fmt.Errorf("ppo: temperature %g, want (0, 10]", c.Temperature)
	case c.RunDir == "":
		return fmt.Errorf("ppo: no run folder")
	}
	return nil
}

// PPO is RLHF's reinforcement-learning stage (Ziegler et al. 2019; Ouyang et al. 2022) as TRL's
// PPOTrainer does it: the policy, with a value head on its hidden states, samples replies to a
// batch of prompts; each reply is scored, and every token is charged β·(log π − log π_ref), the
// per-token KL to a frozen reference; GAE turns rewards and values into advantages (whitened),
// and several epochs of minibatch updates minimise the clipped surrogate plus the clipped value
// loss. β follows an adaptive controller towards a KL target when enabled.
type PPO struct {
	Policy   *gpt.Model
	Ref      *gpt.Model // frozen reference (a copy of the starting policy)
	Value    *ValueHead
	Tok      tokenizer.Tokenizer
	Template *chat.Template
	Encoder  *Encoder
	Prompts  []Conversation
	Reward   Rewarder
	Config   PPOConfig

	prompts    [][]int // encoded prompts
	params     []*nn.Param
	opt        *optim.AdamW
	st         ppoState
	rng        *tensor.RNG
	eos        int
	promptConv []Conversation
}

// ppoState is what a PPO checkpoint stores besides weights and moments.
type ppoState struct {
	Step     int     `json:"step"`
	Steps    int     `json:"steps"`
	OptSteps int     `json:"optimizer_steps"`
	RNG      []byte  `json:"rng"`
	KLCoef   float64 `json:"kl_coef"`
	ElapsedS float64 `json:"elapsed_s"`
}

// PPOStats are one step's measurements.
type PPOStats struct {
	Step        int      `json:"step"`
	Reward      float64  `json:"reward"`                // mean score of the replies
	TrueReward  *float64 `json:"true_reward,omitempty"` // mean program-checked reward (with Config.TrueReward)
	KL          float64  `json:"kl"`                    // mean Σ_t (log π − log π_ref) per reply
	KLCoef      float64  `json:"kl_coef"`               // β used for this batch
	Entropy     float64  `json:"entropy"`               // mean per-token entropy of the policy on its replies
	ClipFrac    float64  `json:"clip_frac"`             // fraction of tokens whose ratio was clipped
	PolicyLoss  float64  `json:"policy_loss"`
	ValueLoss   float64  `json:"value_loss"`
	ReplyLen    float64  `json:"reply_len"` // mean reply length in tokens
	RolloutTokS float64  `json:"rollout_tokens_per_s"`
	UpdateTokS  float64  `json:"update_tokens_per_s"`
	ElapsedS    float64  `json:"elapsed_s"`
}

// File names in a PPO checkpoint besides the policy's model folder.
const (
	ValueHeadFile = "value_head.safetensors"
)

// Run trains the policy, resuming from the run folder's latest checkpoint with
// Config.Resume. It returns every step's stats (of this run). When ctx ends it saves a
// checkpoint at the last finished step and returns an error wrapping train.ErrInterrupted.
func (p *PPO) Run(ctx context.Context) ([]PPOStats, error) {
	c := &p.Config
	if err := c.defaults(); err != nil {
		return nil, err
	}
	if err := p.setup(); err != nil {
		return nil, err
	}
	if !c.Resume {
		if err := train.CheckNewRunDir(c.RunDir); err != nil {
			return nil, fmt.Errorf("%w: resume it, or start the new run in another folder", err)
		}
	}
	if err := os.MkdirAll(c.RunDir, 0o755); err != nil {
		return nil, err
	}
	if c.Resume {
		if err := p.resume(); err != nil {
			return nil, err
		}
	}
	metricsPath := filepath.Join(c.RunDir, checkpoint.MetricsFile)
	metrics, err := os.OpenFile(metricsPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics log: %w", err)
	}
	defer metrics.Close()
	if c.Progress != nil {
		c.Progress.Start(p.st.Steps, p.st.Step)
	}
	start := time.Now()
	prev := time.Duration(p.st.ElapsedS * float64(time.Second))
	var all []PPOStats
	for p.st.Step < p.st.Steps {
		if ctx.Err() != nil {
			break
		}
		s, err := p.step(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break // the step was cut short: nothing of it was applied
			}
			return all, err
		}
		p.st.Step++
		s.Step = p.st.Step
		s.ElapsedS = (prev + time.Since(start)).Seconds()
		all = append(all, s)
		data, _ := json.Marshal(s)
		if _, err := metrics.Write(append(data, '\n')); err != nil {
			return all, fmt.Errorf("metrics log at step %d: %w", s.Step, err)
		}
		desc := fmt.Sprintf("reward %.3f │ kl %.3f │ β %.3f │ entropy %.2f │ clip %.2f │ vf %.3f", s.Reward, s.KL, s.KLCoef, s.Entropy, s.ClipFrac, s.ValueLoss)
		if c.TrueReward != nil {
			desc = fmt.Sprintf("true reward %.3f │ %s", *s.TrueReward, desc)
		}
		if c.Progress != nil {
			c.Progress.Update(s.Step, desc)
		} else {
			fmt.Fprintf(c.Log, "step %d/%d │ %s │ rollout %.0f tok/s │ update %.0f tok/s\n", s.Step, p.st.Steps, desc, s.RolloutTokS, s.UpdateTokS)
		}
		if c.SaveEvery > 0 && p.st.Step%c.SaveEvery == 0 && p.st.Step < p.st.Steps {
			if err := p.save(metrics, prev+time.Since(start)); err != nil {
				return all, err
			}
		}
	}
	if c.Progress != nil {
		c.Progress.Finish()
	}
	if err := p.save(metrics, prev+time.Since(start)); err != nil {
		return all, err
	}
	if ctx.Err() != nil {
		return all, fmt.Errorf("%w at step %d; saved a checkpoint", train.ErrInterrupted, p.st.Step)
	}
	return all, nil
}

// setup encodes the prompts and builds the optimizer and state.
func (p *PPO) setup() error {
	c := &p.Config
	if p.Encoder == nil {
		p.Encoder = &Encoder{Tok: p.Tok, Template: p.Template}
	}
	if p.Ref == nil || p.Value == nil || p.Reward == nil {
		return fmt.Errorf("ppo: a reference model, a value head and a reward are required")
	}
	if p.Ref.Config != p.Policy.Config && p.Ref.Config.VocabSize != p.Policy.Config.VocabSize {
		return fmt.Errorf("ppo: the reference model's vocabulary (%d) differs from the policy's (%d)", p.Ref.Config.VocabSize, p.Policy.Config.VocabSize)
	}
	p.eos = -1
	if e := p.Policy.Config.EOSTokenID; e != nil {
		p.eos = *e
	}
	tooLong := 0
	p.prompts, p.promptConv = p.prompts[:0], p.promptConv[:0]
	for i, conv := range p.Prompts {
		ids, err := p.Encoder.Prompt(conv)
		if err != nil {
			return fmt.Errorf("ppo: prompt %d: %w", i+1, err)
		}
		if len(ids) == 0 || len(ids)+c.MaxNewTokens > p.Policy.Config.NPositions {
			tooLong++
			continue
		}
		p.prompts = append(p.prompts, ids)
		p.promptConv = append(p.promptConv, conv)
	}
	if len(p.prompts) == 0 {
		return fmt.Errorf("ppo: no prompt leaves room for %d new tokens in the context of %d", c.MaxNewTokens, p.Policy.Config.NPositions)
	}
	if tooLong > 0 {
		fmt.Fprintf(c.Log, "ppo: left out %d prompts too long for %d new tokens in the context of %d\n", tooLong, c.MaxNewTokens, p.Policy.Config.NPositions)
	}
	p.params = append(append([]*nn.Param{}, p.Policy.Params.List()...), p.Value.Params.List()...)
	for _, q := range p.Ref.Params.List() {
		q.Var.SetRequiresGrad(false)
	}
	p.opt = optim.NewAdamW(p.params, optim.AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8})
	p.rng = tensor.NewRNG(c.Seed)
	p.st = ppoState{Steps: c.Steps, KLCoef: c.InitKL}
	return nil
}

// rollout is one batch of replies with what the updates need, per reply token.
type rollout struct {
	ids, lengths, promptLens []int // B rows of T ids (prompt + reply, padded)
	T                        int
	oldLogp, values, adv     []float32 // per reply token, in replyRows order
	returns, refLogp         []float32
	seg                      []int // the row of each reply token
}

func (p *PPO) step(ctx context.Context) (PPOStats, error) {
	c := &p.Config
	var s PPOStats
	B := c.BatchSize
	idx := drawPairs(p.rng, len(p.prompts), B)
	prompts := make([][]int, B)
	convs := make([]Conversation, B)
	for k, i := range idx {
		prompts[k], convs[k] = p.prompts[i], p.promptConv[i]
	}
	t0 := time.Now()
	replies, err := SampleReplies(ctx, p.Policy, prompts, c.MaxNewTokens, c.Temperature, p.eos, p.rng)
	if err != nil {
		return s, err
	}
	genTokens := 0
	texts := make([]string, B)
	for k, r := range replies {
		genTokens += len(r)
		body := r
		if len(body) > 0 && body[len(body)-1] == p.eos {
			body = body[:len(body)-1]
		}
		if texts[k], err = p.Tok.Decode(body); err != nil {
			return s, err
		}
	}
	s.RolloutTokS = float64(genTokens) / time.Since(t0).Seconds()
	s.ReplyLen = float64(genTokens) / float64(B)
	scores, err := p.Reward.Rewards(ctx, convs, texts)
	if err != nil {
		return s, fmt.Errorf("ppo: reward: %w", err)
	}
	if len(scores) != B {
		return s, fmt.Errorf("ppo: the reward gave %d scores for %d replies", len(scores), B)
	}
	s.Reward = mean(scores)
	if c.TrueReward != nil {
		tr, err := c.TrueReward.Rewards(ctx, convs, texts)
		if err != nil {
			return s, err
		}
		m := mean(tr)
		s.TrueReward = &m
	}
	if c.WhitenScores && B > 1 {
		scores = whiten(scores, true)
	}
	ro := p.score(prompts, replies, scores, &s)
	t1 := time.Now()
	s.KLCoef = p.st.KLCoef
	p.update(ro, &s)
	s.UpdateTokS = float64(c.Epochs*len(ro.adv)) / time.Since(t1).Seconds()
	if c.AdaptiveKL {
		// Ziegler et al. (2019): β ← β·(1 + clip(KL/target − 1, ±0.2)·n/horizon).
		e := math.Max(-0.2, math.Min(0.2, s.KL/c.TargetKL-1))
		p.st.KLCoef *= 1 + e*float64(B)/c.Horizon
	}
	return s, nil
}

// score runs the policy (with its value head) and the reference over the rollouts, and turns
// scores and per-token KL penalties into GAE advantages and returns.
func (p *PPO) score(prompts, replies [][]int, scores []float64, s *PPOStats) *rollout {
	c := &p.Config
	B := len(prompts)
	ro := &rollout{lengths: make([]int, B), promptLens: make([]int, B)}
	for k := range prompts {
		ro.T = max(ro.T, len(prompts[k])+len(replies[k]))
	}
	ro.ids = make([]int, B*ro.T)
	for k := range prompts {
		row := ro.ids[k*ro.T:]
		copy(row, prompts[k])
		copy(row[len(prompts[k]):], replies[k])
		ro.lengths[k], ro.promptLens[k] = len(prompts[k])+len(replies[k]), len(prompts[k])
	}
	rows, targets, seg := replyRows(ro.ids, ro.lengths, ro.promptLens, B, ro.T)
	ro.seg = seg
	g := autograd.NewGraph()
	g.SetGrad(false)
	C := p.Policy.Config.NEmbd
	h := g.Embedding(g.Reshape(p.Policy.Hidden(g, ro.ids, B, ro.T, nil), B*ro.T, C), rows) // (N, C)
	logits := g.Linear(h, p.Policy.Wte.Weight, nil, true)                                  // (N, V)
	ro.oldLogp = append([]float32(nil), TokenLogProbs(g, logits, targets).Value.Data()...)
	ro.values = append([]float32(nil), p.Value.Forward(g, h).Value.Data()...)
	V := p.Policy.Config.VocabSize
	ld := logits.Value.Data()
	var ent float64
	for r := range rows {
		ent += entropy(ld[r*V : (r+1)*V])
	}
	s.Entropy = ent / float64(max(len(rows), 1))
	g.Reset()
	hr := g.Embedding(g.Reshape(p.Ref.Hidden(g, ro.ids, B, ro.T, nil), B*ro.T, C), rows)
	ro.refLogp = append([]float32(nil), TokenLogProbs(g, g.Linear(hr, p.Ref.Wte.Weight, nil, true), targets).Value.Data()...)

	// Rewards: −β·(log π − log π_ref) on every token, plus the score on the last.
	N := len(rows)
	rewards := make([]float64, N)
	kl := make([]float64, B)
	for r := range N {
		d := float64(ro.oldLogp[r] - ro.refLogp[r])
		kl[seg[r]] += d
		rewards[r] = -p.st.KLCoef * d
		if r == N-1 || seg[r+1] != seg[r] {
			rewards[r] += scores[seg[r]]
		}
	}
	s.KL = mean(kl)
	// GAE (Schulman et al. 2016), backwards over each reply: δ_t = r_t + γV_{t+1} − V_t,
	// A_t = δ_t + γλA_{t+1}; returns R_t = A_t + V_t.
	adv := make([]float64, N)
	ro.returns = make([]float32, N)
	var nextV, nextA float64
	for r := N - 1; r >= 0; r-- {
		if r == N-1 || seg[r+1] != seg[r] {
			nextV, nextA = 0, 0
		}
		v := float64(ro.values[r])
		delta := rewards[r] + c.Gamma*nextV - v
		adv[r] = delta + c.Gamma*c.Lam*nextA
		ro.returns[r] = float32(adv[r] + v)
		nextV, nextA = v, adv[r]
	}
	ro.adv = make([]float32, N)
	for i, a := range whiten(adv, true) {
		ro.adv[i] = float32(a)
	}
	return ro
}

// update runs Config.Epochs epochs of minibatch updates over the rollouts.
func (p *PPO) update(ro *rollout, s *PPOStats) {
	c := &p.Config
	B := len(ro.lengths)
	mb := B / c.MiniBatches
	g := autograd.NewGraph()
	C := p.Policy.Config.NEmbd
	// first[k] is the index of row k's first reply token in the rollout's token order.
	first := make([]int, B+1)
	for _, k := range ro.seg {
		first[k+1]++
	}
	for k := range B {
		first[k+1] += first[k]
	}
	var pl, vl, clip float64
	var n int
	for range c.Epochs {
		perm := make([]int, B)
		for i := range perm {
			perm[i] = i
		}
		for i := B - 1; i > 0; i-- {
			j := p.rng.IntN(i + 1)
			perm[i], perm[j] = perm[j], perm[i]
		}
		for m := 0; m < B; m += mb {
			rowsK := perm[m : m+mb]
			ids := make([]int, mb*ro.T)
			lengths, promptLens := make([]int, mb), make([]int, mb)
			var oldLogp, oldV, adv, ret []float32
			for j, k := range rowsK {
				copy(ids[j*ro.T:(j+1)*ro.T], ro.ids[k*ro.T:(k+1)*ro.T])
				lengths[j], promptLens[j] = ro.lengths[k], ro.promptLens[k]
				a, b := first[k], first[k+1]
				oldLogp = append(oldLogp, ro.oldLogp[a:b]...)
				oldV = append(oldV, ro.values[a:b]...)
				adv = append(adv, ro.adv[a:b]...)
				ret = append(ret, ro.returns[a:b]...)
			}
			if len(adv) == 0 {
				continue
			}
			rows, targets, _ := replyRows(ids, lengths, promptLens, mb, ro.T)
			g.Reset()
			for _, q := range p.params {
				q.Var.ZeroGrad()
			}
			h := g.Embedding(g.Reshape(p.Policy.Hidden(g, ids, mb, ro.T, nil), mb*ro.T, C), rows) // (N, C)
			logp := TokenLogProbs(g, g.Linear(h, p.Policy.Wte.Weight, nil, true), targets)        // (N, 1)
			pg, cf := PPOPolicyLoss(g, logp, oldLogp, adv, float32(c.ClipRange))
			vf := PPOValueLoss(g, p.Value.Forward(g, h), oldV, ret, float32(c.ClipValue))
			loss := g.Add(pg, g.Scale(vf, float32(c.VFCoef)))
			g.Backward(loss)
			norm := optim.ClipGradNorm(p.params, c.Clip)
			if math.IsNaN(norm) || math.IsInf(norm, 0) {
				continue // a non-finite gradient: skip this minibatch
			}
			p.opt.Step(c.LR)
			pl += float64(pg.Value.Item())
			vl += float64(vf.Value.Item())
			clip += cf
			n++
		}
	}
	if n > 0 {
		s.PolicyLoss, s.ValueLoss, s.ClipFrac = pl/float64(n), vl/float64(n), clip/float64(n)
	}
}

// whiten returns (x − mean)/std; with shift unset the mean is added back (TRL's
// whiten(…, shift_mean=False)).
func whiten(x []float64, shift bool) []float64 {
	m := mean(x)
	var v float64
	for _, a := range x {
		v += (a - m) * (a - m)
	}
	sd := math.Sqrt(v/float64(max(len(x), 1))) + 1e-8
	out := make([]float64, len(x))
	for i, a := range x {
		out[i] = (a - m) / sd
		if !shift {
			out[i] += m
		}
	}
	return out
}

func mean(x []float64) float64 {
	var s float64
	for _, a := range x {
		s += a
	}
	return s / float64(max(len(x), 1))
}

// save writes a checkpoint: the policy as a chat model folder, the value head, the optimizer
// moments and the state (step, RNG, KL coefficient).
func (p *PPO) save(metrics *os.File, elapsed time.Duration) error {
	if err := metrics.Sync(); err != nil {
		return fmt.Errorf("saving a checkpoint: metrics log: %w", err)
	}
	p.st.OptSteps = p.opt.Steps
	p.st.ElapsedS = elapsed.Seconds()
	var err error
	if p.st.RNG, err = p.rng.MarshalBinary(); err != nil {
		return err
	}
	_, err = checkpoint.Write(p.Config.RunDir, p.st.Step, func(dir string) error {
		if err := SaveChatModel(dir, p.Policy, p.Tok, p.Template); err != nil {
			return err
		}
		if err := hf.SaveWeights(filepath.Join(dir, ValueHeadFile), &p.Value.Params); err != nil {
			return err
		}
		if err := hf.SaveWeights(filepath.Join(dir, checkpoint.OptimizerFile), momentParams(p.opt)); err != nil {
			return err
		}
		data, err := json.MarshalIndent(p.st, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.WriteFile(filepath.Join(dir, checkpoint.StateFile), append(data, '\n'), 0o644)
	})
	if err != nil {
		return fmt.Errorf("saving checkpoint at step %d: %w", p.st.Step, err)
	}
	return nil
}

// momentParams names AdamW's moments m.NAME and v.NAME, sharing their storage, for saving and
// loading.
func momentParams(o *optim.AdamW) *nn.Params {
	ps := &nn.Params{}
	for i, q := range o.Params {
		ps.Add("m."+q.Name, false, q.Var.Value.Shape()...).Value = o.M[i]
		ps.Add("v."+q.Name, false, q.Var.Value.Shape()...).Value = o.V[i]
	}
	return ps
}

// resume loads the run's latest checkpoint into the policy, value head, optimizer and state.
func (p *PPO) resume() error {
	c := &p.Config
	dir, passedOver, err := checkpoint.Find(c.RunDir)
	if err != nil {
		return err
	}
	for _, why := range passedOver {
		fmt.Fprintf(c.Log, "warning: passed over a newer checkpoint: %s\n", why)
	}
	data, err := fileutil.ReadFile(filepath.Join(dir, checkpoint.StateFile), fileutil.SmallFileLimit, "a trainer state")
	if err != nil {
		return err
	}
	var st ppoState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("%s: %w; the checkpoint is damaged: delete %s to resume from the one before", filepath.Join(dir, checkpoint.StateFile), err, dir)
	}
	if st.Step < 0 || st.OptSteps < 0 || !(st.KLCoef >= 0) || math.IsInf(st.KLCoef, 0) {
		return fmt.Errorf("%s: impossible state (step %d, optimizer steps %d, kl_coef %g)", dir, st.Step, st.OptSteps, st.KLCoef)
	}
	identity := func(n string) (string, bool) { return n, true }
	if err := hf.LoadWeights(filepath.Join(dir, gpt.WeightsFile), &p.Policy.Params, identity); err != nil {
		return err
	}
	if err := hf.LoadWeights(filepath.Join(dir, ValueHeadFile), &p.Value.Params, identity); err != nil {
		return err
	}
	if err := hf.LoadWeights(filepath.Join(dir, checkpoint.OptimizerFile), momentParams(p.opt), identity); err != nil {
		return err
	}
	if err := p.rng.UnmarshalBinary(st.RNG); err != nil {
		return err
	}
	p.opt.Steps = st.OptSteps
	if c.Steps > 0 {
		st.Steps = c.Steps
	}
	p.st = st
	if err := trimMetrics(filepath.Join(c.RunDir, checkpoint.MetricsFile), st.Step); err != nil {
		return err
	}
	fmt.Fprintf(c.Log, "resuming %s at step %d of %d (β %.4g)\n", dir, st.Step, st.Steps, st.KLCoef)
	return nil
}

// trimMetrics keeps the records of metrics.jsonl up to step, dropping those a resumed run is
// about to log again.
func trimMetrics(path string, step int) error {
	recs, err := train.ReadMetrics(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var out []byte
	for _, r := range recs {
		if s, ok := r["step"].(float64); ok && int(s) <= step {
			line, _ := json.Marshal(r)
			out = append(append(out, line...), '\n')
		}
	}
	return atomicfile.WriteFile(path, out, 0o644)
}
