// Package constrain makes a language model's output follow a formal language: a list of
// choices, a regular expression, or a JSON Schema, each compiled to a deterministic finite
// automaton (DFA) over bytes, and from it to per-state masks over a tokenizer's vocabulary
// (computed lazily, one trie walk per DFA state, and cached), so that a masked decoding step
// costs little more than an unmasked one.
//
// The regular-expression subset: literals (UTF-8), escapes \n \t \r \f \v \\ and escaped
// metacharacters, the classes \d \w \s and their negations \D \W \S, bracket classes [a-z0-9_]
// and [^...], . (any character except newline), the repetitions * + ? {m} {m,} {m,n}, the
// alternation |, groups (...) and (?:...). The whole output must match: anchors are implicit,
// and a leading ^ or trailing $ is accepted and ignored. Not supported (an error says so):
// backreferences, lookaround, lazy or possessive quantifiers, named groups, \b, flags. Classes
// are ASCII-based: a negated class or . matches any ASCII byte outside it and any multi-byte
// UTF-8 character.
package constrain

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Limits that keep a hostile pattern from exhausting memory.
const (
	maxRepeat   = 1000   // the largest m or n of {m,n}
	maxNodes    = 100000 // the largest expanded expression, in byte-matching leaves
	maxDFAState = 20000  // the largest DFA
	maxDepth    = 200    // nesting of groups
)

// node is a regular-expression syntax tree.
type node struct {
	kind     nodeKind
	set      *byteSet // kindSet: one byte from set
	subs     []*node  // kindCat, kindAlt
	min, max int      // kindRepeat: max < 0 means unbounded
}

type nodeKind uint8

const (
	kindEmpty nodeKind = iota // matches ""
	kindSet                   // one byte
	kindCat
	kindAlt
	kindRepeat
)

// byteSet is a set of bytes.
type byteSet [4]uint64

func (s *byteSet) add(b byte)      { s[b>>6] |= 1 << (b & 63) }
func (s *byteSet) has(b byte) bool { return s[b>>6]&(1<<(b&63)) != 0 }
func (s *byteSet) addRange(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		s.add(byte(c))
	}
}

func setOf(lo, hi byte) *node {
	s := new(byteSet)
	s.addRange(lo, hi)
	return &node{kind: kindSet, set: s}
}

func cat(subs ...*node) *node { return &node{kind: kindCat, subs: subs} }
func alt(subs ...*node) *node { return &node{kind: kindAlt, subs: subs} }
func rep(n *node, lo, hi int) *node {
	return &node{kind: kindRepeat, subs: []*node{n}, min: lo, max: hi}
}

// literal matches s exactly.
func literal(s string) *node {
	subs := make([]*node, len(s))
	for i := 0; i < len(s); i++ {
		subs[i] = setOf(s[i], s[i])
	}
	return cat(subs...)
}

// multibyte matches any UTF-8 encoded character of two to four bytes.
func multibyte() *node {
	cont := func() *node { return setOf(0x80, 0xBF) }
	return alt(
		cat(setOf(0xC2, 0xDF), cont()),
		cat(setOf(0xE0, 0xEF), cont(), cont()),
		cat(setOf(0xF0, 0xF4), cont(), cont(), cont()),
	)
}

// SyntaxError is a regular expression the compiler cannot read.
type SyntaxError struct {
	Pattern string
	Offset  int // byte offset of the problem
	Msg     string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("constrain: regular expression %q at offset %d: %s", e.Pattern, e.Offset, e.Msg)
}

type parser struct {
	src   string
	pos   int
	depth int
}

// parseRegex reads pattern into a syntax tree.
func parseRegex(pattern string) (*node, error) {
	if !utf8.ValidString(pattern) {
		return nil, &SyntaxError{pattern, 0, "not valid UTF-8"}
	}
	p := &parser{src: pattern}
	if len(p.src) > 0 && p.src[0] == '^' {
		p.pos = 1
	}
	n, err := p.alternation()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.src) {
		if p.src[p.pos] == ')' {
			return nil, p.errf("unmatched )")
		}
		return nil, p.errf("unexpected %q", p.src[p.pos])
	}
	return n, nil
}

func (p *parser) errf(format string, args ...any) error {
	return &SyntaxError{p.src, p.pos, fmt.Sprintf(format, args...)}
}

