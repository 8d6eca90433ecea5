package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tokenizer"
)

// qkv serve loads a model folder under its base name, answers on the address it prints, and
// stops cleanly when its context ends (SIGTERM or Ctrl-C).
func TestServeCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tiny")
	m, err := gpt.New(gpt.Config{VocabSize: 256, NPositions: 32, NEmbd: 16, NLayer: 1, NHead: 2, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := (tokenizer.Byte{}).Save(dir); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	root := newRoot()
	root.SetArgs([]string{"serve", "--model", dir, "--addr", "127.0.0.1:0", "--weights", "bf16"})
	root.SetErr(pw)
	root.SetOut(io.Discard)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	lines := bufio.NewScanner(pr)
	url := ""
	for url == "" && lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "serving on "); ok {
			url, _, _ = strings.Cut(rest, " ")
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		t.Fatalf("no address printed: %v", <-done)
	}
	res, err := http.Post(url+"v1/completions", "application/json", strings.NewReader(`{"model":"tiny","prompt":"hi","max_tokens":4}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	json.NewDecoder(res.Body).Decode(&out)
	res.Body.Close()
	if res.StatusCode != 200 || out.Usage.CompletionTokens != 4 || out.Choices[0].FinishReason != "length" {
		t.Fatalf("completion: %d %+v", res.StatusCode, out)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get(url + "health"); err == nil {
		t.Error("still answering after shutdown")
	}
	// Bad flags are errors before anything listens.
	for _, args := range [][]string{{"serve", "--model", "=x"}, {"serve", "--model", dir, "--weights", "fp8"}, {"serve", "--model", filepath.Join(dir, "missing")}} {
		r := newRoot()
		r.SetArgs(args)
		r.SetErr(io.Discard)
		if err := r.ExecuteContext(context.Background()); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
