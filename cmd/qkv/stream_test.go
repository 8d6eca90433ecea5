package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tokenizer"
)

// limitWriter accepts n bytes, then fails every write.
type limitWriter struct {
	n      int
	writes int
	buf    bytes.Buffer
}

func (w *limitWriter) Write(p []byte) (int, error) {
	w.writes++
	if len(p) > w.n {
		w.buf.Write(p[:w.n])
		k := w.n
		w.n = 0
		return k, errors.New("no space left")
	}
	w.n -= len(p)
	return w.buf.Write(p)
}

// The streamer writes each token's new text once, stops generation at the first failed write
// and keeps that error.
func TestStreamerWriteError(t *testing.T) {
	tok := tokenizer.Byte{}
	ids := tok.Encode("hello, world")
	w := &limitWriter{n: 1 << 20}
	s := newStreamer(w, tok, nil)
	for _, id := range ids {
		if !s.emit(id) {
			t.Fatalf("emit stopped: %v", s.err)
		}
	}
	s.flush()
	if s.err != nil || w.buf.String() != "hello, world" || w.writes != len(ids) {
		t.Fatalf("wrote %q in %d writes (%v), want one write per token", w.buf.String(), w.writes, s.err)
	}

	w = &limitWriter{n: 3}
	s = newStreamer(w, tok, nil)
	emitted := 0
	for _, id := range ids {
		emitted++
		if !s.emit(id) {
			break
		}
	}
	s.flush()
	s.writeString("\n")
	if emitted != 4 || s.err == nil || !strings.Contains(s.err.Error(), "no space left") || w.writes != 4 {
		t.Fatalf("after a failed write: %d tokens, %d writes, err %v", emitted, w.writes, s.err)
	}
}

// tinyLM saves a small random GPT with a byte tokenizer and returns its folder.
func tinyLM(t *testing.T) string {
	t.Helper()
	m, err := gpt.New(gpt.Config{VocabSize: 256, NPositions: 64, NEmbd: 16, NLayer: 1, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := (tokenizer.Byte{}).Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// generate reports a failed write of the generated text (a full disk, a closed pipe) as an
// error instead of exiting 0.
func TestGenerateWriteErrors(t *testing.T) {
	model := tinyLM(t)
	args := []string{"generate", "--model", model, "--max-tokens", "20", "--seed", "1", "hello"}
	if out, err := run(t, "", args...); err != nil || !strings.HasPrefix(out, "hello") {
		t.Fatalf("generate: %q, %v", out, err)
	}

	// Into a regular file (written in one piece at the end), the same text.
	want, _ := run(t, "", args...)
	file, err := os.Create(filepath.Join(t.TempDir(), "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	root := newRoot()
	root.SetOut(file)
	root.SetArgs(args)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	file.Close()
	if got, err := os.ReadFile(file.Name()); err != nil || string(got) != want {
		t.Fatalf("into a file: %q, %v; want %q", got, err, want)
	}

	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	r, pipe, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer pipe.Close()
	for name, c := range map[string]struct {
		w    io.Writer
		want string
	}{
		"/dev/full":   {full, "no space left on device"},
		"closed pipe": {pipe, "broken pipe"},
		"fails late":  {&limitWriter{n: 8}, "no space left"},
	} {
		root := newRoot()
		var stderr bytes.Buffer
		root.SetOut(c.w)
		root.SetErr(&stderr)
		root.SetArgs(args)
		err := root.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), "writing the generated text") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error about writing (%s)", name, err, c.want)
		}
	}
}
