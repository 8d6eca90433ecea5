//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/internal/testenv"
)

// TestMain lets a test run the qkv command itself as a child process: the test binary, with
// QKV_TEST_RUN_MAIN=1 in its environment, is qkv. With QKV_TEST_HANG=1 it is a process that
// never finishes (a hung case).
func TestMain(m *testing.M) {
	if os.Getenv("QKV_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	if os.Getenv("QKV_TEST_HANG") == "1" {
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Cancelling the context ends a read of standard input whose writer never closes it.
func TestReadInputCancelled(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := readInput(ctx, r, 1<<20, "the prompt")
		done <- err
	}()
	w.Write([]byte("a prompt that never ends"))
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v; want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("readInput still blocked 30s after its context was cancelled")
	}
}

func TestReadInputLimit(t *testing.T) {
	for _, c := range []struct {
		in      string
		wantErr string
	}{{"12345", ""}, {"123456", "the prompt on standard input is larger than 5 bytes"}} {
		got, err := readInput(context.Background(), strings.NewReader(c.in), 5, "the prompt")
		if c.wantErr == "" && (err != nil || string(got) != c.in) || c.wantErr != "" && (err == nil || err.Error() != c.wantErr) {
			t.Errorf("readInput(%q) = %q, %v; want error %q", c.in, got, err, c.wantErr)
		}
	}
}

// byteTokenizerDir returns a folder holding a byte-level qkv tokenizer.
func byteTokenizerDir(t *testing.T) string {
	dir := t.TempDir()
	writeFile(t, dir, "qkv_tokenizer.json", `{"type": "byte"}`)
	return dir
}

// The commands that read standard input, each with the start of its error when the read is
// cancelled.
func stdinCommands(t *testing.T) []struct {
	args []string
	want string
} {
	return []struct {
		args []string
		want string
	}{
		{[]string{"generate", "--model", t.TempDir(), "-"}, "reading the prompt from standard input: context canceled"},
		{[]string{"tokenizer", "encode", "--tokenizer", byteTokenizerDir(t)}, "reading the text from standard input: context canceled"},
		{[]string{"tokenizer", "decode", "--tokenizer", byteTokenizerDir(t)}, "reading the token ids from standard input: context canceled"},
	}
}

// A command reading standard input from a pipe that stays open stops when its context is
// cancelled, in-process.
func TestStdinCancelled(t *testing.T) {
	for _, c := range stdinCommands(t) {
		t.Run(strings.Join(c.args[:2], " "), func(t *testing.T) {
			r, w := io.Pipe()
			defer w.Close()
			root := newRoot()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetIn(r)
			root.SetArgs(c.args)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- root.ExecuteContext(ctx) }()
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) || err.Error() != c.want {
					t.Fatalf("error %v; want %q (context.Canceled)", err, c.want)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("still reading standard input 30s after the context was cancelled")
			}
		})
	}
}

// `sleep 20 | qkv generate --model RUN -` stops on SIGINT or SIGTERM, not when the pipe closes;
// so do the other commands that read standard input.
func TestStdinSignal(t *testing.T) {
	for _, c := range stdinCommands(t) {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
			t.Run(strings.Join(c.args[:2], " ")+" "+sig.String(), func(t *testing.T) {
				// A signal that arrives before qkv has set up its handler kills it by the
				// default action, which says nothing about the handler; try again, waiting
				// longer.
				for wait := 200 * time.Millisecond; ; wait *= 2 {
					stderr, state := runSignalled(t, sig, wait, c.args...)
					if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() && wait < 10*time.Second {
						continue
					}
					if state.ExitCode() != 1 || stderr != "qkv: "+c.want+"\n" {
						t.Fatalf("qkv exited with %v, stderr %q; want status 1 and %q", state, stderr, c.want)
					}
					return
				}
			})
		}
	}
}

// A named pipe given as training data or as a tokenizer file is refused at once.
func TestNamedPipesRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.txt")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	tokDir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(tokDir, "tokenizer.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir := t.TempDir()
	testenv.Mkfifo(t, filepath.Join(runDir, checkpoint.RunFile))
	for _, args := range [][]string{
		{"train", "--data", fifo},
		{"train", "--resume", runDir},
		{"tokenizer", "train", "--data", fifo, "--out", t.TempDir()},
		{"tokenizer", "encode", "--tokenizer", tokDir},
		{"tokenizer", "encode", "--tokenizer", filepath.Join(tokDir, "tokenizer.json")},
	} {
		t.Run(strings.Join(args[:3], " "), func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, err := run(t, "hello", args...); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "not a regular file (it is a named pipe (FIFO))") {
					t.Fatalf("error %v; want one saying a named pipe is not a regular file", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("still blocked after 30s")
			}
		})
	}
}

// runSignalled runs qkv with args and a standard input that stays open, sends it sig after
// wait, and returns its standard error and exit state. It fails the test if qkv has not exited
// 30s after the signal.
func runSignalled(t *testing.T, sig syscall.Signal, wait time.Duration, args ...string) (string, *os.ProcessState) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "QKV_TEST_RUN_MAIN=1")
	stdin, err := cmd.StdinPipe() // never written to, closed only after qkv has exited
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	time.Sleep(wait)
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("qkv %s still running 30s after %v", strings.Join(args, " "), sig)
	}
	return stderr.String(), cmd.ProcessState
}

// A named pipe as the run.json of a run to resume is refused at once.
func TestResumeNamedPipe(t *testing.T) {
	runDir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(runDir, checkpoint.RunFile), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- loadRunOptions(newTrainCmd(), &trainOptions{Resume: runDir}) }()
	select {
	case err := <-done:
		if !errors.Is(err, fileutil.ErrNotRegular) {
			t.Fatalf("error %v; want one saying run.json is not a regular file", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still blocked after 30s")
	}
}
