//go:build unix

package align

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/internal/testenv"
)

// A named pipe as a data file or as the special-tokens file of a tokenizer is refused at once.
func TestNamedPipes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "qkv_tokenizer.json"), []byte(`{"type": "byte"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data.jsonl")
	for _, p := range []string{filepath.Join(dir, SpecialTokensFile), data} {
		testenv.Mkfifo(t, p)
	}
	for name, f := range map[string]func() error{
		"readRecords":   func() error { return readRecords(data, func(json.RawMessage, string) error { return nil }) },
		"LoadTokenizer": func() error { _, err := LoadTokenizer(dir); return err },
	} {
		if err := testenv.Unblocked(t, f); !errors.Is(err, fileutil.ErrNotRegular) {
			t.Errorf("%s: error %v; want one saying it is not a regular file", name, err)
		}
	}
}
