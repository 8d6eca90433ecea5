package safetensors

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/qkvdev/qkv/internal/atomicfile"
)

// Tensor is a tensor to be written: its name, dtype, shape and raw little-endian bytes.
type Tensor struct {
	Name  string
	DType DType
	Shape []int // empty for a scalar
	Data  []byte
}

// F32 returns an F32 tensor holding data. Encode checks that len(data) matches shape.
func F32(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: DTypeF32, Shape: slices.Clone(shape), Data: b}
}

// F16 returns an F16 tensor holding data rounded to binary16 (nearest, ties to even).
func F16(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(b[2*i:], Float32ToFloat16(v))
	}
	return Tensor{Name: name, DType: DTypeF16, Shape: slices.Clone(shape), Data: b}
}

// BF16 returns a BF16 tensor holding data rounded to bfloat16 (nearest, ties to even).
func BF16(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(b[2*i:], Float32ToBFloat16(v))
	}
	return Tensor{Name: name, DType: DTypeBF16, Shape: slices.Clone(shape), Data: b}
}

// I64 returns an I64 tensor holding data.
func I64(name string, shape []int, data []int64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{Name: name, DType: DTypeI64, Shape: slices.Clone(shape), Data: b}
}

// I32 returns an I32 tensor holding data.
func I32(name string, shape []int, data []int32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	return Tensor{Name: name, DType: DTypeI32, Shape: slices.Clone(shape), Data: b}
}

// check validates t for writing.
func (t *Tensor) check() *Error {
	if err := checkName(t.Name); err != nil {
		return err
	}
	fail := func(format string, args ...any) *Error {
		return &Error{Tensor: t.Name, Kind: ErrInvalid, Msg: fmt.Sprintf(format, args...)}
	}
	if !t.DType.Valid() {
		return fail("unknown dtype %s", quoteName(string(t.DType)))
	}
	if len(t.Shape) > MaxRank {
		return fail("shape has %d dimensions, more than %d", len(t.Shape), MaxRank)
	}
	n, why := numElements(t.Shape)
	if why != "" {
		return fail("shape %v: %s", t.Shape, why)
	}
	nbytes, why := t.DType.byteLen(n)
	if why != "" {
		return fail("shape %v x %s (%d elements): %s", t.Shape, t.DType, n, why)
	}
	if int64(len(t.Data)) != nbytes {
		return fail("data is %d bytes but shape %v x %s needs %d", len(t.Data), t.Shape, t.DType, nbytes)
	}
	return nil
}

// layout validates tensors and metadata and returns the tensors in file order together with the
// padded header. File order puts wider elements first (then sorts by name), so that with the
// data section starting at a multiple of 8 every tensor starts at a multiple of its element
// size, as the format's reference writer does.
func layout(tensors []Tensor, metadata map[string]string) ([]*Tensor, []byte, *Error) {
	order := make([]*Tensor, len(tensors))
	for i := range tensors {
		if err := tensors[i].check(); err != nil {
			return nil, nil, err
		}
		order[i] = &tensors[i]
	}
	slices.SortFunc(order, func(a, b *Tensor) int {
		if c := cmp.Compare(b.DType.Bits(), a.DType.Bits()); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for i := 1; i < len(order); i++ {
		if order[i].Name == order[i-1].Name {
			return nil, nil, &Error{Tensor: order[i].Name, Kind: ErrInvalid, Msg: "duplicate tensor name"}
		}
	}
	var h strings.Builder
	h.WriteByte('{')
	if metadata != nil { // an empty map is written as {}, so that it reads back as an empty map
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range metadata {
				if !yield(k) {
					return
				}
			}
		})
		h.WriteString(`"` + metadataKey + `":{`)
		for i, k := range keys {
			v := metadata[k]
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, nil, &Error{Kind: ErrInvalid, Msg: fmt.Sprintf("metadata key %s or its value is not valid UTF-8", quoteName(k))}
			}
			if i > 0 {
				h.WriteByte(',')
			}
			writeJSONString(&h, k)
			h.WriteByte(':')
			writeJSONString(&h, v)
		}
		h.WriteByte('}')
		if len(order) > 0 {
			h.WriteByte(',')
		}
	}
	var off int64
	for i, t := range order {
		if i > 0 {
			h.WriteByte(',')
		}
		writeJSONString(&h, t.Name)
		h.WriteString(`:{"dtype":"` + string(t.DType) + `","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		end := off + int64(len(t.Data))
		h.WriteString(`],"data_offsets":[` + strconv.FormatInt(off, 10) + "," + strconv.FormatInt(end, 10) + "]}")
		off = end
	}
	h.WriteByte('}')
	// Pad with spaces so that the data section starts at a multiple of 8.
	for (8+h.Len())%8 != 0 {
		h.WriteByte(' ')
	}
	if h.Len() > MaxHeaderSize {
		return nil, nil, &Error{Kind: ErrInvalid, Msg: fmt.Sprintf("header would be %d bytes, over the limit of %d", h.Len(), MaxHeaderSize)}
	}
	return order, []byte(h.String()), nil
}

// Encode writes tensors and metadata to w in the safetensors format. A nil metadata map writes
// no "__metadata__" entry; a non-nil one, even empty, does. Every tensor is checked before
// anything is written: a valid, unique name (not empty, valid UTF-8, no NUL byte, not
// "__metadata__"), a known dtype, at most MaxRank non-negative dimensions, and Data of
// exactly the size the shape and dtype call for. The layout is deterministic: the same input
// gives the same bytes.
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	order, hdr, err := layout(tensors, metadata)
	if err != nil {
		return err
	}
	if werr := writeFile(w, order, hdr); werr != nil {
		return &Error{Kind: ErrIO, Msg: "writing", Err: werr}
	}
	return nil
}

// writeFile writes the header length, the header and the tensors' bytes in order.
func writeFile(w io.Writer, order []*Tensor, hdr []byte) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	bw.Write(n[:]) // bufio keeps the first error and returns it from Flush
	bw.Write(hdr)
	for _, t := range order {
		bw.Write(t.Data)
	}
	return bw.Flush()
}

// WriteFile writes tensors and metadata to path as Encode does, atomically: the data goes to a
// temporary file beside path, which is synced and then renamed over path. A reader that has
// the old file open keeps reading the old content, and a failure leaves path untouched.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	order, hdr, lerr := layout(tensors, metadata) // fails before touching the disk
	if lerr != nil {
		lerr.File = path
		return lerr
	}
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return writeFile(w, order, hdr)
	})
	if err != nil {
		if inner := errors.Unwrap(err); inner != nil { // drop atomicfile's "writing PATH" prefix
			err = inner
		}
		return &Error{File: path, Kind: ErrIO, Msg: "writing", Err: err}
	}
	return nil
}

// writeJSONString writes s as a JSON string. s must be valid UTF-8.
func writeJSONString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}
