package tasks

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/qkvdev/qkv/internal/fileutil"
)

// Game of 24: given four numbers, reach 24 with +, −, ×, ÷, using each number once. All
// arithmetic here is exact (math/big.Rat), so 8 / (3 − 8/3) = 24 holds.

// LoadGame24 reads the Puzzles column of 24.csv (as in princeton-nlp/tree-of-thought-llm):
// one puzzle per row such as "1 1 4 6". A row without four numbers is an error naming it.
func LoadGame24(path string) ([]string, error) {
	f, err := fileutil.Open(path) // a FIFO or device is refused without blocking
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	col := slices.Index(header, "Puzzles")
	if col < 0 {
		return nil, fmt.Errorf("%s: no Puzzles column in the header %q", path, header)
	}
	var out []string
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if col >= len(rec) {
			return nil, fmt.Errorf("%s:%d: no Puzzles field", path, line)
		}
		nums := strings.Fields(rec[col])
		if len(nums) != 4 {
			return nil, fmt.Errorf("%s:%d: puzzle %q does not have four numbers", path, line, rec[col])
		}
		for _, n := range nums {
			if _, err := strconv.Atoi(n); err != nil {
				return nil, fmt.Errorf("%s:%d: puzzle %q: %q is not an integer", path, line, rec[col], n)
			}
		}
		out = append(out, strings.Join(nums, " "))
	}
	return out, nil
}

// EvalExpr evaluates an arithmetic expression of numbers (integers or decimals), + − × ÷
// (also written * and /) and parentheses, exactly. Division by zero is an error.
func EvalExpr(expr string) (*big.Rat, error) {
	p := &exprParser{s: strings.NewReplacer("×", "*", "÷", "/", "−", "-").Replace(expr)}
	v, err := p.sum(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.s) {
		return nil, fmt.Errorf("unexpected %q in %q", p.s[p.i:], expr)
	}
	return v, nil
}

type exprParser struct {
	s string
	i int
}

func (p *exprParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *exprParser) sum(depth int) (*big.Rat, error) {
	if depth > 100 {
		return nil, fmt.Errorf("expression nested too deeply")
	}
	v, err := p.product(depth)
	if err != nil {
		return nil, err
	}
	for {
		p.space()
		if p.i >= len(p.s) || (p.s[p.i] != '+' && p.s[p.i] != '-') {
			return v, nil
		}
		op := p.s[p.i]
		p.i++
		w, err := p.product(depth)
		if err != nil {
			return nil, err
		}
		if op == '+' {
			v.Add(v, w)
		} else {
			v.Sub(v, w)
		}
	}
}

func (p *exprParser) product(depth int) (*big.Rat, error) {
	v, err := p.factor(depth)
	if err != nil {
		return nil, err
	}
	for {
		p.space()
		if p.i >= len(p.s) || (p.s[p.i] != '*' && p.s[p.i] != '/') {
			return v, nil
		}
		op := p.s[p.i]
		p.i++
		w, err := p.factor(depth)
		if err != nil {
			return nil, err
		}
		if op == '*' {
			v.Mul(v, w)
		} else {
			if w.Sign() == 0 {
				return nil, fmt.Errorf("division by zero")
			}
			v.Quo(v, w)
		}
	}
}

var numberRE = regexp.MustCompile(`^\d+(\.\d+)?`)

func (p *exprParser) factor(depth int) (*big.Rat, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("expression ends early")
	}
	switch c := p.s[p.i]; {
	case c == '(':
		p.i++
		v, err := p.sum(depth + 1)
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, fmt.Errorf("missing )")
		}
		p.i++
		return v, nil
	case c == '-':
		p.i++
		v, err := p.factor(depth + 1)
		if err != nil {
			return nil, err
		}
		return v.Neg(v), nil
	}
	m := numberRE.FindString(p.s[p.i:])
	if m == "" {
		return nil, fmt.Errorf("expected a number at %q", p.s[p.i:])
	}
	p.i += len(m)
	v, ok := new(big.Rat).SetString(m)
	if !ok {
		return nil, fmt.Errorf("bad number %q", m)
	}
	return v, nil
}

var digitsRE = regexp.MustCompile(`\d+`)

// Check24 scores a Game of 24 output as the reference implementation's test_output does: the
// expression is the last line, less "Answer: " and anything from "="; its integers must be
// the puzzle's numbers (as a multiset) and it must equal 24 exactly.
func Check24(puzzle, output string) bool {
	lines := strings.Split(strings.TrimSpace(output), "\n")
	expr := strings.ReplaceAll(strings.ToLower(lines[len(lines)-1]), "answer: ", "")
	expr, _, _ = strings.Cut(expr, "=")
	got := digitsRE.FindAllString(expr, -1)
	want := digitsRE.FindAllString(puzzle, -1)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return false
	}
	v, err := EvalExpr(expr)
	return err == nil && v.Cmp(big.NewRat(24, 1)) == 0
}

// Solve24 returns an expression over nums that equals target exactly, or "" when none does.
func Solve24(nums []*big.Rat, target *big.Rat) string {
	exprs := make([]string, len(nums))
	for i, n := range nums {
		exprs[i] = n.RatString()
	}
	return solve(nums, exprs, target)
}

func solve(nums []*big.Rat, exprs []string, target *big.Rat) string {
	if len(nums) == 1 {
		if nums[0].Cmp(target) == 0 {
			return exprs[0]
		}
		return ""
	}
	for i := range nums {
		for j := range nums {
			if i == j {
				continue
			}
			a, b := nums[i], nums[j]
			restN := make([]*big.Rat, 0, len(nums)-1)
			restE := make([]string, 0, len(nums)-1)
			for k := range nums {
				if k != i && k != j {
					restN = append(restN, nums[k])
					restE = append(restE, exprs[k])
				}
			}
			for _, op := range "+-*/" {
				if (op == '+' || op == '*') && i > j { // commutative: one order is enough
					continue
				}
				r, ok := Apply(a, b, byte(op))
				if !ok {
					continue
				}
				e := "(" + exprs[i] + " " + string(op) + " " + exprs[j] + ")"
				if s := solve(append(restN, r), append(restE, e), target); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

// Apply computes a op b exactly; ok is false for division by zero or an unknown operator.
func Apply(a, b *big.Rat, op byte) (*big.Rat, bool) {
	r := new(big.Rat)
	switch op {
	case '+':
		r.Add(a, b)
	case '-':
		r.Sub(a, b)
	case '*':
		r.Mul(a, b)
	case '/':
		if b.Sign() == 0 {
			return nil, false
		}
		r.Quo(a, b)
	default:
		return nil, false
	}
	return r, true
}

// Rats parses space-separated numbers ("4 5 6 10", "1.5 10", "2/3 9").
func Rats(s string) ([]*big.Rat, error) {
	var out []*big.Rat
	for _, f := range strings.Fields(s) {
		v, ok := new(big.Rat).SetString(f)
		if !ok {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, v)
	}
	return out, nil
}
