package reason

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"text/template"
	"unicode"
)

// Template is a prompt written in Go's text/template. Fields are the Example fields and any
// extra data; a field the data does not have is an error, not "<no value>".
type Template struct {
	src string
	t   *template.Template
}

// ParseTemplate parses a prompt template.
func ParseTemplate(name, src string) (*Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("reason: template %s does not parse: %w", name, err)
	}
	return &Template{src: src, t: t}, nil
}

// Execute renders the template with data (a map or struct).
func (t *Template) Execute(data any) (string, error) {
	var b bytes.Buffer
	if err := t.t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("reason: template %s: %w", t.t.Name(), err)
	}
	return b.String(), nil
}

// Example is one solved problem for few-shot prompts.
type Example struct {
	Question  string
	Reasoning string // worked steps for chain-of-thought prompts ("" for direct answers)
	Answer    string
}

// Selector picks the few-shot examples for a question.
type Selector interface {
	Select(question string, k int) []Example
}

// Fixed always gives the first k examples, in order.
type Fixed []Example

// Select returns the first k.
func (f Fixed) Select(_ string, k int) []Example { return f[:min(k, len(f))] }

// Random gives k examples drawn without replacement from a pool, from a source seeded by Seed
// and the question (the same question gets the same examples in every run).
type Random struct {
	Pool []Example
	Seed uint64
}

// Select draws k examples.
func (r Random) Select(question string, k int) []Example {
	h := uint64(14695981039346656037)
	for i := 0; i < len(question); i++ {
		h = (h ^ uint64(question[i])) * 1099511628211
	}
	rng := rand.New(rand.NewPCG(r.Seed, h))
	idx := rng.Perm(len(r.Pool))
	out := make([]Example, 0, k)
	for _, i := range idx[:min(k, len(idx))] {
		out = append(out, r.Pool[i])
	}
	return out
}

// Nearest gives the k examples whose questions are closest to the question by an embedding's
// cosine similarity, nearest first (ties keep pool order). Embed maps a text to a sparse vector
// (feature → weight) and defaults to BagOfWords, which needs no model; ModelEmbedding gives a
// sentence-embedding model's (package embed) instead.
type Nearest struct {
	Pool  []Example
	Embed func(string) map[string]float64
	vecs  []map[string]float64
}

// NewNearest precomputes the pool's embeddings.
func NewNearest(pool []Example, embed func(string) map[string]float64) *Nearest {
	if embed == nil {
		embed = BagOfWords
	}
	n := &Nearest{Pool: pool, Embed: embed}
	for _, e := range pool {
		n.vecs = append(n.vecs, embed(e.Question))
	}
	return n
}

// Select returns the k nearest examples.
func (n *Nearest) Select(question string, k int) []Example {
	q := n.Embed(question)
	idx := make([]int, len(n.Pool))
	sim := make([]float64, len(n.Pool))
	for i := range idx {
		idx[i] = i
		sim[i] = cosine(q, n.vecs[i])
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case sim[a] > sim[b]:
			return -1
		case sim[a] < sim[b]:
			return 1
		}
		return 0
	})
	out := make([]Example, 0, k)
	for _, i := range idx[:min(k, len(idx))] {
		out = append(out, n.Pool[i])
	}
	return out
}

// BagOfWords embeds text as lower-cased word counts (numbers count as one word "<num>", so
// that problems of the same shape with different numbers are near).
func BagOfWords(text string) map[string]float64 {
	v := map[string]float64{}
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if unicode.IsDigit(rune(w[0])) {
			w = "<num>"
		}
		v[w]++
	}
	return v
}

func cosine(a, b map[string]float64) float64 {
	var dot, na, nb float64
	for k, x := range a {
		dot += x * b[k]
		na += x * x
	}
	for _, y := range b {
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// Prompter builds the prompt for a question: the template receives .Examples (selected by
// Selector, K of them) and .Question, and any Extra fields.
type Prompter struct {
	Template *Template
	Selector Selector // nil: no examples
	K        int
	Extra    map[string]any
}

// Prompt renders the prompt for question.
func (p *Prompter) Prompt(question string) (string, error) {
	data := map[string]any{"Question": question, "Examples": []Example{}}
	for k, v := range p.Extra {
		data[k] = v
	}
	if p.Selector != nil && p.K > 0 {
		data["Examples"] = p.Selector.Select(question, p.K)
	}
	return p.Template.Execute(data)
}

// Standard templates. Direct (IO) prompting asks for the answer at once; CoT shows worked
// examples (Wei et al. 2022); ZeroShotCoT appends "Let's think step by step." and a second
// call extracts the answer (Kojima et al. 2022).
const (
	DirectTemplate = `{{range .Examples}}Q: {{.Question}}
A: The answer is {{.Answer}}.

{{end}}Q: {{.Question}}
A: The answer is`
	CoTTemplate = `{{range .Examples}}Q: {{.Question}}
A: {{.Reasoning}} The answer is {{.Answer}}.

{{end}}Q: {{.Question}}
A:`
	ZeroShotCoTTemplate = `Q: {{.Question}}
A: Let's think step by step.`
	// ZeroShotCoTExtraction is appended to the first pass's prompt and reasoning.
	ZeroShotCoTExtraction = ` Therefore, the answer (arabic numerals) is`
)
