//go:build unix

package checkpoint

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/internal/testenv"
)

// A named pipe as a run's latest-checkpoint pointer or as a checkpoint's manifest is refused at
// once: Find passes over the pointer and Verify fails.
func TestNamedPipes(t *testing.T) {
	run := t.TempDir()
	testenv.Mkfifo(t, filepath.Join(run, LatestFile))
	ckpt := t.TempDir()
	testenv.Mkfifo(t, filepath.Join(ckpt, ManifestFile))
	if err := testenv.Unblocked(t, func() error { _, _, err := Find(run); return err }); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("Find: error %v; want %v", err, ErrNoCheckpoint)
	}
	if err := testenv.Unblocked(t, func() error { return Verify(ckpt) }); !errors.Is(err, fileutil.ErrNotRegular) {
		t.Errorf("Verify: error %v; want %v", err, fileutil.ErrNotRegular)
	}
}
