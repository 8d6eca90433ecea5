// Package safetensors reads and writes the safetensors tensor file format.
//
// A safetensors file is an 8-byte little-endian unsigned header length N, then N bytes of UTF-8
// JSON, then the data section. The JSON object maps each tensor name to
// {"dtype": …, "shape": […], "data_offsets": [begin, end]}, with offsets relative to the start
// of the data section, and may hold a "__metadata__" object of string keys and values.
//
// The reader treats every file as hostile. Open reads only the header, with bounded reads (no
// memory mapping, so a file truncated underneath a reader yields an error rather than a crash),
// checks the header length against the file's real size before allocating, and validates the
// whole header before returning: strict JSON with no duplicate keys, known dtypes, shapes that
// agree with their byte ranges, and byte ranges that tile the data section exactly, with no gap,
// overlap or trailing byte. Tensor bytes are read on demand.
//
// The writer lays tensors out in a deterministic order, aligns the data section to 8 bytes and
// each tensor to its element size, and replaces files atomically.
package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"strings"

	"github.com/qkvdev/qkv/internal/fileutil"
)

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int // dimensions, outermost first; empty for a scalar. Shared: do not modify.
	Begin int64 // byte offset of the first element, relative to the data section
	End   int64 // byte offset just past the last element, relative to the data section
}

// NumElements returns the number of elements (the product of Shape; 1 for a scalar).
func (t TensorInfo) NumElements() int64 {
	n, _ := numElements(t.Shape) // validated when the file was opened
	return n
}

// File is an open safetensors file whose header has been parsed and validated. Its methods may
// be called from several goroutines at once.
type File struct {
	name      string      // path for error messages; "" for in-memory data
	r         io.ReaderAt // the whole file
	closer    io.Closer   // nil for in-memory data
	size      int64       // file size when opened
	dataStart int64       // absolute offset of the data section: 8 + header length
	h         *header
}

// Parse parses an in-memory safetensors file. The File keeps a reference to data, which must
// not be modified while the File is in use; Bytes and Float32 return copies.
func Parse(data []byte) (*File, error) {
	return newFile("", bytesReaderAt(data), int64(len(data)), nil)
}

// NewFile reads a safetensors file from r, which holds size bytes. name is used in error
// messages and may be empty. Only the header is read now; tensor bytes are read from r when
// asked for, so r must stay readable while the File is in use.
func NewFile(r io.ReaderAt, size int64, name string) (*File, error) {
	return newFile(name, r, size, nil)
}

