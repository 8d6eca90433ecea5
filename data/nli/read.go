package nli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/qkvdev/qkv/internal/fileutil"
)

// Format is how a file is laid out.
type Format int

const (
	// FormatAuto decides by the file: JSON lines when the first character is "{", TSV otherwise.
	FormatAuto Format = iota
	// FormatTSV is tab-separated values, one example a line, GLUE-style: no quoting (a quote is
	// a character of the text) and a header naming the columns; SciTail's TSV files have no
	// header and hold premise, hypothesis, label.
	FormatTSV
	// FormatJSONL is one JSON object a line.
	FormatJSONL
)

func (f Format) String() string {
	switch f {
	case FormatTSV:
		return "TSV"
	case FormatJSONL:
		return "JSON lines"
	}
	return "auto"
}

// MaxLineBytes bounds one line of a file.
const MaxLineBytes = 16 << 20

// Load reads one file of the task. Its format comes from the extension (.tsv, .jsonl), else
// from its first character. It refuses what is not a regular file.
func (t *Task) Load(path string) (*Dataset, error) {
	f, err := fileutil.Open(path) // refuses a folder, a FIFO, a device without blocking
	if errors.Is(err, fileutil.ErrNotRegular) {
		return nil, fmt.Errorf("nli: %w; give a .tsv or .jsonl file", err)
	}
	if err != nil {
		return nil, fmt.Errorf("nli: %w", err)
	}
	defer f.Close()
	format := FormatAuto
	switch strings.ToLower(filepath.Ext(path)) {
	case ".tsv":
		format = FormatTSV
	case ".jsonl":
		format = FormatJSONL
	}
	return t.Read(f, path, format)
}

// splitAliases are the names a split goes by in the benchmarks' folders.
var splitAliases = map[string][]string{
	"dev":        {"dev", "val", "validation"},
	"val":        {"val", "dev", "validation"},
	"validation": {"validation", "dev", "val"},
}

// LoadSplit finds and reads the file of a split ("train", "dev", "dev_matched", "test", …) in
// dir: a .jsonl, .tsv or .txt file named after the split ("dev.tsv", "val.jsonl") or holding it
// between underscores ("snli_1.0_dev.jsonl"); "dev", "val" and "validation" name one split.
func (t *Task) LoadSplit(dir, split string) (*Dataset, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("nli: %w", err)
	}
	names := splitAliases[split]
	if names == nil {
		names = []string{split}
	}
	for _, ext := range []string{".jsonl", ".tsv", ".txt"} {
		var found []string
		for _, e := range entries {
			base, ok := strings.CutSuffix(e.Name(), ext)
			if !ok || e.IsDir() {
				continue
			}
			for _, n := range names {
				if base == n || strings.HasSuffix(base, "_"+n) || strings.Contains(base, "_"+n+"_") {
					found = append(found, e.Name())
					break
				}
			}
		}
		switch len(found) {
		case 0:
			continue
		case 1:
			return t.Load(filepath.Join(dir, found[0]))
		default:
			return nil, fmt.Errorf("nli: %s: the %s split could be any of %s; name the file", dir, split, strings.Join(found, ", "))
		}
	}
	return nil, fmt.Errorf("nli: %s holds no file for the %s split (looked for %s.jsonl, .tsv or .txt)", dir, split, strings.Join(names, ", "))
}

// Read reads the examples of one file from r; name is the file's name in error messages.
func (t *Task) Read(r io.Reader, name string, format Format) (*Dataset, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if format == FormatAuto {
		format = FormatTSV
		head, _ := br.Peek(4096)
		head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\uFEFF")), " \t\r\n")
		if len(head) > 0 && head[0] == '{' {
			format = FormatJSONL
		}
	}
	ls := &lines{sc: bufio.NewScanner(br), name: name}
	ls.sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	d := &Dataset{Task: t, Path: name}
	var err error
	if format == FormatJSONL {
		err = t.readJSONL(ls, d)
	} else {
		err = t.readTSV(ls, d)
	}
	if err != nil {
		return nil, err
	}
	if ls.n == 0 {
		return nil, fmt.Errorf("nli: %s is empty", name)
	}
	if len(d.Examples) == 0 {
		if d.Skipped > 0 {
			return nil, fmt.Errorf("nli: %s: none of its %d examples has a gold label", name, d.Skipped)
		}
		return nil, fmt.Errorf("nli: %s holds no examples", name)
	}
	return d, nil
}

// lines reads a file line by line: a byte order mark dropped, CR LF ends accepted, UTF-8
// checked; n counts the lines read.
type lines struct {
	sc   *bufio.Scanner
	name string
	n    int
}

// next returns the next line, or ok false at the end of the file.
func (l *lines) next() (line string, ok bool, err error) {
	if !l.sc.Scan() {
		if err := l.sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				l.n++
				return "", false, l.errorf("a line longer than %d bytes; is this an NLI file?", MaxLineBytes)
			}
			return "", false, fmt.Errorf("nli: %s: %w", l.name, err)
		}
		return "", false, nil
	}
	l.n++
	b := l.sc.Bytes()
	if l.n == 1 {
		b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	}
	b = bytes.TrimSuffix(b, []byte("\r"))
	if !utf8.Valid(b) {
		return "", false, l.errorf("not UTF-8 text")
	}
	return string(b), true, nil
}

// nextText returns the next line that is not blank.
func (l *lines) nextText() (line string, ok bool, err error) {
	for {
		line, ok, err = l.next()
		if err != nil || !ok || strings.TrimSpace(line) != "" {
			return line, ok, err
		}
	}
}