func (p *parser) alternation() (*node, error) {
	var subs []*node
	for {
		n, err := p.concatenation()
		if err != nil {
			return nil, err
		}
		subs = append(subs, n)
		if p.pos < len(p.src) && p.src[p.pos] == '|' {
			p.pos++
			continue
		}
		break
	}
	if len(subs) == 1 {
		return subs[0], nil
	}
	return alt(subs...), nil
}

func (p *parser) concatenation() (*node, error) {
	var subs []*node
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '|' || c == ')' {
			break
		}
		if c == '$' && p.pos == len(p.src)-1 { // implicit anchor
			p.pos++
			break
		}
		atom, err := p.atom()
		if err != nil {
			return nil, err
		}
		if atom, err = p.quantifiers(atom); err != nil {
			return nil, err
		}
		subs = append(subs, atom)
	}
	switch len(subs) {
	case 0:
		return &node{kind: kindEmpty}, nil
	case 1:
		return subs[0], nil
	}
	return cat(subs...), nil
}

func (p *parser) quantifiers(atom *node) (*node, error) {
	for p.pos < len(p.src) {
		lo, hi := 0, 0
		switch p.src[p.pos] {
		case '*':
			lo, hi = 0, -1
			p.pos++
		case '+':
			lo, hi = 1, -1
			p.pos++
		case '?':
			lo, hi = 0, 1
			p.pos++
		case '{':
			var ok bool
			var err error
			if lo, hi, ok, err = p.braces(); err != nil {
				return nil, err
			}
			if !ok { // a literal {
				return atom, nil
			}
		default:
			return atom, nil
		}
		if p.pos < len(p.src) && (p.src[p.pos] == '?' || p.src[p.pos] == '+') {
			return nil, p.errf("lazy and possessive quantifiers are not supported")
		}
		atom = rep(atom, lo, hi)
	}
	return atom, nil
}

// braces reads {m}, {m,} or {m,n}; ok is false when the brace does not start a repetition.
func (p *parser) braces() (lo, hi int, ok bool, err error) {
	start := p.pos
	i := p.pos + 1
	num := func() (int, bool) {
		j := i
		for i < len(p.src) && p.src[i] >= '0' && p.src[i] <= '9' {
			i++
		}
		if i == j {
			return 0, false
		}
		v, err := strconv.Atoi(p.src[j:i])
		if err != nil || v > maxRepeat {
			return maxRepeat + 1, true
		}
		return v, true
	}
	lo, okLo := num()
	if !okLo {
		return 0, 0, false, nil
	}
	hi = lo
	if i < len(p.src) && p.src[i] == ',' {
		i++
		if v, okHi := num(); okHi {
			hi = v
		} else {
			hi = -1
		}
	}
	if i >= len(p.src) || p.src[i] != '}' {
		return 0, 0, false, nil
	}
	p.pos = i + 1
	if lo > maxRepeat || hi > maxRepeat {
		p.pos = start
		return 0, 0, false, p.errf("repetition count above %d", maxRepeat)
	}
	if hi >= 0 && hi < lo {
		p.pos = start
		return 0, 0, false, p.errf("repetition {%d,%d} has its maximum below its minimum", lo, hi)
	}
	return lo, hi, true, nil
}

func (p *parser) atom() (*node, error) {
	c := p.src[p.pos]
	switch c {
	case '(':
		p.pos++
		if p.depth++; p.depth > maxDepth {
			return nil, p.errf("groups nested deeper than %d", maxDepth)
		}
		if p.pos < len(p.src) && p.src[p.pos] == '?' {
			if p.pos+1 < len(p.src) && p.src[p.pos+1] == ':' {
				p.pos += 2
			} else {
				return nil, p.errf("only (?:...) groups are supported (no lookaround, named groups or flags)")
			}
		}
		n, err := p.alternation()
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return nil, p.errf("missing )")
		}
		p.pos++
		p.depth--
		return n, nil
	case '[':
		return p.class()
	case '.':
		p.pos++
		s := new(byteSet)
		s.addRange(0, 0x7F)
		s[0] &^= 1 << '\n'
		return alt(&node{kind: kindSet, set: s}, multibyte()), nil
	case '*', '+', '?':
		return nil, p.errf("%q has nothing to repeat", c)
	case '^':
		return nil, p.errf("^ is only accepted at the start (anchors are implicit)")
	case '$':
		return nil, p.errf("$ is only accepted at the end (anchors are implicit)")
	case '\\':
		return p.escape(false)
	}
	r, size := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += size
	return literal(string(r)), nil
}

