package testenv

import (
	"slices"
	"testing"
)

// Expected is a reference's expected outputs (expected.safetensors) as a parity test reads
// them: it remembers which tensors the test took, so that CheckAllCompared fails a test that
// left one out (a gradient of a parameter the model lacks, say).
type Expected struct {
	read     func(name string) ([]float32, error)
	compared map[string]bool // every tensor of the file → taken by Get
}

// NewExpected tracks the tensors names, read by read (safetensors.File.Float32).
func NewExpected(names []string, read func(name string) ([]float32, error)) *Expected {
	e := &Expected{read: read, compared: make(map[string]bool, len(names))}
	for _, n := range names {
		e.compared[n] = false
	}
	return e
}

// Get returns the tensor name for comparison, failing the test if the file lacks it.
func (e *Expected) Get(t testing.TB, name string) []float32 {
	t.Helper()
	if _, ok := e.compared[name]; !ok {
		t.Fatalf("expected outputs lack %s", name)
	}
	v, err := e.read(name)
	if err != nil {
		t.Fatalf("expected outputs: %s: %v", name, err)
	}
	e.compared[name] = true
	return v
}

// CheckAllCompared fails the test for every tensor of the file that Get never returned, and
// for a file with no tensors.
func (e *Expected) CheckAllCompared(t testing.TB) {
	t.Helper()
	if len(e.compared) == 0 {
		t.Errorf("expected outputs hold no tensors")
	}
	var missed []string
	for n, ok := range e.compared {
		if !ok {
			missed = append(missed, n)
		}
	}
	slices.Sort(missed)
	if len(missed) > 0 {
		t.Errorf("%d expected tensors never compared: %v", len(missed), missed)
	}
}
