package align

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/qkvdev/qkv/chat"
	"github.com/qkvdev/qkv/tensor"
)

// A task whose reward a program can check: small arithmetic questions, answered in a required
// format. It provides generated text to pretrain on, demonstrations to fine-tune on, preference
// pairs, prompts, and the reward that checks a reply (Builtin "arith").

// ArithProblem is "A op B" with op + or -.
type ArithProblem struct {
	A, B int
	Op   byte
}

// Answer is the problem's result.
func (p ArithProblem) Answer() int {
	if p.Op == '-' {
		return p.A - p.B
	}
	return p.A + p.B
}

func (p ArithProblem) String() string { return fmt.Sprintf("%d%c%d", p.A, p.Op, p.B) }

// Question is the user turn that asks the problem.
func (p ArithProblem) Question() string { return "What is " + p.String() + "?" }

// Reply is the reply in the required format.
func (p ArithProblem) Reply(answer int) string { return "Answer: " + strconv.Itoa(answer) }

// arithMax bounds the operands: 0..arithMax-1 (single digits: a pretraining of a few minutes
// learns their facts).
const arithMax = 10

// RandomArith draws a problem from rng.
func RandomArith(rng *tensor.RNG) ArithProblem {
	p := ArithProblem{A: rng.IntN(arithMax), B: rng.IntN(arithMax), Op: '+'}
	if rng.IntN(2) == 1 {
		p.Op = '-'
		if p.B > p.A {
			p.A, p.B = p.B, p.A
		}
	}
	return p
}

// ArithCorpusLine writes one fact of pretraining text in one of several plain-text forms
// (none of them the chat format or "Answer: N").
func ArithCorpusLine(rng *tensor.RNG) string {
	p := RandomArith(rng)
	word := map[byte]string{'+': "plus", '-': "minus"}[p.Op]
	switch rng.IntN(4) {
	case 0:
		return fmt.Sprintf("%s=%d\n", p, p.Answer())
	case 1:
		return fmt.Sprintf("%d %s %d is %d.\n", p.A, word, p.B, p.Answer())
	case 2:
		return fmt.Sprintf("what is %s? it is %d.\n", p, p.Answer())
	default:
		return fmt.Sprintf("%s gives %d\n", p, p.Answer())
	}
}

// ArithSFT returns n demonstrations: the question, and the reply in the required format. A
// share offFormat of them (in [0, 1]) give the right answer in another form ("it is 7.",
// "7", "The answer is 7."), as demonstrations written by different people do: imitation then
// follows the required format only as often, and reinforcement learning on the checked reward
// can do better.
func ArithSFT(n int, offFormat float64, seed uint64) []Conversation {
	rng := tensor.NewRNG(seed)
	out := make([]Conversation, n)
	for i := range out {
		p := RandomArith(rng)
		reply := p.Reply(p.Answer())
		if rng.Float64() < offFormat {
			reply = [...]string{"it is %d.", "%d", "The answer is %d."}[rng.IntN(3)]
			reply = fmt.Sprintf(reply, p.Answer())
		}
		out[i] = Conversation{{Role: "user", Content: p.Question()}, {Role: "assistant", Content: reply}}
	}
	return out
}

// ArithPrompts returns n questions to answer (no reply).
func ArithPrompts(n int, seed uint64) []Conversation {
	rng := tensor.NewRNG(seed)
	out := make([]Conversation, n)
	for i := range out {
		out[i] = Conversation{{Role: "user", Content: RandomArith(rng).Question()}}
	}
	return out
}

// ArithPairs returns n preference pairs: the correct reply in the required format is chosen;
// the rejected one has a wrong answer, or the right answer in another format, or both.
func ArithPairs(n int, seed uint64) []Pair {
	rng := tensor.NewRNG(seed)
	out := make([]Pair, n)
	for i := range out {
		p := RandomArith(rng)
		a := p.Answer()
		wrong := a + (1+rng.IntN(3))*(1-2*rng.IntN(2))
		var rej string
		switch rng.IntN(3) {
		case 0:
			rej = p.Reply(wrong)
		case 1:
			rej = fmt.Sprintf("it is %d.", a)
		default:
			rej = fmt.Sprintf("%s=%d", p, wrong)
		}
		out[i] = Pair{Prompt: Conversation{{Role: "user", Content: p.Question()}}, Chosen: p.Reply(a), Rejected: rej}
	}
	return out
}

