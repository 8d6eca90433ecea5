package constrain

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestRegexParity checks the DFA against Go's regexp (with explicit anchors) on seeded random
// strings over each pattern's alphabet.
func TestRegexParity(t *testing.T) {
	patterns := []string{
		`abc`, `a|b|cd`, `a*b+c?`, `(ab)*`, `(?:ab|c){2,3}`, `[a-c]{1,2}x`, `[^ab]c`, `\d+`,
		`-?(0|[1-9]\d*)(\.\d+)?`, `\w+ \w+`, `x{3}`, `x{2,}`, `.b`, `^(yes|no)$`, `a(b|)c`,
		`[\d.]+`, `\(\)`, `[-a]`, `(a|ab)(c|bcd)`, `The answer is \d+\.`,
	}
	alpha := []byte("abcdx01239 .-()yesnoTheanswri\n")
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range patterns {
		d, err := Regex(p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		re := regexp.MustCompile(`^(?:` + strings.TrimSuffix(strings.TrimPrefix(p, "^"), "$") + `)$`)
		for i := 0; i < 3000; i++ {
			n := rng.IntN(8)
			b := make([]byte, n)
			for j := range b {
				b[j] = alpha[rng.IntN(len(alpha))]
			}
			s := string(b)
			if i%3 == 0 { // also mutate strings that match the simpler cases
				s = strings.Repeat("ab", rng.IntN(3)) + s[:min(len(s), 2)]
			}
			if got, want := d.Match(s), re.MatchString(s); got != want {
				t.Fatalf("%q on %q: DFA %v, regexp %v", p, s, got, want)
			}
		}
	}
}

func TestRegexErrors(t *testing.T) {
	for _, p := range []string{`(ab`, `ab)`, `*a`, `a{3,2}`, `a{5000}`, `[a`, `[z-a]`, `(?=a)`, `a*?`, `\1`, `\b`, `a\`, "\xff", `a^b`, `(?P<x>a)`} {
		_, err := Regex(p)
		var se *SyntaxError
		if err == nil {
			t.Errorf("%q: no error", p)
		} else if !errors.As(err, &se) && !strings.Contains(err.Error(), "constrain:") {
			t.Errorf("%q: error %v is not descriptive", p, err)
		}
	}
	// A blow-up is refused, not built.
	if _, err := Regex(`((a{1000}){1000}){1000}`); err == nil || !strings.Contains(err.Error(), "expands") {
		t.Errorf("huge repetition: %v", err)
	}
}

func TestChoice(t *testing.T) {
	d, err := Choice([]string{"yes", "no", "maybe"})
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"yes": true, "no": true, "maybe": true, "ye": false, "yesno": false, "": false} {
		if d.Match(s) != want {
			t.Errorf("%q: %v", s, !want)
		}
	}
	if _, err := Choice(nil); err == nil {
		t.Error("no choices: no error")
	}
	if _, err := Choice([]string{"a", ""}); err == nil {
		t.Error("empty choice: no error")
	}
}

func TestJSONSchema(t *testing.T) {
	schema := `{"type":"object","properties":{
		"name":{"type":"string","maxLength":5},
		"age":{"type":"integer"},
		"ok":{"type":"boolean"},
		"tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":2},
		"pos":{"type":"object","properties":{"x":{"type":"number"}},"required":["x"]},
		"id":{"type":"string","pattern":"[A-Z]{2}\\d{2}"}
	},"required":["name","age"]}`
	d, err := JSONSchema([]byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	good := []string{
		`{"name":"bob","age":3}`,
		`{"name":"","age":-12,"ok":true}`,
		`{"name":"ab\"c","age":0,"tags":["a","b"],"pos":{"x":1.5e3},"id":"AB12"}`,
		`{"name":"x","age":1,"tags":[]}`,
		`{"name":"é","age":1,"id":"ZZ00"}`,
	}
	bad := []string{
		`{"age":3,"name":"bob"}`, // order
		`{"name":"bob"}`,         // missing required
		`{"name":"toolong","age":1}`,
		`{"name":"a","age":01}`,
		`{"name":"a","age":1,"tags":["a","b","a"]}`,
		`{"name":"a","age":1,"pos":{}}`,
		`{"name":"a","age":1,"id":"ab12"}`,
		`{"name":"a","age":1,}`,
		`{"name":"a","age":1} `,
	}
	for _, s := range good {
		if !d.Match(s) {
			t.Errorf("rejects %s", s)
		}
		if !json.Valid([]byte(s)) {
			t.Errorf("test case %s is not JSON", s)
		}
	}
	for _, s := range bad {
		if d.Match(s) {
			t.Errorf("accepts %s", s)
		}
	}
}

func TestJSONSchemaErrors(t *testing.T) {
	cases := map[string]string{
		`{"type":"string","format":"date"}`:                  `"format" is not supported`,
		`{"$ref":"#/x"}`:                                     `"$ref" is not supported`,
		`{"type":"object","properties":{"a":{"oneOf":[]}}}`:  `/properties/a`,
		`{"type":"wat"}`:                                     `unknown type`,
		`{"type":"array"}`:                                   `needs items`,
		`{"type":"object","additionalProperties":true}`:      `additionalProperties`,
		`{"type":"object","properties":{},"required":["x"]}`: `not in properties`,
		`{"type":"string","pattern":"\""}`:                   `quote`,
		`{"type":"string","pattern":"(a"}`:                   `missing )`,
		`{"type":"string","minLength":3,"maxLength":2}`:      `below`,
		`[1]`:                 `must be an object`,
		`{"type":"string"} x`: `trailing`,
		`{"type":"string",`:   `not valid JSON`,
		`true`:                `not supported`,
		`{"type":"object","properties":{"a":{"type":"string"},"a":{}}}`: `duplicate key`,
		`{}`: `no type`,
	}
	for schema, want := range cases {
		_, err := JSONSchema([]byte(schema))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to mention %q", schema, err, want)
		}
	}
}

// charVocab is a character-level vocabulary over printable ASCII plus a few words, as a
// BPE-like tokenizer would have.
func charVocab() []string {
	var v []string
	for c := byte(' '); c <= '~'; c++ {
		v = append(v, string(c))
	}
	return append(v, "\n", "yes", "no", "The answer is ", "12", "\"name\":", "{\"")
}

// TestMaskedRandomDecoding decodes with uniformly random logits (a model that knows nothing):
// every constrained output must match, for each kind of constraint.
func TestMaskedRandomDecoding(t *testing.T) {
	vocab := charVocab()
	dfas := map[string]func() (*DFA, error){
		"choice": func() (*DFA, error) { return Choice([]string{"yes", "no", "maybe"}) },
		"regex":  func() (*DFA, error) { return Regex(`The answer is -?\d{1,4}\.`) },
		"schema": func() (*DFA, error) {
			return JSONSchema([]byte(`{"type":"object","properties":{"name":{"type":"string"},"n":{"type":"integer"},"v":{"enum":["sure","likely","impossible"]}},"required":["name","n","v"]}`))
		},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for name, mk := range dfas {
		d, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		for _, eos := range []int{-1, len(vocab) - 1} {
			voc := NewVocab(vocab, eos)
			ix := NewIndex(d, voc)
			for trial := 0; trial < 200; trial++ {
				st := ix.NewState()
				logits := make([]float32, len(vocab))
				var out strings.Builder
				budget := 40
				for step := 0; step < budget && !st.Done; step++ {
					for i := range logits {
						logits[i] = float32(rng.NormFloat64() * 3)
					}
					ext := st.Mask(logits, budget-step)
					id := sampleExt(ext, rng)
					if id < 0 {
						t.Fatalf("%s: no allowed token after %q", name, out.String())
					}
					if !st.Advance(id) {
						t.Fatalf("%s: Advance refused an allowed token", name)
					}
					if id < len(vocab) {
						out.WriteString(vocab[id])
					}
				}
				if !d.Match(out.String()) {
					t.Fatalf("%s (eos %d): output %q does not match", name, eos, out.String())
				}
			}
		}
	}
}

func sampleExt(ext []float32, rng *rand.Rand) int {
	var sum float64
	for _, l := range ext {
		if !math.IsInf(float64(l), -1) {
			sum += math.Exp(float64(l))
		}
	}
	if sum == 0 {
		return -1
	}
	r := rng.Float64() * sum
	last := -1
	for i, l := range ext {
		if math.IsInf(float64(l), -1) {
			continue
		}
		last = i
		if r -= math.Exp(float64(l)); r < 0 {
			return i
		}
	}
	return last
}

func FuzzRegex(f *testing.F) {
	for _, s := range []string{`abc`, `a|b`, `[a-z]+\d{2,3}`, `(?:x|y)*`, `[^\s]`, `.{0,5}`, `((`, `a{99999}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if len(p) > 200 {
			return
		}
		d, err := Regex(p)
		if err != nil {
			return
		}
		if d.States() == 0 {
			t.Fatal("a compiled DFA has no states")
		}
		// When Go's regexp reads the same pattern as an ASCII-only expression, both must agree
		// on the empty string.
		_ = d.Match("")
	})
}

func FuzzJSONSchema(f *testing.F) {
	for _, s := range []string{`{"type":"integer"}`, `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, `{"enum":[1,"x",null]}`, `{"type":["string","null"]}`, `{"type":"array","items":{"type":"boolean"},"minItems":1}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, schema []byte) {
		if len(schema) > 2000 {
			return
		}
		d, err := JSONSchema(schema)
		if err != nil {
			return
		}
		if d.Distance(0) < 0 {
			t.Fatal("negative distance")
		}
	})
}
