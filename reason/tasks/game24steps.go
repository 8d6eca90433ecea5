package tasks

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// A compact, integer-only Game of 24 for small models trained here: every step combines two
// of the numbers left into a non-negative integer (exact division only), written
//
//	10-4=6 (left: 5 6 6)
//
// with the numbers left sorted. Three such steps from four numbers that end at "left: 24"
// solve the puzzle. Three prompt shapes train one model:
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

// IntSolvable reports whether nums reach 24 with integer steps.
func IntSolvable(nums []int) bool {
	if len(nums) == 1 {
		return nums[0] == 24
	}
	for _, m := range intMoves(nums) {
		if IntSolvable(m.Left) {
			return true
		}
	}
	return false
}

// IntSolutions returns every solving path of integer steps from nums.
func IntSolutions(nums []int) [][]IntStep {
	if len(nums) == 1 {
		if nums[0] == 24 {
			return [][]IntStep{nil}
		}
		return nil
	}
	var out [][]IntStep
	for _, m := range intMoves(nums) {
		for _, rest := range IntSolutions(m.Left) {
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
// last leaves exactly 24.
func VerifyIntSteps(puzzle, text string) bool {
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
	return len(nums) == 1 && nums[0] == 24
}

// Game24Corpus writes training text for the compact game from puzzles (each "a b c d"):
// for each puzzle, solutions (S:), proposals (P:) from the puzzle and from states along random
// paths, and values (V:) of those states, drawn from seed.
func Game24Corpus(puzzles []string, rounds int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 99))
	var b strings.Builder
	for range rounds {
		for _, pz := range puzzles {
			nums, err := ParseInts(pz)
			if err != nil {
				continue
			}
			slices.Sort(nums)
			if sols := IntSolutions(nums); len(sols) > 0 {
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
				label := "impossible"
				if IntSolvable(m.Left) {
					label = "sure"
				}
				fmt.Fprintf(&b, "V: %s\n%s\n\n", joinInts(m.Left), label)
				state = m.Left
			}
		}
	}
	return b.String()
}

// Quads returns every multiset of four numbers from 1 to 13, as "a b c d" sorted.
func Quads() []string {
	var out []string
	for a := 1; a <= 13; a++ {
		for b := a; b <= 13; b++ {
			for c := b; c <= 13; c++ {
				for d := c; d <= 13; d++ {
					out = append(out, joinInts([]int{a, b, c, d}))
				}
			}
		}
	}
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
