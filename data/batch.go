package data

import (
	"fmt"

	"github.com/qkvdev/qkv/tensor"
)

// Split cuts ids into the first frac for training and the rest for validation; frac is a share
// in (0, 1).
func Split(ids []int, frac float64) (train, val []int, err error) {
	if !(frac > 0 && frac < 1) { // NaN fails too
		return nil, nil, fmt.Errorf("training share %g: want a number in (0, 1)", frac)
	}
	n := int(float64(len(ids)) * frac)
	return ids[:n], ids[n:], nil
}

// CheckBlock reports whether a token stream is long enough for windows of t tokens plus the
// next-token target.
func CheckBlock(name string, ids []int, t int) error {
	if len(ids) < t+1 {
		return fmt.Errorf("the %s split has %d tokens, but a block of %d needs at least %d; use a smaller --block or a larger corpus", name, len(ids), t, t+1)
	}
	return nil
}

// RandomBatch fills x and y (each B·T) with B windows of ids at uniformly random offsets drawn
// from rng: x is a window, y the same window shifted by one token (the next-token targets).
func RandomBatch(ids []int, b, t int, rng *tensor.RNG, x, y []int) {
	for i := 0; i < b; i++ {
		o := rng.IntN(len(ids) - t)
		copy(x[i*t:(i+1)*t], ids[o:o+t])
		copy(y[i*t:(i+1)*t], ids[o+1:o+t+1])
	}
}

// Windows returns the number of non-overlapping windows of t tokens (each with its next-token
// targets) that ids holds.
func Windows(ids []int, t int) int { return (len(ids) - 1) / t }

// Window fills x and y (each t long) with window w of ids.
func Window(ids []int, t, w int, x, y []int) {
	copy(x, ids[w*t:w*t+t])
	copy(y, ids[w*t+1:w*t+t+1])
}
