package tot

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/reason"
)

// Record is one puzzle of a recorded reference BFS run (the JSON log that
// princeton-nlp/tree-of-thought-llm's run.py writes).
type Record struct {
	Idx   int              `json:"idx"`
	Ys    []string         `json:"ys"`
	Infos []map[string]int `json:"infos"`
	Steps []Step           `json:"steps"`
}

// LoadRecording reads a recorded run.
func LoadRecording(path string) ([]Record, error) {
	b, err := fileutil.ReadFile(path, fileutil.SmallFileLimit, "a recorded run")
	if err != nil {
		return nil, err
	}
	var recs []Record
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("%s: not a recorded tree-of-thoughts run: %w", path, err)
	}
	for i, r := range recs {
		if len(r.Steps) == 0 {
			return nil, fmt.Errorf("%s: puzzle %d (idx %d) has no steps", path, i, r.Idx)
		}
		for _, s := range r.Steps {
			if len(s.NewYs) != len(s.Values) {
				return nil, fmt.Errorf("%s: idx %d step %d: %d new_ys but %d values", path, r.Idx, s.Step, len(s.NewYs), len(s.Values))
			}
		}
	}
	return recs, nil
}

// Replay is an LLM that answers a Game24 BFS from a recording: each propose prompt gets the
// recorded proposals of its thought (in call order, as prompts repeat), each value prompt
// completions whose words add up to the recorded value. A prompt it has no answer for is an
// error, so a search that strays from the recording is caught.
type Replay struct {
	mu      sync.Mutex
	propose map[string][]string // prompt → queued completions
	values  map[string]float64  // value prompt → value at its first (uncached) call
}

// NewReplay indexes a recording, in order, with the reference's value cache shared across
// puzzles.
func NewReplay(recs []Record) (*Replay, error) {
	r := &Replay{propose: map[string][]string{}, values: map[string]float64{}}
	var g Game24
	cached := map[string]bool{}
	for _, rec := range recs {
		for _, st := range rec.Steps {
			// Proposals: the new thoughts are the ys' proposals, in order.
			k := 0
			for i, y := range st.Ys {
				var lines []string
				for k < len(st.NewYs) && strings.HasPrefix(st.NewYs[k], y) {
					line := strings.TrimSuffix(st.NewYs[k][len(y):], "\n")
					// The same thought twice in a row (two calls with one prompt): the second
					// call's answer begins where a line repeats the first one's opening line.
					// Either split replays the same concatenation.
					if i+1 < len(st.Ys) && st.Ys[i+1] == y && len(lines) > 0 && line == lines[0] {
						break
					}
					lines = append(lines, line)
					k++
				}
				p := g.ProposePrompt(st.X, y)
				r.propose[p] = append(r.propose[p], strings.Join(lines, "\n"))
			}
			if k != len(st.NewYs) {
				return nil, fmt.Errorf("tot: replay: idx %d step %d: new_ys do not follow from ys", rec.Idx, st.Step)
			}
			seen := map[string]bool{}
			for i, y := range st.NewYs {
				if seen[y] {
					continue
				}
				seen[y] = true
				p := g.ValuePrompt(st.X, y)
				if cached[p] {
					continue
				}
				cached[p] = true
				r.values[p] = st.Values[i]
			}
		}
	}
	return r, nil
}

// Name identifies the replay.
func (r *Replay) Name() string { return "replay:gpt-4-game24" }

// Complete answers from the recording.
func (r *Replay) Complete(_ context.Context, req reason.Request) (*reason.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if q, ok := r.propose[req.Prompt]; ok && len(q) > 0 {
		r.propose[req.Prompt] = q[1:]
		return &reason.Response{Completions: []reason.Completion{{Text: q[0], FinishReason: "stop"}}}, nil
	}
	if v, ok := r.values[req.Prompt]; ok {
		return &reason.Response{Completions: valueOutputs(v, max(req.N, 1))}, nil
	}
	return nil, fmt.Errorf("tot: replay: no recorded answer for the prompt ending %q", tail(req.Prompt, 80))
}

// valueOutputs writes n completions whose last words score v: v = 20·sure + 1·likely +
// 0.001·impossible.
func valueOutputs(v float64, n int) []reason.Completion {
	sure := int(math.Floor(v/20 + 1e-9))
	rest := v - 20*float64(sure)
	likely := int(math.Floor(rest + 1e-9))
	impossible := int(math.Round((rest - float64(likely)) * 1000))
	out := make([]reason.Completion, 0, n)
	add := func(word string, k int) {
		for range k {
			out = append(out, reason.Completion{Text: "...\n" + word})
		}
	}
	add("sure", sure)
	add("likely", likely)
	add("impossible", impossible)
	for len(out) < n {
		out = append(out, reason.Completion{Text: "no judgement"})
	}
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
