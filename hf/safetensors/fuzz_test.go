package safetensors

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
)

// FuzzParse feeds arbitrary bytes to Parse. Rejected input must give an ErrFormat error that
// starts with "safetensors: "; accepted input must be self-consistent (tensors tile the data
// section, lookups agree, bytes are the file's bytes) and survive an Encode/Parse round trip.
// Run with: go test -fuzz=FuzzParse ./hf/safetensors
func FuzzParse(f *testing.F) {
	for _, c := range hostileCases() {
		if len(c.file) <= 4096 {
			f.Add(c.file)
		}
	}
	var buf bytes.Buffer
	if err := Encode(&buf, sampleTensors(), map[string]string{"format": "pt"}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	buf.Reset()
	if err := Encode(&buf, []Tensor{F16("x", []int{2}, []float32{1, 2}), BF16("y", nil, []float32{3})}, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	// The headers of the reference files, with their data sections cut to the first tensor.
	var paths []string
	if root, ok := testenv.ReferenceDir(); ok {
		paths, _ = filepath.Glob(filepath.Join(root, "*", "model.safetensors"))
	}
	for _, p := range paths {
		if g, err := Open(p); err == nil {
			b, _ := os.ReadFile(p)
			f.Add(b[:g.DataStart()+g.Tensors()[0].End])
			g.Close()
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		checkConsistent(t, file, data)
		var ts []Tensor
		for _, info := range file.Tensors() {
			tt, err := file.Tensor(info.Name)
			if err != nil {
				t.Fatal(err)
			}
			ts = append(ts, tt)
		}
		var out bytes.Buffer
		if err := Encode(&out, ts, file.Metadata()); err != nil {
			t.Fatalf("re-encoding an accepted file: %v", err)
		}
		again, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("re-parsing a re-encoded file: %v", err)
		}
		if again.Len() != file.Len() || !reflect.DeepEqual(again.Metadata(), file.Metadata()) {
			t.Fatalf("round trip changed the file: %d tensors, metadata %q", again.Len(), again.Metadata())
		}
		for _, tt := range ts {
			got, err := again.Tensor(tt.Name)
			if err != nil || got.DType != tt.DType || !slices.Equal(got.Shape, tt.Shape) || !bytes.Equal(got.Data, tt.Data) {
				t.Fatalf("round trip changed tensor %q: %+v, %v", tt.Name, got, err)
			}
		}
	})
}
