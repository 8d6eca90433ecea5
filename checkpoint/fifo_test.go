//go:build unix

package checkpoint

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/qkvdev/qkv/internal/fileutil"
)

// A named pipe as a run's latest-checkpoint pointer or as a checkpoint's manifest is refused at
// once: Find passes over the pointer and Verify fails.
func TestNamedPipes(t *testing.T) {
	run := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(run, LatestFile), 0o644); err != nil {
		t.Fatal(err)
	}
	ckpt := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(ckpt, ManifestFile), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		call func() error
		want error
	}{
		"Find":   {func() error { _, _, err := Find(run); return err }, ErrNoCheckpoint},
		"Verify": {func() error { return Verify(ckpt) }, fileutil.ErrNotRegular},
	} {
		done := make(chan error, 1)
		go func() { done <- c.call() }()
		select {
		case err := <-done:
			if !errors.Is(err, c.want) {
				t.Errorf("%s: error %v; want %v", name, err, c.want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: still blocked after 30s", name)
		}
	}
}
