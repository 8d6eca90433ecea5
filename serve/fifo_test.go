//go:build unix

package serve

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/internal/testenv"
)

// A named pipe as a model's tokenizer_config.json is refused at once.
func TestTokenizerConfigNamedPipe(t *testing.T) {
	dir := t.TempDir()
	testenv.Mkfifo(t, filepath.Join(dir, "tokenizer_config.json"))
	err := testenv.Unblocked(t, func() error { _, err := readTokenizerConfig(dir); return err })
	if !errors.Is(err, fileutil.ErrNotRegular) {
		t.Fatalf("error %v; want one saying it is not a regular file", err)
	}
}
