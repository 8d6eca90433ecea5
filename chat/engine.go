package chat

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// A chat template turns a conversation into the prompt text a model was trained on. Models on
// the HuggingFace Hub ship one in tokenizer_config.json as a Jinja2 template; qkv runs a safe
// subset of Jinja:
//
//	{{ expr }}   {# comment #}   whitespace control {{- … -}} {%- … -%}
//	{% for x in expr %} … {% endfor %}   (loop.index, loop.index0, loop.first, loop.last, loop.length)
//	{% if expr %} … {% elif expr %} … {% else %} … {% endif %}
//	{% set name = expr %}
//	expressions: strings, integers, true/false/none, names, a.b, a['b'], a[0], a[1:], + - ~,
//	== != < <= > >=, in, not in, and, or, not, is [not] defined/none/string, x if c else y,
//	filters | trim | length | upper | lower | string | tojson, string methods strip(),
//	lstrip(), rstrip(), startswith(s), endswith(s), upper(), lower(), and raise_exception(msg).
//
// The variables are messages, add_generation_prompt, bos_token and eos_token. Anything else
// (macros, includes, blocks, calls of other functions) is an error when the template is
// parsed, so a model with an unsupported template fails at load time, not per request.
// Rendering is bounded in steps and output size, so no template can hang the server.

const (
	maxTemplateBytes  = 256 << 10
	maxTemplateDepth  = 64
	maxTemplateSteps  = 1_000_000
	maxTemplateOutput = 4 << 20
)

// Template is a parsed chat template. BOSToken and EOSToken are what the template's bos_token
// and eos_token variables hold (HuggingFace passes the tokenizer's special tokens).
type Template struct {
	Source   string
	BOSToken string
	EOSToken string

	body []tnode
}

type tnode interface{}

type textNode struct{ s string }
type outputNode struct{ e expr }
type forNode struct {
	name string
	iter expr
	body []tnode
	els  []tnode
}
type ifNode struct {
	conds  []expr
	bodies [][]tnode // len(conds) or len(conds)+1 with an else
}
type setNode struct {
	name string
	e    expr
}

// Parse parses a chat template, or says which part of it qkv does not support.
func Parse(src string) (*Template, error) {
	if len(src) > maxTemplateBytes {
		return nil, fmt.Errorf("chat template: %d bytes is more than the %d accepted", len(src), maxTemplateBytes)
	}
	toks, err := lexTemplate(src)
	if err != nil {
		return nil, err
	}
	p := &tparser{toks: toks}
	body, end, err := p.block(0)
	if err != nil {
		return nil, err
	}
	if end != "" {
		return nil, fmt.Errorf("chat template: line %d: {%% %s %%} without its opening tag", p.line, end)
	}
	return &Template{Source: src, body: body}, nil
}

// Render applies the template to a conversation; addGenerationPrompt asks the template to end
// with the opening of an assistant turn (the add_generation_prompt variable).
func (t *Template) Render(msgs []Message, addGenerationPrompt bool) (string, error) {
	list := make([]any, len(msgs))
	for i, m := range msgs {
		mm := map[string]any{"role": m.Role, "content": m.Content}
		if m.Name != "" {
			mm["name"] = m.Name
		}
		list[i] = mm
	}
	r := &renderer{vars: []map[string]any{{
		"messages":              list,
		"add_generation_prompt": addGenerationPrompt,
		"bos_token":             t.BOSToken,
		"eos_token":             t.EOSToken,
	}}}
	if err := r.run(t.body); err != nil {
		return "", err
	}
	return r.out.String(), nil
}

// ---- lexing ----

type tkind int

const (
	tText tkind = iota
	tOutput
	tStmt
)

type ttoken struct {
	kind tkind
	s    string // text, or the inside of the tag
	line int
}