var (
	arithQuestion = regexp.MustCompile(`(\d+)\s*([+-])\s*(\d+)\s*\?`)
	arithReply    = regexp.MustCompile(`^Answer: (-?\d+)$`)
)

// ArithReward is the program-checked reward of the arithmetic task: 1 for the right answer in
// the format "Answer: N" (nothing else), 0.2 for the format with a wrong answer, 0 otherwise.
func ArithReward(prompt Conversation, reply string) (float64, error) {
	var q string
	for _, m := range prompt {
		if m.Role == "user" {
			q = m.Content
		}
	}
	m := arithQuestion.FindStringSubmatch(q)
	if m == nil {
		return 0, fmt.Errorf("builtin:arith: the prompt %q asks no arithmetic question (\"What is A+B?\")", q)
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[3])
	want := ArithProblem{A: a, B: b, Op: m[2][0]}.Answer()
	r := arithReply.FindStringSubmatch(strings.TrimSpace(reply))
	if r == nil {
		return 0, nil
	}
	if got, err := strconv.Atoi(r[1]); err == nil && got == want {
		return 1, nil
	}
	return 0.2, nil
}

// FuncReward is a Rewarder made of a function of one prompt and reply.
type FuncReward func(prompt Conversation, reply string) (float64, error)

// Rewards implements Rewarder.
func (f FuncReward) Rewards(_ context.Context, prompts []Conversation, replies []string) ([]float64, error) {
	out := make([]float64, len(replies))
	for i := range replies {
		r, err := f(prompts[i], replies[i])
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// Builtin returns the program reward called name ("arith").
func Builtin(name string) (Rewarder, error) {
	switch name {
	case "arith":
		return FuncReward(ArithReward), nil
	}
	return nil, fmt.Errorf("unknown builtin reward %q (available: arith)", name)
}

// ModelReward scores replies with a learned reward model. The reply is encoded after the
// prompt with the chat template, as the reward model was trained.
type ModelReward struct {
	RM      *RewardModel
	Encoder *Encoder
}

// Rewards implements Rewarder.
func (r *ModelReward) Rewards(ctx context.Context, prompts []Conversation, replies []string) ([]float64, error) {
	seqs := make([][]int, len(replies))
	T := 0
	for i := range replies {
		p, err := r.Encoder.Prompt(prompts[i])
		if err != nil {
			return nil, err
		}
		rep, err := r.Encoder.Reply(prompts[i], replies[i])
		if err != nil {
			return nil, err
		}
		seqs[i] = append(p, rep...)
		if n := r.RM.LM.Config.NPositions; len(seqs[i]) > n {
			seqs[i] = seqs[i][len(seqs[i])-n:] // keep the end, where the reply is
		}
		T = max(T, len(seqs[i]))
	}
	return r.RM.ScoreIDs(ctx, seqs, T)
}

// ScoreIDs returns the reward model's score of each sequence (at most T ids each).
func (r *RewardModel) ScoreIDs(ctx context.Context, seqs [][]int, T int) ([]float64, error) {
	out := make([]float64, 0, len(seqs))
	g := autogradInference()
	err := evalBatches(ctx, len(seqs), 16, func(idx []int) {
		g.Reset()
		ids := make([]int, len(idx)*T)
		lengths := make([]int, len(idx))
		for k, i := range idx {
			copy(ids[k*T:], seqs[i])
			lengths[k] = len(seqs[i])
		}
		for _, v := range r.Rewards(g, ids, lengths, len(idx), T, nil).Value.Data() {
			out = append(out, float64(v))
		}
	})
	return out, err
}

// ChatDefaults are the default template and its special tokens, for a model without a template.
func ChatDefaults() (*chat.Template, []string, string) {
	t, err := chat.Parse(chat.Default)
	if err != nil {
		panic(err) // the default template is a constant that parses (see the chat tests)
	}
	return t, chat.DefaultSpecialTokens, chat.DefaultEndOfTurn
}
