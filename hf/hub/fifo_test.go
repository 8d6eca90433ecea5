//go:build unix

package hub

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/qkvdev/qkv/internal/fileutil"
)

// A named pipe in the cache, as a ref or as a weights index, is refused at once.
func TestCacheNamedPipes(t *testing.T) {
	rc := newRepoCache(t.TempDir(), "org", "name")
	ref := rc.refPath("main")
	if err := os.MkdirAll(filepath.Dir(ref), 0o755); err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(t.TempDir(), "model.safetensors.index.json")
	for _, p := range []string{ref, index} {
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 2)
	go func() {
		if _, ok := rc.commitFor("main"); ok {
			done <- errors.New("a named pipe as refs/main names a commit")
			return
		}
		done <- nil
	}()
	go func() {
		if _, err := readShardNames(index); !errors.Is(err, fileutil.ErrNotRegular) {
			done <- fmt.Errorf("readShardNames: error %v; want one saying it is not a regular file", err)
			return
		}
		done <- nil
	}()
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("still blocked after 30s")
		}
	}
}
