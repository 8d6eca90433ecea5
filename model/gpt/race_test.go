//go:build race

package gpt

// raceEnabled is set under the race detector, whose instrumentation allocates: the tests that
// count allocations skip under it.
const raceEnabled = true
