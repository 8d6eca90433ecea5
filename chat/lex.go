package chat

import (
	"fmt"
	"strings"
)

// The lexer splits a template into text, {{ expression }}, {% statement %} and {# comment #}
// parts, honouring Jinja's whitespace control ({{- … -}} trims the whitespace next to the tag)
// and the trim_blocks and lstrip_blocks settings HuggingFace renders chat templates with (the
// newline after a block tag is dropped, and so is the indentation before one), and splits the
// inside of a tag into tokens.

type partKind int

const (
	partText partKind = iota
	partExpr
	partStmt
)

type part struct {
	kind partKind
	text string // the literal text, or the tag's inside
	pos  int    // byte offset in the template, for errors
}

// split cuts src into parts.
func split(src string) ([]part, error) {
	var parts []part
	i := 0
	trimNext := false
	for i < len(src) {
		j := strings.Index(src[i:], "{")
		for j >= 0 && (i+j+1 >= len(src) || !strings.ContainsRune("{%#", rune(src[i+j+1]))) {
			k := strings.Index(src[i+j+1:], "{")
			if k < 0 {
				j = -1
				break
			}
			j += k + 1
		}
		if j < 0 {
			parts = appendText(parts, src[i:], i, trimNext, false)
			break
		}
		open := i + j
		closeTag := map[byte]string{'{': "}}", '%': "%}", '#': "#}"}[src[open+1]]
		inner := open + 2
		trimLeft := inner < len(src) && src[inner] == '-'
		if trimLeft {
			inner++
		}
		text := src[i:open]
		if src[open+1] != '{' && !trimLeft {
			text = lstripBlock(text)
		}
		parts = appendText(parts, text, i, trimNext, trimLeft)
		end := strings.Index(src[inner:], closeTag)
		if end < 0 {
			return nil, &Error{Pos: open, Msg: fmt.Sprintf("%q is never closed with %q", src[open:open+2], closeTag)}
		}
		body := src[inner : inner+end]
		trimNext = strings.HasSuffix(body, "-")
		if trimNext {
			body = body[:len(body)-1]
		}
		switch src[open+1] {
		case '{':
			parts = append(parts, part{kind: partExpr, text: body, pos: inner})
		case '%':
			parts = append(parts, part{kind: partStmt, text: body, pos: inner})
		}
		i = inner + end + 2
		if src[open+1] != '{' && !trimNext && i < len(src) && src[i] == '\n' {
			i++ // trim_blocks: the newline after a block tag goes
		}
	}
	return parts, nil
}

// lstripBlock removes the spaces and tabs between the start of a line and a block tag
// (lstrip_blocks).
func lstripBlock(text string) string {
	j := len(text)
	for j > 0 && (text[j-1] == ' ' || text[j-1] == '\t') {
		j--
	}
	if j == 0 || text[j-1] == '\n' {
		return text[:j]
	}
	return text
}

func appendText(parts []part, s string, pos int, trimLeft, trimRight bool) []part {
	if trimLeft {
		s = strings.TrimLeft(s, " \t\r\n")
	}
	if trimRight {
		s = strings.TrimRight(s, " \t\r\n")
	}
	if s == "" {
		return parts
	}
	return append(parts, part{kind: partText, text: s, pos: pos})
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokName
	tokString
	tokInt
	tokOp
)

type token struct {
	kind tokKind
	text string // names and operators as written; strings unquoted
	num  int
	pos  int
}

// lex splits the inside of a tag (starting at byte base of the template) into tokens.
func lex(s string, base int) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
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
					default:
						b.WriteByte(s[j])
					}
					continue
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, &Error{Pos: base + i, Msg: "unterminated string"}
			}
			toks = append(toks, token{kind: tokString, text: b.String(), pos: base + i})
			i = j + 1
		case c >= '0' && c <= '9':
			j, n := i, 0
			for ; j < len(s) && s[j] >= '0' && s[j] <= '9'; j++ {
				if n > 1<<30 {
					return nil, &Error{Pos: base + i, Msg: "number too large"}
				}
				n = n*10 + int(s[j]-'0')
			}
			toks = append(toks, token{kind: tokInt, num: n, text: s[i:j], pos: base + i})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for ; j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9'); j++ {
			}
			toks = append(toks, token{kind: tokName, text: s[i:j], pos: base + i})
			i = j
		default:
			op := ""
			for _, o := range []string{"==", "!=", "<=", ">=", "+", "~", "(", ")", "[", "]", ".", ",", "|", "%", "<", ">", "=", "-", ":"} {
				if strings.HasPrefix(s[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, &Error{Pos: base + i, Msg: fmt.Sprintf("unexpected character %q", c)}
			}
			toks = append(toks, token{kind: tokOp, text: op, pos: base + i})
			i += len(op)
		}
	}
	return append(toks, token{kind: tokEOF, pos: base + len(s)}), nil
}
