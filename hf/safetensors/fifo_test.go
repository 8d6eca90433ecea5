//go:build linux || darwin || freebsd || netbsd || openbsd

package safetensors

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOpenFIFO: opening a named pipe would block until a writer appears; Open must refuse it
// at once instead.
func TestOpenFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pipe.safetensors")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err := Open(path)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Open(fifo) = %v", err)
	}
}
