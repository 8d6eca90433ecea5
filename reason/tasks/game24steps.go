package tasks

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// A compact, integer-only Game of 24 for small models trained here, with any target and count
// of numbers (the experiments use three numbers from 1 to 9 and target 10, a search of the
// same shape that a small model learns in minutes): every step combines two of the numbers
// left into a non-negative integer (exact division only), written
//
//	10-4=6 (left: 5 6 6)
//
// with the numbers left sorted. Steps that end at "left: <target>" solve the puzzle. Three
// prompt shapes train one model:
//
//	"S: 4 5 6 10\n"  → three step lines (a whole solution, chain-of-thought)
//	"P: 4 5 6 10\n"  → one step line (a proposal)
//	"V: 5 6 6\n"     → "sure" or "impossible" (can the numbers left still reach 24?)

// IntStep is one integer step.
type IntStep struct {
	A, B   int
	Op     byte
	R      int
	Left   []int // sorted
	Valid  bool
	Parsed bool
}

// String writes the step line without a newline.
func (s IntStep) String() string {
	return fmt.Sprintf("%d%c%d=%d (left: %s)", s.A, s.Op, s.B, s.R, joinInts(s.Left))
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, " ")
}

// JoinInts writes numbers separated by spaces.
func JoinInts(v []int) string { return joinInts(v) }

// intMoves lists every integer step from nums.
func intMoves(nums []int) []IntStep {
	var out []IntStep
	for i := range nums {
		for j := range nums {
			if i == j {
				continue
			}
			a, b := nums[i], nums[j]
			var rest []int
			for k := range nums {
				if k != i && k != j {
					rest = append(rest, nums[k])
				}
			}
			for _, op := range []byte("+-*/") {
				var r int
				switch op {
				case '+':
					if i > j {
						continue
					}
					r = a + b
				case '-':
					if a < b {
						continue
					}
					r = a - b
				case '*':
					if i > j {
						continue
					}
					r = a * b
				case '/':
					if b == 0 || a%b != 0 {
						continue
					}
					r = a / b
				}
				left := append(slices.Clone(rest), r)
				slices.Sort(left)
				out = append(out, IntStep{A: a, B: b, Op: op, R: r, Left: left, Valid: true, Parsed: true})
			}
		}
	}
	return out
}

// IntSolvable reports whether nums reach target with integer steps.
func IntSolvable(nums []int, target int) bool {
	if len(nums) == 1 {
		return nums[0] == target
	}
	for _, m := range intMoves(nums) {
		if IntSolvable(m.Left, target) {
			return true
		}
	}
	return false
}

// IntSolutions returns every path of integer steps from nums to target.
func IntSolutions(nums []int, target int) [][]IntStep {
	if len(nums) == 1 {
		if nums[0] == target {
			return [][]IntStep{nil}
		}
		return nil
	}
	var out [][]IntStep
	for _, m := range intMoves(nums) {
		for _, rest := range IntSolutions(m.Left, target) {
			out = append(out, append([]IntStep{m}, rest...))
		}
	}
	return out
}

