package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// writeIDs writes what json.Marshal would, and a newline; no ids is [] (not null).
func TestWriteIDs(t *testing.T) {
	for _, ids := range [][]int{nil, {}, {0}, {15496, 995}, {50256, 0, 1, 9, 10, 99, 100, 1 << 20}} {
		var b bytes.Buffer
		if err := writeIDs(&b, ids); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(append([]int{}, ids...))
		if b.String() != string(want)+"\n" {
			t.Errorf("writeIDs(%v) = %q, want %q", ids, b.String(), string(want)+"\n")
		}
	}
}
