package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// raw builds a file from a header text and a data section.
func raw(hdr string, data []byte) []byte {
	return rawN(uint64(len(hdr)), hdr, data)
}

// rawN builds a file whose header length field says n, whatever the header text's length.
func rawN(n uint64, hdr string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, n)
	b = append(b, hdr...)
	return append(b, data...)
}

// zeros returns n zero bytes.
func zeros(n int) []byte { return make([]byte, n) }

// hostileCase is one input of the hostile-input checklist (HOSTILE-INPUTS.md section A).
// want is a substring of the expected error, or "" when the file must be accepted.
type hostileCase struct {
	name  string
	file  []byte
	want  string
	check func(t *testing.T, f *File) // optional, for accepted files
}

func f32Entry(name string, shape string, begin, end int64) string {
	return fmt.Sprintf(`%q:{"dtype":"F32","shape":%s,"data_offsets":[%d,%d]}`, name, shape, begin, end)
}

// tenOverlapping is HF's "JSON attack": ten tensors that all claim bytes [0, 16].
func tenOverlapping() string {
	var parts []string
	for i := range 10 {
		parts = append(parts, f32Entry(fmt.Sprintf("weight_%d", i), "[2,2]", 0, 16))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

var longName = strings.Repeat("n", 1<<20) // a 1 MB tensor name

func hostileCases() []hostileCase {
	one := `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`
	return []hostileCase{
		// A1: header length.
		{name: "A1 empty file", file: nil, want: "too small"},
		{name: "A1 7 bytes", file: []byte{1, 0, 0, 0, 0, 0, 0}, want: "too small"},
		{name: "A1 N over 100 MB", file: rawN(MaxHeaderSize+1, "{}", nil), want: "exceeds the limit"},
		{name: "A1 N = 2^63", file: rawN(1<<63, "{}", nil), want: "exceeds the limit"},
		{name: "A1 N = 2^64-1", file: rawN(math.MaxUint64, "{}", nil), want: "exceeds the limit"},
		{name: "A1 N = 2^63-1", file: rawN(math.MaxInt64, "{}", nil), want: "exceeds the limit"},
		{name: "A1 N past end of file", file: rawN(100, "{}", zeros(8)), want: "exceeds the 10 bytes that follow"},
		{name: "A1 N under limit but past end", file: rawN(MaxHeaderSize, "{}", nil), want: "exceeds the 2 bytes that follow"},
		{name: "A1 N = 0", file: rawN(0, "", nil), want: "header is empty"},

		// A2: header encoding and JSON shape.
		{name: "A2 not UTF-8", file: raw("{\"\xff\":1}", nil), want: "not valid UTF-8"},
		{name: "A2 truncated JSON", file: raw("{", nil), want: "not valid JSON"},
		{name: "A2 unterminated string", file: raw(`{"a`, nil), want: "expected the end of a string"},
		{name: "A2 top-level array", file: raw(`[]`, nil), want: "must be a JSON object, found an array"},
		{name: "A2 top-level number", file: raw(`42`, nil), want: "must be a JSON object, found a number"},
		{name: "A2 top-level string", file: raw(`"x"`, nil), want: "must be a JSON object, found a string"},
		{name: "A2 top-level null", file: raw(`null`, nil), want: "must be a JSON object, found null"},
		{name: "A2 only whitespace", file: raw("    ", nil), want: "header is empty"},
		{name: "A2 leading and trailing whitespace", file: raw(" \n\t "+one+" \r\n  ", zeros(4)), check: func(t *testing.T, f *File) {
			if f.Len() != 1 {
				t.Errorf("Len = %d, want 1", f.Len())
			}
		}},
		{name: "A2 NUL padding", file: raw(one+"\x00\x00\x00", zeros(4)), want: "NUL bytes after its JSON object"},
		{name: "A2 leading NUL", file: raw("\x00"+one, zeros(4)), want: "must be a JSON object, found a NUL byte"},
		{name: "A2 two objects", file: raw(one+"{}", zeros(4)), want: "data after its JSON object"},
		{name: "A2 trailing comma", file: raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},}`, zeros(4)), want: "expected a tensor name"},
		{name: "A2 raw control character in a name", file: raw("{\"a\nb\":{}}", nil), want: "no raw control characters"},
		{name: "A2 bad escape", file: raw(`{"a\x":{}}`, nil), want: "valid escape"},

		// A3: duplicate keys.
		{name: "A3 duplicate name, different offsets", file: raw("{"+f32Entry("a", "[1]", 0, 4)+","+f32Entry("a", "[1]", 4, 8)+"}", zeros(8)), want: `tensor "a": duplicate tensor name`},
		{name: "A3 duplicate name, identical offsets", file: raw("{"+f32Entry("a", "[1]", 0, 4)+","+f32Entry("a", "[1]", 0, 4)+"}", zeros(4)), want: `tensor "a": duplicate tensor name`},
		{name: "A3 duplicate name, escaped spelling", file: raw("{"+f32Entry("a", "[1]", 0, 4)+`,"\u0061":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, zeros(8)), want: `tensor "a": duplicate tensor name`},
		{name: "A3 duplicate field in entry", file: raw(`{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, zeros(4)), want: `field "dtype" appears twice`},

		// A4: offsets.
		{name: "A4 ten tensors overlapping [0,16]", file: raw(tenOverlapping(), zeros(16)), want: `overlap tensor "weight_0" [0, 16]`},
		{name: "A4 partial overlap", file: raw("{"+f32Entry("a", "[2]", 0, 8)+","+f32Entry("b", "[2]", 4, 12)+"}", zeros(12)), want: `tensor "b": data_offsets [4, 12] overlap tensor "a" [0, 8]`},
		{name: "A4 gap", file: raw("{"+f32Entry("a", "[1]", 0, 4)+","+f32Entry("b", "[1]", 8, 12)+"}", zeros(12)), want: `tensor "b": data_offsets [8, 12] leave bytes [4, 8) covered by no tensor (gap after tensor "a")`},
		{name: "A4 first offset not 0", file: raw("{"+f32Entry("a", "[1]", 4, 8)+"}", zeros(8)), want: "the first tensor must start at 0"},
		{name: "A4 end before begin", file: raw("{"+f32Entry("a", "[1]", 8, 4)+"}", zeros(8)), want: "end before they begin"},
		{name: "A4 negative offset", file: raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, zeros(4)), want: "data_offsets must hold non-negative integers, found -4"},
		{name: "A4 float offset", file: raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.0,4.0]}}`, zeros(4)), want: "data_offsets must hold integers, found 0.0"},
		{name: "A4 exponent offset", file: raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4e0]}}`, zeros(4)), want: "must hold integers, found 4e0"},
		{name: "A4 offset > 2^64", file: raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}}`, zeros(4)), want: "data_offsets value 18446744073709551616 is out of range"},
		{name: "A4 offset = 2^63", file: raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[9223372036854775808,9223372036854775812]}}`, zeros(4)), want: "is out of range"},
		{name: "A4 offsets past data", file: raw(`{"a":{"dtype":"U8","shape":[9223372036854775807],"data_offsets":[0,9223372036854775807]}}`, zeros(4)), want: "extend past the end of the data section (4 bytes)"},
		{name: "A4 offsets as string", file: raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":"0,4"}}`, zeros(4)), want: "data_offsets must be an array of integers, found a string"},
		{name: "A4 three offsets", file: raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, zeros(4)), want: "data_offsets must be [begin, end], found more than 2 values"},
		{name: "A4 one offset", file: raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, zeros(4)), want: "data_offsets must be [begin, end], found 1 value(s)"},
		{name: "A5 rank 64", file: raw(`{"a":{"dtype":"F32","shape":[`+strings.Repeat("1,", 63)+`1],"data_offsets":[0,4]}}`, zeros(4))},
		{name: "A5 rank 65", file: raw(`{"a":{"dtype":"F32","shape":[`+strings.Repeat("1,", 64)+`1],"data_offsets":[0,4]}}`, zeros(4)), want: "shape has more than 64 values"},
		{name: "A4 leading zero", file: raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[00,4]}}`, zeros(4)), want: "without leading zeros"},

		// A5: shape against dtype and offsets.
		{name: "A5 shape x dtype mismatch", file: raw(`{"a":{"dtype":"I32","shape":[2,2],"data_offsets":[0,4]}}`, zeros(4)), want: `tensor "a": data_offsets [0, 4] do not match shape [2 2] x I32 = 16 bytes`},
		{name: "A5 dim over int range", file: raw(`{"a":{"dtype":"F32","shape":[2,18446744073709551614],"data_offsets":[0,8]}}`, zeros(8)), want: "shape value 18446744073709551614 is out of range"},
		{name: "A5 element count overflow", file: raw(`{"a":{"dtype":"F32","shape":[2,9223372036854775807],"data_offsets":[0,8]}}`, zeros(8)), want: "element count overflows int64"},
		{name: "A5 byte size overflow", file: raw(`{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}}`, zeros(8)), want: "byte size overflows int64"},
		{name: "A5 F4 odd element count", file: raw(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}`, zeros(1)), want: "misaligned packed dtype"},
		{name: "A5 F6 count not filling bytes", file: raw(`{"a":{"dtype":"F6_E2M3","shape":[2],"data_offsets":[0,2]}}`, zeros(2)), want: "misaligned packed dtype"},
		{name: "A5 F4 even count", file: raw(`{"a":{"dtype":"F4","shape":[2,3],"data_offsets":[0,3]}}`, zeros(3))},
		{name: "A5 F6 four elements", file: raw(`{"a":{"dtype":"F6_E3M2","shape":[4],"data_offsets":[0,3]}}`, zeros(3))},
		{name: "A5 negative dim", file: raw(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, nil), want: "shape must hold non-negative integers, found -1"},
		{name: "A5 float dim", file: raw(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, zeros(4)), want: "shape must hold integers, found 1.5"},
		{name: "A5 zero-size dim", file: raw("{"+f32Entry("a", "[1]", 0, 4)+","+f32Entry("empty", "[0,5]", 4, 4)+","+f32Entry("b", "[1]", 4, 8)+"}", zeros(8)), check: func(t *testing.T, f *File) {
			info, ok := f.Info("empty")
			if !ok || info.NumElements() != 0 || !reflect.DeepEqual(info.Shape, []int{0, 5}) {
				t.Errorf("Info(empty) = %+v, %v", info, ok)
			}
			b, err := f.Bytes("empty")
			if err != nil || len(b) != 0 {
				t.Errorf("Bytes(empty) = %v, %v", b, err)
			}
			v, err := f.Float32("empty")
			if err != nil || len(v) != 0 {
				t.Errorf("Float32(empty) = %v, %v", v, err)
			}
		}},
		{name: "A5 zero-size dim, [0,0], only tensor", file: raw(f32Entry("e", "[0]", 0, 0)[0:0]+"{"+f32Entry("e", "[0]", 0, 0)+"}", nil)},
		{name: "A5 zero dim with huge other dim", file: raw(`{"e":{"dtype":"F32","shape":[9223372036854775807,0],"data_offsets":[0,0]}}`, nil)},
		{name: "A5 empty tensor inside another", file: raw("{"+f32Entry("a", "[2]", 0, 8)+","+f32Entry("e", "[0]", 4, 4)+"}", zeros(8)), want: `tensor "e": data_offsets [4, 4] overlap tensor "a" [0, 8]`},
		{name: "A5 scalar", file: raw("{"+f32Entry("s", "[]", 0, 4)+"}", binary.LittleEndian.AppendUint32(nil, math.Float32bits(2.5))), check: func(t *testing.T, f *File) {
			info, _ := f.Info("s")
			if info.NumElements() != 1 || info.Shape == nil || len(info.Shape) != 0 {
				t.Errorf("scalar info = %+v, elements %d", info, info.NumElements())
			}
			v, err := f.Float32("s")
			if err != nil || len(v) != 1 || v[0] != 2.5 {
				t.Errorf("Float32(s) = %v, %v", v, err)
			}
		}},
		{name: "A5 scalar with wrong size", file: raw("{"+f32Entry("s", "[]", 0, 0)+"}", nil), want: "do not match shape [] x F32 = 4 bytes"},

		// A6: dtype, fields, metadata.
		{name: "A6 unknown dtype", file: raw(`{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}`, zeros(4)), want: `tensor "a": unknown dtype "F31"`},
		{name: "A6 lowercase dtype", file: raw(`{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, zeros(4)), want: `unknown dtype "f32" (dtypes are upper case, e.g. "F32")`},
		{name: "A6 dtype not a string", file: raw(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, zeros(4)), want: "dtype must be a string, found a number"},
		{name: "A6 extra field", file: raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"device":"cpu"}}`, zeros(4)), want: `unexpected field "device" in tensor entry`},
		{name: "A6 missing shape", file: raw(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, zeros(4)), want: `tensor entry has no "shape" field`},
		{name: "A6 missing everything", file: raw(`{"a":{}}`, nil), want: `tensor entry has no "dtype" field`},
		{name: "A6 entry not an object", file: raw(`{"a":[0,4]}`, zeros(4)), want: "entry must be a JSON object"},
		{name: "A6 metadata non-string value", file: raw(`{"__metadata__":{"step":1}}`, nil), want: `__metadata__ value for key "step" must be a string, found a number`},
		{name: "A6 metadata nested object", file: raw(`{"__metadata__":{"cfg":{"a":"b"}}}`, nil), want: `__metadata__ value for key "cfg" must be a string, found an object`},
		{name: "A6 metadata null value", file: raw(`{"__metadata__":{"k":null}}`, nil), want: "found null"},
		{name: "A6 metadata duplicate keys", file: raw(`{"__metadata__":{"k":"1","k":"2"}}`, nil), want: `duplicate key "k" in __metadata__`},
		{name: "A6 metadata twice", file: raw(`{"__metadata__":{},"__metadata__":{}}`, nil), want: `duplicate "__metadata__" key`},
		{name: "A6 metadata not an object", file: raw(`{"__metadata__":["a"]}`, nil), want: "__metadata__ must be a JSON object of string values, found an array"},
		{name: "A6 tensor named __metadata__", file: raw(`{"__metadata__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, zeros(4)), want: `__metadata__ value for key "shape" must be a string`},
		{name: "A6 metadata accepted", file: raw(`{"__metadata__":{"format":"pt","":"empty key","esc":"a\"b\\c\u00e9\n"},`+f32Entry("a", "[1]", 0, 4)[0:]+"}", zeros(4)), check: func(t *testing.T, f *File) {
			want := map[string]string{"format": "pt", "": "empty key", "esc": "a\"b\\c\u00e9\n"}
			if got := f.Metadata(); !reflect.DeepEqual(got, want) {
				t.Errorf("Metadata = %q, want %q", got, want)
			}
		}},

		// A7: the data section must be covered exactly.
		{name: "A7 trailing byte (polyglot)", file: raw(one, zeros(5)), want: "1 trailing bytes belong to no tensor"},
		{name: "A7 one byte missing", file: raw(one, zeros(3)), want: "extend past the end of the data section (3 bytes)"},
		{name: "A7 no tensors but data", file: raw(`{}`, zeros(3)), want: "3 trailing bytes"},
		{name: "A7 no tensors, no data", file: raw(`{}`, nil), check: func(t *testing.T, f *File) {
			if f.Len() != 0 || f.Metadata() != nil {
				t.Errorf("Len = %d, Metadata = %v", f.Len(), f.Metadata())
			}
		}},

		// A8: names.
		{name: "A8 NUL in name", file: raw(`{"a\u0000b":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil), want: "tensor name contains a NUL byte"},
		{name: "A8 empty name", file: raw(`{"":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil), want: "tensor name is empty"},
		{name: "A8 lone high surrogate", file: raw(`{"\ud800":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil), want: "unpaired UTF-16 surrogate"},
		{name: "A8 lone low surrogate", file: raw(`{"x\udc00":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil), want: "unpaired UTF-16 surrogate"},
		{name: "A8 high surrogate then letter", file: raw(`{"\ud800\u0041":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil), want: "unpaired UTF-16 surrogate"},
		{name: "A8 surrogate in metadata", file: raw(`{"__metadata__":{"k":"\udfff"}}`, nil), want: "unpaired UTF-16 surrogate"},
		{name: "A8 surrogate pair", file: raw(`{"\ud83d\ude00":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil), check: func(t *testing.T, f *File) {
			if _, ok := f.Info("\U0001F600"); !ok {
				t.Errorf("surrogate pair not decoded: %v", f.Tensors())
			}
		}},
		{name: "A8 slash and dot-dot names", file: raw(`{"../../etc/passwd":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"/abs/x":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},"..":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}}`, []byte{7, 9}), check: func(t *testing.T, f *File) {
			for name, want := range map[string][]byte{"../../etc/passwd": {7}, "/abs/x": {9}, "..": {}} {
				if b, err := f.Bytes(name); err != nil || !bytes.Equal(b, want) {
					t.Errorf("Bytes(%q) = %v, %v; want %v", name, b, err, want)
				}
			}
		}},
		{name: "A8 1 MB name", file: raw(`{"`+longName+`":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}), check: func(t *testing.T, f *File) {
			if _, ok := f.Info(longName); !ok {
				t.Error("1 MB name not found")
			}
		}},
		{name: "A8 1 MB name in an error", file: raw(`{"`+longName+`":{"dtype":"U8","shape":[2],"data_offsets":[0,1]}}`, []byte{1}), want: "…(1048576 bytes)"},

		// A10: payloads are returned as stored.
		{name: "A10 NaN, Inf, subnormal payloads", file: raw(`{"f16":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"f32":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}`,
			binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(
				[]byte{0x01, 0x7e, 0x00, 0x7c, 0x01, 0x00, 0x00, 0xfc}, // F16: NaN 0x7e01, +Inf, smallest subnormal, -Inf
				0x7fc00001), 0x7f800000), 0x00000001), 0xff800001)), // F32: quiet NaN with payload, +Inf, subnormal, signalling NaN
			check: func(t *testing.T, f *File) {
				v, err := f.Float32("f32")
				if err != nil {
					t.Fatal(err)
				}
				for i, want := range []uint32{0x7fc00001, 0x7f800000, 0x00000001, 0xff800001} {
					if got := math.Float32bits(v[i]); got != want {
						t.Errorf("f32[%d] bits = %#x, want %#x", i, got, want)
					}
				}
				h, err := f.Float32("f16")
				if err != nil {
					t.Fatal(err)
				}
				if !math.IsNaN(float64(h[0])) || !math.IsInf(float64(h[1]), 1) || h[2] != float32(math.Ldexp(1, -24)) || !math.IsInf(float64(h[3]), -1) {
					t.Errorf("f16 = %v", h)
				}
			}},

		// A12: a data section that starts at an offset that is not a multiple of 8.
		{name: "A12 unaligned data start", file: raw(`{"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"f":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`+" ",
			binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint64(nil, math.Float64bits(-1.5)), math.Float32bits(3))),
			check: func(t *testing.T, f *File) {
				if f.DataStart()%8 == 0 {
					t.Fatalf("test file is aligned (data start %d)", f.DataStart())
				}
				d, err1 := f.Float32("d")
				s, err2 := f.Float32("f")
				if err1 != nil || err2 != nil || d[0] != -1.5 || s[0] != 3 {
					t.Errorf("Float32 = %v %v, %v %v", d, err1, s, err2)
				}
			}},
	}
}

