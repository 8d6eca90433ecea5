package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

// dotLengths covers every tail of the 32- and 8-wide loops, and a long vector.
func dotLengths() []int {
	var ns []int
	for n := range 68 {
		ns = append(ns, n)
	}
	return append(ns, 1000, 100003)
}

func TestDot(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(31, 32))
		for _, n := range dotLengths() {
			x, y := randFloats(rng, n), randFloats(rng, n)
			var want, bound float64
			for i := range x {
				want += float64(x[i]) * float64(y[i])
				bound += math.Abs(float64(x[i]) * float64(y[i]))
			}
			if got := Dot(x, y); !closeTo(got, want, bound, n) {
				t.Fatalf("n=%d: Dot = %g, want %g", n, got, want)
			}
		}
		// Non-finite values propagate.
		x, y := randFloats(rng, 45), randFloats(rng, 45)
		x[40] = float32(math.Inf(1))
		if got := Dot(x, y); !math.IsInf(float64(got), 0) {
			t.Fatalf("Dot with an Inf = %g", got)
		}
		x[3] = float32(math.NaN())
		if got := Dot(x, y); !math.IsNaN(float64(got)) {
			t.Fatalf("Dot with a NaN = %g", got)
		}
	})
}

func TestAxpy(t *testing.T) {
	forEachPath(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(33, 34))
		for _, n := range dotLengths() {
			for _, alpha := range []float32{0, 1, -2.5} {
				x, y := randFloats(rng, n+3), randFloats(rng, n+3)
				orig := append([]float32(nil), y...)
				Axpy(alpha, x[:n], y[:n])
				for i := range n {
					want := float64(orig[i]) + float64(alpha)*float64(x[i])
					bound := math.Abs(float64(orig[i])) + math.Abs(float64(alpha)*float64(x[i]))
					if !closeTo(y[i], want, bound, 1) {
						t.Fatalf("n=%d alpha=%g: y[%d] = %g, want %g", n, alpha, i, y[i], want)
					}
				}
				for i := n; i < len(y); i++ {
					if y[i] != orig[i] {
						t.Fatalf("n=%d: wrote y[%d] past the end", n, i)
					}
				}
			}
		}
	})
}

func TestDotPanicsOnLengthMismatch(t *testing.T) {
	for name, f := range map[string]func(){
		"Dot":  func() { Dot(make([]float32, 3), make([]float32, 4)) },
		"Axpy": func() { Axpy(1, make([]float32, 4), make([]float32, 3)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