func lexTemplate(src string) ([]ttoken, error) {
	var toks []ttoken
	line := 1
	trimNext := false // -%} or -}}: strip leading whitespace of the next text
	afterBlock := false
	for len(src) > 0 {
		i := strings.Index(src, "{")
		for i >= 0 && i+1 < len(src) && !strings.ContainsRune("{%#", rune(src[i+1])) {
			j := strings.Index(src[i+1:], "{")
			if j < 0 {
				i = -1
				break
			}
			i += 1 + j
		}
		if i < 0 || i+1 >= len(src) {
			i = len(src)
		}
		text := src[:i]
		if trimNext {
			text = strings.TrimLeftFunc(text, unicode.IsSpace)
		} else if afterBlock && strings.HasPrefix(text, "\n") { // trim_blocks
			text = text[1:]
		}
		rest := src[i:]
		if rest == "" {
			if text != "" {
				toks = append(toks, ttoken{tText, text, line})
			}
			break
		}
		open := rest[1]
		closeTag := map[byte]string{'{': "}}", '%': "%}", '#': "#}"}[open]
		inner := rest[2:]
		trimPrev := strings.HasPrefix(inner, "-")
		if trimPrev {
			inner = inner[1:]
			text = strings.TrimRightFunc(text, unicode.IsSpace)
		} else if open == '%' || open == '#' { // lstrip_blocks: a block tag alone on its line
			if k := strings.LastIndex(text, "\n"); strings.TrimLeft(text[k+1:], " \t") == "" && (k >= 0 || len(toks) == 0) {
				text = text[:k+1]
			}
		}
		if text != "" {
			toks = append(toks, ttoken{tText, text, line})
		}
		line += strings.Count(src[:i], "\n")
		end := indexTagEnd(inner, closeTag)
		if end < 0 {
			return nil, fmt.Errorf("chat template: line %d: %s without a closing %s", line, rest[:2], closeTag)
		}
		body := inner[:end]
		trimNext = strings.HasSuffix(body, "-")
		if trimNext {
			body = body[:len(body)-1]
		}
		switch open {
		case '{':
			toks = append(toks, ttoken{tOutput, body, line})
		case '%':
			toks = append(toks, ttoken{tStmt, body, line})
		}
		afterBlock = open != '{'
		consumed := 2 + (len(rest[2:]) - len(inner)) + end + len(closeTag)
		line += strings.Count(rest[:consumed], "\n")
		src = rest[consumed:]
	}
	return toks, nil
}

// indexTagEnd finds the closing tag outside string literals.
func indexTagEnd(s, closeTag string) int {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case strings.HasPrefix(s[i:], closeTag):
			return i
		}
	}
	return -1
}

// ---- parsing statements ----

type tparser struct {
	toks []ttoken
	pos  int
	line int
}

// block parses nodes up to one of the end keywords; it returns the keyword's full statement.
func (p *tparser) block(depth int, ends ...string) ([]tnode, string, error) {
	if depth > maxTemplateDepth {
		return nil, "", fmt.Errorf("chat template: line %d: blocks nested more than %d deep", p.line, maxTemplateDepth)
	}
	var out []tnode
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		p.pos++
		p.line = t.line
		switch t.kind {
		case tText:
			out = append(out, textNode{t.s})
		case tOutput:
			e, err := parseExpr(t.s, t.line)
			if err != nil {
				return nil, "", err
			}
			out = append(out, outputNode{e})
		case tStmt:
			stmt := strings.TrimSpace(t.s)
			kw, rest, _ := strings.Cut(stmt, " ")
			rest = strings.TrimSpace(rest)
			for _, e := range ends {
				if kw == e {
					return out, stmt, nil
				}
			}
			switch kw {
			case "for":
				n, err := p.parseFor(rest, depth)
				if err != nil {
					return nil, "", err
				}
				out = append(out, n)
			case "if":
				n, err := p.parseIf(rest, depth)
				if err != nil {
					return nil, "", err
				}
				out = append(out, n)
			case "set":
				name, val, ok := strings.Cut(rest, "=")
				name = strings.TrimSpace(name)
				if !ok || !isIdent(name) {
					return nil, "", fmt.Errorf("chat template: line %d: {%% set %s %%}: want {%% set name = expression %%}", t.line, rest)
				}
				e, err := parseExpr(val, t.line)
				if err != nil {
					return nil, "", err
				}
				out = append(out, setNode{name, e})
			case "endfor", "endif", "elif", "else":
				return nil, "", fmt.Errorf("chat template: line %d: {%% %s %%} without its opening tag", t.line, kw)
			default:
				return nil, "", fmt.Errorf("chat template: line %d: {%% %s %%} is not supported (qkv's templates support for, if/elif/else and set)", t.line, kw)
			}
		}
	}
	if len(ends) > 0 {
		return nil, "", fmt.Errorf("chat template: line %d: missing {%% %s %%}", p.line, ends[0])
	}
	return out, "", nil
}

