package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
)

var allDTypes = []DType{
	DTypeF64, DTypeF32, DTypeF16, DTypeBF16, DTypeF8E4M3, DTypeF8E5M2, DTypeF8E8M0,
	DTypeF6E2M3, DTypeF6E3M2, DTypeF4, DTypeC64,
	DTypeI64, DTypeI32, DTypeI16, DTypeI8, DTypeU64, DTypeU32, DTypeU16, DTypeU8, DTypeBool,
}

// sampleTensors returns one tensor of every dtype with random bytes, in a scrambled order.
func sampleTensors() []Tensor {
	r := rand.New(rand.NewPCG(7, 7))
	var ts []Tensor
	for i, d := range allDTypes {
		shape := []int{3, 4} // 12 elements fill whole bytes for every dtype
		if i%3 == 0 {
			shape = []int{2, 2, 3}
		}
		nb, _ := d.byteLen(12)
		data := make([]byte, nb)
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		ts = append(ts, Tensor{Name: "t." + strings.ToLower(string(d)), DType: d, Shape: shape, Data: data})
	}
	ts = append(ts,
		Tensor{Name: "scalar", DType: DTypeF32, Shape: []int{}, Data: []byte{0, 0, 0x80, 0x3f}},
		Tensor{Name: "empty", DType: DTypeF16, Shape: []int{0, 7}, Data: nil},
		Tensor{Name: "odd", DType: DTypeU8, Shape: []int{3}, Data: []byte{1, 2, 3}},
	)
	r.Shuffle(len(ts), func(i, j int) { ts[i], ts[j] = ts[j], ts[i] })
	return ts
}

func TestRoundTripEveryDType(t *testing.T) {
	ts := sampleTensors()
	meta := map[string]string{"format": "pt", "note": "quote \" backslash \\ newline \n tab \t ctl \x01 é"}
	var buf bytes.Buffer
	if err := Encode(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	f, err := Parse(file)
	if err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, f, file)
	if f.DataStart()%8 != 0 {
		t.Errorf("data section starts at %d, not a multiple of 8", f.DataStart())
	}
	if !reflect.DeepEqual(f.Metadata(), meta) {
		t.Errorf("Metadata = %q, want %q", f.Metadata(), meta)
	}
	if f.Len() != len(ts) {
		t.Fatalf("Len = %d, want %d", f.Len(), len(ts))
	}
	for _, want := range ts {
		info, ok := f.Info(want.Name)
		if !ok {
			t.Fatalf("tensor %q missing", want.Name)
		}
		if info.DType != want.DType || !slices.Equal(info.Shape, want.Shape) {
			t.Errorf("%q: got %s %v, want %s %v", want.Name, info.DType, info.Shape, want.DType, want.Shape)
		}
		if s := int64(want.DType.Size()); s > 0 && info.Begin%s != 0 {
			t.Errorf("%q (%s) starts at %d, not aligned to its element size", want.Name, want.DType, info.Begin)
		}
		got, err := f.Tensor(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Data, want.Data) || got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) {
			t.Errorf("%q: Tensor = %+v, want %+v", want.Name, got, want)
		}
	}
	// The layout is deterministic: another input order gives the same bytes.
	rev := slices.Clone(ts)
	slices.Reverse(rev)
	var buf2 bytes.Buffer
	if err := Encode(&buf2, rev, meta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, buf2.Bytes()) {
		t.Error("Encode output depends on the order of its input")
	}
}

