package testenv

import (
	"testing"
	"time"
)

// Unblocked returns f's error, and fails the test at once if f has not returned after 30
// seconds: a call that blocks (opening a named pipe, reading a pipe that stays open) would
// otherwise hang the test binary until its own timeout.
func Unblocked(t testing.TB, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("still blocked after 30s")
		return nil
	}
}
