package data

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/tensor"
)

func TestLoadCorpus(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.txt", "second")
	write("a.txt", "first\n")
	write("sub/c.md", "third")
	write(".hidden/x.txt", "hidden")
	write(".secret.txt", "hidden too")
	write("blob.bin", "bin\x00ary")
	write("empty.txt", "")

	c, err := LoadCorpus(dir, nil, MaxCorpusBytes)
	if err != nil {
		t.Fatal(err)
	}
	if want := "first\nsecond\nthird\n"; c.Text != want {
		t.Fatalf("corpus %q, want %q (sorted, newline-terminated, hidden and binary files skipped)", c.Text, want)
	}
	if len(c.Files) != 3 || !strings.Contains(c.Desc, "3 files") {
		t.Fatalf("files %v, desc %q", c.Files, c.Desc)
	}
	md, err := LoadCorpus(dir, []string{".md"}, MaxCorpusBytes)
	if err != nil || md.Text != "third\n" {
		t.Fatalf("extension filter: %q, %v", md.Text, err)
	}
	capped, err := LoadCorpus(dir, nil, 8)
	if err != nil || capped.Text != "first\n" {
		t.Fatalf("size cap: %q, %v", capped.Text, err)
	}
	one, err := LoadCorpus(filepath.Join(dir, "b.txt"), nil, MaxCorpusBytes)
	if err != nil || one.Text != "second" {
		t.Fatalf("single file: %q, %v", one.Text, err)
	}
	if _, err := LoadCorpus(filepath.Join(dir, "empty.txt"), nil, MaxCorpusBytes); !errors.Is(err, ErrEmptyCorpus) {
		t.Fatalf("empty file: %v", err)
	}
	os.MkdirAll(filepath.Join(dir, "none"), 0o755)
	if _, err := LoadCorpus(filepath.Join(dir, "none"), nil, MaxCorpusBytes); !errors.Is(err, ErrEmptyCorpus) {
		t.Fatalf("empty folder: %v", err)
	}
	if _, err := LoadCorpus(filepath.Join(dir, "missing"), nil, MaxCorpusBytes); err == nil {
		t.Fatal("missing path accepted")
	}
}

func TestGoSource(t *testing.T) {
	c, err := GoSource(1 << 20)
	if err != nil {
		t.Skipf("no Go distribution here: %v", err)
	}
	if len(c.Text) == 0 || len(c.Text) > 1<<20 || !strings.Contains(c.Text, "package ") {
		t.Fatalf("Go source corpus of %d bytes", len(c.Text))
	}
	if len(c.Ends) != len(c.Files) || c.Ends[len(c.Ends)-1] != len(c.Text) {
		t.Fatalf("%d file ends for %d files, the last at %d of %d bytes", len(c.Ends), len(c.Files), c.Ends[len(c.Ends)-1], len(c.Text))
	}
	if _, val, files, ok := c.HoldOut(0.1); !ok || files < 2 || val == "" {
		t.Fatalf("the Go source holds out %d whole files (ok %v)", files, ok)
	}
}

func TestBatches(t *testing.T) {
	ids := make([]int, 100)
	for i := range ids {
		ids[i] = i
	}
	train, val, err := Split(ids, 0.9)
	if err != nil || len(train) != 90 || len(val) != 10 || val[0] != 90 {
		t.Fatalf("split %d/%d, %v", len(train), len(val), err)
	}
	for _, frac := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, 1, -0.5, 1.5} {
		if _, _, err := Split(ids, frac); err == nil {
			t.Errorf("Split accepted a training share of %g", frac)
		}
	}
	if err := CheckBlock("validation", val, 9); err != nil {
		t.Fatal(err)
	}
	if err := CheckBlock("validation", val, 10); err == nil || !strings.Contains(err.Error(), "--block") {
		t.Fatalf("block as long as the split: %v", err)
	}
	const b, T = 4, 8
	x, y := make([]int, b*T), make([]int, b*T)
	x2, y2 := make([]int, b*T), make([]int, b*T)
	RandomBatch(train, b, T, tensor.NewRNG(3), x, y)
	RandomBatch(train, b, T, tensor.NewRNG(3), x2, y2)
	for i := range x {
		if y[i] != x[i]+1 || x[i] != x2[i] || x[i] < 0 || y[i] >= 90 {
			t.Fatalf("batch element %d: x %d y %d (same seed: %d)", i, x[i], y[i], x2[i])
		}
	}
	if n := Windows(val, 3); n != 3 {
		t.Fatalf("%d windows of 3 in 10 tokens, want 3", n)
	}
	wx, wy := make([]int, 3), make([]int, 3)
	Window(val, 3, 2, wx, wy)
	if wx[0] != 96 || wy[2] != 99 {
		t.Fatalf("window 2: %v %v", wx, wy)
	}
}

