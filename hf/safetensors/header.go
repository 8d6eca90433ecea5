package safetensors

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header, in bytes, that the reader accepts and the writer
// produces. A larger header length is rejected before anything is allocated for it.
const MaxHeaderSize = 100_000_000

// MaxRank is the largest number of dimensions a tensor may have, in files read and written.
// Real tensors have far fewer; the cap keeps a hostile shape of millions of dimensions from
// costing memory.
const MaxRank = 64

// metadataKey is the header key that holds the file's string metadata rather than a tensor.
const metadataKey = "__metadata__"

// header is a parsed and validated JSON header.
type header struct {
	tensors  []TensorInfo      // sorted by data offsets
	index    map[string]int    // name -> position in tensors
	metadata map[string]string // nil when the header has no __metadata__
}

// parser reads the JSON header with a single left-to-right pass. It understands exactly the
// subset of JSON that a valid header can contain (objects, strings, arrays of integers), sees
// every key (so duplicates are caught, unlike a decode into a map), and runs in time and memory
// linear in the header's length.
type parser struct {
	s     string
	i     int
	dims  []int64 // scratch for the shape being parsed
	arena []int   // backing store handed out to TensorInfo.Shape
}

// parseHeader parses s, the header's JSON text, and validates every entry against a data
// section of dataLen bytes. The returned error has no File set.
func parseHeader(s string, dataLen int64) (*header, *Error) {
	if !utf8.ValidString(s) {
		return nil, formatErr("", "header is not valid UTF-8 (first bad byte at header offset %d)", firstInvalidUTF8(s))
	}
	p := &parser{s: s}
	p.ws()
	if p.i == len(s) {
		return nil, formatErr("", "header is empty; expected a JSON object")
	}
	if s[p.i] != '{' {
		return nil, formatErr("", "header must be a JSON object, found %s", p.found())
	}
	p.i++
	p.ws()
	// Size the tables once: growing them by appending would copy them several times over.
	// Each entry names "data_offsets" once and takes at least minEntry bytes, which bounds the
	// estimate by the header's real size.
	const minEntry = len(`"a":{"dtype":"U8","shape":[],"data_offsets":[0,0]}`)
	n := min(strings.Count(s, `"data_offsets"`), len(s)/minEntry+1)
	h := &header{tensors: make([]TensorInfo, 0, n), index: make(map[string]int, n)}
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			if p.peek() != '"' {
				return nil, p.syntax("", "a tensor name (string)")
			}
			name, err := p.str("")
			if err != nil {
				return nil, err
			}
			if err := p.colon(name); err != nil {
				return nil, err
			}
			if name == metadataKey {
				if h.metadata != nil {
					return nil, formatErr("", "duplicate %q key in header", metadataKey)
				}
				if h.metadata, err = p.metadata(); err != nil {
					return nil, err
				}
			} else {
				if err := checkName(name); err != nil {
					err.Kind = ErrFormat
					return nil, err
				}
				if _, dup := h.index[name]; dup {
					return nil, formatErr(name, "duplicate tensor name in header")
				}
				t, err := p.entry(name, dataLen)
				if err != nil {
					return nil, err
				}
				h.index[name] = len(h.tensors)
				h.tensors = append(h.tensors, t)
			}
			p.ws()
			if c := p.peek(); c == ',' {
				p.i++
				p.ws()
				continue
			} else if c == '}' {
				p.i++
				break
			}
			return nil, p.syntax("", "',' or '}' after a header entry")
		}
	}
	p.ws()
	if p.i != len(s) {
		if s[p.i] == 0 {
			return nil, formatErr("", "header has NUL bytes after its JSON object (header offset %d); only whitespace padding is allowed", p.i)
		}
		return nil, formatErr("", "header has data after its JSON object at header offset %d (found %s)", p.i, p.found())
	}
	if err := h.tile(dataLen); err != nil {
		return nil, err
	}
	return h, nil
}