// escape reads \x; inClass reports whether it is inside brackets (then it returns a set node).
func (p *parser) escape(inClass bool) (*node, error) {
	if p.pos+1 >= len(p.src) {
		return nil, p.errf("trailing backslash")
	}
	c := p.src[p.pos+1]
	p.pos += 2
	switch c {
	case 'd', 'D', 'w', 'W', 's', 'S':
		s := new(byteSet)
		switch c | 0x20 {
		case 'd':
			s.addRange('0', '9')
		case 'w':
			s.addRange('0', '9')
			s.addRange('a', 'z')
			s.addRange('A', 'Z')
			s.add('_')
		case 's':
			for _, b := range []byte(" \t\n\r\f\v") {
				s.add(b)
			}
		}
		if c >= 'A' && c <= 'Z' {
			return negated(s, inClass), nil
		}
		return &node{kind: kindSet, set: s}, nil
	case 'n':
		return literal("\n"), nil
	case 't':
		return literal("\t"), nil
	case 'r':
		return literal("\r"), nil
	case 'f':
		return literal("\f"), nil
	case 'v':
		return literal("\v"), nil
	}
	if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
		p.pos -= 2
		return nil, p.errf("escape \\%c is not supported", c)
	}
	if c >= 0x80 {
		p.pos -= 2
		return nil, p.errf("escape of a non-ASCII character is not supported; write it unescaped")
	}
	return literal(string(c)), nil
}

// negated returns the complement of s within ASCII, plus (outside classes) any multi-byte
// character.
func negated(s *byteSet, inClass bool) *node {
	n := new(byteSet)
	for b := 0; b < 0x80; b++ {
		if !s.has(byte(b)) {
			n.add(byte(b))
		}
	}
	if inClass {
		return &node{kind: kindSet, set: n}
	}
	return alt(&node{kind: kindSet, set: n}, multibyte())
}

// class reads a bracket expression. Non-ASCII characters in it become alternatives.
func (p *parser) class() (*node, error) {
	start := p.pos
	p.pos++
	neg := false
	if p.pos < len(p.src) && p.src[p.pos] == '^' {
		neg = true
		p.pos++
	}
	set := new(byteSet)
	var wide []*node // multi-byte characters
	first := true
	for {
		if p.pos >= len(p.src) {
			p.pos = start
			return nil, p.errf("missing ]")
		}
		c := p.src[p.pos]
		if c == ']' && !first {
			p.pos++
			break
		}
		first = false
		lo, loWide, err := p.classChar(set)
		if err != nil {
			return nil, err
		}
		if loWide != "" {
			if neg {
				return nil, p.errf("a negated class may only hold ASCII characters")
			}
			wide = append(wide, literal(loWide))
			continue
		}
		if lo < 0 { // an escape class such as \d, already added
			continue
		}
		if p.pos+1 < len(p.src) && p.src[p.pos] == '-' && p.src[p.pos+1] != ']' {
			p.pos++
			hi, hiWide, err := p.classChar(nil)
			if err != nil {
				return nil, err
			}
			if hi < 0 || hiWide != "" {
				return nil, p.errf("a range must run between two ASCII characters")
			}
			if hi < lo {
				return nil, p.errf("range %q-%q is out of order", rune(lo), rune(hi))
			}
			set.addRange(byte(lo), byte(hi))
			continue
		}
		set.add(byte(lo))
	}
	if neg {
		return negated(set, false), nil
	}
	n := &node{kind: kindSet, set: set}
	if len(wide) > 0 {
		return alt(append([]*node{n}, wide...)...), nil
	}
	return n, nil
}

// classChar reads one member of a class: an ASCII byte (lo), a multi-byte character (wide),
// or an escape class added to set (lo = -1).
func (p *parser) classChar(set *byteSet) (lo int, wide string, err error) {
	c := p.src[p.pos]
	if c == '\\' {
		n, err := p.escape(true)
		if err != nil {
			return 0, "", err
		}
		if n.kind == kindCat && len(n.subs) == 1 { // a one-byte literal
			n = n.subs[0]
		}
		if n.kind == kindSet {
			count := 0
			last := 0
			for b := 0; b < 256; b++ {
				if n.set.has(byte(b)) {
					count++
					last = b
				}
			}
			if count == 1 {
				return last, "", nil
			}
			if set == nil {
				return -1, "", nil
			}
			for i := range set {
				set[i] |= n.set[i]
			}
			return -1, "", nil
		}
		return 0, "", p.errf("unsupported escape in a class")
	}
	if c < 0x80 {
		p.pos++
		return int(c), "", nil
	}
	r, size := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += size
	return 0, string(r), nil
}