func (p *tparser) parseFor(rest string, depth int) (tnode, error) {
	name, iter, ok := strings.Cut(rest, " in ")
	name = strings.TrimSpace(name)
	if !ok || !isIdent(name) {
		return nil, fmt.Errorf("chat template: line %d: {%% for %s %%}: want {%% for name in expression %%}", p.line, rest)
	}
	e, err := parseExpr(iter, p.line)
	if err != nil {
		return nil, err
	}
	body, end, err := p.block(depth+1, "endfor", "else")
	if err != nil {
		return nil, err
	}
	n := forNode{name: name, iter: e, body: body}
	if end == "else" {
		if n.els, _, err = p.block(depth+1, "endfor"); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (p *tparser) parseIf(cond string, depth int) (tnode, error) {
	n := ifNode{}
	for {
		e, err := parseExpr(cond, p.line)
		if err != nil {
			return nil, err
		}
		body, end, err := p.block(depth+1, "elif", "else", "endif")
		if err != nil {
			return nil, err
		}
		n.conds = append(n.conds, e)
		n.bodies = append(n.bodies, body)
		kw, rest, _ := strings.Cut(end, " ")
		switch kw {
		case "elif":
			cond = rest
			continue
		case "else":
			els, _, err := p.block(depth+1, "endif")
			if err != nil {
				return nil, err
			}
			n.bodies = append(n.bodies, els)
		}
		return n, nil
	}
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

// ---- expressions ----

type expr interface{}

type litExpr struct{ v any }
type nameExpr struct{ name string }
type attrExpr struct {
	x    expr
	name string
}
type indexExpr struct{ x, i expr }
type sliceExpr struct{ x, lo, hi expr }
type binExpr struct {
	op   string
	l, r expr
}
type notExpr struct{ x expr }
type negExpr struct{ x expr }
type condExpr struct{ cond, a, b expr }
type callExpr struct {
	fn   expr // nameExpr raise_exception, or attrExpr for a string method
	args []expr
}
type filterExpr struct {
	x    expr
	name string
}
type testExpr struct {
	x    expr
	name string
	neg  bool
}

type etoken struct {
	kind byte // 'n' name, 's' string, 'i' int, 'o' operator
	s    string
	n    int
}

func lexExpr(s string, line int) ([]etoken, error) {
	var out []etoken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i
			for j < len(s) && (s[j] == '_' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			out = append(out, etoken{kind: 'n', s: s[i:j]})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			n, err := strconv.Atoi(s[i:j])
			if err != nil {
				return nil, fmt.Errorf("chat template: line %d: number %s out of range", line, s[i:j])
			}
			out = append(out, etoken{kind: 'i', n: n})
			i = j
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
					switch s[j] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					default:
						b.WriteByte(s[j])
					}
					continue
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("chat template: line %d: unterminated string", line)
			}
			out = append(out, etoken{kind: 's', s: b.String()})
			i = j + 1
		default:
			two := ""
			if i+1 < len(s) {
				two = s[i : i+2]
			}
			switch two {
			case "==", "!=", "<=", ">=":
				out = append(out, etoken{kind: 'o', s: two})
				i += 2
				continue
			}
			if strings.IndexByte("+-*%~<>()[].,|:", c) < 0 {
				return nil, fmt.Errorf("chat template: line %d: unexpected %q in %q (qkv's templates support + - * %% ~ comparisons, and, or, not, in, is, filters and indexing)", line, c, strings.TrimSpace(s))
			}
			out = append(out, etoken{kind: 'o', s: string(c)})
			i++
		}
	}
	return out, nil
}

type eparser struct {
	toks  []etoken
	pos   int
	line  int
	src   string
	depth int
}

func parseExpr(s string, line int) (expr, error) {
	toks, err := lexExpr(s, line)
	if err != nil {
		return nil, err
	}
	p := &eparser{toks: toks, line: line, src: strings.TrimSpace(s)}
	e, err := p.cond()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, p.errorf("unexpected %q", p.toks[p.pos].text())
	}
	return e, nil
}

