package align

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/chat"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tokenizer"
	"github.com/qkvdev/qkv/train"
)

// tinyChat returns a small random GPT over a character vocabulary with the default chat
// template's special tokens added.
func tinyChat(t *testing.T, seed uint64) (*gpt.Model, *Tokenizer, *Encoder) {
	t.Helper()
	base, err := tokenizer.NewChar("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:?!+-=\n")
	if err != nil {
		t.Fatal(err)
	}
	lm, err := gpt.New(gpt.Config{VocabSize: base.VocabSize(), NPositions: 64, NEmbd: 32, NLayer: 2, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}, seed)
	if err != nil {
		t.Fatal(err)
	}
	tpl, specials, eot := ChatDefaults()
	m, tok, err := ChatModel(lm, base, tpl, specials, eot, seed+1)
	if err != nil {
		t.Fatal(err)
	}
	return m, tok, &Encoder{Tok: tok, Template: tpl, EndOfTurn: eot}
}

func TestSpecialTokenizer(t *testing.T) {
	m, tok, _ := tinyChat(t, 1)
	if tok.VocabSize() != m.Config.VocabSize || *m.Config.EOSTokenID != tok.ID("<|im_end|>") {
		t.Fatalf("vocab %d vs model %d, eos %d", tok.VocabSize(), m.Config.VocabSize, *m.Config.EOSTokenID)
	}
	text := "<|im_start|>user\nhi<|im_end|>\n"
	ids := tok.Encode(text)
	if ids[0] != tok.ID("<|im_start|>") || len(ids) != 1+5+2+1+1 {
		t.Fatalf("Encode = %v", ids)
	}
	back, err := tok.Decode(ids)
	if err != nil || back != text {
		t.Fatalf("Decode = %q, %v", back, err)
	}
	dir := t.TempDir()
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := SameTokenizer(tok, loaded); err != nil {
		t.Fatal(err)
	}
	other, _ := tokenizer.NewChar("abc")
	if err := SameTokenizer(tok, other); err == nil {
		t.Fatal("different tokenizers compared equal")
	}
	if _, err := tok.Decode([]int{tok.VocabSize()}); err == nil {
		t.Fatal("an id past the specials decoded")
	}
}

