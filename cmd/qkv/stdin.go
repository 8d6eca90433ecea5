package main

import (
	"context"
	"fmt"
	"io"
)

// readInput reads all of r (standard input), at most limit bytes; what names the input for
// errors ("the prompt"). It returns ctx's error as soon as ctx is done (Ctrl-C, SIGTERM): a read
// from a pipe whose writer stays open would otherwise block until the writer closes it, with
// the signal caught and nothing listening. The read itself goes on in the background until r
// gives way; the process is about to exit by then.
func readInput(ctx context.Context, r io.Reader, limit int64, what string) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(r, limit+1))
		done <- result{data, err}
	}()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("reading %s from standard input: %w", what, ctx.Err())
	case res := <-done:
		if res.err != nil {
			return nil, fmt.Errorf("reading %s from standard input: %w", what, res.err)
		}
		if int64(len(res.data)) > limit {
			return nil, fmt.Errorf("%s on standard input is larger than %d bytes", what, limit)
		}
		return res.data, nil
	}
}

// maxPromptBytes bounds a prompt read from standard input.
const maxPromptBytes = 16 << 20

// maxTextBytes bounds the text (or token ids) that qkv tokenizer reads from standard input.
const maxTextBytes = 1 << 30
