package reason

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/reason/constrain"
	"github.com/qkvdev/qkv/tokenizer"
)

func TestExtractNumber(t *testing.T) {
	for text, want := range map[string]string{
		"12+7=19. 19-5=14. The answer is 14.":     "14",
		"so she pays $1,234.50 in total":          "1234.5",
		"The answer is -3.":                       "-3",
		"#### 72":                                 "72",
		"Answer: 4.0":                             "4",
		"the answer is 0.50 dollars, not 7":       "0.5",
		"I think 5, no wait, 6":                   "6",
		"no digits here":                          "",
		"The answer is seven, after 3 and then 9": "3",
		"The answer is .5":                        "0.5",
		"The answer is -0":                        "0",
	} {
		if got := ExtractNumber(text); got != want {
			t.Errorf("%q: %q, want %q", text, got, want)
		}
	}
}

func TestExtractChoiceAndExpression(t *testing.T) {
	for text, want := range map[string]string{"The answer is (b).": "B", "I pick C because": "C", "none": ""} {
		if got := ExtractChoice(text); got != want {
			t.Errorf("%q: %q, want %q", text, got, want)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	if _, err := ParseTemplate("bad", "{{.Question"); err == nil || !strings.Contains(err.Error(), "does not parse") {
		t.Errorf("unparsable template: %v", err)
	}
	tm, err := ParseTemplate("missing", "Q: {{.Question}} {{.Hint}}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Execute(map[string]any{"Question": "x"}); err == nil || !strings.Contains(err.Error(), "Hint") {
		t.Errorf("missing field: %v", err)
	}
}

func TestSelectors(t *testing.T) {
	pool := []Example{{Question: "Ann has 3 apples and buys 2"}, {Question: "A train leaves at noon"}, {Question: "Ben has 5 pens and sells 1"}, {Question: "What is the capital"}}
	if got := Fixed(pool).Select("q", 2); len(got) != 2 || got[0] != pool[0] {
		t.Errorf("fixed: %v", got)
	}
	r := Random{Pool: pool, Seed: 1}
	a, b := r.Select("q1", 3), r.Select("q1", 3)
	if fmt.Sprint(a) != fmt.Sprint(b) || len(a) != 3 {
		t.Errorf("random is not deterministic: %v %v", a, b)
	}
	n := NewNearest(pool, nil)
	if got := n.Select("Kim has 9 pens and sells 4", 1); got[0] != pool[2] {
		t.Errorf("nearest: %v", got)
	}
	p := &Prompter{Template: mustTemplate(t, CoTTemplate), Selector: Fixed([]Example{{Question: "1+1?", Reasoning: "1+1=2.", Answer: "2"}}), K: 1}
	s, err := p.Prompt("2+2?")
	if err != nil || s != "Q: 1+1?\nA: 1+1=2. The answer is 2.\n\nQ: 2+2?\nA:" {
		t.Errorf("prompt %q %v", s, err)
	}
}

func mustTemplate(t *testing.T, src string) *Template {
	tm, err := ParseTemplate("t", src)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// scripted answers each call with the next texts from a list.
type scripted struct {
	texts []string
	calls int
}

func (s *scripted) Name() string { return "scripted" }
func (s *scripted) Complete(_ context.Context, req Request) (*Response, error) {
	req.normalise()
	r := &Response{}
	for range req.N {
		r.Completions = append(r.Completions, Completion{Text: s.texts[0], Logprob: -float64(len(s.texts[0])) / 10, Tokens: 1})
		s.texts = s.texts[1:]
	}
	s.calls++
	return r, nil
}

func TestSelfConsistency(t *testing.T) {
	cases := []struct {
		name    string
		texts   []string
		k       int
		want    string
		tie     bool
		samples int
		early   bool
	}{
		{"majority", []string{"The answer is 3", "The answer is 4", "The answer is 4", "x", "The answer is 3", "The answer is 4"}, 6, "4", false, 6, false},
		{"tie goes to the first sampled", []string{"The answer is 5", "The answer is 7", "The answer is 7", "The answer is 5"}, 4, "5", true, 4, false},
		{"unparseable do not vote", []string{"??", "??", "The answer is 1", "??"}, 4, "1", false, 4, false},
		{"all unparseable", []string{"??", "??"}, 2, "", false, 2, false},
		{"early stop", []string{"The answer is 2", "The answer is 2", "The answer is 2", "The answer is 2", "z", "z", "z"}, 7, "2", false, 4, true},
	}
	for _, tc := range cases {
		llm := &scripted{texts: tc.texts}
		sc := &SelfConsistency{K: tc.k, Extract: ExtractNumber, NoEarlyStop: !tc.early}
		v, err := sc.Run(context.Background(), llm, "p")
		if err != nil {
			t.Fatal(err)
		}
		if v.Answer != tc.want || v.Tie != tc.tie || v.Samples != tc.samples || v.Stopped != tc.early {
			t.Errorf("%s: %+v", tc.name, v)
		}
	}
	// Weighted: one likely "9" outweighs two unlikely "10000"s.
	llm := &scripted{texts: []string{"9", "10000 is it, surely it is 10000", "10000 is it, surely it is 10000"}}
	sc := &SelfConsistency{K: 3, Extract: ExtractNumber, Weighted: true, NoEarlyStop: true}
	v, _ := sc.Run(context.Background(), llm, "p")
	if v.Answer != "9" {
		t.Errorf("weighted vote: %+v", v)
	}
	if _, err := (&SelfConsistency{K: 0, Extract: ExtractNumber}).Run(context.Background(), llm, "p"); err == nil {
		t.Error("k = 0 accepted")
	}
}

// tinyModel is a random GPT over a character vocabulary: it produces garbage.
func tinyModel(t testing.TB) (*Local, *tokenizer.Char) {
	tok, err := tokenizer.NewChar("0123456789abcdefghijklmnopqrstuvwxyz {}[]\":,.-+*/=()\n'?!ABCDEFGHIJKLMNOPQRSTUVWXYZ")
	if err != nil {
		t.Fatal(err)
	}
	m, err := gpt.New(gpt.Config{VocabSize: tok.VocabSize(), NPositions: 128, NEmbd: 32, NLayer: 2, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}, 7)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLocal("tiny", m, tok)
	if err != nil {
		t.Fatal(err)
	}
	return l, tok
}

// TestConstrainedLocal: a random model's unconstrained samples do not parse; constrained ones
// all do, for a choice list, a regular expression and a JSON schema.
func TestConstrainedLocal(t *testing.T) {
	l, _ := tinyModel(t)
	schema := `{"type":"object","properties":{"answer":{"type":"integer"},"sure":{"type":"boolean"}},"required":["answer","sure"]}`
	cons := []*Constraint{
		{Choice: []string{"sure", "likely", "impossible"}},
		{Regex: `The answer is -?\d{1,3}\.`},
		{JSONSchema: schema},
	}
	valid := []func(string) bool{
		func(s string) bool { return s == "sure" || s == "likely" || s == "impossible" },
		func(s string) bool { d, _ := constrain.Regex(`The answer is -?\d{1,3}\.`); return d.Match(s) },
		func(s string) bool {
			var v struct {
				Answer *int  `json:"answer"`
				Sure   *bool `json:"sure"`
			}
			return json.Unmarshal([]byte(s), &v) == nil && v.Answer != nil && v.Sure != nil
		},
	}
	ctx := context.Background()
	for i, c := range cons {
		free, err := l.Complete(ctx, Request{Prompt: "Q: ?\nA:", N: 20, Temperature: 1, MaxTokens: 40, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		bad := 0
		for _, cm := range free.Completions {
			if !valid[i](cm.Text) {
				bad++
			}
		}
		if bad == 0 {
			t.Errorf("constraint %d: the random model's free samples all parse; the test shows nothing", i)
		}
		got, err := l.Complete(ctx, Request{Prompt: "Q: ?\nA:", N: 20, Temperature: 1, MaxTokens: 40, Seed: 1, Constraint: c})
		if err != nil {
			t.Fatal(err)
		}
		for _, cm := range got.Completions {
			if !valid[i](cm.Text) {
				t.Errorf("constraint %d: constrained output %q does not parse", i, cm.Text)
			}
		}
		t.Logf("constraint %d: unconstrained %d/20 invalid, constrained 0/20 invalid", i, bad)
	}
	if _, err := l.Complete(ctx, Request{Prompt: "x", Constraint: &Constraint{JSONSchema: `{"type":"string","format":"date"}`}}); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("unsupported schema: %v", err)
	}
	if _, err := l.Complete(ctx, Request{Prompt: "x", MaxTokens: 3, Constraint: &Constraint{Regex: `abcdef`}}); err == nil {
		t.Error("a constraint longer than the budget was accepted")
	}
}

// TestLocalSamplesShareThePrefill checks that samples drawn in one call equal samples drawn
// one call at a time (the forked cache continues exactly) and are reproducible by seed.
func TestLocalSamplesShareThePrefill(t *testing.T) {
	l, _ := tinyModel(t)
	ctx := context.Background()
	all, err := l.Complete(ctx, Request{Prompt: "abc", N: 3, Temperature: 1, MaxTokens: 10, Seed: 9, Logprobs: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		one, err := l.Complete(ctx, Request{Prompt: "abc", N: 1, Temperature: 1, MaxTokens: 10, Seed: 9 + uint64(i), Logprobs: true})
		if err != nil {
			t.Fatal(err)
		}
		if one.Completions[0] != all.Completions[i] {
			t.Errorf("sample %d: %+v alone, %+v in a batch", i, one.Completions[0], all.Completions[i])
		}
	}
	if _, err := l.Complete(ctx, Request{Prompt: "abc~"}); err == nil {
		t.Error("a character outside the vocabulary was accepted")
	}
}

// BenchmarkDecodeStep compares one decoding step of the tiny model with and without a JSON
// schema mask (the masks are cached per DFA state after the first visit).
func BenchmarkDecodeStep(b *testing.B) {
	l, _ := tinyModel(b)
	schema := `{"type":"object","properties":{"answer":{"type":"integer"},"reason":{"type":"string"}},"required":["answer","reason"]}`
	for _, c := range []*Constraint{nil, {JSONSchema: schema}} {
		name := "unmasked"
		if c != nil {
			name = "masked"
		}
		b.Run(name, func(b *testing.B) {
			req := Request{Prompt: "Q: ?\nA:", N: 1, Temperature: 1, MaxTokens: 32, Constraint: c}
			tokens := 0
			for i := 0; b.Loop(); i++ {
				req.Seed = uint64(i)
				r, err := l.Complete(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				tokens += r.Completions[0].Tokens
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(tokens, 1)), "ns/token")
		})
	}
}