func TestEncodeMasksAssistantTurns(t *testing.T) {
	_, tok, enc := tinyChat(t, 1)
	conv := Conversation{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"}, {Role: "assistant", Content: "yo"}, {Role: "user", Content: "ok?"}, {Role: "assistant", Content: "ok"}}
	ex, err := enc.Encode(conv)
	if err != nil {
		t.Fatal(err)
	}
	var learned []int
	for i, l := range ex.Labels {
		if l {
			learned = append(learned, ex.IDs[i])
		}
	}
	got, _ := tok.Decode(learned)
	if got != "yo<|im_end|>\nok<|im_end|>\n" {
		t.Fatalf("assistant tokens decode to %q", got)
	}
	full, _ := tok.Decode(ex.IDs)
	want, _ := enc.Template.Render(conv, false)
	if full != want {
		t.Fatalf("the encoded conversation decodes to %q, want %q", full, want)
	}
	// A template that does not render prefixes as prefixes cannot be split.
	bad, err := chat.Parse(`{% for m in messages %}{{ m.content }}{% endfor %}{% if not add_generation_prompt %}END{% endif %}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Encoder{Tok: tok, Template: bad}).Encode(conv); err == nil {
		t.Fatal("a template without the prefix property was accepted")
	}
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConversations(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		n          int
		err        string
	}{
		{"messages", `{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}` + "\n\n", 1, ""},
		{"alpaca array", `[{"instruction": "Add", "input": "1 2", "output": "3"}, {"instruction": "Say hi", "input": "", "output": "hi"}]`, 2, ""},
		{"self-instruct", `{"id": "s1", "instruction": "Sort", "instances": [{"input": "b a", "output": "a b"}, {"input": "", "output": "x"}], "is_classification": false}`, 2, ""},
		{"empty reply", `{"instruction": "x", "input": "", "output": "  "}`, 0, "empty assistant reply"},
		{"no assistant", `{"messages": [{"role": "user", "content": "hi"}]}`, 0, "no assistant message"},
		{"bad role", `{"messages": [{"role": "tool", "content": "hi"}]}`, 0, "role \"tool\""},
		{"unknown", `{"text": "x"}`, 0, ":1: want"},
		{"broken", `{"messages": [`, 0, ":1:"},
		{"nothing", "\n", 0, "no examples"},
	} {
		convs, err := LoadConversations(writeFile(t, "d.jsonl", tc.text))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || len(convs) != tc.n {
			t.Errorf("%s: %d conversations, %v", tc.name, len(convs), err)
		}
	}
}

func TestLoadPairs(t *testing.T) {
	text := `{"prompt": "q?", "chosen": "good", "rejected": "bad"}
{"prompt": [{"role": "user", "content": "q2"}], "chosen": "same", "rejected": "same"}
{"prompt": "q3", "chosen": "", "rejected": "x"}
{"chosen": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: help?\n\nAssistant: sure", "rejected": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: help?\n\nAssistant: no"}
`
	pairs, st, err := LoadPairs(writeFile(t, "p.jsonl", text))
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 2 || st.Identical != 1 || st.Empty != 1 {
		t.Fatalf("%d pairs, stats %+v", len(pairs), st)
	}
	hh := pairs[1]
	if len(hh.Prompt) != 3 || hh.Prompt[2].Content != "help?" || hh.Chosen != "sure" || hh.Rejected != "no" {
		t.Fatalf("HH pair: %+v", hh)
	}
	if _, _, err := LoadPairs(writeFile(t, "p.jsonl", `{"prompt": "q", "chosen": "a", "rejected": "a"}`)); err == nil || !strings.Contains(err.Error(), "1 identical") {
		t.Fatalf("only identical pairs: %v", err)
	}
}

func TestSFTLearnsOnlyAssistantTurns(t *testing.T) {
	m, tok, enc := tinyChat(t, 2)
	convs := ArithSFT(64, 0, 3)
	var exs []Example
	for _, c := range convs {
		ex, err := enc.Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		exs = append(exs, ex)
	}
	task := &SFTTask{Model: m, Tok: tok, Template: enc.Template, Train: exs[:48], Val: exs[48:], Batch: 8, Block: 48, Pack: true}
	before := evalLoss(t, task)
	res, err := train.Run(context.Background(), task, train.Config{Iters: 60, LR: 3e-3, MinLR: 3e-4, Warmup: 5, Beta1: 0.9, Beta2: 0.99, Clip: 1, RunDir: t.TempDir(), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !(res.ValLoss < before*0.6) {
		t.Fatalf("validation loss on assistant turns %.3f → %.3f, want a drop of at least 40%%", before, res.ValLoss)
	}
	for _, row := range task.trainY {
		for _, y := range row {
			if y == tok.ID("<|im_start|>") {
				t.Fatal("a template token outside the assistant turns is a target")
			}
		}
	}
	// An example longer than the context is left out without packing; none fitting is an error.
	long := Example{IDs: make([]int, 100), Labels: make([]bool, 100)}
	bad := &SFTTask{Model: m, Tok: tok, Template: enc.Template, Train: []Example{long}, Val: exs[:1], Batch: 1, Block: 48}
	if err := bad.Check(); err == nil || !strings.Contains(err.Error(), "no training examples fit") {
		t.Fatalf("overlong example: %v", err)
	}
}

func evalLoss(t *testing.T, task *SFTTask) float64 {
	t.Helper()
	if err := task.Check(); err != nil {
		t.Fatal(err)
	}
	v, err := task.Evaluate(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func encodePairs(t *testing.T, enc *Encoder, pairs []Pair) []EncodedPair {
	t.Helper()
	ep, _, err := enc.EncodePairs(pairs, 64)
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func TestDPORaisesImplicitMargin(t *testing.T) {
	m, tok, enc := tinyChat(t, 4)
	pairs := encodePairs(t, enc, ArithPairs(48, 5))
	task := &DPOTask{Policy: m, Tok: tok, Template: enc.Template, Train: pairs[:32], Val: pairs[32:], Beta: 0.1, Batch: 8}
	if err := task.Check(); err != nil {
		t.Fatal(err)
	}
	if _, err := task.Evaluate(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if task.scores["reward_margin"] != 0 {
		t.Fatalf("the policy is its own reference: margin %g, want 0", task.scores["reward_margin"])
	}
	if _, err := train.Run(context.Background(), task, train.Config{Iters: 60, LR: 3e-3, MinLR: 3e-4, Beta1: 0.9, Beta2: 0.99, Clip: 1, RunDir: t.TempDir(), Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if task.scores["reward_margin"] < 0.5 || task.scores["reward_accuracy"] < 0.8 {
		t.Fatalf("after DPO: held-out implicit margin %.3f, accuracy %.2f; want ≥ 0.5 and ≥ 0.8", task.scores["reward_margin"], task.scores["reward_accuracy"])
	}
	if err := (&DPOTask{Policy: m, Tok: tok, Train: pairs, Val: pairs, Beta: 0, Batch: 1}).Check(); err == nil {
		t.Fatal("beta 0 accepted")
	}
}

func TestRewardModelLearnsPairs(t *testing.T) {
	m, tok, enc := tinyChat(t, 6)
	pairs := encodePairs(t, enc, ArithPairs(64, 7))
	rm := NewRewardModel(m, 8)
	task := &RewardTask{RM: rm, Tok: tok, Train: pairs[:48], Val: pairs[48:], Batch: 8}
	dir := t.TempDir()
	res, err := train.Run(context.Background(), task, train.Config{Iters: 40, LR: 3e-3, MinLR: 3e-4, Beta1: 0.9, Beta2: 0.99, Clip: 1, RunDir: dir, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if task.accuracy < 0.8 {
		t.Fatalf("held-out pair accuracy %.2f (loss %.3f), want ≥ 0.8", task.accuracy, res.ValLoss)
	}
	loaded, ltok, err := LoadRewardModel(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if err := SameTokenizer(tok, ltok); err != nil {
		t.Fatal(err)
	}
	r := &ModelReward{RM: loaded, Encoder: &Encoder{Tok: ltok, Template: enc.Template}}
	p := ArithPairs(1, 99)[0]
	s, err := r.Rewards(context.Background(), []Conversation{p.Prompt, p.Prompt}, []string{p.Chosen, p.Rejected})
	if err != nil || !(s[0] > s[1]) {
		t.Fatalf("loaded reward model scores chosen %v vs rejected, %v", s, err)
	}
	if _, _, err := LoadRewardModel(t.TempDir()); err == nil {
		t.Fatal("an empty folder loaded as a reward model")
	}
}

// toyReward is the share of a reply's characters that are lowercase letters (a third of a
// random model's vocabulary), and 0 for an empty reply.
var toyReward = FuncReward(func(_ Conversation, reply string) (float64, error) {
	n := 0
	for _, r := range reply {
		if r >= 'a' && r <= 'z' {
			n++
		}
	}
	return float64(n) / float64(max(1, len([]rune(reply)))), nil
})

func toyPPO(t *testing.T, dir string, steps int, resume bool) (*PPO, []PPOStats, error) {
	m, tok, enc := tinyChat(t, 9)
	ref, _, _ := tinyChat(t, 9)
	p := &PPO{
		Policy: m, Ref: ref, Value: NewValueHead(m.Config.NEmbd, 10), Tok: tok, Template: enc.Template, Encoder: enc,
		Prompts: ArithPrompts(16, 11), Reward: toyReward,
		Config: PPOConfig{Steps: steps, BatchSize: 16, MiniBatches: 2, Epochs: 2, MaxNewTokens: 4, LR: 1e-2, Clip: 1, InitKL: 0.05, AdaptiveKL: true, TargetKL: 1, Horizon: 100, Seed: 12, RunDir: dir, Resume: resume, SaveEvery: 2},
	}
	stats, err := p.Run(context.Background())
	return p, stats, err
}

func TestPPORaisesReward(t *testing.T) {
	_, stats, err := toyPPO(t, t.TempDir(), 30, false)
	if err != nil {
		t.Fatal(err)
	}
	first := (stats[0].Reward + stats[1].Reward + stats[2].Reward) / 3
	last := (stats[27].Reward + stats[28].Reward + stats[29].Reward) / 3
	if !(last > first+0.4) {
		t.Fatalf("mean reward %.2f over the first 3 steps, %.2f over the last 3; want a rise of 0.4", first, last)
	}
	for _, s := range stats {
		if math.IsNaN(s.KL) || math.IsNaN(s.ValueLoss) || s.Entropy <= 0 {
			t.Fatalf("step %d: %+v", s.Step, s)
		}
	}
}

func TestPPOResumesExactly(t *testing.T) {
	whole, _, err := toyPPO(t, t.TempDir(), 4, false)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, _, err := toyPPO(t, dir, 2, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := toyPPO(t, dir, 4, false); err == nil {
		t.Fatal("a new run started in a folder that holds one")
	}
	resumed, _, err := toyPPO(t, dir, 4, true)
	if err != nil {
		t.Fatal(err)
	}
	if whole.st.KLCoef != resumed.st.KLCoef {
		t.Fatalf("KL coefficient %v (uninterrupted) vs %v (resumed)", whole.st.KLCoef, resumed.st.KLCoef)
	}
	for i, p := range whole.params {
		if !slices.Equal(p.Var.Value.Data(), resumed.params[i].Var.Value.Data()) {
			t.Fatalf("parameter %s differs after resuming", p.Name)
		}
	}
	recs, err := train.ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil || len(recs) != 4 {
		t.Fatalf("%d metrics records after resuming, want 4 (%v)", len(recs), err)
	}
}

// TestResumeExactly interrupts SFT (with and without plain text mixed in) and DPO runs and
// checks that resuming ends with the same weights as an uninterrupted run.
func TestResumeExactly(t *testing.T) {
	for _, method := range []string{"sft", "sft+text", "dpo"} {
		t.Run(method, func(t *testing.T) {
			run := func(dir string, stopAt int, resume bool) []float32 {
				m, tok, enc := tinyChat(t, 13)
				var task train.Task
				if strings.HasPrefix(method, "sft") {
					var exs []Example
					for _, c := range ArithSFT(24, 0.2, 14) {
						ex, _ := enc.Encode(c)
						exs = append(exs, ex)
					}
					sft := &SFTTask{Model: m, Tok: tok, Template: enc.Template, Train: exs[:16], Val: exs[16:], Batch: 4, Block: 40, Pack: true}
					if method == "sft+text" {
						sft.Text, sft.TextRatio = tok.Base.Encode(strings.Repeat("the cat sat on the mat. 7+5=12. ", 8)), 0.5
					}
					task = sft
				} else {
					pairs := encodePairs(t, enc, ArithPairs(24, 15))
					task = &DPOTask{Policy: m, Tok: tok, Template: enc.Template, Train: pairs[:16], Val: pairs[16:], Beta: 0.1, Batch: 4}
				}
				cfg := train.Config{Iters: 8, LR: 3e-3, Beta1: 0.9, Beta2: 0.99, Clip: 1, RunDir: dir, Seed: 16, EvalInterval: 4, Resume: resume}
				if stopAt > 0 {
					cfg.OnStep = func(step int, _ float64) bool { return step < stopAt }
				}
				_, err := train.Run(context.Background(), task, cfg)
				if stopAt > 0 && !errors.Is(err, train.ErrInterrupted) || stopAt == 0 && err != nil {
					t.Fatal(err)
				}
				return append([]float32(nil), m.Wte.Weight.Value.Data()...)
			}
			want := run(t.TempDir(), 0, false)
			dir := t.TempDir()
			run(dir, 5, false)
			if got := run(dir, 0, true); !slices.Equal(got, want) {
				t.Fatal("the resumed run's weights differ from the uninterrupted run's")
			}
		})
	}
}

func TestArithReward(t *testing.T) {
	q := Conversation{{Role: "user", Content: "What is 12-5?"}}
	for reply, want := range map[string]float64{"Answer: 7": 1, " Answer: 7\n": 1, "Answer: 8": 0.2, "7": 0, "Answer: 7 because": 0, "": 0} {
		if got, err := ArithReward(q, reply); err != nil || got != want {
			t.Errorf("ArithReward(%q) = %v, %v; want %v", reply, got, err, want)
		}
	}
	if _, err := ArithReward(Conversation{{Role: "user", Content: "hello"}}, "x"); err == nil {
		t.Fatal("a prompt without a question was scored")
	}
	if _, err := Builtin("nope"); err == nil {
		t.Fatal("unknown builtin accepted")
	}
}
