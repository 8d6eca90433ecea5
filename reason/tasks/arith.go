// Package tasks holds the reasoning benchmarks: GSM8K (read from its JSONL files), Game of 24
// (24.csv, exact arithmetic with math/big.Rat and a solver) and a synthetic family of
// multi-step arithmetic word problems with worked solutions, generated from a seed, on which
// small models trained here show the chain-of-thought and self-consistency effects.
package tasks

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Problem is one question with its reference final answer (a number, as text) and, for the
// generated tasks, a worked solution.
type Problem struct {
	ID       int
	Question string
	Answer   string // the normalised final answer, e.g. "14"
	Solution string // worked steps, e.g. "12+7=19. 19-5=14." ("" when unknown)
}

var (
	arithNames = []string{"Ann", "Ben", "Cara", "Dan", "Eve", "Finn", "Gia", "Hal", "Ivy", "Jon", "Kim", "Leo", "Mia", "Ned", "Ola", "Pia"}
	arithItems = []string{"apples", "pens", "books", "coins", "cards", "eggs", "shells", "stamps", "cups", "beads"}
)

// ArithStep is one operation of a word problem: gain (+) or loss (−) of N items.
type arithStep struct {
	op byte // '+' or '-'
	n  int
}

// GenerateArith returns n arithmetic word problems drawn from seed, each with a start amount
// (2..39) and steps operations of adding or removing 1..19 items, never going below zero,
// with a worked solution of one equation per step, for example
//
//	Ann has 12 pens. Gets 7 more. Loses 5. How many now?
//	solution "12+7=19. 19-5=14."  answer "14"
func GenerateArith(n, steps int, seed uint64) []Problem {
	return GenerateArithRange(n, steps, 39, 19, seed)
}

// GenerateArithRange is GenerateArith with start amounts 2..maxStart and operands
// 1..maxOperand.
func GenerateArithRange(n, steps, maxStart, maxOperand int, seed uint64) []Problem {
	maxStart, maxOperand = max(maxStart, 2), max(maxOperand, 1)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]Problem, n)
	for i := range out {
		name := arithNames[rng.IntN(len(arithNames))]
		item := arithItems[rng.IntN(len(arithItems))]
		v := 2 + rng.IntN(maxStart-1)
		var q, sol strings.Builder
		fmt.Fprintf(&q, "%s has %d %s.", name, v, item)
		for range steps {
			st := arithStep{op: '+', n: 1 + rng.IntN(maxOperand)}
			if rng.IntN(2) == 0 && v > 1 {
				st = arithStep{op: '-', n: 1 + rng.IntN(min(maxOperand, v-1))}
			}
			w := v + st.n
			if st.op == '-' {
				w = v - st.n
				fmt.Fprintf(&q, " %s %d.", lossVerb(rng), st.n)
			} else {
				fmt.Fprintf(&q, " %s %d more.", gainVerb(rng), st.n)
			}
			fmt.Fprintf(&sol, "%d%c%d=%d. ", v, st.op, st.n, w)
			v = w
		}
		q.WriteString(" How many now?")
		out[i] = Problem{ID: i, Question: q.String(), Answer: strconv.Itoa(v), Solution: strings.TrimSpace(sol.String())}
	}
	return out
}

func gainVerb(rng *rand.Rand) string {
	return []string{"Gets", "Buys", "Finds", "Wins"}[rng.IntN(4)]
}

func lossVerb(rng *rand.Rand) string {
	return []string{"Loses", "Gives away", "Sells", "Uses"}[rng.IntN(4)]
}

// ArithFormat is how a problem is written for training and prompting.
type ArithFormat int

const (
	// Direct writes the answer straight after the question: "A: The answer is 14.".
	Direct ArithFormat = iota
	// CoT writes the worked steps first, after a cue that asks for them (as "Let's think
	// step by step." does in zero-shot CoT): "A: Step by step, 12+7=19. 19-5=14. The answer
	// is 14.".
	CoT
)

// Prompt cues of the two formats: a prompt ending in DirectCue asks for the answer at once,
// one ending in CoTCue for the worked steps.
const (
	DirectCue = "A: The answer is"
	CoTCue    = "A: Step by step,"
)

// ArithText writes p in format f, ending with a newline; a corpus is such texts joined by a
// blank line.
func ArithText(p Problem, f ArithFormat) string {
	if f == CoT {
		return "Q: " + p.Question + "\n" + CoTCue + " " + p.Solution + " The answer is " + p.Answer + ".\n"
	}
	return "Q: " + p.Question + "\n" + DirectCue + " " + p.Answer + ".\n"
}
