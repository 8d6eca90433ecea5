//go:build unix

package tokenizer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/internal/testenv"
)

// A named pipe where a tokenizer file should be is refused at once: opening one for reading
// blocks until a writer appears, and reading it may never end.
func TestLoadRefusesNamedPipes(t *testing.T) {
	cases := []struct {
		fifo    string   // the file that is a named pipe
		regular []string // its companions, regular files
		load    func(dir string) error
	}{
		{qkvTokenizerFile, nil, loadDir},
		{tokenizerJSONFile, nil, loadDir},
		{tokenizerJSONFile, nil, func(dir string) error { _, err := LoadTokenizerJSON(filepath.Join(dir, tokenizerJSONFile)); return err }},
		{"vocab.json", []string{"merges.txt"}, loadDir},
		{"merges.txt", []string{"vocab.json"}, loadDir},
		{"encoder.json", []string{"vocab.bpe"}, func(dir string) error { _, err := LoadGPT2(dir); return err }},
		{"vocab.bpe", []string{"encoder.json"}, func(dir string) error { _, err := LoadGPT2(dir); return err }},
		{specialTokensMapFile, []string{"vocab.json", "merges.txt"}, loadDir},
		{vocabTxtFile, nil, loadDir},
		{vocabTxtFile, nil, func(dir string) error { _, err := LoadWordPiece(dir, true); return err }},
		{tokenizerConfigFile, []string{vocabTxtFile}, loadDir},
	}
	for _, c := range cases {
		t.Run(c.fifo+"+"+strings.Join(c.regular, "+"), func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range c.regular {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("{}\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			testenv.Mkfifo(t, filepath.Join(dir, c.fifo))
			err := testenv.Unblocked(t, func() error { return c.load(dir) })
			if !errors.Is(err, fileutil.ErrNotRegular) || !strings.Contains(err.Error(), c.fifo) || !strings.Contains(err.Error(), "named pipe") {
				t.Fatalf("error %v; want one saying %s is a named pipe, not a regular file", err, c.fifo)
			}
		})
	}
}

func loadDir(dir string) error {
	_, err := Load(dir)
	return err
}