func (t etoken) text() string {
	if t.kind == 'i' {
		return strconv.Itoa(t.n)
	}
	return t.s
}

func (p *eparser) errorf(format string, a ...any) error {
	return fmt.Errorf("chat template: line %d: in %q: %s", p.line, p.src, fmt.Sprintf(format, a...))
}

func (p *eparser) peek(kind byte, s string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind == kind && p.toks[p.pos].s == s
}

func (p *eparser) accept(kind byte, s string) bool {
	if p.peek(kind, s) {
		p.pos++
		return true
	}
	return false
}

func (p *eparser) expect(kind byte, s string) error {
	if !p.accept(kind, s) {
		return p.errorf("expected %q", s)
	}
	return nil
}

func (p *eparser) cond() (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxTemplateDepth {
		return nil, p.errorf("expression nested more than %d deep", maxTemplateDepth)
	}
	a, err := p.or()
	if err != nil {
		return nil, err
	}
	if !p.accept('n', "if") {
		return a, nil
	}
	c, err := p.or()
	if err != nil {
		return nil, err
	}
	var b expr = litExpr{undefined{}}
	if p.accept('n', "else") {
		if b, err = p.cond(); err != nil {
			return nil, err
		}
	}
	return condExpr{c, a, b}, nil
}

func (p *eparser) or() (expr, error) {
	l, err := p.and()
	for err == nil && p.accept('n', "or") {
		var r expr
		r, err = p.and()
		l = binExpr{"or", l, r}
	}
	return l, err
}

func (p *eparser) and() (expr, error) {
	l, err := p.not()
	for err == nil && p.accept('n', "and") {
		var r expr
		r, err = p.not()
		l = binExpr{"and", l, r}
	}
	return l, err
}

func (p *eparser) not() (expr, error) {
	if p.accept('n', "not") {
		x, err := p.not()
		return notExpr{x}, err
	}
	return p.compare()
}

func (p *eparser) compare() (expr, error) {
	l, err := p.sum()
	if err != nil {
		return nil, err
	}
	for {
		var op string
		switch {
		case p.pos < len(p.toks) && p.toks[p.pos].kind == 'o' && strings.Contains("== != < <= > >=", p.toks[p.pos].s) && p.toks[p.pos].s != "=":
			op = p.toks[p.pos].s
			p.pos++
		case p.accept('n', "in"):
			op = "in"
		case p.peek('n', "not") && p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == 'n' && p.toks[p.pos+1].s == "in":
			p.pos += 2
			op = "not in"
		default:
			return l, nil
		}
		r, err := p.sum()
		if err != nil {
			return nil, err
		}
		l = binExpr{op, l, r}
	}
}

func (p *eparser) sum() (expr, error) {
	l, err := p.concat()
	for err == nil && (p.peek('o', "+") || p.peek('o', "-")) {
		op := p.toks[p.pos].s
		p.pos++
		var r expr
		r, err = p.concat()
		l = binExpr{op, l, r}
	}
	return l, err
}

func (p *eparser) concat() (expr, error) {
	l, err := p.product()
	for err == nil && p.accept('o', "~") {
		var r expr
		r, err = p.product()
		l = binExpr{"~", l, r}
	}
	return l, err
}

func (p *eparser) product() (expr, error) {
	l, err := p.unary()
	for err == nil && (p.peek('o', "*") || p.peek('o', "%")) {
		op := p.toks[p.pos].s
		p.pos++
		var r expr
		r, err = p.unary()
		l = binExpr{op, l, r}
	}
	return l, err
}

func (p *eparser) unary() (expr, error) {
	if p.accept('o', "-") {
		x, err := p.unary()
		return negExpr{x}, err
	}
	return p.postfix()
}

