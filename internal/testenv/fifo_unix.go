//go:build unix

package testenv

import (
	"syscall"
	"testing"
)

// Mkfifo makes a named pipe at path, for tests that a reader refuses one rather than block on
// it.
func Mkfifo(t testing.TB, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}