func TestConstructors(t *testing.T) {
	negZero := float32(math.Copysign(0, -1)) // the literal -0.0 is +0
	vals := []float32{0, negZero, 1, -2.5, 65504, 1e-7, float32(math.Inf(-1)), 3.14159, 1e30}
	for _, tc := range []struct {
		tensor Tensor
		want   func(float32) float32
	}{
		{F32("a", []int{3, 3}, vals), func(x float32) float32 { return x }},
		{F16("a", []int{3, 3}, vals), func(x float32) float32 { return Float16ToFloat32(Float32ToFloat16(x)) }},
		{BF16("a", []int{9}, vals), func(x float32) float32 { return BFloat16ToFloat32(Float32ToBFloat16(x)) }},
	} {
		var buf bytes.Buffer
		if err := Encode(&buf, []Tensor{tc.tensor}, nil); err != nil {
			t.Fatal(err)
		}
		f, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Float32("a")
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range vals {
			if w := tc.want(x); math.Float32bits(got[i]) != math.Float32bits(w) {
				t.Errorf("%s: element %d = %v, want %v", tc.tensor.DType, i, got[i], w)
			}
		}
		if got[1] != 0 || !math.Signbit(float64(got[1])) {
			t.Errorf("%s: -0 read back as %v (bits %#x)", tc.tensor.DType, got[1], math.Float32bits(got[1]))
		}
	}
	// Spot checks of the rounding, independent of the conversion functions.
	h := F16("h", []int{3}, []float32{65520, 1 + 1.0/2048, 5.960464477539063e-08})
	if got := []uint16{binary.LittleEndian.Uint16(h.Data), binary.LittleEndian.Uint16(h.Data[2:]), binary.LittleEndian.Uint16(h.Data[4:])}; !slices.Equal(got, []uint16{0x7c00, 0x3c00, 0x0001}) {
		t.Errorf("F16 rounding: %#04x", got)
	}
	// Integer constructors store little-endian two's complement; Float32 refuses them.
	var buf bytes.Buffer
	if err := Encode(&buf, []Tensor{I64("ids", []int{2}, []int64{-1, 1 << 40}), I32("mask", []int{2}, []int32{-2, 7})}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := f.Bytes("ids")
	if int64(binary.LittleEndian.Uint64(b)) != -1 || binary.LittleEndian.Uint64(b[8:]) != 1<<40 {
		t.Errorf("I64 bytes %x", b)
	}
	b, _ = f.Bytes("mask")
	if int32(binary.LittleEndian.Uint32(b)) != -2 || binary.LittleEndian.Uint32(b[4:]) != 7 {
		t.Errorf("I32 bytes %x", b)
	}
	if _, err := f.Float32("ids"); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `tensor "ids": dtype I64 cannot be converted`) {
		t.Errorf("Float32 of I64: %v", err)
	}
}

func TestEncodeRejects(t *testing.T) {
	ok := F32("ok", []int{1}, []float32{1})
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"empty name", []Tensor{F32("", []int{1}, []float32{1})}, nil, "tensor name is empty"},
		{"NUL in name", []Tensor{F32("a\x00b", []int{1}, []float32{1})}, nil, "contains a NUL byte"},
		{"invalid UTF-8 name", []Tensor{F32("a\xffb", []int{1}, []float32{1})}, nil, "not valid UTF-8"},
		{"reserved name", []Tensor{F32(metadataKey, []int{1}, []float32{1})}, nil, "reserved for metadata"},
		{"duplicate name", []Tensor{ok, ok}, nil, `tensor "ok": duplicate tensor name`},
		{"unknown dtype", []Tensor{{Name: "x", DType: "f32", Shape: []int{1}, Data: make([]byte, 4)}}, nil, `unknown dtype "f32"`},
		{"rank 65", []Tensor{{Name: "x", DType: DTypeU8, Shape: make([]int, 65)}}, nil, "more than 64"},
		{"negative dim", []Tensor{{Name: "x", DType: DTypeU8, Shape: []int{-1}}}, nil, "negative dimension"},
		{"overflowing shape", []Tensor{{Name: "x", DType: DTypeU8, Shape: []int{math.MaxInt, 2}}}, nil, "element count overflows"},
		{"short data", []Tensor{F32("x", []int{2, 2}, []float32{1, 2, 3})}, nil, `tensor "x": data is 12 bytes but shape [2 2] x F32 needs 16`},
		{"odd F4", []Tensor{{Name: "x", DType: DTypeF4, Shape: []int{3}, Data: make([]byte, 2)}}, nil, "misaligned"},
		{"invalid UTF-8 metadata", []Tensor{ok}, map[string]string{"k": "\xff"}, "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Encode(&buf, c.tensors, c.meta)
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Encode error %v, want ErrInvalid containing %q", err, c.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Encode wrote %d bytes before failing", buf.Len())
			}
			path := filepath.Join(t.TempDir(), "out.safetensors")
			err = WriteFile(path, c.tensors, c.meta)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("WriteFile error %v does not name the file", err)
			}
			if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
				t.Errorf("WriteFile left files behind: %v", entries)
			}
		})
	}
}