func (p *eparser) postfix() (expr, error) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.accept('o', "."):
			if p.pos >= len(p.toks) || p.toks[p.pos].kind != 'n' {
				return nil, p.errorf("expected a name after '.'")
			}
			x = attrExpr{x, p.toks[p.pos].s}
			p.pos++
		case p.accept('o', "["):
			var lo, hi expr
			if !p.peek('o', ":") {
				if lo, err = p.cond(); err != nil {
					return nil, err
				}
			}
			if p.accept('o', ":") {
				if !p.peek('o', "]") {
					if hi, err = p.cond(); err != nil {
						return nil, err
					}
				}
				x = sliceExpr{x, lo, hi}
			} else {
				x = indexExpr{x, lo}
			}
			if err := p.expect('o', "]"); err != nil {
				return nil, err
			}
		case p.accept('o', "("):
			var args []expr
			for !p.accept('o', ")") {
				a, err := p.cond()
				if err != nil {
					return nil, err
				}
				args = append(args, a)
				if !p.accept('o', ",") && !p.peek('o', ")") {
					return nil, p.errorf("expected ',' or ')' in a call")
				}
			}
			if err := checkCall(x, len(args)); err != nil {
				return nil, p.errorf("%v", err)
			}
			x = callExpr{x, args}
		case p.accept('o', "|"):
			if p.pos >= len(p.toks) || p.toks[p.pos].kind != 'n' {
				return nil, p.errorf("expected a filter name after '|'")
			}
			name := p.toks[p.pos].s
			p.pos++
			switch name {
			case "trim", "length", "upper", "lower", "string", "tojson":
			default:
				return nil, p.errorf("filter %q is not supported (trim, length, upper, lower, string, tojson are)", name)
			}
			x = filterExpr{x, name}
		case p.accept('n', "is"):
			neg := p.accept('n', "not")
			if p.pos >= len(p.toks) || p.toks[p.pos].kind != 'n' {
				return nil, p.errorf("expected a test name after 'is'")
			}
			name := p.toks[p.pos].s
			p.pos++
			switch name {
			case "defined", "undefined", "none", "string", "true", "false":
			default:
				return nil, p.errorf("test %q is not supported (defined, undefined, none, string, true, false are)", name)
			}
			x = testExpr{x, name, neg}
		default:
			return x, nil
		}
	}
}

var stringMethods = map[string]int{"strip": 0, "lstrip": 0, "rstrip": 0, "upper": 0, "lower": 0, "startswith": 1, "endswith": 1}

func checkCall(fn expr, n int) error {
	switch f := fn.(type) {
	case nameExpr:
		if f.name == "raise_exception" && n == 1 {
			return nil
		}
		return fmt.Errorf("calling %s is not supported (only raise_exception(message) and string methods)", f.name)
	case attrExpr:
		if want, ok := stringMethods[f.name]; ok && (n == want || (want == 0 && n <= 1 && strings.HasSuffix(f.name, "strip"))) {
			return nil
		}
		return fmt.Errorf("method %s with %d arguments is not supported", f.name, n)
	}
	return fmt.Errorf("this call is not supported")
}

func (p *eparser) primary() (expr, error) {
	if p.pos >= len(p.toks) {
		return nil, p.errorf("expression ends too early")
	}
	t := p.toks[p.pos]
	p.pos++
	switch t.kind {
	case 's':
		return litExpr{t.s}, nil
	case 'i':
		return litExpr{t.n}, nil
	case 'n':
		switch t.s {
		case "true", "True":
			return litExpr{true}, nil
		case "false", "False":
			return litExpr{false}, nil
		case "none", "None":
			return litExpr{nil}, nil
		case "and", "or", "not", "in", "is", "if", "else":
			return nil, p.errorf("unexpected %q", t.s)
		}
		return nameExpr{t.s}, nil
	case 'o':
		switch t.s {
		case "(":
			e, err := p.cond()
			if err != nil {
				return nil, err
			}
			return e, p.expect('o', ")")
		case "[":
			var items []expr
			for !p.accept('o', "]") {
				e, err := p.cond()
				if err != nil {
					return nil, err
				}
				items = append(items, e)
				if !p.accept('o', ",") && !p.peek('o', "]") {
					return nil, p.errorf("expected ',' or ']' in a list")
				}
			}
			return listExpr{items}, nil
		}
	}
	return nil, p.errorf("unexpected %q", t.text())
}

type listExpr struct{ items []expr }

// ---- rendering ----

// undefined is the value of a name or key that does not exist: it renders as nothing and is
// false.
type undefined struct{}

type renderer struct {
	vars  []map[string]any
	out   strings.Builder
	steps int
}

