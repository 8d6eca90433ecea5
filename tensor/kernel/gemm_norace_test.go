//go:build !race

package kernel

// raceEnabled is set under the race detector, which makes sync.Pool drop items at random.
const raceEnabled = false
