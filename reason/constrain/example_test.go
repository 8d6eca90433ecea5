package constrain_test

import (
	"fmt"

	"github.com/qkvdev/qkv/reason/constrain"
)

// A server's response_format hook: compile the schema once, index it against the model's
// vocabulary, then mask each decoding step and advance with the chosen token.
func Example() {
	dfa, err := constrain.JSONSchema([]byte(`{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}`))
	if err != nil {
		panic(err)
	}
	vocab := constrain.NewVocab([]string{"{", "}", `"ok"`, ":", "true", "false", "x"}, -1) // token texts by id
	st := constrain.NewIndex(dfa, vocab).NewState()
	logits := make([]float32, vocab.Size())
	var out string
	for !st.Done {
		masked := st.Mask(logits, 16) // len V+1: index V is END
		best := -1
		for id, l := range masked { // greedy over the allowed tokens
			if l > -1e30 && (best < 0 || l > masked[best]) {
				best = id
			}
		}
		st.Advance(best)
		if best < vocab.Size() {
			out += []string{"{", "}", `"ok"`, ":", "true", "false", "x"}[best]
		}
	}
	fmt.Println(out, dfa.Match(out))
	// Output: {"ok":true} true
}

func ExampleRegex() {
	d, err := constrain.Regex(`The answer is -?\d+\.`)
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Match("The answer is -12."), d.Match("The answer is twelve."))
	_, err = constrain.Regex(`(?=x)`)
	fmt.Println(err)
	// Output:
	// true false
	// constrain: regular expression "(?=x)" at offset 1: only (?:...) groups are supported (no lookaround, named groups or flags)
}