// TestHostile runs every hostile case through Parse and through Open of the same bytes on disk.
func TestHostile(t *testing.T) {
	dir := t.TempDir()
	for i, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.file)
			checkHostile(t, c, f, err, "")
			if t.Failed() {
				return
			}
			path := filepath.Join(dir, fmt.Sprintf("case%d.safetensors", i))
			if err := os.WriteFile(path, c.file, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err = Open(path)
			checkHostile(t, c, f, err, path)
			if f != nil {
				if err := f.Close(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func checkHostile(t *testing.T, c hostileCase, f *File, err error, path string) {
	t.Helper()
	if c.want == "" {
		if err != nil {
			t.Fatalf("rejected a valid file: %v", err)
		}
		checkConsistent(t, f, c.file)
		if c.check != nil {
			c.check(t, f)
		}
		return
	}
	if err == nil {
		t.Fatalf("accepted; want error containing %q", c.want)
	}
	msg := err.Error()
	if !strings.Contains(msg, c.want) {
		t.Errorf("error %q\ndoes not contain %q", msg, c.want)
	}
	if !errors.Is(err, ErrFormat) {
		t.Errorf("error %q is not ErrFormat", msg)
	}
	var se *Error
	if !errors.As(err, &se) || se.File != path {
		t.Errorf("error %q does not name the file %q", msg, path)
	}
	if path != "" && !strings.HasPrefix(msg, "safetensors: "+path+": ") {
		t.Errorf("error %q does not start with the file name", msg)
	}
	if len(msg) > 2000 {
		t.Errorf("error message is %d bytes long", len(msg))
	}
}

// checkConsistent checks the invariants of an accepted file: tensors tile the data section in
// order, each is found by name, its bytes are the file's bytes, and float tensors convert.
func checkConsistent(t *testing.T, f *File, file []byte) {
	t.Helper()
	dataLen := int64(len(file)) - f.DataStart()
	ts := f.Tensors()
	if len(ts) != f.Len() {
		t.Fatalf("Tensors has %d entries, Len %d", len(ts), f.Len())
	}
	var cursor int64
	for _, ti := range ts {
		if ti.Begin != cursor || ti.End < ti.Begin {
			t.Fatalf("tensor %q [%d, %d] does not start at %d", ti.Name, ti.Begin, ti.End, cursor)
		}
		cursor = ti.End
		if ti.Name == "" || ti.Name == metadataKey || strings.IndexByte(ti.Name, 0) >= 0 || !ti.DType.Valid() {
			t.Fatalf("bad tensor accepted: %+v", ti)
		}
		nb, why := ti.DType.byteLen(ti.NumElements())
		if why != "" || nb != ti.End-ti.Begin {
			t.Fatalf("tensor %q: size %d (%s), range %d", ti.Name, nb, why, ti.End-ti.Begin)
		}
		got, ok := f.Info(ti.Name)
		if !ok || !reflect.DeepEqual(got, ti) {
			t.Fatalf("Info(%q) = %+v, %v; want %+v", ti.Name, got, ok, ti)
		}
		b, err := f.Bytes(ti.Name)
		if err != nil {
			t.Fatalf("Bytes(%q): %v", ti.Name, err)
		}
		if want := file[f.DataStart()+ti.Begin : f.DataStart()+ti.End]; !bytes.Equal(b, want) {
			t.Fatalf("Bytes(%q) differ from the file", ti.Name)
		}
		v, err := f.Float32(ti.Name)
		if ti.DType.Float() {
			if err != nil || int64(len(v)) != ti.NumElements() {
				t.Fatalf("Float32(%q) = %d values, %v; want %d", ti.Name, len(v), err, ti.NumElements())
			}
		} else if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), quoteName(ti.Name)) {
			t.Fatalf("Float32(%q) of %s: error %v, want ErrUnsupported naming the tensor", ti.Name, ti.DType, err)
		}
	}
	if cursor != dataLen {
		t.Fatalf("tensors cover %d of %d data bytes", cursor, dataLen)
	}
	if _, err := f.Bytes("no such tensor"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Bytes of a missing tensor: %v", err)
	}
}

// TestHeaderLengthAllocatesNothing: a header length just under the limit, in a tiny file,
// must be rejected before any buffer of that size is allocated.
func TestHeaderLengthAllocatesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "liar.safetensors")
	if err := os.WriteFile(path, rawN(MaxHeaderSize, "{}", nil), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, open := range []func() (*File, error){
		func() (*File, error) { return Open(path) },
		func() (*File, error) { return Parse(rawN(MaxHeaderSize, "{}", nil)) },
		func() (*File, error) { return Parse(rawN(math.MaxUint64, "{}", nil)) },
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := open(); err == nil {
			t.Fatal("accepted")
		}
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("allocated %d bytes rejecting a lying header length", d)
		}
	}
}

