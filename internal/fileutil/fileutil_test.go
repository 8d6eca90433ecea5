//go:build unix

package fileutil

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
)

type readCase struct {
	name  string
	path  string
	limit int64
	want  string // the content, or a fragment of the error
	err   error
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular.txt")
	if err := os.WriteFile(regular, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.txt")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	testenv.Mkfifo(t, fifo)
	fifoLink := filepath.Join(dir, "fifo-link")
	if err := os.Symlink(fifo, fifoLink); err != nil {
		t.Fatal(err)
	}
	cases := []readCase{
		{"regular", regular, 5, "hello", nil},
		{"symlink to a regular file", link, 100, "hello", nil},
		{"larger than the limit", regular, 4, "is larger than 4 bytes; it is not a greeting", ErrTooLarge},
		{"folder", dir, 100, "it is a folder", ErrNotRegular},
		{"missing", filepath.Join(dir, "missing"), 100, "no such file", os.ErrNotExist},
		{"named pipe", fifo, 100, "not a regular file (it is a named pipe (FIFO))", ErrNotRegular},
		{"symlink to a named pipe", fifoLink, 100, "a named pipe", ErrNotRegular},
	}
	if _, err := os.Stat("/dev/urandom"); err == nil {
		cases = append(cases, readCase{"endless device", "/dev/urandom", 100, "it is a character device", ErrNotRegular})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var data []byte
			err := testenv.Unblocked(t, func() (err error) { data, err = ReadFile(c.path, c.limit, "a greeting"); return err })
			if c.err == nil {
				if err != nil || string(data) != c.want {
					t.Fatalf("got %q, %v; want %q", data, err, c.want)
				}
				return
			}
			if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
				t.Fatalf("error %v; want %v mentioning %q and the path", err, c.err, c.want)
			}
		})
	}
}
