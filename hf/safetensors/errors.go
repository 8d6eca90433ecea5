package safetensors

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error returned by this package is an *Error whose Kind is one of these,
// so callers can test with errors.Is.
var (
	// ErrFormat: the file or header does not follow the safetensors format.
	ErrFormat = errors.New("invalid safetensors file")
	// ErrNotFound: the file has no tensor of the requested name.
	ErrNotFound = errors.New("no such tensor")
	// ErrUnsupported: the tensor's dtype cannot be converted as requested.
	ErrUnsupported = errors.New("unsupported dtype conversion")
	// ErrInvalid: a tensor or metadata handed to the writer is malformed.
	ErrInvalid = errors.New("invalid tensor or metadata")
	// ErrIO: reading or writing the underlying file failed (Err holds the cause).
	ErrIO = errors.New("I/O error")
)

// Error describes a failure, naming the file and tensor it concerns.
type Error struct {
	File   string // path given to Open or WriteFile; "" for in-memory data
	Tensor string // tensor name; "" when the error concerns no single tensor
	Kind   error  // ErrFormat, ErrNotFound, ErrUnsupported, ErrInvalid or ErrIO
	Msg    string // what was wrong
	Err    error  // underlying cause, if any
}

// maxNameInMessage bounds how much of a tensor name an error message quotes.
const maxNameInMessage = 200

// Error returns "safetensors: FILE: tensor "NAME": MSG: CAUSE", leaving out the parts that do
// not apply. Long names are shortened in the message (the Tensor field keeps them whole).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("safetensors: ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Tensor != "" || e.Kind == ErrNotFound {
		b.WriteString("tensor ")
		b.WriteString(quoteName(e.Tensor))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the error's kind and its cause, for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// quoteName quotes s as a Go string, shortened to maxNameInMessage bytes.
func quoteName(s string) string {
	if len(s) <= maxNameInMessage {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:maxNameInMessage]) + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