// errorf is an error at the current line.
func (l *lines) errorf(format string, args ...any) error {
	return fmt.Errorf("nli: %s:%d: %s", l.name, l.n, fmt.Sprintf(format, args...))
}

// readTSV reads GLUE-style TSV: the first line names the columns (unless the task has a
// headerless layout and the first line names none of its columns), every line splits on tabs
// into as many fields as the header has, quotes are literal.
func (t *Task) readTSV(ls *lines, d *Dataset) error {
	line, ok, err := ls.nextText()
	if err != nil || !ok {
		return err
	}
	header := strings.Split(line, "\t")
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if _, dup := col[h]; dup {
			return ls.errorf("the header names column %q twice", clip(h))
		}
		col[h] = i
	}
	find := func(names []string) int {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i
			}
		}
		return -1
	}
	p, h, lab, id := find(t.premise), find(t.hypothesis), find(t.label), find(t.id)
	width, layout := len(header), "header"
	var row []string
	if p < 0 && h < 0 && lab < 0 && t.headerless != nil {
		// No header: the first line is an example.
		p, h, lab, id = 0, 1, 2, -1
		width, layout = len(t.headerless), "headerless format ("+strings.Join(t.headerless, ", ")+")"
		row = header
	} else {
		for _, c := range []struct {
			i     int
			names []string
		}{{p, t.premise}, {h, t.hypothesis}} {
			if c.i < 0 {
				return ls.errorf("no %s column for the %s task (the header has %s)", strings.Join(c.names, " or "), t.Name, clip(strings.Join(header, ", ")))
			}
		}
	}
	d.Labeled = lab >= 0
	for {
		if row == nil {
			line, ok, err := ls.nextText()
			if err != nil || !ok {
				return err
			}
			row = strings.Split(line, "\t")
		}
		if len(row) != width {
			return ls.errorf("%d tab-separated fields where the %s has %d (a tab inside a text, or a cut line?)", len(row), layout, width)
		}
		ex := Example{Premise: row[p], Hypothesis: row[h], Label: Unlabeled}
		if id >= 0 {
			ex.ID = row[id]
		}
		if lab >= 0 {
			i, skip, ok := t.labelIndex(row[lab])
			if !ok {
				return ls.errorf("%v", t.badLabel(row[lab]))
			}
			if skip {
				d.Skipped++
				row = nil
				continue
			}
			ex.Label = i
		}
		d.Examples = append(d.Examples, ex)
		row = nil
	}
}

// readJSONL reads one JSON object a line (blank lines skipped). The premise and hypothesis are
// strings; the label is a string of the task's set, or an integer index (-1 or null: no gold
// label). A file's records either all have a label or none has.
func (t *Task) readJSONL(ls *lines, d *Dataset) error {
	first := true
	for {
		line, ok, err := ls.nextText()
		if err != nil || !ok {
			return err
		}
		var rec map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return ls.errorf("not a JSON object: %v", err)
		}
		if rec == nil {
			return ls.errorf("not a JSON object: null")
		}
		field := func(names []string) (string, json.RawMessage) {
			for _, n := range names {
				if v, ok := rec[n]; ok {
					return n, v
				}
			}
			return "", nil
		}
		ex := Example{Label: Unlabeled}
		for _, f := range []struct {
			dst   *string
			names []string
		}{{&ex.Premise, t.premise}, {&ex.Hypothesis, t.hypothesis}} {
			n, raw := field(f.names)
			if raw == nil {
				return ls.errorf("no %s field for the %s task", quoteAll(f.names), t.Name)
			}
			if err := json.Unmarshal(raw, f.dst); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
				return ls.errorf("field %q is %s, want a string", n, clip(string(raw)))
			}
		}
		if _, raw := field(t.id); raw != nil {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				s = string(bytes.TrimSpace(raw))
			}
			ex.ID = s
		}
		n, raw := field(t.label)
		if first {
			d.Labeled, first = raw != nil, false
		} else if d.Labeled != (raw != nil) {
			if d.Labeled {
				return ls.errorf("no %s field, while the records before have one", quoteAll(t.label))
			}
			return ls.errorf("a %q field, while the records before have none", n)
		}
		if raw != nil {
			i, skip, err := t.jsonLabel(raw)
			if err != nil {
				return ls.errorf("field %q: %v", n, err)
			}
			if skip {
				d.Skipped++
				continue
			}
			ex.Label = i
		}
		d.Examples = append(d.Examples, ex)
	}
}

// jsonLabel reads a label: a string of the task's set (or its "no gold label" marker), an
// integer index into the set, -1 or null (no gold label).
func (t *Task) jsonLabel(raw json.RawMessage) (i int, skip bool, err error) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return 0, true, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		i, skip, ok := t.labelIndex(s)
		if !ok {
			return 0, false, t.badLabel(s)
		}
		return i, skip, nil
	}
	n, err := strconv.Atoi(string(raw))
	switch {
	case err != nil:
		return 0, false, fmt.Errorf("%s is neither a label name nor a label index", clip(string(raw)))
	case n == -1:
		return 0, true, nil
	case n < 0 || n >= len(t.Labels):
		return 0, false, fmt.Errorf("label index %d is outside [0, %d) (%s)", n, len(t.Labels), strings.Join(t.Labels, ", "))
	}
	return n, false, nil
}

// Counts returns how many examples have each label (index by label).
func (d *Dataset) Counts() []int {
	c := make([]int, len(d.Task.Labels))
	for _, e := range d.Examples {
		if e.Label >= 0 {
			c[e.Label]++
		}
	}
	return c
}

// quoteAll lists names as "a" or "b".
func quoteAll(names []string) string {
	return `"` + strings.Join(names, `" or "`) + `"`
}