// ParseInts reads space-separated integers.
func ParseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Fields(s) {
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// ParseIntStep reads a step line "a+b=c (left: ...)" and checks it against the numbers
// before it: a and b must be among them, the result exact, and the left list right. Parsed is
// false for text that is not a step line; Valid is false for a wrong step.
func ParseIntStep(line string, before []int) IntStep {
	line = strings.TrimSpace(line)
	var st IntStep
	eq, paren, ok := strings.Cut(line, " (left: ")
	if !ok || !strings.HasSuffix(paren, ")") {
		return st
	}
	lhs, rhs, ok := strings.Cut(eq, "=")
	if !ok {
		return st
	}
	opAt := strings.IndexAny(lhs[min(1, len(lhs)):], "+-*/")
	if opAt < 0 {
		return st
	}
	opAt++
	a, errA := strconv.Atoi(lhs[:opAt])
	b, errB := strconv.Atoi(lhs[opAt+1:])
	r, errR := strconv.Atoi(rhs)
	left, errL := ParseInts(strings.TrimSuffix(paren, ")"))
	if errA != nil || errB != nil || errR != nil || errL != nil {
		return st
	}
	st = IntStep{A: a, B: b, Op: lhs[opAt], R: r, Left: left, Parsed: true}
	for _, m := range intMoves(before) {
		if m.A == a && m.B == b && m.Op == st.Op && m.R == r && slices.Equal(m.Left, left) {
			st.Valid = true
			break
		}
		// + and * are listed in one order only.
		if (st.Op == '+' || st.Op == '*') && m.A == b && m.B == a && m.Op == st.Op && m.R == r && slices.Equal(m.Left, left) {
			st.Valid = true
			break
		}
	}
	return st
}

// VerifyIntSteps reports whether text (step lines) solves puzzle: every step valid and the
// last leaves exactly target.
func VerifyIntSteps(puzzle, text string, target int) bool {
	nums, err := ParseInts(puzzle)
	if err != nil {
		return false
	}
	slices.Sort(nums)
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != len(nums)-1 {
		return false
	}
	for _, l := range lines {
		st := ParseIntStep(l, nums)
		if !st.Valid {
			return false
		}
		nums = st.Left
	}
	return len(nums) == 1 && nums[0] == target
}

// IntGameCorpus writes training text for the compact game from puzzles ("a b c ..."): for
// each puzzle, a solution (S:) if it has one, and along a random path of legal steps the
// proposals (P:) and the values (V:) of every state one step on, drawn from seed. Values are
// balanced: an "impossible" state is written only as often as "sure" ones have been.
func IntGameCorpus(puzzles []string, rounds int, target int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 99))
	var b strings.Builder
	sure, impossible := 0, 0
	for range rounds {
		for _, pz := range puzzles {
			nums, err := ParseInts(pz)
			if err != nil {
				continue
			}
			slices.Sort(nums)
			if sols := IntSolutions(nums, target); len(sols) > 0 {
				sol := sols[rng.IntN(len(sols))]
				fmt.Fprintf(&b, "S: %s\n", joinInts(nums))
				for _, st := range sol {
					b.WriteString(st.String() + "\n")
				}
				b.WriteString("\n")
			}
			// A random path: proposals and values along it.
			state := nums
			for len(state) > 1 {
				moves := intMoves(state)
				m := moves[rng.IntN(len(moves))]
				fmt.Fprintf(&b, "P: %s\n%s\n\n", joinInts(state), m)
				for _, c := range moves { // the values of every state one step on
					if IntSolvable(c.Left, target) {
						fmt.Fprintf(&b, "V: %s\nsure\n\n", joinInts(c.Left))
						sure++
					} else if sure > impossible {
						fmt.Fprintf(&b, "V: %s\nimpossible\n\n", joinInts(c.Left))
						impossible++
					}
				}
				state = m.Left
			}
		}
	}
	return b.String()
}

// Multisets returns every sorted multiset of k numbers from 1 to hi, as "a b c".
func Multisets(k, hi int) []string {
	var out []string
	var rec func(from int, cur []int)
	rec = func(from int, cur []int) {
		if len(cur) == k {
			out = append(out, joinInts(cur))
			return
		}
		for v := from; v <= hi; v++ {
			rec(v, append(cur, v))
		}
	}
	rec(1, nil)
	return out
}

// ToRats converts integers to exact rationals.
func ToRats(v []int) []*big.Rat {
	out := make([]*big.Rat, len(v))
	for i, x := range v {
		out[i] = big.NewRat(int64(x), 1)
	}
	return out
}

// LegalSteps returns the step lines of every legal integer step from nums (sorted), each
// once; a proposal constrained to them is always legal arithmetic.
func LegalSteps(nums []int) []string {
	sorted := slices.Clone(nums)
	slices.Sort(sorted)
	seen := map[string]bool{}
	var out []string
	for _, m := range intMoves(sorted) {
		s := m.String()
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
