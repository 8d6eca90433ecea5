package chat

import (
	"fmt"
	"strings"
)

// maxDepth bounds the nesting of blocks and expressions, so a hostile template cannot exhaust
// the stack.
const maxDepth = 64

type parser struct {
	parts  []part
	i      int
	depth  int
	endPos int     // where the block-ending tag returned by block was
	rest   []token // the tokens of that tag
}

// block parses nodes until a statement that ends a block (endfor, endif, elif, else) or the end
// of the template; it returns that statement's keyword ("" at the end) with the statement's
// tokens left in p.rest.
func (p *parser) block() ([]node, string, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, "", &Error{Pos: p.pos(), Msg: fmt.Sprintf("blocks nested deeper than %d", maxDepth)}
	}
	var nodes []node
	for p.i < len(p.parts) {
		pt := p.parts[p.i]
		p.i++
		switch pt.kind {
		case partText:
			nodes = append(nodes, textNode{pt.text})
		case partExpr:
			toks, err := lex(pt.text, pt.pos)
			if err != nil {
				return nil, "", err
			}
			ep := &exprParser{toks: toks}
			e, err := ep.parseAll()
			if err != nil {
				return nil, "", err
			}
			nodes = append(nodes, outputNode{e})
		case partStmt:
			toks, err := lex(pt.text, pt.pos)
			if err != nil {
				return nil, "", err
			}
			if toks[0].kind != tokName {
				return nil, "", &Error{Pos: pt.pos, Msg: "empty or malformed statement"}
			}
			kw := toks[0].text
			switch kw {
			case "endfor", "endif", "elif", "else":
				p.endPos = pt.pos
				p.rest = toks
				return nodes, kw, nil
			case "for":
				n, err := p.parseFor(toks, pt.pos)
				if err != nil {
					return nil, "", err
				}
				nodes = append(nodes, n)
			case "if":
				n, err := p.parseIf(toks, pt.pos)
				if err != nil {
					return nil, "", err
				}
				nodes = append(nodes, n)
			case "set":
				if len(toks) < 4 || toks[1].kind != tokName || toks[2].text != "=" {
					return nil, "", &Error{Pos: pt.pos, Msg: "want {% set NAME = EXPRESSION %}"}
				}
				ep := &exprParser{toks: toks[3:]}
				e, err := ep.parseAll()
				if err != nil {
					return nil, "", err
				}
				nodes = append(nodes, setNode{toks[1].text, e})
			default:
				return nil, "", &Error{Pos: pt.pos, Msg: fmt.Sprintf("unsupported statement {%% %s %%}: chat templates may use for, if/elif/else, set", kw)}
			}
		}
	}
	return nodes, "", nil
}

func (p *parser) pos() int {
	if p.i < len(p.parts) {
		return p.parts[p.i].pos
	}
	return 0
}

func (p *parser) parseFor(toks []token, pos int) (node, error) {
	if len(toks) < 4 || toks[1].kind != tokName || toks[2].kind != tokName || toks[2].text != "in" {
		return nil, &Error{Pos: pos, Msg: "want {% for NAME in EXPRESSION %}"}
	}
	ep := &exprParser{toks: toks[3:]}
	iter, err := ep.parseAll()
	if err != nil {
		return nil, err
	}
	body, end, err := p.block()
	if err != nil {
		return nil, err
	}
	if end != "endfor" {
		return nil, &Error{Pos: pos, Msg: fmt.Sprintf("{%% for %%} ended by %s", endName(end))}
	}
	if err := p.bare("endfor"); err != nil {
		return nil, err
	}
	return forNode{name: toks[1].text, iter: iter, body: body, pos: pos}, nil
}

