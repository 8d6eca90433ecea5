package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"

	"github.com/qkvdev/qkv/internal/atomicfile"
)

// trimMetrics drops the records of steps after step — logged after the checkpoint a run resumes
// from, and about to be logged again — so that metrics.jsonl reads as one continuous run.
func trimMetrics(path string, step int) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Step == nil {
			continue // a torn last line from a crash, or not a record
		}
		if *rec.Step <= step {
			out.Write(sc.Bytes())
			out.WriteByte('\n')
		}
	}
	return atomicfile.WriteFile(path, out.Bytes(), 0o644)
}

// ReadMetrics returns the records of a run's metrics.jsonl.
func ReadMetrics(path string) ([]map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var recs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			recs = append(recs, m)
		}
	}
	return recs, sc.Err()
}