// TestManyTinyTensors parses a header of 200,000 tensors (a scaled-down version of millions
// of tensors in a 100 MB header) and checks that memory stays proportional to the header.
func TestManyTinyTensors(t *testing.T) {
	const n = 200_000
	file := manyTensors(n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f, err := Parse(file)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != n {
		t.Fatalf("Len = %d", f.Len())
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("header %d bytes, %d tensors: allocated %d bytes (%.1f per header byte)", f.DataStart(), n, alloc, float64(alloc)/float64(f.DataStart()))
	if alloc > 16*uint64(f.DataStart()) {
		t.Errorf("allocated %d bytes for a %d-byte header", alloc, f.DataStart())
	}
	last := f.Tensors()[n-1]
	if b, err := f.Bytes(last.Name); err != nil || len(b) != 1 || b[0] != byte((n-1)%256) {
		t.Errorf("last tensor %+v: %v %v", last, b, err)
	}
}

// manyTensors builds a file of n one-byte tensors, listed in reverse offset order.
func manyTensors(n int) []byte {
	var h strings.Builder
	h.WriteByte('{')
	for i := n - 1; i >= 0; i-- {
		s := strconv.Itoa(i)
		h.WriteString(`"t` + s + `":{"dtype":"U8","shape":[1],"data_offsets":[` + s + "," + strconv.Itoa(i+1) + "]}")
		if i > 0 {
			h.WriteByte(',')
		}
	}
	h.WriteByte('}')
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i)
	}
	return raw(h.String(), data)
}

