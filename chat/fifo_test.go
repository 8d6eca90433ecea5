//go:build unix

package chat

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/internal/testenv"
)

// A named pipe as tokenizer_config.json is refused at once.
func TestLoadNamedPipe(t *testing.T) {
	dir := t.TempDir()
	testenv.Mkfifo(t, filepath.Join(dir, ConfigFile))
	err := testenv.Unblocked(t, func() error { _, err := Load(dir); return err })
	if !errors.Is(err, fileutil.ErrNotRegular) {
		t.Fatalf("error %v; want one saying it is not a regular file", err)
	}
}
