package chat

import (
	"fmt"
	"strings"
)

type litExpr struct{ v any }

func (e litExpr) eval(*renderer) (any, error) { return e.v, nil }

type nameExpr struct{ name string }

// eval returns the variable's value; an unknown name is undefined (nil), as in Jinja.
func (e nameExpr) eval(r *renderer) (any, error) { return r.vars[e.name], nil }

type indexExpr struct {
	x, key expr
	pos    int
}

func (e indexExpr) eval(r *renderer) (any, error) {
	x, err := e.x.eval(r)
	if err != nil {
		return nil, err
	}
	k, err := e.key.eval(r)
	if err != nil {
		return nil, err
	}
	switch c := x.(type) {
	case map[string]any:
		s, ok := k.(string)
		if !ok {
			return nil, &Error{Pos: e.pos, Msg: fmt.Sprintf("a mapping indexed by %s", typeName(k))}
		}
		return c[s], nil // a missing key is undefined
	case []any:
		i, ok := k.(int)
		if !ok {
			return nil, &Error{Pos: e.pos, Msg: fmt.Sprintf("a list indexed by %s", typeName(k))}
		}
		if i < 0 {
			i += len(c)
		}
		if i < 0 || i >= len(c) {
			return nil, nil
		}
		return c[i], nil
	case nil:
		return nil, &Error{Pos: e.pos, Msg: fmt.Sprintf("attribute or index %v of an undefined value", str(k))}
	}
	return nil, &Error{Pos: e.pos, Msg: fmt.Sprintf("cannot index %s", typeName(x))}
}

type binExpr struct {
	op   string
	a, b expr
	pos  int
}

func (e binExpr) eval(r *renderer) (any, error) {
	a, err := e.a.eval(r)
	if err != nil {
		return nil, err
	}
	b, err := e.b.eval(r)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "~":
		return str(a) + str(b), nil
	case "==":
		return equal(a, b), nil
	case "!=":
		return !equal(a, b), nil
	}
	ai, aInt := a.(int)
	bi, bInt := b.(int)
	if aInt && bInt {
		switch e.op {
		case "+":
			return ai + bi, nil
		case "-":
			return ai - bi, nil
		case "%":
			if bi == 0 {
				return nil, &Error{Pos: e.pos, Msg: "modulo by zero"}
			}
			return ai % bi, nil
		case "<":
			return ai < bi, nil
		case ">":
			return ai > bi, nil
		case "<=":
			return ai <= bi, nil
		case ">=":
			return ai >= bi, nil
		}
	}
	as, aStr := a.(string)
	bs, bStr := b.(string)
	if e.op == "+" && aStr && bStr {
		return as + bs, nil
	}
	al, aList := a.([]any)
	bl, bList := b.([]any)
	if e.op == "+" && aList && bList {
		return append(append([]any{}, al...), bl...), nil
	}
	return nil, &Error{Pos: e.pos, Msg: fmt.Sprintf("operator %s on %s and %s", e.op, typeName(a), typeName(b))}
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case nil, string, int, bool:
		return a == b
	case []any:
		y, ok := b.([]any)
		return ok && len(x) == 0 && len(y) == 0
	}
	return false
}

type logicExpr struct {
	or   bool
	a, b expr
}

func (e logicExpr) eval(r *renderer) (any, error) {
	a, err := e.a.eval(r)
	if err != nil {
		return nil, err
	}
	if truthy(a) == e.or { // short-circuit, returning the operand as Jinja does
		return a, nil
	}
	return e.b.eval(r)
}

type notExpr struct{ e expr }

func (e notExpr) eval(r *renderer) (any, error) {
	v, err := e.e.eval(r)
	return !truthy(v), err
}

type testExpr struct {
	e    expr
	test string
	neg  bool
}

func (e testExpr) eval(r *renderer) (any, error) {
	v, err := e.e.eval(r)
	if err != nil {
		return nil, err
	}
	var ok bool
	switch e.test {
	case "defined":
		ok = v != nil
	case "undefined", "none":
		ok = v == nil
	case "string":
		_, ok = v.(string)
	}
	return ok != e.neg, nil
}

type filterExpr struct {
	x    expr
	name string
	pos  int
}

func (e filterExpr) eval(r *renderer) (any, error) {
	v, err := e.x.eval(r)
	if err != nil {
		return nil, err
	}
	switch e.name {
	case "length":
		switch c := v.(type) {
		case string:
			return len([]rune(c)), nil
		case []any:
			return len(c), nil
		case map[string]any:
			return len(c), nil
		}
		return nil, &Error{Pos: e.pos, Msg: fmt.Sprintf("length of %s", typeName(v))}
	case "trim":
		return strings.TrimSpace(str(v)), nil
	case "lower":
		return strings.ToLower(str(v)), nil
	default: // upper
		return strings.ToUpper(str(v)), nil
	}
}

type raiseExpr struct {
	msg expr
	pos int
}

// RaisedError is a template's raise_exception: the template refuses the conversation (a
// system message where it allows none, roles that do not alternate …).
type RaisedError struct{ Msg string }

func (e *RaisedError) Error() string { return "chat template refused the conversation: " + e.Msg }

func (e raiseExpr) eval(r *renderer) (any, error) {
	v, err := e.msg.eval(r)
	if err != nil {
		return nil, err
	}
	return nil, &RaisedError{Msg: str(v)}
}
