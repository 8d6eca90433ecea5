//go:build unix

package tasks

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/internal/testenv"
)

// A named pipe as a task file (24.csv, GSM8K JSONL, a puzzle list) is refused at once.
func TestLoadGame24NamedPipe(t *testing.T) {
	for name, load := range map[string]func(string) error{
		"24.csv":     func(p string) error { _, err := LoadGame24(p); return err },
		"test.jsonl": func(p string) error { _, err := LoadGSM8K(p); return err },
		"lines.txt":  func(p string) error { _, err := LoadLines(p); return err },
	} {
		path := filepath.Join(t.TempDir(), name)
		testenv.Mkfifo(t, path)
		err := testenv.Unblocked(t, func() error { return load(path) })
		if !errors.Is(err, fileutil.ErrNotRegular) {
			t.Fatalf("%s: error %v; want one saying it is not a regular file", name, err)
		}
	}
}