func (p *parser) parseIf(toks []token, pos int) (node, error) {
	var n ifNode
	cond := toks[1:]
	for {
		ep := &exprParser{toks: cond}
		c, err := ep.parseAll()
		if err != nil {
			return nil, err
		}
		body, end, err := p.block()
		if err != nil {
			return nil, err
		}
		n.conds = append(n.conds, c)
		n.bodies = append(n.bodies, body)
		switch end {
		case "elif":
			cond = p.rest[1:]
			continue
		case "else":
			if err := p.bare("else"); err != nil {
				return nil, err
			}
			els, end, err := p.block()
			if err != nil {
				return nil, err
			}
			if end != "endif" {
				return nil, &Error{Pos: pos, Msg: fmt.Sprintf("{%% else %%} of an if ended by %s", endName(end))}
			}
			n.els = els
		case "endif":
		default:
			return nil, &Error{Pos: pos, Msg: fmt.Sprintf("{%% if %%} ended by %s", endName(end))}
		}
		if err := p.bare(p.rest[0].text); err != nil {
			return nil, err
		}
		return n, nil
	}
}

// bare checks that the statement just read (kw) has nothing after its keyword.
func (p *parser) bare(kw string) error {
	if len(p.rest) > 0 && p.rest[0].text == kw && p.rest[1].kind != tokEOF {
		return &Error{Pos: p.rest[1].pos, Msg: fmt.Sprintf("unexpected %q after %s", p.rest[1].text, kw)}
	}
	return nil
}

func endName(kw string) string {
	if kw == "" {
		return "the end of the template"
	}
	return "{% " + kw + " %}"
}

// expr is a parsed expression.
type expr interface {
	eval(r *renderer) (any, error)
}

type exprParser struct {
	toks  []token
	i     int
	depth int
}

func (p *exprParser) peek() token { return p.toks[p.i] }
func (p *exprParser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}
func (p *exprParser) is(kind tokKind, text string) bool {
	t := p.peek()
	return t.kind == kind && t.text == text
}

func (p *exprParser) parseAll() (expr, error) {
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, &Error{Pos: t.pos, Msg: fmt.Sprintf("unexpected %q", tokText(t))}
	}
	return e, nil
}

func tokText(t token) string {
	if t.kind == tokString {
		return "'" + t.text + "'"
	}
	if t.kind == tokEOF {
		return "end of tag"
	}
	return t.text
}

func (p *exprParser) enter(pos int) error {
	p.depth++
	if p.depth > maxDepth {
		return &Error{Pos: pos, Msg: fmt.Sprintf("expression nested deeper than %d", maxDepth)}
	}
	return nil
}

func (p *exprParser) parseOr() (expr, error) {
	if err := p.enter(p.peek().pos); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	a, err := p.parseAnd()
	for err == nil && p.is(tokName, "or") {
		p.next()
		var b expr
		if b, err = p.parseAnd(); err == nil {
			a = logicExpr{or: true, a: a, b: b}
		}
	}
	return a, err
}

func (p *exprParser) parseAnd() (expr, error) {
	a, err := p.parseNot()
	for err == nil && p.is(tokName, "and") {
		p.next()
		var b expr
		if b, err = p.parseNot(); err == nil {
			a = logicExpr{a: a, b: b}
		}
	}
	return a, err
}

func (p *exprParser) parseNot() (expr, error) {
	if p.is(tokName, "not") {
		p.next()
		if err := p.enter(p.peek().pos); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		e, err := p.parseNot()
		return notExpr{e}, err
	}
	return p.parseCompare()
}

func (p *exprParser) parseCompare() (expr, error) {
	a, err := p.parseConcat()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.kind == tokOp && strings.Contains("== != < > <= >=", t.text) && t.text != "=":
			p.next()
			b, err := p.parseConcat()
			if err != nil {
				return nil, err
			}
			a = binExpr{op: t.text, a: a, b: b, pos: t.pos}
		case t.kind == tokName && t.text == "is":
			p.next()
			neg := false
			if p.is(tokName, "not") {
				p.next()
				neg = true
			}
			name := p.next()
			switch name.text {
			case "defined", "none", "string", "undefined":
			default:
				return nil, &Error{Pos: name.pos, Msg: fmt.Sprintf("unsupported test %q (supported: defined, undefined, none, string)", tokText(name))}
			}
			a = testExpr{e: a, test: name.text, neg: neg}
		default:
			return a, nil
		}
	}
}

