package constrain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// JSON Schema support: the compiler turns a schema into the language of its compact JSON
// instances (no whitespace between tokens, object properties in the schema's order) and then
// into a DFA. Supported keywords:
//
//	type             "object", "array", "string", "integer", "number", "boolean", "null",
//	                 or a list of them
//	properties       with required (listed properties must appear; others may be left out);
//	                 additionalProperties may be false or absent (no other keys are written)
//	items            with minItems, maxItems
//	enum, const      any JSON values
//	pattern          on strings (the regular-expression subset of this package; it may not
//	                 match a quote, a backslash or a control character)
//	minLength, maxLength on strings
//	anyOf            alternatives
//	title, description, $schema, $id, default, examples, $comment are annotations and ignored
//
// Anything else (format, $ref, oneOf, allOf, not, patternProperties, minimum, …) is an error
// that names the keyword, rather than a silently weaker constraint. Integers are limited to
// 16 digits and unbounded strings and arrays are bounded only by the token budget.

// SchemaError is a schema the compiler cannot turn into an automaton.
type SchemaError struct {
	Path string // JSON pointer of the offending subschema, "" for the root
	Msg  string
}

func (e *SchemaError) Error() string {
	p := e.Path
	if p == "" {
		p = "/"
	}
	return fmt.Sprintf("constrain: JSON schema at %s: %s", p, e.Msg)
}

// JSONSchema compiles a JSON Schema document to a DFA over its instances.
func JSONSchema(schema []byte) (*DFA, error) {
	n, err := SchemaNode(schema)
	if err != nil {
		return nil, err
	}
	return compile(n)
}

