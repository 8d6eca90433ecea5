//go:build linux || darwin || freebsd || netbsd || openbsd

package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Checkpoints order by step, not by name: step-1000000 is newer than step-999999.
func TestCheckpointsOrderByStep(t *testing.T) {
	run := t.TempDir()
	for _, step := range []int{999_999, 1_000_000} {
		if _, err := Write(run, step, fillCheckpoint(step)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(run, LatestFile)); err != nil {
		t.Fatal(err)
	}
	if dir, err := Latest(run); err != nil || filepath.Base(dir) != "step-1000000" {
		t.Fatalf("Latest without latest = %q, %v; want step-1000000", dir, err)
	}
	// A third checkpoint prunes the oldest by step.
	if _, err := Write(run, 1_000_001, fillCheckpoint(1_000_001)); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(run, CheckpointDir))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(checkpointNames(entries), " "); got != "step-1000000 step-1000001" {
		t.Fatalf("after pruning: %s", got)
	}
}

// A checkpoint file replaced by a named pipe fails verification at once instead of blocking.
func TestVerifyCheckpointRefusesFIFO(t *testing.T) {
	run := t.TempDir()
	dir, err := Write(run, 1, fillCheckpoint(1))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.safetensors")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := Verify(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Verify with a fifo = %v", err)
	}
}
