//go:build unix

package finetune

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/internal/testenv"
)

// A named pipe as the results file of a run being resumed is refused at once.
func TestSeekNamedPipe(t *testing.T) {
	dir := t.TempDir()
	testenv.Mkfifo(t, filepath.Join(dir, ResultsFile))
	task := &Task{OutDir: dir}
	if err := testenv.Unblocked(t, func() error { return task.Seek(1) }); !errors.Is(err, fileutil.ErrNotRegular) {
		t.Fatalf("error %v; want one saying it is not a regular file", err)
	}
}