// RaisedError is raised by raise_exception: the template rejects the conversation.
type RaisedError struct{ Msg string }

func (e *RaisedError) Error() string { return "chat template refused the conversation: " + e.Msg }

func (r *renderer) step() error {
	r.steps++
	if r.steps > maxTemplateSteps {
		return fmt.Errorf("chat template: more than %d steps", maxTemplateSteps)
	}
	if r.out.Len() > maxTemplateOutput {
		return fmt.Errorf("chat template: output longer than %d bytes", maxTemplateOutput)
	}
	return nil
}

func (r *renderer) lookup(name string) any {
	for i := len(r.vars) - 1; i >= 0; i-- {
		if v, ok := r.vars[i][name]; ok {
			return v
		}
	}
	return undefined{}
}

func (r *renderer) run(nodes []tnode) error {
	for _, n := range nodes {
		if err := r.step(); err != nil {
			return err
		}
		switch n := n.(type) {
		case textNode:
			r.out.WriteString(n.s)
		case outputNode:
			v, err := r.eval(n.e)
			if err != nil {
				return err
			}
			r.out.WriteString(toString(v))
		case setNode:
			v, err := r.eval(n.e)
			if err != nil {
				return err
			}
			r.vars[len(r.vars)-1][n.name] = v
		case ifNode:
			branch := len(n.conds) // the else branch, if any
			for i, c := range n.conds {
				v, err := r.eval(c)
				if err != nil {
					return err
				}
				if truthy(v) {
					branch = i
					break
				}
			}
			if branch < len(n.bodies) {
				if err := r.run(n.bodies[branch]); err != nil {
					return err
				}
			}
		case forNode:
			v, err := r.eval(n.iter)
			if err != nil {
				return err
			}
			items, err := iterate(v)
			if err != nil {
				return err
			}
			if len(items) == 0 {
				if err := r.run(n.els); err != nil {
					return err
				}
				continue
			}
			scope := map[string]any{}
			r.vars = append(r.vars, scope)
			for i, it := range items {
				scope[n.name] = it
				scope["loop"] = map[string]any{"index": i + 1, "index0": i, "first": i == 0, "last": i == len(items)-1, "length": len(items)}
				if err := r.run(n.body); err != nil {
					return err
				}
			}
			r.vars = r.vars[:len(r.vars)-1]
		}
	}
	return nil
}

func iterate(v any) ([]any, error) {
	switch v := v.(type) {
	case []any:
		return v, nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, nil
	case string:
		out := make([]any, 0, len(v))
		for _, r := range v {
			out = append(out, string(r))
		}
		return out, nil
	case undefined, nil:
		return nil, nil
	}
	return nil, fmt.Errorf("chat template: cannot loop over %s", typeName(v))
}

