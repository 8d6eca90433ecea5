package tasks

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/qkvdev/qkv/internal/fileutil"
)

// GSM8K is one grade-school math problem: the answer holds worked steps with calculator
// annotations and ends with "#### <final number>".
type GSM8K struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// Final returns the text after the last "####", trimmed.
func (g GSM8K) Final() string {
	i := strings.LastIndex(g.Answer, "####")
	if i < 0 {
		return ""
	}
	return strings.TrimSpace(g.Answer[i+4:])
}

// Reasoning returns the worked steps (before "####") with the <<...>> annotations removed.
func (g GSM8K) Reasoning() string {
	s := g.Answer
	if i := strings.LastIndex(s, "####"); i >= 0 {
		s = s[:i]
	}
	for {
		a := strings.Index(s, "<<")
		if a < 0 {
			break
		}
		b := strings.Index(s[a:], ">>")
		if b < 0 {
			break
		}
		s = s[:a] + s[a+b+2:]
	}
	return strings.Join(strings.Fields(s), " ")
}

// LoadGSM8K reads a GSM8K JSONL file. A line that is not a JSON object with a question and an
// answer ending in "#### <number>" is an error naming the line.
func LoadGSM8K(path string) ([]GSM8K, error) {
	f, err := fileutil.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	var out []GSM8K
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var g GSM8K
		if err := json.Unmarshal([]byte(text), &g); err != nil {
			return nil, fmt.Errorf("%s:%d: not a JSON object with question and answer: %w", path, line, err)
		}
		if g.Question == "" {
			return nil, fmt.Errorf("%s:%d: no question", path, line)
		}
		if g.Final() == "" {
			return nil, fmt.Errorf("%s:%d: the answer does not end with \"#### <number>\"", path, line)
		}
		out = append(out, g)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no problems", path)
	}
	return out, nil
}

// LoadLines reads non-empty lines (puzzles, one per line).
func LoadLines(path string) ([]string, error) {
	b, err := fileutil.ReadFile(path, fileutil.SmallFileLimit, "a puzzle file")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	return out, nil
}