// tile sorts the tensors by offsets and checks that they cover the data section exactly: the
// first starts at 0, each starts where the previous ends, and the last ends at dataLen.
func (h *header) tile(dataLen int64) *Error {
	ts := h.tensors
	slices.SortFunc(ts, func(a, b TensorInfo) int {
		if c := cmp.Compare(a.Begin, b.Begin); c != 0 {
			return c
		}
		if c := cmp.Compare(a.End, b.End); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	var cursor int64
	prev := -1 // last tensor with a non-empty byte range
	for i := range ts {
		t := &ts[i]
		switch {
		case t.Begin > cursor && prev < 0:
			return formatErr(t.Name, "data_offsets [%d, %d] leave bytes [%d, %d) of the data section covered by no tensor (the first tensor must start at 0)", t.Begin, t.End, cursor, t.Begin)
		case t.Begin > cursor:
			return formatErr(t.Name, "data_offsets [%d, %d] leave bytes [%d, %d) covered by no tensor (gap after tensor %s)", t.Begin, t.End, cursor, t.Begin, quoteName(ts[prev].Name))
		case t.Begin < cursor:
			p := &ts[prev]
			return formatErr(t.Name, "data_offsets [%d, %d] overlap tensor %s [%d, %d]", t.Begin, t.End, quoteName(p.Name), p.Begin, p.End)
		}
		if t.End > t.Begin {
			prev = i
		}
		cursor = t.End
		h.index[t.Name] = i
	}
	if cursor != dataLen {
		return formatErr("", "tensors cover %d bytes but the data section holds %d: %d trailing bytes belong to no tensor", cursor, dataLen, dataLen-cursor)
	}
	return nil
}

// entry parses one tensor's {"dtype", "shape", "data_offsets"} object and checks it.
func (p *parser) entry(name string, dataLen int64) (TensorInfo, *Error) {
	t := TensorInfo{Name: name}
	if p.peek() != '{' {
		return t, formatErr(name, "entry must be a JSON object with dtype, shape and data_offsets, found %s", p.found())
	}
	p.i++
	p.ws()
	const hasDType, hasShape, hasOffsets = 1, 2, 4
	seen := 0
	dims := p.dims[:0]
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			if p.peek() != '"' {
				return t, p.syntax(name, "a field name (string)")
			}
			key, err := p.str(name)
			if err != nil {
				return t, err
			}
			if err := p.colon(name); err != nil {
				return t, err
			}
			var bit int
			switch key {
			case "dtype":
				bit = hasDType
				if p.peek() != '"' {
					return t, formatErr(name, "dtype must be a string, found %s", p.found())
				}
				v, err := p.str(name)
				if err != nil {
					return t, err
				}
				t.DType = DType(v)
				if !t.DType.Valid() {
					if DType(strings.ToUpper(v)).Valid() {
						return t, formatErr(name, "unknown dtype %s (dtypes are upper case, e.g. %q)", quoteName(v), strings.ToUpper(v))
					}
					return t, formatErr(name, "unknown dtype %s", quoteName(v))
				}
			case "shape":
				bit = hasShape
				if dims, err = p.intArray(name, "shape", dims[:0], math.MaxInt, MaxRank); err != nil {
					return t, err
				}
			case "data_offsets":
				bit = hasOffsets
				var offs [2]int64
				got, err := p.intArray(name, "data_offsets", offs[:0], math.MaxInt64, 2)
				if err != nil {
					return t, err
				}
				if len(got) != 2 {
					return t, formatErr(name, "data_offsets must be [begin, end], found %d value(s)", len(got))
				}
				t.Begin, t.End = got[0], got[1]
			default:
				return t, formatErr(name, "unexpected field %s in tensor entry (allowed: dtype, shape, data_offsets)", quoteName(key))
			}
			if seen&bit != 0 {
				return t, formatErr(name, "field %q appears twice in tensor entry", key)
			}
			seen |= bit
			p.ws()
			if c := p.peek(); c == ',' {
				p.i++
				p.ws()
				continue
			} else if c == '}' {
				p.i++
				break
			}
			return t, p.syntax(name, "',' or '}' in tensor entry")
		}
	}
	p.dims = dims
	for _, f := range []struct {
		bit  int
		name string
	}{{hasDType, "dtype"}, {hasShape, "shape"}, {hasOffsets, "data_offsets"}} {
		if seen&f.bit == 0 {
			return t, formatErr(name, "tensor entry has no %q field", f.name)
		}
	}
	t.Shape = p.keep(dims)
	n, why := numElements(t.Shape)
	if why != "" {
		return t, formatErr(name, "shape %v: %s", t.Shape, why)
	}
	nbytes, why := t.DType.byteLen(n)
	if why != "" {
		return t, formatErr(name, "shape %v x %s (%d elements): %s", t.Shape, t.DType, n, why)
	}
	if t.End < t.Begin {
		return t, formatErr(name, "data_offsets [%d, %d] end before they begin", t.Begin, t.End)
	}
	if t.End-t.Begin != nbytes {
		return t, formatErr(name, "data_offsets [%d, %d] do not match shape %v x %s = %d bytes", t.Begin, t.End, t.Shape, t.DType, nbytes)
	}
	if t.End > dataLen {
		return t, formatErr(name, "data_offsets [%d, %d] extend past the end of the data section (%d bytes); is the file truncated?", t.Begin, t.End, dataLen)
	}
	return t, nil
}