func (r *renderer) eval(e expr) (any, error) {
	if err := r.step(); err != nil {
		return nil, err
	}
	switch e := e.(type) {
	case litExpr:
		return e.v, nil
	case nameExpr:
		return r.lookup(e.name), nil
	case listExpr:
		out := make([]any, len(e.items))
		for i, it := range e.items {
			v, err := r.eval(it)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case attrExpr:
		x, err := r.eval(e.x)
		if err != nil {
			return nil, err
		}
		return member(x, e.name), nil
	case indexExpr:
		x, err := r.eval(e.x)
		if err != nil {
			return nil, err
		}
		i, err := r.eval(e.i)
		if err != nil {
			return nil, err
		}
		return index(x, i), nil
	case sliceExpr:
		return r.slice(e)
	case notExpr:
		x, err := r.eval(e.x)
		return !truthy(x), err
	case negExpr:
		x, err := r.eval(e.x)
		if err != nil {
			return nil, err
		}
		n, ok := x.(int)
		if !ok {
			return nil, fmt.Errorf("chat template: cannot negate %s", typeName(x))
		}
		return -n, nil
	case condExpr:
		c, err := r.eval(e.cond)
		if err != nil {
			return nil, err
		}
		if truthy(c) {
			return r.eval(e.a)
		}
		return r.eval(e.b)
	case binExpr:
		return r.binary(e)
	case filterExpr:
		x, err := r.eval(e.x)
		if err != nil {
			return nil, err
		}
		return filter(x, e.name)
	case testExpr:
		x, err := r.eval(e.x)
		if err != nil {
			return nil, err
		}
		var ok bool
		switch e.name {
		case "defined":
			_, u := x.(undefined)
			ok = !u
		case "undefined":
			_, ok = x.(undefined)
		case "none":
			ok = x == nil
		case "string":
			_, ok = x.(string)
		case "true":
			ok = x == true
		case "false":
			ok = x == false
		}
		return ok != e.neg, nil
	case callExpr:
		return r.call(e)
	}
	return nil, fmt.Errorf("chat template: unknown expression %T", e)
}

func (r *renderer) slice(e sliceExpr) (any, error) {
	x, err := r.eval(e.x)
	if err != nil {
		return nil, err
	}
	bound := func(b expr, n, def int) (int, error) {
		if b == nil {
			return def, nil
		}
		v, err := r.eval(b)
		if err != nil {
			return 0, err
		}
		i, ok := v.(int)
		if !ok {
			return 0, fmt.Errorf("chat template: slice bound %s is not an integer", typeName(v))
		}
		if i < 0 {
			i += n
		}
		return max(0, min(i, n)), nil
	}
	var n int
	switch x := x.(type) {
	case []any:
		n = len(x)
	case string:
		n = len(x)
	default:
		return nil, fmt.Errorf("chat template: cannot slice %s", typeName(x))
	}
	lo, err := bound(e.lo, n, 0)
	if err != nil {
		return nil, err
	}
	hi, err := bound(e.hi, n, n)
	if err != nil {
		return nil, err
	}
	hi = max(hi, lo)
	if s, ok := x.(string); ok {
		return s[lo:hi], nil
	}
	return x.([]any)[lo:hi], nil
}

func (r *renderer) binary(e binExpr) (any, error) {
	l, err := r.eval(e.l)
	if err != nil {
		return nil, err
	}
	switch e.op { // short-circuit
	case "and":
		if !truthy(l) {
			return l, nil
		}
		return r.eval(e.r)
	case "or":
		if truthy(l) {
			return l, nil
		}
		return r.eval(e.r)
	}
	rv, err := r.eval(e.r)
	if err != nil {
		return nil, err
	}
	if n := size(l) + size(rv); n > maxTemplateOutput {
		return nil, fmt.Errorf("chat template: a value longer than %d bytes", maxTemplateOutput)
	}
	switch e.op {
	case "~":
		return toString(l) + toString(rv), nil
	case "*", "%":
		a, ok1 := l.(int)
		b, ok2 := rv.(int)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("chat template: %s needs two integers, not %s and %s", e.op, typeName(l), typeName(rv))
		}
		if e.op == "*" {
			return a * b, nil
		}
		if b == 0 {
			return nil, fmt.Errorf("chat template: modulo by zero")
		}
		return ((a % b) + b) % b, nil // Python's sign convention
	case "+":
		if a, ok := l.(int); ok {
			if b, ok := rv.(int); ok {
				return a + b, nil
			}
		}
		if a, ok := l.(string); ok {
			if b, ok := rv.(string); ok {
				return a + b, nil
			}
		}
		if a, ok := l.([]any); ok {
			if b, ok := rv.([]any); ok {
				return append(append([]any{}, a...), b...), nil
			}
		}
		return nil, fmt.Errorf("chat template: cannot add %s and %s (use ~ to join as text)", typeName(l), typeName(rv))
	case "-":
		a, ok1 := l.(int)
		b, ok2 := rv.(int)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("chat template: cannot subtract %s from %s", typeName(rv), typeName(l))
		}
		return a - b, nil
	case "==":
		return equalValues(l, rv), nil
	case "!=":
		return !equalValues(l, rv), nil
	case "<", "<=", ">", ">=":
		c, err := compareValues(l, rv)
		if err != nil {
			return nil, err
		}
		return map[string]bool{"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[e.op], nil
	case "in", "not in":
		in, err := contains(rv, l)
		return in != (e.op == "not in"), err
	}
	return nil, fmt.Errorf("chat template: unknown operator %s", e.op)
}