func BenchmarkParseManyTensors(b *testing.B) {
	file := manyTensors(200_000)
	b.SetBytes(int64(len(file)))
	for b.Loop() {
		if _, err := Parse(file); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPathologicalHeaders: large headers built to stress the JSON pass (huge rank, deep
// nesting, a million metadata keys, escape-heavy strings) are handled in one linear pass with
// memory proportional to the header.
func TestPathologicalHeaders(t *testing.T) {
	const big = 1 << 20
	rank := "[" + strings.Repeat("1,", big) + "1]"
	esc := strings.Repeat(`\u0041`, big)
	var meta strings.Builder
	meta.WriteString(`{"__metadata__":{`)
	for i := range big / 4 {
		if i > 0 {
			meta.WriteByte(',')
		}
		meta.WriteString(`"k` + strconv.Itoa(i) + `":""`)
	}
	meta.WriteString("}}")
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"rank of a million", raw(`{"a":{"dtype":"U8","shape":`+rank+`,"data_offsets":[0,1]}}`, []byte{5}), "shape has more than 64 values"},
		{"deep nesting", raw(`{"a":{"dtype":"U8","shape":`+strings.Repeat("[", big), nil), "shape must hold integers, found an array"},
		{"deep nesting in metadata", raw(`{"__metadata__":`+strings.Repeat(`{"a":`, big), nil), "must be a string, found an object"},
		{"a million escapes", raw(`{"`+esc+`":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil), ""},
		{"quarter million metadata keys", raw(meta.String(), nil), ""},
		{"a million commas", raw(`{"a":{"dtype":"U8","shape":[`+strings.Repeat(",", big)+`]}}`, nil), "shape must hold integers, found ','"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			f, err := Parse(c.file)
			runtime.ReadMemStats(&after)
			if c.want == "" && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if f != nil {
				checkConsistent(t, f, c.file)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16*uint64(len(c.file))+1<<20 {
				t.Errorf("allocated %d bytes for a %d-byte file", alloc, len(c.file))
			}
		})
	}
}

// TestConcurrentReads reads every tensor from several goroutines at once (run with -race).
func TestConcurrentReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	var ts []Tensor
	for i := range 8 {
		v := make([]float32, 1000)
		for j := range v {
			v[j] = float32(i*1000 + j)
		}
		ts = append(ts, F32("t"+strconv.Itoa(i), []int{10, 100}, v))
	}
	if err := WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 8 {
				name := "t" + strconv.Itoa((g+i)%8)
				v, err := f.Float32(name)
				if err == nil && v[999] != float32(((g+i)%8)*1000+999) {
					err = fmt.Errorf("%s[999] = %v", name, v[999])
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