// A folder corpus holds out whole files, chosen by a seeded hash of their relative paths: the
// same files wherever the folder lies, about the requested share, every file on one side only,
// and a fair sample rather than the last files in path order. A single file, or files too large
// for the share, are left to the tail split.
func TestHoldOut(t *testing.T) {
	write := func(dir string) {
		for i := range 40 {
			p := filepath.Join(dir, fmt.Sprintf("d%d", i%4), fmt.Sprintf("f%02d.txt", i))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(strings.Repeat(fmt.Sprintf("file %02d. ", i), 10+i%7)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, b := t.TempDir(), t.TempDir()
	write(a)
	write(b)
	ca, err := LoadCorpus(a, nil, MaxCorpusBytes)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := LoadCorpus(b, nil, MaxCorpusBytes)
	if err != nil {
		t.Fatal(err)
	}
	train, val, files, ok := ca.HoldOut(0.1)
	if !ok || files == 0 || files >= 40 {
		t.Fatalf("held out %d of 40 files (ok %v)", files, ok)
	}
	if len(train)+len(val) != len(ca.Text) || float64(len(val)) > 0.1*float64(len(ca.Text)) || float64(len(val)) < 0.05*float64(len(ca.Text)) {
		t.Fatalf("validation %d of %d bytes, want 5–10 %%", len(val), len(ca.Text))
	}
	var heldAt []int // positions in path order of the held-out files
	for i, f := range ca.Files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		name = "file " + strings.TrimPrefix(name, "f") + ". "
		inT, inV := strings.Contains(train, name), strings.Contains(val, name)
		if inT == inV {
			t.Fatalf("%q in training %v, in validation %v: want exactly one", name, inT, inV)
		}
		if inV {
			heldAt = append(heldAt, i)
		}
	}
	if len(heldAt) != files || heldAt[0] >= len(ca.Files)-files {
		t.Fatalf("held out files %v of %d (reported %d): want a sample, not the last in path order", heldAt, len(ca.Files), files)
	}
	train2, val2, _, _ := cb.HoldOut(0.1)
	if train2 != train || val2 != val {
		t.Fatal("the same files in another folder are split differently")
	}

	one, err := LoadCorpus(ca.Files[0], nil, MaxCorpusBytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := one.HoldOut(0.1); ok {
		t.Fatal("a single file held out by files")
	}
	big := t.TempDir()
	os.WriteFile(filepath.Join(big, "a.txt"), []byte(strings.Repeat("a", 1000)), 0o644)
	os.WriteFile(filepath.Join(big, "b.txt"), []byte(strings.Repeat("b", 1000)), 0o644)
	cbig, err := LoadCorpus(big, nil, MaxCorpusBytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := cbig.HoldOut(0.1); ok {
		t.Fatal("two files each larger than the share held out by files")
	}
	for _, frac := range []float64{math.NaN(), 0, 1, math.Inf(1)} {
		if _, _, _, ok := ca.HoldOut(frac); ok {
			t.Errorf("HoldOut accepted a share of %g", frac)
		}
	}
}
