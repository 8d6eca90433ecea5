package tot

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Game24 is the reference implementation's Game of 24 task (src/tot/tasks/game24.py): four
// steps (three arithmetic steps and the answer line), proposals from the propose prompt,
// values from the value prompt (sure 20, likely 1, impossible 0.001, summed over samples).
type Game24 struct{}

// Steps is 4: three operations and the "Answer:" line.
func (Game24) Steps() int { return 4 }

// CurrentNumbers returns the numbers left after the last line of y ("left: ...").
func CurrentNumbers(y string) string {
	lines := strings.Split(strings.TrimSpace(y), "\n")
	last := lines[len(lines)-1]
	if i := strings.LastIndex(last, "left: "); i >= 0 {
		last = last[i+len("left: "):]
	}
	before, _, _ := strings.Cut(last, ")")
	return before
}

func fill(tmpl string, pairs ...string) string {
	return strings.NewReplacer(pairs...).Replace(tmpl)
}

// StandardPrompt is the 5-shot input–output prompt.
func (Game24) StandardPrompt(x string) string { return fill(standardPrompt, "{input}", x) }

// CoTPrompt is the 5-shot chain-of-thought prompt.
func (Game24) CoTPrompt(x string) string { return fill(cotPrompt, "{input}", x) }

// ProposePrompt asks for next steps; once 24 is reached it asks for the answer line instead.
func (g Game24) ProposePrompt(x, y string) string {
	cur := CurrentNumbers(x)
	if y != "" {
		cur = CurrentNumbers(y)
	}
	if cur == "24" {
		return g.CoTPrompt(x) + "Steps:" + y
	}
	return fill(proposePrompt, "{input}", cur)
}

// Proposals splits the (first) completion into lines, each a new thought y + line + "\n".
func (Game24) Proposals(_, y string, outputs []string) []string {
	if len(outputs) == 0 {
		return nil
	}
	var out []string
	for _, line := range strings.Split(outputs[0], "\n") {
		out = append(out, y+line+"\n")
	}
	return out
}

// SamplePrompt continues a chain of thought.
func (g Game24) SamplePrompt(x, y string) string { return g.CoTPrompt(x) + "Steps:\n" + y }

// StepStop ends a sampled step at the line's end.
func (Game24) StepStop(int) []string { return []string{"\n"} }

// ValuePrompt asks whether the numbers left can reach 24, or, for an answer line, whether the
// answer is right.
func (Game24) ValuePrompt(x, y string) string {
	lines := strings.Split(strings.TrimSpace(y), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "left: ") {
		ans := strings.ReplaceAll(strings.ToLower(last), "answer: ", "")
		return fill(valueLastStepPrompt, "{input}", x, "{answer}", ans)
	}
	return fill(valuePrompt, "{input}", CurrentNumbers(y))
}

// Game24Values are the reference's scores of the value words.
var Game24Values = map[string]float64{"impossible": 0.001, "likely": 1, "sure": 20}

// Value sums the scores of the completions' last lines; a four-line thought without an answer
// is worth 0.
func (Game24) Value(_, y string, outputs []string) float64 {
	if len(strings.Split(strings.TrimSpace(y), "\n")) == 4 && !strings.Contains(strings.ToLower(y), "answer") {
		return 0
	}
	var v float64
	// Summed in the reference's order (impossible, likely, sure) so that the floating-point
	// sums match its log exactly.
	for _, name := range []string{"impossible", "likely", "sure"} {
		count := 0
		for _, o := range outputs {
			lines := strings.Split(o, "\n")
			if lines[len(lines)-1] == name {
				count++
			}
		}
		v += Game24Values[name] * float64(count)
	}
	return v
}

// VotePrompt is not in the reference for this task; it lists the candidates and asks for the
// most promising one, as its text task's vote prompt does.
func (Game24) VotePrompt(x string, ys []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Given the numbers %s and several partial solutions of the game of 24, decide which choice is most promising. Analyze each choice in detail, then conclude in the last line \"The best choice is {s}\", where s the integer id of the choice.\n", x)
	for i, y := range ys {
		fmt.Fprintf(&b, "Choice %d:\n%s\n", i+1, y)
	}
	return b.String()
}

var bestChoice = regexp.MustCompile(`(?i)best choice is\s*(\d+)`)

// Votes counts "The best choice is N" (1-based) over the completions.
func (Game24) Votes(outputs []string, n int) []float64 {
	return CountVotes(outputs, n)
}

// CountVotes counts "The best choice is N" (1-based) over outputs; others do not vote.
func CountVotes(outputs []string, n int) []float64 {
	v := make([]float64, n)
	for _, o := range outputs {
		if m := bestChoice.FindStringSubmatch(o); m != nil {
			if k, err := strconv.Atoi(m[1]); err == nil && k >= 1 && k <= n {
				v[k-1]++
			}
		}
	}
	return v
}