// TestWriteOverOpenFile: replacing a file while a File reads it must not change what that File
// reads (the rename leaves the reader on the old inode); a fresh Open sees the new content.
func TestWriteOverOpenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	old := []float32{1, 2, 3, 4}
	if err := WriteFile(path, []Tensor{F32("w", []int{4}, old)}, map[string]string{"v": "1"}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A bigger file with a different layout, written over the one being read.
	if err := WriteFile(path, []Tensor{F32("a", []int{100}, make([]float32, 100)), F32("w", []int{4}, []float32{9, 9, 9, 9})}, map[string]string{"v": "2"}); err != nil {
		t.Fatal(err)
	}
	got, err := f.Float32("w")
	if err != nil || !slices.Equal(got, old) {
		t.Errorf("open File reads %v, %v after the file was replaced; want %v", got, err, old)
	}
	g, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if got, _ := g.Float32("w"); !slices.Equal(got, []float32{9, 9, 9, 9}) || g.Metadata()["v"] != "2" {
		t.Errorf("new File reads %v, metadata %v", got, g.Metadata())
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("directory holds %v, want only the file", entries)
	}
}

// TestTruncatedAfterOpen: a file cut short underneath an open File gives an error, not a crash.
func TestTruncatedAfterOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := WriteFile(path, []Tensor{F32("a", []int{4}, []float32{1, 2, 3, 4}), F32("b", []int{1000}, make([]float32, 1000))}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Truncate(path, f.DataStart()+10); err != nil {
		t.Fatal(err)
	}
	b := f.Tensors()[len(f.Tensors())-1]
	_, err = f.Bytes(b.Name)
	if !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), quoteName(b.Name)) {
		t.Errorf("reading a truncated tensor: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Bytes("a"); err == nil {
		t.Error("read after Close succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.safetensors")
	if _, err := Open(missing); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Open(missing) = %v", err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Open(dir) = %v", err)
	}
}

// TestReferenceFiles parses every .safetensors file of the reference folder (written by the
// format's Python library), checks the known layouts, and checks that re-encoding keeps every
// tensor's bytes.
func TestReferenceFiles(t *testing.T) {
	dir := testenv.RequireReferenceDir(t)
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "*.safetensors"))
	if len(paths) == 0 {
		testenv.Absent(t, "no .safetensors files under %s", dir)
	}
	known := map[string]struct {
		name  string
		shape []int
	}{
		"gpt2-tiny/model.safetensors": {"h.0.attn.c_attn.weight", []int{48, 144}},
		"bert-tiny/model.safetensors": {"bert.embeddings.word_embeddings.weight", []int{113, 48}},
	}
	for _, path := range paths {
		rel, _ := filepath.Rel(dir, path)
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			file, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkConsistent(t, f, file)
			if k, ok := known[filepath.ToSlash(rel)]; ok {
				info, found := f.Info(k.name)
				if !found || info.DType != DTypeF32 || !slices.Equal(info.Shape, k.shape) {
					t.Errorf("Info(%q) = %+v, %v; want F32 %v", k.name, info, found, k.shape)
				}
				if f.Metadata()["format"] != "pt" {
					t.Errorf("Metadata = %v, want format=pt", f.Metadata())
				}
				w, err := f.Float32(k.name)
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range w {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 100 {
						t.Fatalf("weight %d = %v: not a plausible trained weight", i, v)
					}
				}
			}
			var ts []Tensor
			for _, info := range f.Tensors() {
				tt, err := f.Tensor(info.Name)
				if err != nil {
					t.Fatal(err)
				}
				ts = append(ts, tt)
			}
			var buf bytes.Buffer
			if err := Encode(&buf, ts, f.Metadata()); err != nil {
				t.Fatal(err)
			}
			g, err := Parse(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if g.Len() != f.Len() || !reflect.DeepEqual(g.Metadata(), f.Metadata()) {
				t.Fatalf("re-encoded file has %d tensors, metadata %v", g.Len(), g.Metadata())
			}
			for _, tt := range ts {
				b, err := g.Bytes(tt.Name)
				if err != nil || !bytes.Equal(b, tt.Data) {
					t.Fatalf("re-encoded %q differs: %v", tt.Name, err)
				}
			}
		})
	}
}

