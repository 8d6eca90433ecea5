package tensor

// Sum returns the sum of every element, accumulated in float64.
func Sum(t *Tensor) float64 {
	var s float64
	if t.IsContiguous() {
		for _, v := range t.Data() {
			s += float64(v)
		}
		return s
	}
	t.each(func(o int) { s += float64(t.data[o]) })
	return s
}

// Mean returns the mean of every element (NaN for an empty tensor).
func Mean(t *Tensor) float64 { return Sum(t) / float64(t.Len()) }

// SumSquares returns the sum of the squares of every element, accumulated in float64.
func SumSquares(t *Tensor) float64 {
	var s float64
	if t.IsContiguous() {
		// Four independent sums: one running sum waits on each addition's latency.
		d := t.Data()
		var s0, s1, s2, s3 float64
		i := 0
		for ; i+4 <= len(d); i += 4 {
			v0, v1, v2, v3 := float64(d[i]), float64(d[i+1]), float64(d[i+2]), float64(d[i+3])
			s0 += v0 * v0
			s1 += v1 * v1
			s2 += v2 * v2
			s3 += v3 * v3
		}
		for ; i < len(d); i++ {
			s0 += float64(d[i]) * float64(d[i])
		}
		return (s0 + s1) + (s2 + s3)
	}
	t.each(func(o int) { v := float64(t.data[o]); s += v * v })
	return s
}

// MaxAbs returns the largest absolute value of the elements (0 for an empty tensor), and NaN
// if any element is NaN.
func MaxAbs(t *Tensor) float32 {
	var m float32
	nan := false
	t.each(func(o int) {
		v := t.data[o]
		if v != v {
			nan = true
		}
		if v < 0 {
			v = -v
		}
		m = max(m, v)
	})
	if nan {
		return v32NaN()
	}
	return m
}

func v32NaN() float32 {
	var z float32
	return z / z
}

// Argmax returns the index of the largest element of a 1-d tensor (the first on ties). NaN
// elements are passed over, as if they were -Inf; a tensor of NaNs alone (or an empty one)
// gives -1.
func Argmax(t *Tensor) int {
	best, bi := float32(0), -1
	i := 0
	t.each(func(o int) {
		if v := t.data[o]; v == v && (bi < 0 || v > best) {
			best, bi = v, i
		}
		i++
	})
	return bi
}
