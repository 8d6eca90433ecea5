//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qkvdev/qkv/sample"
)

// A Ctrl-C while a reply streams stops that reply; the session goes on with the partial reply
// in its history.
func TestChatInterruptStopsReply(t *testing.T) {
	model := tinyChatModel(t)
	dir, err := resolveModel(context.Background(), io.Discard, model)
	if err != nil {
		t.Fatal(err)
	}
	m, _, _, enc, err := loadChatModel(dir, "", false, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := sample.New(sample.Options{Temperature: 0})
	sess := &chatSession{m: m, enc: enc, sampler: s, max: 8}
	sigs := make(chan os.Signal, 1)
	sigs <- os.Interrupt // pressed before the first token
	var out bytes.Buffer
	if err := sess.reply("What is 2+3?", &out, sigs); err != errStopped {
		t.Fatalf("reply after Ctrl-C: %v, want it stopped", err)
	}
	if len(sess.history) != 2 || sess.history[1].Role != "assistant" {
		t.Fatalf("history after a stopped reply: %+v", sess.history)
	}
	if err := sess.reply("and 7-4?", &out, sigs); err != nil {
		t.Fatalf("the next reply: %v", err)
	}
	// (The context of 64 tokens may have dropped the first exchange to make room.)
	if n := len(sess.history); n < 2 || sess.history[n-2].Content != "and 7-4?" || sess.history[n-1].Role != "assistant" {
		t.Fatalf("history: %+v", sess.history)
	}
}

// At the prompt, Ctrl-C ends the chat cleanly (exit status 0).
func TestChatInterruptAtPromptExits(t *testing.T) {
	model := tinyChatModel(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "chat", "--model", model, "--temperature", "0", "--max-tokens", "4")
	cmd.Env = append(os.Environ(), "QKV_TEST_RUN_MAIN=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	// The reply may hold newlines itself: the answer to the unknown command after it says the
	// chat is back at the prompt.
	stdin.Write([]byte("hi\n/bogus\n"))
	r := bufio.NewReader(stdout)
	var line string
	for !strings.HasPrefix(line, "unknown command /bogus") {
		if line, err = r.ReadString('\n'); err != nil {
			t.Fatalf("no reply (%v); stderr: %s", err, stderr.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("chat ended with %v after Ctrl-C at the prompt (reply %q); stderr: %s", err, line, stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("chat still running 60s after Ctrl-C at the prompt")
	}
	if strings.Contains(stderr.String(), "qkv:") {
		t.Fatalf("stderr: %s", stderr.String())
	}
}
