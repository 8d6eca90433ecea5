package data

import (
	"errors"
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
}

func TestBatches(t *testing.T) {
	ids := make([]int, 100)
	for i := range ids {
		ids[i] = i
	}
	train, val := Split(ids, 0.9)
	if len(train) != 90 || len(val) != 10 || val[0] != 90 {
		t.Fatalf("split %d/%d", len(train), len(val))
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
