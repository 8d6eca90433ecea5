//go:build unix

package train

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/internal/fileutil"
)

// A named pipe as metrics.jsonl is refused at once, by ReadMetrics and by the trim on resume.
func TestMetricsNamedPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, read := range map[string]func() error{
		"ReadMetrics": func() error { _, err := ReadMetrics(path); return err },
		"trimMetrics": func() error { return trimMetrics(path, 1) },
	} {
		done := make(chan error, 1)
		go func() { done <- read() }()
		select {
		case err := <-done:
			if !errors.Is(err, fileutil.ErrNotRegular) {
				t.Errorf("%s: error %v; want one saying it is not a regular file", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: still blocked after 30s", name)
		}
	}
}

// A named pipe as a checkpoint's trainer state is refused at once.
func TestLoadStateNamedPipe(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, checkpoint.StateFile), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := loadState(dir, nil, nil, nil, nil); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, fileutil.ErrNotRegular) {
			t.Fatalf("error %v; want one saying it is not a regular file", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still blocked after 30s")
	}
}