func (p *exprParser) parseConcat() (expr, error) {
	a, err := p.parseAdd()
	for err == nil && p.is(tokOp, "~") {
		t := p.next()
		var b expr
		if b, err = p.parseAdd(); err == nil {
			a = binExpr{op: "~", a: a, b: b, pos: t.pos}
		}
	}
	return a, err
}

func (p *exprParser) parseAdd() (expr, error) {
	a, err := p.parseMod()
	for err == nil && (p.is(tokOp, "+") || p.is(tokOp, "-")) {
		t := p.next()
		var b expr
		if b, err = p.parseMod(); err == nil {
			a = binExpr{op: t.text, a: a, b: b, pos: t.pos}
		}
	}
	return a, err
}

func (p *exprParser) parseMod() (expr, error) {
	a, err := p.parsePostfix()
	for err == nil && p.is(tokOp, "%") {
		t := p.next()
		var b expr
		if b, err = p.parsePostfix(); err == nil {
			a = binExpr{op: "%", a: a, b: b, pos: t.pos}
		}
	}
	return a, err
}

func (p *exprParser) parsePostfix() (expr, error) {
	e, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.kind == tokOp && t.text == ".":
			p.next()
			name := p.next()
			if name.kind != tokName {
				return nil, &Error{Pos: name.pos, Msg: "want an attribute name after '.'"}
			}
			if p.is(tokOp, "(") {
				return nil, &Error{Pos: name.pos, Msg: fmt.Sprintf("method calls such as .%s() are not supported", name.text)}
			}
			e = indexExpr{x: e, key: litExpr{name.text}, pos: name.pos}
		case t.kind == tokOp && t.text == "[":
			p.next()
			k, err := p.parseOr()
			if err != nil {
				return nil, err
			}
			if !p.is(tokOp, "]") {
				return nil, &Error{Pos: p.peek().pos, Msg: "want ']' (slices are not supported)"}
			}
			p.next()
			e = indexExpr{x: e, key: k, pos: t.pos}
		case t.kind == tokOp && t.text == "|":
			p.next()
			name := p.next()
			switch name.text {
			case "trim", "length", "lower", "upper":
			default:
				return nil, &Error{Pos: name.pos, Msg: fmt.Sprintf("unsupported filter %q (supported: trim, length, lower, upper)", tokText(name))}
			}
			e = filterExpr{x: e, name: name.text, pos: name.pos}
		default:
			return e, nil
		}
	}
}

func (p *exprParser) parsePrimary() (expr, error) {
	t := p.next()
	switch t.kind {
	case tokString:
		return litExpr{t.text}, nil
	case tokInt:
		return litExpr{t.num}, nil
	case tokName:
		switch t.text {
		case "true", "True":
			return litExpr{true}, nil
		case "false", "False":
			return litExpr{false}, nil
		case "none", "None":
			return litExpr{nil}, nil
		}
		if p.is(tokOp, "(") {
			if t.text != "raise_exception" {
				return nil, &Error{Pos: t.pos, Msg: fmt.Sprintf("unsupported function %s(): only raise_exception() may be called", t.text)}
			}
			p.next()
			arg, err := p.parseOr()
			if err != nil {
				return nil, err
			}
			if !p.is(tokOp, ")") {
				return nil, &Error{Pos: p.peek().pos, Msg: "raise_exception takes one argument: want ')'"}
			}
			p.next()
			return raiseExpr{msg: arg, pos: t.pos}, nil
		}
		return nameExpr{t.text}, nil
	case tokOp:
		switch t.text {
		case "(":
			e, err := p.parseOr()
			if err != nil {
				return nil, err
			}
			if !p.is(tokOp, ")") {
				return nil, &Error{Pos: p.peek().pos, Msg: "want ')'"}
			}
			p.next()
			return e, nil
		case "-":
			e, err := p.parsePostfix()
			if err != nil {
				return nil, err
			}
			return binExpr{op: "-", a: litExpr{0}, b: e, pos: t.pos}, nil
		}
	}
	return nil, &Error{Pos: t.pos, Msg: fmt.Sprintf("unexpected %s", tokText(t))}
}