func (r *renderer) call(e callExpr) (any, error) {
	args := make([]any, len(e.args))
	for i, a := range e.args {
		v, err := r.eval(a)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	switch f := e.fn.(type) {
	case nameExpr: // raise_exception, checked at parse time
		return nil, &RaisedError{toString(args[0])}
	case attrExpr:
		x, err := r.eval(f.x)
		if err != nil {
			return nil, err
		}
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("chat template: %s() needs a string, not %s", f.name, typeName(x))
		}
		cut := " \t\n\r"
		if len(args) == 1 {
			c, ok := args[0].(string)
			if !ok {
				return nil, fmt.Errorf("chat template: %s() needs a string argument", f.name)
			}
			cut = c
		}
		switch f.name {
		case "strip":
			return strings.Trim(s, cut), nil
		case "lstrip":
			return strings.TrimLeft(s, cut), nil
		case "rstrip":
			return strings.TrimRight(s, cut), nil
		case "upper":
			return strings.ToUpper(s), nil
		case "lower":
			return strings.ToLower(s), nil
		case "startswith":
			return strings.HasPrefix(s, cut), nil
		case "endswith":
			return strings.HasSuffix(s, cut), nil
		}
	}
	return nil, fmt.Errorf("chat template: unsupported call")
}

func member(x any, name string) any {
	if m, ok := x.(map[string]any); ok {
		if v, ok := m[name]; ok {
			return v
		}
	}
	return undefined{}
}

func index(x, i any) any {
	switch x := x.(type) {
	case map[string]any:
		if k, ok := i.(string); ok {
			if v, ok := x[k]; ok {
				return v
			}
		}
	case []any:
		if n, ok := i.(int); ok {
			if n < 0 {
				n += len(x)
			}
			if n >= 0 && n < len(x) {
				return x[n]
			}
		}
	case string:
		if n, ok := i.(int); ok {
			if n < 0 {
				n += len(x)
			}
			if n >= 0 && n < len(x) {
				return x[n : n+1]
			}
		}
	}
	return undefined{}
}

func filter(x any, name string) (any, error) {
	switch name {
	case "trim":
		return strings.TrimSpace(toString(x)), nil
	case "upper":
		return strings.ToUpper(toString(x)), nil
	case "lower":
		return strings.ToLower(toString(x)), nil
	case "string":
		return toString(x), nil
	case "length":
		switch x := x.(type) {
		case []any:
			return len(x), nil
		case map[string]any:
			return len(x), nil
		case string:
			return len([]rune(x)), nil
		}
		return nil, fmt.Errorf("chat template: %s has no length", typeName(x))
	case "tojson":
		if _, ok := x.(undefined); ok {
			x = nil
		}
		b, err := json.Marshal(x)
		return string(b), err
	}
	return nil, fmt.Errorf("chat template: unknown filter %s", name)
}

// size is the length of a string or list value, to bound what concatenation builds.
func size(v any) int {
	switch v := v.(type) {
	case string:
		return len(v)
	case []any:
		return len(v)
	}
	return 0
}

func truthy(v any) bool {
	switch v := v.(type) {
	case nil, undefined:
		return false
	case bool:
		return v
	case int:
		return v != 0
	case string:
		return v != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return true
}

func toString(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case undefined:
		return ""
	case string:
		return v
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "none"
	case undefined:
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

func equalValues(a, b any) bool {
	switch a := a.(type) {
	case string, int, bool, nil, undefined:
		return a == b
	}
	return false
}

func compareValues(a, b any) (int, error) {
	if x, ok := a.(int); ok {
		if y, ok := b.(int); ok {
			return x - y, nil
		}
	}
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	}
	return 0, fmt.Errorf("chat template: cannot compare %s with %s", typeName(a), typeName(b))
}

func contains(container, x any) (bool, error) {
	switch c := container.(type) {
	case string:
		s, ok := x.(string)
		if !ok {
			return false, fmt.Errorf("chat template: 'in <string>' needs a string, not %s", typeName(x))
		}
		return strings.Contains(c, s), nil
	case []any:
		for _, it := range c {
			if equalValues(it, x) {
				return true, nil
			}
		}
		return false, nil
	case map[string]any:
		s, ok := x.(string)
		if !ok {
			return false, nil
		}
		_, in := c[s]
		return in, nil
	case undefined, nil:
		return false, nil
	}
	return false, fmt.Errorf("chat template: cannot look inside %s", typeName(container))
}
