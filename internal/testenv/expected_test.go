package testenv

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// errorTB records Errorf calls and ends the test on Fatalf, as fakeTB does.
type errorTB struct {
	fakeTB
	errors []string
}

func (e *errorTB) Errorf(format string, args ...any) {
	e.errors = append(e.errors, fmt.Sprintf(format, args...))
}

func TestExpected(t *testing.T) {
	file := map[string][]float32{"logits": {1, 2}, "loss": {3}, "grad.a": {4}, "grad.b": {5}, "broken": nil}
	read := func(name string) ([]float32, error) {
		if name == "broken" {
			return nil, errors.New("bad dtype")
		}
		return file[name], nil
	}
	names := []string{"logits", "loss", "grad.a", "grad.b", "broken"}
	cases := []struct {
		name    string
		names   []string
		get     []string
		wantOut string   // "fail" when Get ends the test
		wantErr []string // what CheckAllCompared reports
	}{
		{"all compared", names[:4], []string{"logits", "loss", "grad.a", "grad.b", "grad.a"}, "", nil},
		{"a gradient left out", names[:4], []string{"logits", "loss", "grad.a"}, "", []string{"1 expected tensors never compared: [grad.b]"}},
		{"nothing compared", names[:4], nil, "", []string{"4 expected tensors never compared: [grad.a grad.b logits loss]"}},
		{"empty file", nil, nil, "", []string{"expected outputs hold no tensors"}},
		{"name not in the file", names[:4], []string{"grad.c"}, "fail", nil},
		{"unreadable tensor", names, []string{"broken"}, "fail", nil},
	}
	for _, c := range cases {
		e := NewExpected(c.names, read)
		f := &errorTB{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, n := range c.get {
				if got := e.Get(f, n); len(got) != len(file[n]) || got[0] != file[n][0] {
					t.Errorf("%s: Get(%s) = %v", c.name, n, got)
				}
			}
			e.CheckAllCompared(f)
		}()
		<-done
		if f.outcome != c.wantOut {
			t.Errorf("%s: ended %q (%s), want %q", c.name, f.outcome, f.msg, c.wantOut)
		}
		if strings.Join(f.errors, "\n") != strings.Join(c.wantErr, "\n") {
			t.Errorf("%s: errors %q, want %q", c.name, f.errors, c.wantErr)
		}
	}
}
