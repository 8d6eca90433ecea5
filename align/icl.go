package align

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

// In-context learning (Brown et al. 2020): a model pretrained on documents that each show a
// few input → output examples of one task learns to infer the task from the examples in its
// prompt. ICLTasks are string transformations of a few lowercase letters; a document is
// "in: abc\nout: cba\n" repeated, one task per document.

// ICLTask is one string transformation.
type ICLTask struct {
	Name string
	Fn   func(string) string
}

// ICLTasks are the tasks of the in-context learning corpus.
var ICLTasks = []ICLTask{
	{"reverse", func(s string) string { r := []byte(s); slices.Reverse(r); return string(r) }},
	{"upper", strings.ToUpper},
	{"first", func(s string) string { return s[:1] }},
	{"last", func(s string) string { return s[len(s)-1:] }},
	{"double", func(s string) string {
		var b strings.Builder
		for i := range len(s) {
			b.WriteByte(s[i])
			b.WriteByte(s[i])
		}
		return b.String()
	}},
	{"sort", func(s string) string { r := []byte(s); slices.Sort(r); return string(r) }},
	{"length", func(s string) string { return strconv.Itoa(len(s)) }},
	{"shift", func(s string) string {
		r := []byte(s)
		for i := range r {
			r[i] = 'a' + (r[i]-'a'+1)%26
		}
		return string(r)
	}},
}

func randomWord(rng *tensor.RNG) string {
	n := 3 + rng.IntN(3)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	return string(b)
}

func iclExample(t ICLTask, w string) string { return "in: " + w + "\nout: " + t.Fn(w) + "\n" }

// ICLDocument writes one pretraining document: 1 to 10 examples of one task, then a blank line.
func ICLDocument(rng *tensor.RNG) string {
	t := ICLTasks[rng.IntN(len(ICLTasks))]
	var b strings.Builder
	for range 1 + rng.IntN(10) {
		b.WriteString(iclExample(t, randomWord(rng)))
	}
	b.WriteString("\n")
	return b.String()
}

// PretrainCorpus writes about n bytes of generated text: arithmetic facts and in-context
// learning documents, half and half, drawn from seed.
func PretrainCorpus(n int, seed uint64) string {
	rng := tensor.NewRNG(seed)
	var b strings.Builder
	for b.Len() < n {
		if rng.IntN(2) == 0 {
			for range 4 {
				b.WriteString(ArithCorpusLine(rng))
			}
			b.WriteString("\n")
		} else {
			b.WriteString(ICLDocument(rng))
		}
	}
	return b.String()
}

// ICLResult is the accuracy with a number of in-context examples.
type ICLResult struct {
	Shots    int     `json:"shots"`
	Accuracy float64 `json:"accuracy"`
	N        int     `json:"n"`
}

// EvalICL measures in-context learning: for each shot count, perTask held-out instances of
// every task (words drawn from seed, so none is likely to be in the pretraining text) are
// prompted with that many examples of the task and "in: WORD\nout: ", and the greedy
// continuation up to the newline is compared with the answer. No weight changes.
func EvalICL(ctx context.Context, m *gpt.Model, tok tokenizer.Tokenizer, shots []int, perTask int, seed uint64) ([]ICLResult, error) {
	nl := tok.Encode("\n")
	if len(nl) != 1 {
		return nil, fmt.Errorf("icl: the tokenizer does not encode a newline as one token")
	}
	var out []ICLResult
	for _, k := range shots {
		rng := tensor.NewRNG(seed) // the same test words for every shot count
		var prompts [][]int
		var want []string
		for _, t := range ICLTasks {
			for range perTask {
				var b strings.Builder
				for range k {
					b.WriteString(iclExample(t, randomWord(rng)))
				}
				w := randomWord(rng)
				b.WriteString("in: " + w + "\nout: ")
				prompts = append(prompts, tok.Encode(b.String()))
				want = append(want, t.Fn(w))
			}
		}
		replies, err := SampleReplies(ctx, m, prompts, 12, 0, nl[0], nil)
		if err != nil {
			return nil, err
		}
		correct := 0
		for i, r := range replies {
			text, err := tok.Decode(r)
			if err != nil {
				return nil, err
			}
			if strings.TrimSuffix(text, "\n") == want[i] {
				correct++
			}
		}
		out = append(out, ICLResult{Shots: k, Accuracy: float64(correct) / float64(len(prompts)), N: len(prompts)})
	}
	return out, nil
}

// EvalResult summarises a model's replies to prompts.
type EvalResult struct {
	Reward        float64 `json:"reward"`           // mean reward of the greedy replies
	SampledReward float64 `json:"sampled_reward"`   // mean reward of replies sampled at temperature 1
	KL            float64 `json:"kl,omitempty"`     // mean Σ_t log π/π_ref of the sampled replies (with a reference)
	Sample        string  `json:"sample,omitempty"` // the first prompt's greedy reply
}

// EvalReward measures a chat model on prompts: the mean reward of its greedy replies and of
// replies sampled at temperature 1 with seed, and with ref set, the KL to ref estimated on the
// sampled replies.
func EvalReward(ctx context.Context, m, ref *gpt.Model, enc *Encoder, prompts []Conversation, reward Rewarder, maxNew int, seed uint64) (EvalResult, error) {
	var res EvalResult
	ids := make([][]int, len(prompts))
	for i, p := range prompts {
		var err error
		if ids[i], err = enc.Prompt(p); err != nil {
			return res, err
		}
	}
	eos := -1
	if e := m.Config.EOSTokenID; e != nil {
		eos = *e
	}
	score := func(temperature float64) ([][]int, []string, float64, error) {
		replies, err := SampleReplies(ctx, m, ids, maxNew, temperature, eos, tensor.NewRNG(seed))
		if err != nil {
			return nil, nil, 0, err
		}
		texts := make([]string, len(replies))
		for i, r := range replies {
			if len(r) > 0 && r[len(r)-1] == eos {
				r = r[:len(r)-1]
			}
			if texts[i], err = enc.Tok.Decode(r); err != nil {
				return nil, nil, 0, err
			}
		}
		scores, err := reward.Rewards(ctx, prompts, texts)
		return replies, texts, mean(scores), err
	}
	_, texts, r, err := score(0)
	if err != nil {
		return res, err
	}
	res.Reward, res.Sample = r, texts[0]
	sampled, _, r, err := score(1)
	if err != nil {
		return res, err
	}
	res.SampledReward = r
	if ref == nil {
		return res, nil
	}
	var kl float64
	for i := range ids {
		lp := seqLogProb(m, ids[i], sampled[i])
		lr := seqLogProb(ref, ids[i], sampled[i])
		kl += lp - lr
	}
	res.KL = kl / float64(len(ids))
	return res, nil
}

// seqLogProb returns log m(reply | prompt).
func seqLogProb(m *gpt.Model, prompt, reply []int) float64 {
	g := autogradInference()
	seq := append(append([]int(nil), prompt...), reply...)
	return float64(replyLogProbs(g, m, seq, []int{len(seq)}, []int{len(prompt)}, 1, len(seq), nil).Value.Item())
}
