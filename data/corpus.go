// Package data reads training text and turns token streams into batches: corpora from a file or
// a folder of text files, train/validation splits, random next-token batches and the
// non-overlapping windows used for evaluation.
package data

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/qkvdev/qkv/internal/fileutil"
)

// Corpus is training text and where it came from.
type Corpus struct {
	Text  string
	Files []string // files read, in order
	Ends  []int    // where each file's text ends in Text (its added newline included)
	Root  string   // the folder the files were found under; "" for a single file
	Desc  string   // human-readable origin, e.g. "tinyshakespeare/input.txt (1.1 MB)"
}

// MaxCorpusBytes is the default limit on how much text a corpus reads.
const MaxCorpusBytes = 256 << 20

// ErrEmptyCorpus is returned when a corpus holds no text.
var ErrEmptyCorpus = errors.New("the corpus is empty")

// LoadCorpus reads path: a text file (one that looks binary is refused with ErrNotText; a
// named pipe or device with fileutil.ErrNotRegular), or a folder whose text files (found recursively, in
// lexical order, hidden entries and binary files skipped) are concatenated, each followed by a
// newline if it lacks one. ext, if non-empty, keeps only files with those extensions (".go").
// At most maxBytes are read (whole files only, except a single oversized file, which is cut).
func LoadCorpus(path string, ext []string, maxBytes int64) (*Corpus, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	if !st.IsDir() {
		text, err := readText(path, maxBytes)
		if err != nil {
			return nil, err
		}
		if len(text) == 0 {
			return nil, fmt.Errorf("corpus: %s: %w", path, ErrEmptyCorpus)
		}
		if why := whyNotText(text); why != "" {
			return nil, fmt.Errorf("corpus: %s does not look like text (%s); give a text file or a folder of them: %w", path, why, ErrNotText)
		}
		return &Corpus{Text: text, Files: []string{path}, Desc: fmt.Sprintf("%s (%s)", path, size(len(text)))}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != path && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if len(ext) > 0 && !slices.Contains(ext, filepath.Ext(name)) {
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	var b strings.Builder
	c := &Corpus{Root: path}
	for _, f := range files {
		if int64(b.Len()) >= maxBytes {
			break
		}
		text, err := readText(f, maxBytes)
		if err != nil || text == "" || whyNotText(text) != "" {
			continue // unreadable or binary: skip
		}
		if int64(b.Len()+len(text)) > maxBytes && b.Len() > 0 {
			break
		}
		b.WriteString(text)
		if !strings.HasSuffix(text, "\n") {
			b.WriteByte('\n')
		}
		c.Files = append(c.Files, f)
		c.Ends = append(c.Ends, b.Len())
	}
	if b.Len() == 0 {
		return nil, fmt.Errorf("corpus: %s: no text files found: %w", path, ErrEmptyCorpus)
	}
	c.Text = b.String()
	c.Desc = fmt.Sprintf("%d files under %s (%s)", len(c.Files), path, size(b.Len()))
	return c, nil
}

// GoSource is the default corpus, which needs no network: the Go distribution's own source
// code (.go files under $GOROOT/src, tests and testdata excluded), up to maxBytes.
func GoSource(maxBytes int64) (*Corpus, error) {
	root := goroot()
	if root == "" {
		return nil, fmt.Errorf("corpus: cannot find the Go distribution (GOROOT); pass --data FILE")
	}
	src := filepath.Join(root, "src")
	var files []string
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("corpus: reading %s: %w", src, err)
	}
	var b strings.Builder
	c := &Corpus{Root: src}
	for _, f := range files {
		data, err := readText(f, maxBytes)
		if err != nil || !utf8.ValidString(data) {
			continue
		}
		if int64(b.Len()+len(data)) > maxBytes {
			break
		}
		b.WriteString(data)
		c.Files = append(c.Files, f)
		c.Ends = append(c.Ends, b.Len())
	}
	if b.Len() == 0 {
		return nil, fmt.Errorf("corpus: no Go source found under %s: %w", src, ErrEmptyCorpus)
	}
	c.Text = b.String()
	c.Desc = fmt.Sprintf("the Go standard library source: %d files under %s (%s)", len(c.Files), src, size(b.Len()))
	return c, nil
}

func goroot() string {
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		if r := strings.TrimSpace(string(out)); r != "" {
			return r
		}
	}
	if r := os.Getenv("GOROOT"); r != "" {
		return r
	}
	//lint:ignore SA1019 the last resort when neither the go command nor $GOROOT is there
	return runtime.GOROOT()
}

// readText reads at most maxBytes of the regular file at path. Anything else (a named pipe, a
// device such as /dev/urandom, a socket) is refused without blocking.
func readText(path string, maxBytes int64) (string, error) {
	f, err := fileutil.Open(path)
	if err != nil {
		return "", fmt.Errorf("corpus: %w", err)
	}
	defer f.Close()
	var b strings.Builder
	if st, err := f.Stat(); err == nil {
		b.Grow(int(min(st.Size(), maxBytes)))
	}
	if _, err := io.Copy(&b, io.LimitReader(f, maxBytes)); err != nil {
		return "", fmt.Errorf("corpus: %s: %w", path, err)
	}
	return b.String(), nil
}

// ErrNotText is returned (wrapped) by LoadCorpus for a file that looks binary.
var ErrNotText = errors.New("not text")

// whyNotText says why s does not look like text, or returns "" when it does. Text has no NUL
// byte and almost no other control characters (tab, newline, vertical tab, form feed, carriage
// return and escape are fine); the whole of s is checked, not only its start, as binary data
// such as compressed or random bytes has about one control character in ten. Text in any 8-bit
// encoding passes: its bytes are not checked as UTF-8.
func whyNotText(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Sprintf("it has a NUL byte at offset %d", i)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && !textControl[c] || c == 0x7f {
			n++
		}
	}
	if n > 8 && n > len(s)/100 {
		return fmt.Sprintf("%d of its %d bytes are control characters", n, len(s))
	}
	return ""
}

// textControl marks the control characters that text holds.
var textControl = [0x20]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, 0x1b: true}

func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
