//go:build unix

package tasks

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/internal/testenv"
)

// A named pipe as 24.csv is refused at once.
func TestLoadGame24NamedPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "24.csv")
	testenv.Mkfifo(t, path)
	err := testenv.Unblocked(t, func() error { _, err := LoadGame24(path); return err })
	if !errors.Is(err, fileutil.ErrNotRegular) {
		t.Fatalf("error %v; want one saying it is not a regular file", err)
	}
}
