package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"

	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
)

// trimMetrics drops the records of steps after step — logged after the checkpoint a run resumes
// from, and about to be logged again — so that metrics.jsonl reads as one continuous run.
func trimMetrics(path string, step int) error {
	data, err := readMetricsFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var out bytes.Buffer
	for line := range bytes.Lines(data) {
		line = chomp(line)
		var rec struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(line, &rec) != nil || rec.Step == nil {
			continue // a torn last line from a crash, or not a record
		}
		if *rec.Step <= step {
			out.Write(line)
			out.WriteByte('\n')
		}
	}
	return atomicfile.WriteFile(path, out.Bytes(), 0o644)
}

// chomp removes a line's "\n" or "\r\n". Lines are split with bytes.Lines, not a bufio.Scanner:
// the file is in memory already, and a scanner stops at its first over-long line.
func chomp(line []byte) []byte {
	return bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
}

// ReadMetrics returns the records of a run's metrics.jsonl: its lines that are JSON objects.
func ReadMetrics(path string) ([]map[string]any, error) {
	data, err := readMetricsFile(path)
	if err != nil {
		return nil, err
	}
	var recs []map[string]any
	for line := range bytes.Lines(data) {
		var m map[string]any
		if json.Unmarshal(chomp(line), &m) == nil && m != nil { // a "null" line is not a record
			recs = append(recs, m)
		}
	}
	return recs, nil
}

// maxMetricsBytes bounds a metrics.jsonl read whole: millions of steps.
const maxMetricsBytes = 1 << 30

// readMetricsFile reads a metrics.jsonl; anything but a regular file is refused without
// blocking.
func readMetricsFile(path string) ([]byte, error) {
	return fileutil.ReadFile(path, maxMetricsBytes, "a metrics log")
}
