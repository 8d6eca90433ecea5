package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/align"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tokenizer"
)

// tinyBase saves a small random GPT with a character tokenizer (no chat template) into a
// folder and returns it.
func tinyBase(t *testing.T, chars string) string {
	t.Helper()
	return tinyGPT(t, chars, gpt.Config{NPositions: 64, NEmbd: 16, NLayer: 1, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}, 1)
}

// tinyGPT saves a random GPT of shape cfg (its VocabSize set from the tokenizer) with a
// character tokenizer over chars into a folder and returns it.
func tinyGPT(t *testing.T, chars string, cfg gpt.Config, seed uint64) string {
	t.Helper()
	tok, err := tokenizer.NewChar(chars)
	if err != nil {
		t.Fatal(err)
	}
	cfg.VocabSize = tok.VocabSize()
	m, err := gpt.New(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

const arithChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:?!+-=\n"

// tinyChatModel fine-tunes a tiny base for two steps and returns the run folder (a chat model).
func tinyChatModel(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "sft")
	if msg, err := run(t, "", "finetune", "--method", "sft", "--model", tinyBase(t, arithChars), "--train", "builtin:arith", "--max-train-examples", "40", "--iters", "2", "--eval-interval", "2", "--max-length", "32", "--out", out); err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	return out
}

func TestFinetuneAlignMethods(t *testing.T) {
	sft := tinyChatModel(t)
	dir := t.TempDir()
	data := writeFile(t, dir, "chat.jsonl", `{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
{"instruction": "Add", "input": "1 2", "output": "3"}
{"instruction": "Sub", "input": "3 2", "output": "1"}
`)
	pairs := writeFile(t, dir, "pairs.jsonl", `{"prompt": "What is 1+1?", "chosen": "Answer: 2", "rejected": "Answer: 3"}
{"prompt": "What is 2+1?", "chosen": "Answer: 3", "rejected": "it is 3."}
{"prompt": "What is 2+2?", "chosen": "Answer: 4", "rejected": "Answer: 4"}
{"prompt": "What is 3+2?", "chosen": "Answer: 5", "rejected": "Answer: 6"}
`)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"sft messages", []string{"--method", "sft", "--model", tinyBase(t, arithChars), "--train", data, "--iters", "2"}, "sft: 2 steps"},
		{"rm", []string{"--method", "rm", "--model", sft, "--train", pairs, "--iters", "2", "--batch", "2"}, "left out 1 pairs with identical replies"},
		{"dpo", []string{"--method", "dpo", "--model", sft, "--train", "builtin:arith", "--max-train-examples", "20", "--iters", "2", "--batch", "2"}, "dpo: 2 steps"},
		{"ppo", []string{"--method", "ppo", "--model", sft, "--train", "builtin:arith", "--reward", "builtin:arith", "--iters", "2", "--batch", "4", "--minibatches", "2", "--ppo-epochs", "1", "--max-new-tokens", "4"}, "ppo: 2 steps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			msg, err := run(t, "", append([]string{"finetune", "--out", out, "--eval-interval", "1"}, tc.args...)...)
			if err != nil || !strings.Contains(msg, tc.want) {
				t.Fatalf("%v\n%s", err, msg)
			}
			// Resuming a finished run with more steps continues it.
			msg, err = run(t, "", "finetune", "--resume", out)
			if err != nil {
				t.Fatalf("resume: %v\n%s", err, msg)
			}
		})
	}
}

