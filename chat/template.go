// Package chat renders a conversation into the text a chat model was trained on, with the
// Jinja chat templates that HuggingFace tokenizers carry in tokenizer_config.json
// ("chat_template").
//
// It implements the safe subset of Jinja those templates use: text, {{ expressions }},
// {% for x in list %} with loop.first, loop.last, loop.index and loop.index0, {% if %} /
// {% elif %} / {% else %}, {% set name = expr %}, {# comments #}, whitespace control ({%- -%}),
// string and integer literals, names, attribute and index access (message.role,
// message['content'], messages[0]), the operators + and ~ (concatenation), %, ==, !=, <, >,
// <=, >=, and, or, not, the tests "is defined", "is none", "is string" (and their "is not"),
// the filters trim, length, lower and upper, and raise_exception('message'). Anything else
// (macros, includes, arbitrary calls) is refused when the template is parsed, with the
// position of the offending part, so a template never runs code or reaches outside the
// conversation it is given.
package chat

import (
	"fmt"
	"strings"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string `json:"role"` // "system", "user" or "assistant"
	Content string `json:"content"`
}

// Error is a template that does not parse or fails to render, with the byte offset in the
// template where the problem is.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("chat template: at byte %d: %s", e.Pos, e.Msg) }

// Template is a parsed chat template. BOSToken and EOSToken are what the template's bos_token
// and eos_token variables hold (HuggingFace passes the tokenizer's special tokens).
type Template struct {
	Source   string
	BOSToken string
	EOSToken string

	body []node
}

// Default is the template used when a model folder carries none: ChatML, as Qwen and many
// others use it. Each turn is <|im_start|>ROLE\nCONTENT<|im_end|>\n, and the generation prompt
// opens an assistant turn. <|im_start|> and <|im_end|> are special tokens; generation stops at
// <|im_end|>.
const Default = `{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`

// DefaultSpecialTokens are the special tokens of Default; the last one ends a turn.
var DefaultSpecialTokens = []string{"<|im_start|>", "<|im_end|>"}

// DefaultEndOfTurn is the token that ends a turn in Default.
const DefaultEndOfTurn = "<|im_end|>"

// maxTemplateBytes bounds a template's source.
const maxTemplateBytes = 1 << 20

// Parse parses a template. Unsupported syntax is an *Error naming what and where.
func Parse(src string) (*Template, error) {
	if len(src) > maxTemplateBytes {
		return nil, &Error{Pos: 0, Msg: fmt.Sprintf("template of %d bytes is larger than %d", len(src), maxTemplateBytes)}
	}
	parts, err := split(src)
	if err != nil {
		return nil, err
	}
	p := &parser{parts: parts}
	body, end, err := p.block()
	if err != nil {
		return nil, err
	}
	if end != "" {
		return nil, &Error{Pos: p.endPos, Msg: fmt.Sprintf("{%% %s %%} without a matching opening tag", end)}
	}
	return &Template{Source: src, body: body}, nil
}

// maxOutputBytes bounds what one rendering produces.
const maxOutputBytes = 64 << 20

// Render renders messages; addGenerationPrompt asks the template to end with the opening of an
// assistant turn (the add_generation_prompt variable).
func (t *Template) Render(messages []Message, addGenerationPrompt bool) (string, error) {
	msgs := make([]any, len(messages))
	for i, m := range messages {
		msgs[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	r := &renderer{vars: map[string]any{
		"messages":              msgs,
		"add_generation_prompt": addGenerationPrompt,
		"bos_token":             t.BOSToken,
		"eos_token":             t.EOSToken,
	}}
	if err := r.run(t.body); err != nil {
		return "", err
	}
	return r.out.String(), nil
}

type renderer struct {
	vars map[string]any
	out  strings.Builder
}

func (r *renderer) run(nodes []node) error {
	for _, n := range nodes {
		if err := n.exec(r); err != nil {
			return err
		}
		if r.out.Len() > maxOutputBytes {
			return fmt.Errorf("chat template: the rendering is larger than %d bytes", maxOutputBytes)
		}
	}
	return nil
}

// node is a part of a parsed template.
type node interface{ exec(r *renderer) error }

type textNode struct{ text string }

func (n textNode) exec(r *renderer) error { r.out.WriteString(n.text); return nil }

type outputNode struct{ e expr }

func (n outputNode) exec(r *renderer) error {
	v, err := n.e.eval(r)
	if err != nil {
		return err
	}
	r.out.WriteString(str(v))
	return nil
}

type setNode struct {
	name string
	e    expr
}

func (n setNode) exec(r *renderer) error {
	v, err := n.e.eval(r)
	if err != nil {
		return err
	}
	r.vars[n.name] = v
	return nil
}

type ifNode struct {
	conds  []expr
	bodies [][]node
	els    []node
}

func (n ifNode) exec(r *renderer) error {
	for i, c := range n.conds {
		v, err := c.eval(r)
		if err != nil {
			return err
		}
		if truthy(v) {
			return r.run(n.bodies[i])
		}
	}
	return r.run(n.els)
}

type forNode struct {
	name string
	iter expr
	body []node
	pos  int
}

func (n forNode) exec(r *renderer) error {
	v, err := n.iter.eval(r)
	if err != nil {
		return err
	}
	list, ok := v.([]any)
	if !ok {
		return &Error{Pos: n.pos, Msg: fmt.Sprintf("for loop over %s, want a list", typeName(v))}
	}
	saved, hadVar := r.vars[n.name]
	savedLoop, hadLoop := r.vars["loop"]
	for i, item := range list {
		r.vars[n.name] = item
		r.vars["loop"] = map[string]any{
			"index0": i, "index": i + 1, "first": i == 0, "last": i == len(list)-1, "length": len(list),
		}
		if err := r.run(n.body); err != nil {
			return err
		}
	}
	restore(r.vars, n.name, saved, hadVar)
	restore(r.vars, "loop", savedLoop, hadLoop)
	return nil
}

func restore(vars map[string]any, name string, v any, had bool) {
	if had {
		vars[name] = v
	} else {
		delete(vars, name)
	}
}

// truthy is Jinja's truth: false, 0, "", empty lists and maps, and undefined are false.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// str is Jinja's string conversion; undefined prints as nothing.
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int:
		return fmt.Sprint(x)
	}
	return fmt.Sprint(v)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "an undefined value"
	case string:
		return "a string"
	case int:
		return "an integer"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}
