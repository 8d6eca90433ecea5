//go:build linux || darwin || freebsd || netbsd || openbsd

package hf

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A config.json or shard index that is a named pipe (or a folder) is refused at once: opening a
// pipe would block until a writer appears.
func TestReadRefusesNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config.json")
	if err := syscall.Mkfifo(config, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := ReadConfig(config); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadConfig(fifo) = %v", err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, WeightsIndexFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenWeights(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("OpenWeights with a fifo index = %v", err)
	}
	folder := filepath.Join(t.TempDir(), "config.json")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadConfig(folder); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadConfig(folder) = %v", err)
	}
}