// metadata parses the __metadata__ object, which maps strings to strings.
func (p *parser) metadata() (map[string]string, *Error) {
	if p.peek() != '{' {
		return nil, formatErr("", "%s must be a JSON object of string values, found %s", metadataKey, p.found())
	}
	p.i++
	p.ws()
	m := make(map[string]string)
	if p.peek() == '}' {
		p.i++
		return m, nil
	}
	for {
		if p.peek() != '"' {
			return nil, p.syntax("", "a "+metadataKey+" key (string)")
		}
		k, err := p.str("")
		if err != nil {
			return nil, err
		}
		if err := p.colon(""); err != nil {
			return nil, err
		}
		if p.peek() != '"' {
			return nil, formatErr("", "%s value for key %s must be a string, found %s", metadataKey, quoteName(k), p.found())
		}
		v, err := p.str("")
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, formatErr("", "duplicate key %s in %s", quoteName(k), metadataKey)
		}
		m[k] = v
		p.ws()
		if c := p.peek(); c == ',' {
			p.i++
			p.ws()
			continue
		} else if c == '}' {
			p.i++
			return m, nil
		}
		return nil, p.syntax("", "',' or '}' in "+metadataKey)
	}
}

// intArray parses a JSON array of at most maxLen non-negative integers no larger than limit,
// appending them to dst.
func (p *parser) intArray(name, field string, dst []int64, limit uint64, maxLen int) ([]int64, *Error) {
	if p.peek() != '[' {
		return dst, formatErr(name, "%s must be an array of integers, found %s", field, p.found())
	}
	p.i++
	p.ws()
	if p.peek() == ']' {
		p.i++
		return dst, nil
	}
	for {
		v, err := p.integer(name, field, limit)
		if err != nil {
			return dst, err
		}
		if len(dst) == maxLen {
			if field == "data_offsets" {
				return dst, formatErr(name, "data_offsets must be [begin, end], found more than 2 values")
			}
			return dst, formatErr(name, "%s has more than %d values", field, maxLen)
		}
		dst = append(dst, int64(v))
		p.ws()
		if c := p.peek(); c == ',' {
			p.i++
			p.ws()
			continue
		} else if c == ']' {
			p.i++
			return dst, nil
		}
		return dst, p.syntax(name, "',' or ']' in "+field)
	}
}

// integer parses a JSON number that must be a non-negative integer no larger than limit.
func (p *parser) integer(name, field string, limit uint64) (uint64, *Error) {
	s, start := p.s, p.i
	j := start
	if j < len(s) && s[j] == '-' {
		j++
	}
	digits := j
	for j < len(s) && '0' <= s[j] && s[j] <= '9' {
		j++
	}
	if j == digits {
		return 0, formatErr(name, "%s must hold integers, found %s", field, p.found())
	}
	if s[digits] == '0' && j-digits > 1 {
		p.i = digits + 1
		return 0, p.syntax(name, "a number without leading zeros")
	}
	intEnd := j
	frac := false
	if j < len(s) && s[j] == '.' {
		frac = true
		j++
		k := j
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		if j == k {
			p.i = j
			return 0, p.syntax(name, "a digit after '.'")
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		frac = true
		j++
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		if j == k {
			p.i = j
			return 0, p.syntax(name, "a digit in the exponent")
		}
	}
	p.i = j
	raw := s[start:j]
	if len(raw) > 40 {
		raw = raw[:40] + "…"
	}
	if frac {
		return 0, formatErr(name, "%s must hold integers, found %s", field, raw)
	}
	if digits > start {
		return 0, formatErr(name, "%s must hold non-negative integers, found %s", field, raw)
	}
	var v uint64
	for _, c := range s[digits:intEnd] {
		d := uint64(c - '0')
		if v > (limit-d)/10 {
			return 0, formatErr(name, "%s value %s is out of range (at most %d)", field, raw, limit)
		}
		v = v*10 + d
	}
	return v, nil
}

// str parses a JSON string at p.i (which must be '"'). Strings without escapes are returned as
// substrings of the header, so they cost no allocation.
func (p *parser) str(name string) (string, *Error) {
	s := p.s
	start := p.i + 1
	for j := start; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			p.i = j + 1
			return s[start:j], nil
		case c == '\\':
			return p.strEscaped(name, start, j)
		case c < 0x20:
			p.i = j
			return "", p.syntax(name, "no raw control characters in a string")
		}
	}
	p.i = len(s)
	return "", p.syntax(name, "the end of a string")
}

