package decode

import "math"

// LogSoftmax writes z − log Σ exp z for each row of v values of z into dst (which may be z):
// the log-probabilities a Stepper returns, from its logits.
func LogSoftmax(dst, z []float32, v int) {
	for r := 0; r*v < len(z); r++ {
		row, out := z[r*v:r*v+v], dst[r*v:r*v+v]
		hi := float32(math.Inf(-1))
		for _, x := range row {
			hi = max(hi, x)
		}
		var sum float64
		for _, x := range row {
			sum += math.Exp(float64(x - hi))
		}
		lse := float64(hi) + math.Log(sum)
		for j, x := range row {
			out[j] = float32(float64(x) - lse)
		}
	}
}
