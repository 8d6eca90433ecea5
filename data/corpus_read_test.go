//go:build unix

package data

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qkvdev/qkv/internal/fileutil"
)

// randomBytes returns n seeded random bytes; noNUL replaces NUL bytes so that only the share of
// control characters gives them away.
func randomBytes(n int, noNUL bool) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
		if noNUL && b[i] == 0 {
			b[i] = 'x'
		}
	}
	return b
}

func TestLoadCorpusRefusesWhatIsNotText(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	prose := strings.Repeat("To be, or not to be, that is the question:\n", 400) // 17 KB
	cases := []struct {
		name string
		path string
		err  error  // nil: loads
		msg  string // a fragment of the error
	}{
		{"named pipe", fifo, fileutil.ErrNotRegular, "named pipe"},
		{"endless device", "/dev/urandom", fileutil.ErrNotRegular, "character device"},
		{"random bytes", write("random.bin", randomBytes(1<<16, false)), ErrNotText, "NUL byte"},
		{"random bytes without NUL", write("random-nonul.bin", randomBytes(1<<16, true)), ErrNotText, "control characters"},
		{"text, then binary after the first 8 KB", write("late.bin", append([]byte(prose), randomBytes(4096, true)...)), ErrNotText, "control characters"},
		{"text, then a NUL after the first 8 KB", write("late-nul.txt", []byte(prose+"\x00")), ErrNotText, "NUL byte at offset 17200"},
		{"prose", write("prose.txt", []byte(prose)), nil, ""},
		{"Latin-1 text with tabs, CRLF and escapes", write("latin1.txt", []byte("caf\xe9\tna\xefve\r\n\x1b[1mbold\x1b[0m\f\n")), nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := os.Stat(c.path); err != nil {
				t.Skip(err)
			}
			var corpus *Corpus
			var err error
			done := make(chan struct{})
			go func() { defer close(done); corpus, err = LoadCorpus(c.path, nil, MaxCorpusBytes) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("LoadCorpus still blocked after 30s")
			}
			if c.err == nil {
				if err != nil || corpus.Text == "" {
					t.Fatalf("LoadCorpus: %v", err)
				}
				return
			}
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), c.path) {
				t.Fatalf("error %v; want %v saying %q and naming the file", err, c.err, c.msg)
			}
		})
	}
}

// A folder corpus skips named pipes and files that turn binary after their first 8 KB.
func TestLoadCorpusFolderSkipsWhatIsNotText(t *testing.T) {
	dir := t.TempDir()
	prose := strings.Repeat("All the world's a stage,\n", 400)
	for name, data := range map[string][]byte{
		"a.txt":    []byte(prose),
		"late.bin": append([]byte(prose), randomBytes(4096, true)...),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCorpus(dir, nil, MaxCorpusBytes)
	if err != nil {
		t.Fatal(err)
	}
	if c.Text != prose || len(c.Files) != 1 || filepath.Base(c.Files[0]) != "a.txt" {
		t.Fatalf("read %v (%d bytes); want only a.txt", c.Files, len(c.Text))
	}
}