func TestDTypeSizes(t *testing.T) {
	want := map[DType]int{
		DTypeF64: 8, DTypeF32: 4, DTypeF16: 2, DTypeBF16: 2, DTypeF8E4M3: 1, DTypeF8E5M2: 1, DTypeF8E8M0: 1,
		DTypeF6E2M3: 0, DTypeF6E3M2: 0, DTypeF4: 0, DTypeC64: 8,
		DTypeI64: 8, DTypeI32: 4, DTypeI16: 2, DTypeI8: 1, DTypeU64: 8, DTypeU32: 4, DTypeU16: 2, DTypeU8: 1, DTypeBool: 1,
		"f32": 0, "": 0, "F8_E4M3FN": 0,
	}
	for d, size := range want {
		if d.Size() != size || d.Valid() != (d.Bits() != 0) {
			t.Errorf("%q: Size %d Bits %d Valid %v; want size %d", d, d.Size(), d.Bits(), d.Valid(), size)
		}
	}
	if len(allDTypes) != 20 {
		t.Errorf("allDTypes lists %d dtypes", len(allDTypes))
	}
}

// TestEncodeGolden pins the exact bytes of a small file: metadata first, wider dtypes first,
// names sorted within a dtype width, spaces padding the header to a multiple of 8.
func TestEncodeGolden(t *testing.T) {
	var buf bytes.Buffer
	err := Encode(&buf, []Tensor{
		{Name: "b", DType: DTypeU8, Shape: []int{3}, Data: []byte{1, 2, 3}},
		F32("a", []int{1}, []float32{1}),
		{Name: "c/\"d\"", DType: DTypeI16, Shape: []int{}, Data: []byte{9, 0}},
	}, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	hdr := `{"__metadata__":{"format":"pt"},` +
		`"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},` +
		`"c/\"d\"":{"dtype":"I16","shape":[],"data_offsets":[4,6]},` +
		`"b":{"dtype":"U8","shape":[3],"data_offsets":[6,9]}}`
	for (8+len(hdr))%8 != 0 {
		hdr += " "
	}
	want := raw(hdr, []byte{0, 0, 0x80, 0x3f, 9, 0, 1, 2, 3})
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("Encode =\n%q\nwant\n%q", buf.Bytes(), want)
	}
}

// failWriter fails after accepting n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	ts := []Tensor{F32("w", []int{1 << 18}, make([]float32, 1<<18))}
	if err := Encode(&failWriter{n: 100}, ts, nil); !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Encode to a failing writer: %v", err)
	}
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "model.safetensors")
	err := WriteFile(path, ts, nil)
	if !errors.Is(err, ErrIO) || !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "safetensors: "+path+": writing: ") {
		t.Errorf("WriteFile into a missing directory: %v", err)
	}
}

// TestEmptyMetadata: nil metadata writes no __metadata__ entry; an empty map writes {} and
// reads back as an empty map.
func TestEmptyMetadata(t *testing.T) {
	for _, meta := range []map[string]string{nil, {}} {
		var buf bytes.Buffer
		if err := Encode(&buf, nil, meta); err != nil {
			t.Fatal(err)
		}
		f, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Metadata(); (got == nil) != (meta == nil) || len(got) != 0 {
			t.Errorf("metadata %#v read back as %#v (file %q)", meta, got, buf.Bytes())
		}
	}
}

// TestErrorMessages shows that errors name the file, the tensor and what was wrong.
func TestErrorMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	file := raw(`{"h.0.attn.c_attn.weight":{"dtype":"F32","shape":[4,8],"data_offsets":[0,100]}}`, zeros(100))
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	want := "safetensors: " + path + `: tensor "h.0.attn.c_attn.weight": data_offsets [0, 100] do not match shape [4 8] x F32 = 128 bytes`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	var se *Error
	if !errors.As(err, &se) || se.File != path || se.Tensor != "h.0.attn.c_attn.weight" || se.Kind != ErrFormat {
		t.Errorf("Error fields = %+v", se)
	}
	f, err := Parse(raw(`{}`, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Float32("x"); err == nil || err.Error() != `safetensors: tensor "x": no such tensor in file` || !errors.Is(err, ErrNotFound) {
		t.Errorf("missing tensor: %v", err)
	}
}