// SchemaNode parses and checks a schema; exported for the fuzz target and for callers that
// only want to validate a schema (JSONSchema compiles it).
func SchemaNode(schema []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	v, err := decodeOrdered(dec, 0)
	if err != nil {
		return nil, &SchemaError{"", "not valid JSON: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &SchemaError{"", "trailing data after the schema"}
	}
	c := &schemaCompiler{}
	return c.compile(v, "", 0)
}

type schemaCompiler struct{}

var annotations = map[string]bool{"title": true, "description": true, "$schema": true, "$id": true, "default": true, "examples": true, "$comment": true}

var known = map[string]bool{"type": true, "properties": true, "required": true, "additionalProperties": true, "items": true, "minItems": true, "maxItems": true, "enum": true, "const": true, "pattern": true, "minLength": true, "maxLength": true, "anyOf": true}

func (c *schemaCompiler) compile(v any, path string, depth int) (*node, error) {
	if depth > 32 {
		return nil, &SchemaError{path, "nested deeper than 32 levels"}
	}
	if b, ok := v.(bool); ok {
		if b {
			return nil, &SchemaError{path, "the schema true (any value) is not supported: give a type"}
		}
		return nil, &SchemaError{path, "the schema false matches nothing"}
	}
	o, ok := v.(*object)
	if !ok {
		return nil, &SchemaError{path, fmt.Sprintf("a schema must be an object, not %s", jsonKind(v))}
	}
	obj := o.m
	for _, k := range o.keys {
		if !known[k] && !annotations[k] {
			return nil, &SchemaError{path, fmt.Sprintf("keyword %q is not supported (supported: type, properties, required, additionalProperties: false, items, minItems, maxItems, enum, const, pattern, minLength, maxLength, anyOf)", k)}
		}
	}
	if e, ok := obj["enum"]; ok {
		list, ok := e.([]any)
		if !ok || len(list) == 0 {
			return nil, &SchemaError{path + "/enum", "enum must be a non-empty array"}
		}
		subs := make([]*node, len(list))
		for i, x := range list {
			subs[i] = literal(compactJSON(x))
		}
		return alt(subs...), nil
	}
	if x, ok := obj["const"]; ok {
		return literal(compactJSON(x)), nil
	}
	if a, ok := obj["anyOf"]; ok {
		list, ok := a.([]any)
		if !ok || len(list) == 0 {
			return nil, &SchemaError{path + "/anyOf", "anyOf must be a non-empty array of schemas"}
		}
		subs := make([]*node, len(list))
		for i, s := range list {
			n, err := c.compile(s, fmt.Sprintf("%s/anyOf/%d", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			subs[i] = n
		}
		return alt(subs...), nil
	}
	t, ok := obj["type"]
	if !ok {
		return nil, &SchemaError{path, "no type: give type (or enum, const, anyOf)"}
	}
	var types []string
	switch tv := t.(type) {
	case string:
		types = []string{tv}
	case []any:
		for _, x := range tv {
			s, ok := x.(string)
			if !ok {
				return nil, &SchemaError{path + "/type", "type list entries must be strings"}
			}
			types = append(types, s)
		}
		if len(types) == 0 {
			return nil, &SchemaError{path + "/type", "empty type list"}
		}
	default:
		return nil, &SchemaError{path + "/type", "type must be a string or a list of strings"}
	}
	var subs []*node
	for _, ty := range types {
		n, err := c.typed(ty, obj, path, depth)
		if err != nil {
			return nil, err
		}
		subs = append(subs, n)
	}
	if len(subs) == 1 {
		return subs[0], nil
	}
	return alt(subs...), nil
}

func (c *schemaCompiler) typed(ty string, obj map[string]any, path string, depth int) (*node, error) {
	switch ty {
	case "null":
		return literal("null"), nil
	case "boolean":
		return alt(literal("true"), literal("false")), nil
	case "integer":
		return integerNode(), nil
	case "number":
		frac := cat(literal("."), rep(setOf('0', '9'), 1, 16))
		exp := cat(alt(literal("e"), literal("E")), rep(alt(literal("+"), literal("-")), 0, 1), rep(setOf('0', '9'), 1, 3))
		return cat(integerNode(), rep(frac, 0, 1), rep(exp, 0, 1)), nil
	case "string":
		return c.stringNode(obj, path)
	case "array":
		return c.arrayNode(obj, path, depth)
	case "object":
		return c.objectNode(obj, path, depth)
	}
	return nil, &SchemaError{path + "/type", fmt.Sprintf("unknown type %q (object, array, string, integer, number, boolean, null)", ty)}
}

func integerNode() *node {
	return cat(rep(literal("-"), 0, 1), alt(literal("0"), cat(setOf('1', '9'), rep(setOf('0', '9'), 0, 15))))
}

// jsonChar matches one character of a JSON string's contents, escapes included.
func jsonChar() *node {
	plain := new(byteSet)
	plain.addRange(0x20, 0x7F)
	plain[0] &^= 1 << '"'
	plain[1] &^= 1 << ('\\' - 64)
	hex := func() *node {
		s := new(byteSet)
		s.addRange('0', '9')
		s.addRange('a', 'f')
		s.addRange('A', 'F')
		return &node{kind: kindSet, set: s}
	}
	esc := new(byteSet)
	for _, b := range []byte(`"\/bfnrt`) {
		esc.add(b)
	}
	return alt(&node{kind: kindSet, set: plain}, multibyte(),
		cat(literal(`\`), &node{kind: kindSet, set: esc}),
		cat(literal(`\u`), hex(), hex(), hex(), hex()))
}

func (c *schemaCompiler) stringNode(obj map[string]any, path string) (*node, error) {
	lo, hi, err := bounds(obj, "minLength", "maxLength", path)
	if err != nil {
		return nil, err
	}
	if p, ok := obj["pattern"]; ok {
		if _, has := obj["minLength"]; has {
			return nil, &SchemaError{path, "pattern together with minLength/maxLength is not supported: put the length in the pattern"}
		}
		if _, has := obj["maxLength"]; has {
			return nil, &SchemaError{path, "pattern together with minLength/maxLength is not supported: put the length in the pattern"}
		}
		ps, ok := p.(string)
		if !ok {
			return nil, &SchemaError{path + "/pattern", "pattern must be a string"}
		}
		n, err := parseRegex(ps)
		if err != nil {
			return nil, &SchemaError{path + "/pattern", err.Error()}
		}
		if err := jsonSafe(n); err != nil {
			return nil, &SchemaError{path + "/pattern", err.Error()}
		}
		return cat(literal(`"`), n, literal(`"`)), nil
	}
	return cat(literal(`"`), rep(jsonChar(), lo, hi), literal(`"`)), nil
}

// jsonSafe removes quotes, backslashes and control characters from every set of n, and fails
// when that leaves a set empty (the pattern needs a character a JSON string must escape).
func jsonSafe(n *node) error {
	if n.kind == kindSet {
		n.set[0] &^= 1<<'"' | 0xFFFFFFFF // controls 0x00-0x1F and the quote
		n.set[1] &^= 1 << ('\\' - 64)
		if *n.set == (byteSet{}) {
			return fmt.Errorf("the pattern needs a quote, backslash or control character, which JSON strings escape; leave them out")
		}
		return nil
	}
	for _, s := range n.subs {
		if err := jsonSafe(s); err != nil {
			return err
		}
	}
	return nil
}

func (c *schemaCompiler) arrayNode(obj map[string]any, path string, depth int) (*node, error) {
	items, ok := obj["items"]
	if !ok {
		return nil, &SchemaError{path, "an array needs items (a schema)"}
	}
	item, err := c.compile(items, path+"/items", depth+1)
	if err != nil {
		return nil, err
	}
	lo, hi, err := bounds(obj, "minItems", "maxItems", path)
	if err != nil {
		return nil, err
	}
	if hi == 0 {
		return literal("[]"), nil
	}
	restLo, restHi := max(lo-1, 0), hi
	if hi > 0 {
		restHi = hi - 1
	}
	list := cat(item, rep(cat(literal(","), item), restLo, restHi))
	if lo == 0 {
		return cat(literal("["), rep(list, 0, 1), literal("]")), nil
	}
	return cat(literal("["), list, literal("]")), nil
}

func (c *schemaCompiler) objectNode(obj map[string]any, path string, depth int) (*node, error) {
	if ap, ok := obj["additionalProperties"]; ok {
		if b, isBool := ap.(bool); !isBool || b {
			return nil, &SchemaError{path + "/additionalProperties", "only additionalProperties: false is supported (outputs hold only the listed properties)"}
		}
	}
	props := map[string]any{}
	var order []string
	if p, ok := obj["properties"]; ok {
		pm, ok := p.(*object)
		if !ok {
			return nil, &SchemaError{path + "/properties", "properties must be an object"}
		}
		props, order = pm.m, pm.keys
	}
	required := map[string]bool{}
	if r, ok := obj["required"]; ok {
		list, ok := r.([]any)
		if !ok {
			return nil, &SchemaError{path + "/required", "required must be an array of property names"}
		}
		for _, x := range list {
			s, ok := x.(string)
			if !ok {
				return nil, &SchemaError{path + "/required", "required must be an array of property names"}
			}
			if _, ok := props[s]; !ok {
				return nil, &SchemaError{path + "/required", fmt.Sprintf("required property %q is not in properties", s)}
			}
			required[s] = true
		}
	}
	members := make([]*node, len(order))
	for i, k := range order {
		v, err := c.compile(props[k], path+"/properties/"+k, depth+1)
		if err != nil {
			return nil, err
		}
		members[i] = cat(literal(compactJSON(k)+":"), v)
	}
	// first(i): members i.. with no leading comma; rest(i): each present one after a comma.
	n := len(order)
	rest := make([]*node, n+1)
	first := make([]*node, n+1)
	rest[n] = &node{kind: kindEmpty}
	first[n] = &node{kind: kindEmpty}
	for i := n - 1; i >= 0; i-- {
		withComma := cat(literal(","), members[i])
		if required[order[i]] {
			rest[i] = cat(withComma, rest[i+1])
			first[i] = cat(members[i], rest[i+1])
		} else {
			rest[i] = cat(rep(withComma, 0, 1), rest[i+1])
			first[i] = alt(cat(members[i], rest[i+1]), first[i+1])
		}
	}
	return cat(literal("{"), first[0], literal("}")), nil
}

// object is a decoded JSON object that remembers its key order (properties are written in
// the schema's order).
type object struct {
	keys []string
	m    map[string]any
}

// MarshalJSON writes the object with its keys in document order.
func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(o.m[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// decodeOrdered reads one JSON value, objects as *object; a duplicate key is an error.
func decodeOrdered(dec *json.Decoder, depth int) (any, error) {
	if depth > 64 {
		return nil, fmt.Errorf("nested deeper than 64 levels")
	}
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		o := &object{m: map[string]any{}}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k := kt.(string)
			if _, dup := o.m[k]; dup {
				return nil, fmt.Errorf("duplicate key %q", k)
			}
			v, err := decodeOrdered(dec, depth+1)
			if err != nil {
				return nil, err
			}
			o.keys = append(o.keys, k)
			o.m[k] = v
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		list := []any{}
		for dec.More() {
			v, err := decodeOrdered(dec, depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := dec.Token()
		return list, err
	}
	return t, nil
}

func bounds(obj map[string]any, minKey, maxKey, path string) (lo, hi int, err error) {
	get := func(k string, def int) (int, error) {
		x, ok := obj[k]
		if !ok {
			return def, nil
		}
		num, ok := x.(json.Number)
		if !ok {
			return 0, &SchemaError{path + "/" + k, k + " must be a non-negative integer"}
		}
		i, err := num.Int64()
		if err != nil || i < 0 || i > maxRepeat {
			return 0, &SchemaError{path + "/" + k, fmt.Sprintf("%s must be an integer in [0, %d]", k, maxRepeat)}
		}
		return int(i), nil
	}
	if lo, err = get(minKey, 0); err != nil {
		return 0, 0, err
	}
	if hi, err = get(maxKey, -1); err != nil {
		return 0, 0, err
	}
	if hi >= 0 && hi < lo {
		return 0, 0, &SchemaError{path, fmt.Sprintf("%s %d is below %s %d", maxKey, hi, minKey, lo)}
	}
	return lo, hi, nil
}

// compactJSON writes a decoded JSON value compactly, keys sorted.
func compactJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", v), "*")
}
