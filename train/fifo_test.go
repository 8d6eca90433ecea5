//go:build unix

package train

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/internal/testenv"
)

// A named pipe as metrics.jsonl is refused at once, by ReadMetrics and by the trim on resume;
// so is one as a checkpoint's trainer state.
func TestNamedPipes(t *testing.T) {
	metrics := filepath.Join(t.TempDir(), "metrics.jsonl")
	testenv.Mkfifo(t, metrics)
	ckpt := t.TempDir()
	testenv.Mkfifo(t, filepath.Join(ckpt, checkpoint.StateFile))
	for name, read := range map[string]func() error{
		"ReadMetrics": func() error { _, err := ReadMetrics(metrics); return err },
		"trimMetrics": func() error { return trimMetrics(metrics, 1) },
		"loadState":   func() error { _, err := loadState(ckpt, nil, nil, nil, nil); return err },
	} {
		if err := testenv.Unblocked(t, read); !errors.Is(err, fileutil.ErrNotRegular) {
			t.Errorf("%s: error %v; want one saying it is not a regular file", name, err)
		}
	}
}
