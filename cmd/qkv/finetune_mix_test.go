package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFinetuneSFTMixText runs SFT with plain text mixed in, and checks that align.json keeps
// the settings and that --resume uses them.
func TestFinetuneSFTMixText(t *testing.T) {
	base := tinyBase(t, arithChars)
	dir := t.TempDir()
	text := writeFile(t, dir, "text.txt", strings.Repeat("The cat sat on the mat. 7 plus 5 is 12.\n", 4))
	for _, tc := range []struct {
		name      string
		args      []string
		wantRatio float64
	}{
		{"given ratio", []string{"--mix-ratio", "0.5"}, 0.5},
		{"default ratio", nil, 0.25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			args := append([]string{"finetune", "--method", "sft", "--model", base, "--train", "builtin:arith", "--max-train-examples", "20", "--iters", "2", "--eval-interval", "1", "--max-length", "32", "--out", out, "--mix-text", text}, tc.args...)
			msg, err := run(t, "", args...)
			if err != nil || !strings.Contains(msg, "mixing in plain text") || !strings.Contains(msg, "sft: 2 steps") {
				t.Fatalf("%v\n%s", err, msg)
			}
			var o alignOptions
			b, err := os.ReadFile(filepath.Join(out, alignFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &o); err != nil || o.MixText != text || o.MixRatio != tc.wantRatio {
				t.Fatalf("align.json: mix_text %q, mix_ratio %g (%v); want %q, %g", o.MixText, o.MixRatio, err, text, tc.wantRatio)
			}
			msg, err = run(t, "", "finetune", "--resume", out, "--threads", "1", "--compute", "fp32", "--method", "sft")
			if err != nil || !strings.Contains(msg, fmt.Sprintf("mixing in plain text: 160 tokens, %g of the rows", tc.wantRatio)) {
				t.Fatalf("resume: %v\n%s", err, msg)
			}
			// A setting given again with --resume would be ignored: it is refused instead.
			for _, extra := range [][]string{{"--mix-ratio", "0.9"}, {"--lr", "0.1", "--iters", "5"}, {"--method", "dpo"}} {
				msg, err = run(t, "", append([]string{"finetune", "--resume", out}, extra...)...)
				if err == nil || !strings.Contains(err.Error(), "cannot change") || !strings.Contains(err.Error(), extra[0]) {
					t.Fatalf("resume with %v: want a refusal naming %s, got %v\n%s", extra, extra[0], err, msg)
				}
			}
		})
	}
}

func TestFinetuneMixTextRejectsBadInput(t *testing.T) {
	base := tinyBase(t, arithChars)
	dir := t.TempDir()
	text := writeFile(t, dir, "text.txt", strings.Repeat("The cat sat on the mat.\n", 4))
	short := writeFile(t, dir, "short.txt", "too short")
	binary := writeFile(t, dir, "text.bin", "\x00\x01\x02 not text")
	sft := []string{"--method", "sft", "--model", base, "--train", "builtin:arith", "--max-train-examples", "20", "--max-length", "32"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"ratio without text", append([]string{"--mix-ratio", "0.3"}, sft...), "--mix-ratio needs --mix-text"},
		{"another method", []string{"--method", "dpo", "--model", base, "--train", "builtin:arith", "--mix-text", text}, "for --method sft"},
		{"ratio with another method", []string{"--method", "rm", "--model", base, "--train", "builtin:arith", "--mix-ratio", "0.3"}, "for --method sft"},
		{"ratio 1", append([]string{"--mix-text", text, "--mix-ratio", "1"}, sft...), "--mix-ratio 1"},
		{"negative ratio", append([]string{"--mix-text", text, "--mix-ratio", "-0.1"}, sft...), "--mix-ratio -0.1"},
		{"NaN ratio", append([]string{"--mix-text", text, "--mix-ratio", "NaN"}, sft...), "--mix-ratio NaN"},
		{"infinite ratio", append([]string{"--mix-text", text, "--mix-ratio", "Inf"}, sft...), "--mix-ratio +Inf"},
		{"missing file", append([]string{"--mix-text", filepath.Join(dir, "nope.txt")}, sft...), "no such file"},
		{"binary file", append([]string{"--mix-text", binary}, sft...), "does not look like text"},
		{"shorter than a row", append([]string{"--mix-text", short}, sft...), "needs 33"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := run(t, "", append([]string{"finetune", "--out", filepath.Join(t.TempDir(), "run"), "--iters", "1"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q\n%s", err, tc.want, msg)
			}
		})
	}
}
