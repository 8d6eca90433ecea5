package main

import (
	"strings"
	"testing"
)

// qkv bench serve refuses settings it cannot measure before it builds the model.
func TestBenchServeFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--streams", "0"}, "--streams 0: want 1..256"},
		{[]string{"--streams", "1", "--streams", "1000"}, "--streams 1000"},
		{[]string{"--prompt", "0"}, "--prompt 0"},
		{[]string{"--tokens", "2000"}, "together ≤ 1024"},
		{[]string{"extra"}, "unknown command"},
	} {
		_, err := run(t, "", append([]string{"bench", "serve"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("qkv bench serve %s: %v, want an error containing %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}