// strEscaped finishes a string that starts at start and has its first escape at j.
func (p *parser) strEscaped(name string, start, j int) (string, *Error) {
	s := p.s
	var b strings.Builder
	b.WriteString(s[start:j])
	for j < len(s) {
		c := s[j]
		switch {
		case c == '"':
			p.i = j + 1
			return b.String(), nil
		case c < 0x20:
			p.i = j
			return "", p.syntax(name, "no raw control characters in a string")
		case c != '\\':
			b.WriteByte(c)
			j++
			continue
		}
		if j+1 >= len(s) {
			break
		}
		j++
		switch s[j] {
		case '"', '\\', '/':
			b.WriteByte(s[j])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := hex4(s, j+1)
			if !ok {
				p.i = j + 1
				return "", p.syntax(name, "four hex digits after \\u")
			}
			j += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if r < 0xDC00 && j+6 < len(s) && s[j+1] == '\\' && s[j+2] == 'u' {
					r2, ok = hex4(s, j+3)
				}
				if !ok || utf16.DecodeRune(r, r2) == utf8.RuneError {
					p.i = j - 5
					return "", formatErr(name, "string has an unpaired UTF-16 surrogate escape at header offset %d", p.i)
				}
				r = utf16.DecodeRune(r, r2)
				j += 6
			}
			b.WriteRune(r)
		default:
			p.i = j
			return "", p.syntax(name, "a valid escape character after '\\'")
		}
		j++
	}
	p.i = len(s)
	return "", p.syntax(name, "the end of a string")
}

// hex4 decodes the four hex digits at s[i:i+4].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var v rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | rune(c)
	}
	return v, true
}

// keep copies a shape into the arena, so that many small shapes share few allocations. The
// result has its capacity clipped, so appending to it never touches a neighbour.
func (p *parser) keep(d []int64) []int {
	if len(d) == 0 {
		return []int{}
	}
	if len(d) > cap(p.arena)-len(p.arena) {
		p.arena = make([]int, 0, max(1024, len(d)))
	}
	n := len(p.arena)
	for _, v := range d {
		p.arena = append(p.arena, int(v)) // v <= math.MaxInt: checked when parsed
	}
	return p.arena[n:len(p.arena):len(p.arena)]
}

func (p *parser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// peek returns the byte at p.i, or 0xFF (never valid in UTF-8 JSON) at the end.
func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0xFF
}

func (p *parser) colon(name string) *Error {
	p.ws()
	if p.peek() != ':' {
		return p.syntax(name, "':' after a key")
	}
	p.i++
	p.ws()
	return nil
}

// found describes what the parser sees at p.i, for error messages.
func (p *parser) found() string {
	if p.i >= len(p.s) {
		return "the end of the header"
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == '-' || '0' <= c && c <= '9':
		return "a number"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == 0:
		return "a NUL byte"
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	return strconv.QuoteRune(r)
}

// syntax reports malformed JSON at p.i.
func (p *parser) syntax(name, want string) *Error {
	return formatErr(name, "header is not valid JSON at header offset %d: expected %s, found %s", p.i, want, p.found())
}

func formatErr(tensor, format string, args ...any) *Error {
	return &Error{Tensor: tensor, Kind: ErrFormat, Msg: fmt.Sprintf(format, args...)}
}

// checkName reports whether name can be a tensor name: not empty, valid UTF-8, no NUL byte,
// and not the reserved metadata key. Names are never used as paths, so "/" and ".." are fine.
func checkName(name string) *Error {
	switch {
	case name == "":
		return &Error{Kind: ErrInvalid, Msg: "tensor name is empty"}
	case !utf8.ValidString(name):
		return &Error{Tensor: name, Kind: ErrInvalid, Msg: "tensor name is not valid UTF-8"}
	case strings.IndexByte(name, 0) >= 0:
		return &Error{Tensor: name, Kind: ErrInvalid, Msg: "tensor name contains a NUL byte"}
	case name == metadataKey:
		return &Error{Tensor: name, Kind: ErrInvalid, Msg: "tensor name " + metadataKey + " is reserved for metadata"}
	}
	return nil
}

// firstInvalidUTF8 returns the offset of the first byte of s that is not valid UTF-8.
func firstInvalidUTF8(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(s)
}
