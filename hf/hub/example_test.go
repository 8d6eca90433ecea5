package hub_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/qkvdev/qkv/hf/hub"
)

// A `pull` command: the environment configures the client (HF_TOKEN, HF_ENDPOINT, QKV_CACHE,
// HF_HUB_OFFLINE), Progress feeds a progress bar, and the errors say what to do.
func Example() {
	c := hub.New()
	c.Progress = func(file string, done, total int64) {
		fmt.Fprintf(os.Stderr, "\r%s %d/%d", file, done, total)
	}
	dir, err := c.SnapshotModel(context.Background(), "openai-community/gpt2", "main")
	switch {
	case errors.Is(err, hub.ErrGatedRepo), errors.Is(err, hub.ErrUnauthorized):
		fmt.Fprintln(os.Stderr, err) // the message says to accept the terms / set HF_TOKEN
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
	default:
		fmt.Println("model folder:", dir)
	}
}

// Resolving a --model flag without the network: a repository id whose snapshot is cached.
func ExampleClient_Resolve() {
	c := hub.New()
	if dir, ok := c.Resolve("openai-community/gpt2", "main"); ok {
		fmt.Println("cached at", dir)
	}
}
