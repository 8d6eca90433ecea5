package tasks

import (
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvalExprAndCheck24(t *testing.T) {
	for expr, want := range map[string]string{"8 / (3 - 8 / 3)": "24", "(4 + 8) * (6 - 4)": "24", "1.5 * 16": "24", "-3 + 5": "2", "2 × 3 ÷ 4": "3/2"} {
		v, err := EvalExpr(expr)
		if err != nil || v.RatString() != want {
			t.Errorf("%q = %v (%v), want %s", expr, v, err, want)
		}
	}
	for _, bad := range []string{"1 / 0", "(1 + 2", "2 +", "abc", "1 2"} {
		if _, err := EvalExpr(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if !Check24("3 3 8 8", "Answer: 8 / (3 - 8 / 3) = 24") {
		t.Error("a right answer is scored wrong")
	}
	if Check24("3 3 8 8", "Answer: 8 * 3 = 24") || Check24("4 4 6 8", "Answer: (4 + 8) * (6 - 4) + 1 = 25") {
		t.Error("a wrong answer is scored right")
	}
	if s := Solve24([]*big.Rat{big.NewRat(3, 1), big.NewRat(3, 1), big.NewRat(8, 1), big.NewRat(8, 1)}, big.NewRat(24, 1)); !Check24("3 3 8 8", s) {
		t.Errorf("solver: %q", s)
	}
	if s := Solve24(ToRats([]int{1, 1, 1, 1}), big.NewRat(24, 1)); s != "" {
		t.Errorf("1 1 1 1 solved as %q", s)
	}
}

func TestIntGame(t *testing.T) {
	if !IntSolvable([]int{2, 3, 4}, 10) || IntSolvable([]int{1, 1, 1}, 10) {
		t.Error("solvability")
	}
	if !VerifyIntSteps("2 3 4", "3*2=6 (left: 4 6)\n4+6=10 (left: 10)", 10) {
		t.Error("a right chain is rejected")
	}
	for _, bad := range []string{"3*2=7 (left: 4 7)\n4+7=11 (left: 11)", "3*2=6 (left: 4 6)\n4+6=10 (left: 9)", "3*2=6 (left: 4 6)", "garbage\nmore"} {
		if VerifyIntSteps("2 3 4", bad, 10) {
			t.Errorf("accepted %q", bad)
		}
	}
	if got := len(LegalSteps([]int{2, 3})); got != 3 { // 2+3, 3-2, 2*3 (no negative or inexact results)
		t.Errorf("%d legal steps from 2 3", got)
	}
	text := IntGameCorpus([]string{"2 3 4", "1 1 1"}, 2, 10, 1)
	if !strings.Contains(text, "S: 2 3 4\n") || !strings.Contains(text, "V: ") || !strings.Contains(text, "P: 1 1 1\n") {
		t.Errorf("corpus %q", text[:min(200, len(text))])
	}
}

func TestGenerateArith(t *testing.T) {
	a, b := GenerateArith(50, 3, 9), GenerateArith(50, 3, 9)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("not deterministic")
		}
		for _, eq := range strings.Split(strings.TrimSuffix(a[i].Solution, "."), ". ") {
			lhs, rhs, _ := strings.Cut(eq, "=")
			v, err := EvalExpr(lhs)
			if err != nil || v.RatString() != rhs || v.Sign() < 0 {
				t.Fatalf("%+v: %q: %v", a[i], eq, err)
			}
		}
	}
}

func TestLoadGSM8KErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"{\"question\":\"q\",\"answer\":\"#### 3\"}\n{not json\n": ":2: not a JSON object",
		"{\"question\":\"q\",\"answer\":\"no final\"}\n":          "####",
		"{\"answer\":\"#### 3\"}\n":                               "no question",
		"\n\n":                                                    "no problems",
	}
	for body, want := range cases {
		p := filepath.Join(dir, "x.jsonl")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := LoadGSM8K(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	p := filepath.Join(dir, "24.csv")
	os.WriteFile(p, []byte("Rank,Puzzles\n1,1 2 3\n"), 0o644)
	if _, err := LoadGame24(p); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("24.csv with three numbers: %v", err)
	}
}

func TestGSM8KReal(t *testing.T) {
	dir := os.Getenv("QKV_DATA_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	probs, err := LoadGSM8K(filepath.Join(dir, "gsm8k", "test.jsonl"))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if len(probs) != 1319 || probs[0].Final() != "18" {
		t.Errorf("%d problems, first final %q", len(probs), probs[0].Final())
	}
	if r := probs[0].Reasoning(); strings.Contains(r, "<<") {
		t.Errorf("annotations left in %q", r)
	}
}