func TestFinetuneAlignRejectsBadInput(t *testing.T) {
	sft := tinyChatModel(t)
	dir := t.TempDir()
	badTpl := writeFile(t, dir, "bad.jinja", "{% for m in messages %}{{ m.content }}")
	rmOther := filepath.Join(t.TempDir(), "rm")
	// A reward model trained from another base (another tokenizer) cannot score this policy.
	otherSFT := filepath.Join(t.TempDir(), "other")
	if msg, err := run(t, "", "finetune", "--method", "sft", "--model", tinyBase(t, arithChars+"#@"), "--train", "builtin:arith", "--max-train-examples", "20", "--iters", "1", "--out", otherSFT); err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	if msg, err := run(t, "", "finetune", "--method", "rm", "--model", otherSFT, "--train", "builtin:arith", "--max-train-examples", "20", "--iters", "1", "--batch", "2", "--out", rmOther); err != nil {
		t.Fatalf("%v\n%s", err, msg)
	}
	empty := writeFile(t, dir, "empty.jsonl", `{"prompt": "q", "chosen": "", "rejected": "x"}`)
	long := writeFile(t, dir, "long.jsonl", `{"prompt": "`+strings.Repeat("a", 200)+`", "chosen": "b", "rejected": "c"}`)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad template", []string{"--method", "sft", "--model", sft, "--train", "builtin:arith", "--template", badTpl}, "chat template"},
		{"unknown method", []string{"--method", "rlhf", "--model", sft, "--train", "x"}, "--method"},
		{"no reward", []string{"--method", "ppo", "--model", sft, "--train", "builtin:arith"}, "--reward is required"},
		{"unknown builtin", []string{"--method", "ppo", "--model", sft, "--train", "builtin:arith", "--reward", "builtin:nope"}, "unknown builtin reward"},
		{"tokenizer mismatch", []string{"--method", "ppo", "--model", sft, "--train", "builtin:arith", "--reward", rmOther}, "tokenizer is not the policy's"},
		{"empty replies", []string{"--method", "dpo", "--model", sft, "--train", empty}, "no usable preference pairs"},
		{"longer than context", []string{"--method", "rm", "--model", sft, "--train", long}, "longer than the model's context"},
		{"bad beta", []string{"--method", "dpo", "--model", sft, "--train", "builtin:arith", "--beta", "0"}, "--beta"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := run(t, "", append([]string{"finetune", "--out", filepath.Join(t.TempDir(), "run"), "--iters", "1"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q\n%s", err, tc.want, msg)
			}
		})
	}
}

func TestChatFromPipe(t *testing.T) {
	model := tinyChatModel(t)
	in := "What is 2+3?\n\n/system Answer briefly.\nWhat is 7-4?\n/bogus\n/reset\nhi\n"
	out, err := run(t, in, "chat", "--model", model, "--temperature", "0", "--max-tokens", "6")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	replies := 0
	for _, l := range lines {
		if !strings.HasPrefix(l, "unknown command /bogus") {
			replies++
		}
	}
	if !strings.Contains(out, "unknown command /bogus") || replies < 3 {
		t.Fatalf("chat output:\n%s", out)
	}
	// The same greedy chat twice gives the same replies.
	again, _ := run(t, in, "chat", "--model", model, "--temperature", "0", "--max-tokens", "6")
	if again != out {
		t.Fatalf("greedy chat differs between runs:\n%s\n---\n%s", out, again)
	}
	if _, err := run(t, "x\n", "chat", "--model", model, "--max-tokens", "64"); err == nil || !strings.Contains(err.Error(), "context") {
		t.Fatalf("a reply as long as the context: %v", err)
	}
	long := strings.Repeat("a", 100) + "\n"
	out, err = run(t, long, "chat", "--model", model, "--temperature", "0", "--max-tokens", "6")
	if err != nil || !strings.Contains(out, "does not fit the model's context") {
		t.Fatalf("an over-long message: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(model, "align.json")); err != nil {
		t.Fatal(err)
	}
	_ = align.SpecialTokensFile
}

// TestChatWeights chats on weights read straight into bf16 and int8, and with bf16 compute:
// the tiny model's greedy replies (wide margins between its tokens' scores) are those of the
// float32 chat; and an unknown format is refused before anything is loaded.
func TestChatWeights(t *testing.T) {
	model := tinyChatModel(t)
	in := "What is 2+3?\nWhat is 7-4?\n"
	chat := []string{"chat", "--model", model, "--temperature", "0", "--max-tokens", "6"}
	want, err := run(t, in, chat...)
	if err != nil || strings.Count(want, "\n") < 2 {
		t.Fatalf("fp32 chat: %v\n%q", err, want)
	}
	for _, args := range [][]string{{"--weights", "bf16"}, {"--weights", "int8"}, {"--compute", "bf16"}} {
		out, err := run(t, in, append(chat, args...)...)
		if err != nil || out != want {
			t.Fatalf("chat %v: %v\n%q, want the fp32 replies %q", args, err, out, want)
		}
	}
	if _, err := run(t, in, "chat", "--model", model, "--weights", "fp8"); err == nil || !strings.Contains(err.Error(), "--weights") {
		t.Fatalf("--weights fp8: %v, want it refused", err)
	}
}