// Open opens the safetensors file at path, reads and validates its header, and keeps the file
// open for reading tensors on demand. Close releases it.
func Open(path string) (*File, error) {
	// Anything but a regular file is refused without blocking (opening a FIFO would).
	f, err := fileutil.Open(path)
	if errors.Is(err, fileutil.ErrNotRegular) {
		return nil, &Error{File: path, Kind: ErrFormat, Msg: "cannot open", Err: pathless(err)}
	}
	if err != nil {
		return nil, &Error{File: path, Kind: ErrIO, Msg: "cannot open", Err: pathless(err)}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &Error{File: path, Kind: ErrIO, Msg: "cannot stat", Err: err}
	}
	sf, err := newFile(path, f, st.Size(), f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return sf, nil
}

// newFile reads and validates the header of the size-byte file r.
func newFile(name string, r io.ReaderAt, size int64, closer io.Closer) (*File, error) {
	fail := func(format string, args ...any) error {
		return &Error{File: name, Kind: ErrFormat, Msg: fmt.Sprintf(format, args...)}
	}
	if size < 8 {
		return nil, fail("file is %d bytes, too small to hold the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if err := readFull(r, lenBuf[:], 0); err != nil {
		return nil, &Error{File: name, Kind: ErrIO, Msg: "reading header length", Err: err}
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	// Both checks come before any allocation, and neither can overflow: size >= 8 here.
	if n > MaxHeaderSize {
		return nil, fail("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(size-8) {
		return nil, fail("header length %d exceeds the %d bytes that follow it in the file; is the file truncated?", n, size-8)
	}
	var sb strings.Builder
	sb.Grow(int(n))
	if _, err := io.Copy(&sb, io.NewSectionReader(r, 8, int64(n))); err != nil {
		return nil, &Error{File: name, Kind: ErrIO, Msg: "reading header", Err: err}
	}
	if sb.Len() != int(n) {
		return nil, &Error{File: name, Kind: ErrIO, Msg: "reading header", Err: io.ErrUnexpectedEOF}
	}
	dataStart := 8 + int64(n)
	h, perr := parseHeader(sb.String(), size-dataStart)
	if perr != nil {
		perr.File = name
		return nil, perr
	}
	return &File{name: name, r: r, closer: closer, size: size, dataStart: dataStart, h: h}, nil
}

// Close releases the underlying file, if Open opened one. Reading tensors afterwards fails.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	if err != nil && !errors.Is(err, os.ErrClosed) {
		return &Error{File: f.name, Kind: ErrIO, Msg: "closing", Err: err}
	}
	return nil
}

// Name returns the path the File was opened from, or the name given to NewFile.
func (f *File) Name() string { return f.name }

// Size returns the size of the file in bytes, as it was when opened.
func (f *File) Size() int64 { return f.size }

// DataStart returns the absolute file offset of the data section (8 + the header length).
// It need not be a multiple of 8.
func (f *File) DataStart() int64 { return f.dataStart }

// Metadata returns a copy of the header's __metadata__ (nil when the header has none).
func (f *File) Metadata() map[string]string { return maps.Clone(f.h.metadata) }

// Len returns the number of tensors.
func (f *File) Len() int { return len(f.h.tensors) }

// Tensors returns the tensors in data-offset order (tensors with equal offsets, which can only
// be empty ones, are ordered by name). The slice is a fresh copy; the Shape slices are shared
// with the File and must not be modified.
func (f *File) Tensors() []TensorInfo { return append([]TensorInfo(nil), f.h.tensors...) }

// Info returns the description of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.h.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.h.tensors[i], true
}

// lookup returns the named tensor or an ErrNotFound error.
func (f *File) lookup(name string) (TensorInfo, error) {
	t, ok := f.Info(name)
	if !ok {
		return t, &Error{File: f.name, Tensor: name, Kind: ErrNotFound, Msg: "no such tensor in file"}
	}
	return t, nil
}

// Bytes returns a copy of the named tensor's raw little-endian bytes.
func (f *File) Bytes(name string) ([]byte, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	return f.read(t)
}

// read reads t's bytes into a new slice.
func (f *File) read(t TensorInfo) ([]byte, error) {
	n := t.End - t.Begin
	if n > math.MaxInt {
		return nil, &Error{File: f.name, Tensor: t.Name, Kind: ErrUnsupported, Msg: fmt.Sprintf("%d bytes do not fit in memory on this platform", n)}
	}
	buf := make([]byte, n)
	if err := readFull(f.r, buf, f.dataStart+t.Begin); err != nil {
		return nil, &Error{File: f.name, Tensor: t.Name, Kind: ErrIO,
			Msg: fmt.Sprintf("reading bytes [%d, %d) of the file (did it change since it was opened?)", f.dataStart+t.Begin, f.dataStart+t.End), Err: err}
	}
	return buf, nil
}

// Tensor returns the named tensor with a copy of its bytes, ready to be written again.
func (f *File) Tensor(name string) (Tensor, error) {
	t, err := f.lookup(name)
	if err != nil {
		return Tensor{}, err
	}
	b, err := f.read(t)
	if err != nil {
		return Tensor{}, err
	}
	return Tensor{Name: t.Name, DType: t.DType, Shape: append([]int{}, t.Shape...), Data: b}, nil
}

// Float32 returns the named tensor's elements as float32. F32 is returned as stored; F16, DTypeBF16
// and the 8-bit float types are converted exactly; F64 is rounded to the nearest float32. NaN,
// infinities and subnormals are kept, never filtered. Other dtypes (integers, BOOL, C64, the
// packed sub-byte types) are an ErrUnsupported error.
func (f *File) Float32(name string) ([]float32, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if !t.DType.Float() {
		return nil, &Error{File: f.name, Tensor: name, Kind: ErrUnsupported, Msg: fmt.Sprintf("dtype %s cannot be converted to float32", t.DType)}
	}
	b, err := f.read(t)
	if err != nil {
		return nil, err
	}
	out := make([]float32, t.NumElements())
	decodeFloat32(out, b, t.DType)
	return out, nil
}

// pathless drops the path from an *fs.PathError, which the Error already names, keeping the
// cause (so errors.Is(err, fs.ErrNotExist) still holds).
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readFull reads exactly len(buf) bytes at off. A reader that returns io.EOF together with the
// last bytes is fine; one that returns fewer bytes is an error.
func readFull(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// bytesReaderAt is an io.ReaderAt over a byte slice.
type bytesReaderAt []byte

func (b bytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
