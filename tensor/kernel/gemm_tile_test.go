package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmTiles checks every micro-kernel this build has directly against a float64
// reference: packed panels and, for kernels that take strides, panels read in place in both
// forms of A; every corner mr×nr of the tile; alpha, beta, NaN garbage in C under beta == 0,
// NaN and Inf in the operands; and that nothing outside the corner of C is written.
func TestGemmTiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, K := range gemmKernels() {
		t.Run(K.name, func(t *testing.T) {
			for _, k := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 256} {
				for _, form := range []string{"packed", "column", "row"} {
					if form != "packed" && !K.inPlace || form == "row" && K.tileRow == nil {
						continue
					}
					for range 6 {
						mr, nr := 1+rng.IntN(K.mr), 1+rng.IntN(K.nr)
						if rng.IntN(2) == 0 {
							mr, nr = K.mr, K.nr
						}
						beta := []float32{0, 1, -0.5}[rng.IntN(3)]
						checkTile(t, rng, K, form, k, mr, nr, 1.5, beta, rng.IntN(4) == 0)
					}
				}
			}
		})
	}
}

// checkTile runs one micro-kernel call: A in the given form (packed: a (k, MR) panel;
// column: stride sa > MR; row: MR rows of stride sa ≥ k), B with stride sb ≥ NR.
func checkTile(t *testing.T, rng *rand.Rand, K *gemmKernel, form string, k, mr, nr int, alpha, beta float32, poison bool) {
	t.Helper()
	name := fmt.Sprintf("%s k=%d mr=%d nr=%d alpha=%g beta=%g poison=%v", form, k, mr, nr, alpha, beta, poison)
	sa, sb := K.mr, K.nr
	var a []float32
	elemA := func(p, i int) int { return p*sa + i }
	switch form {
	case "packed":
		a = randFloats(rng, max(1, k*sa))
	case "column":
		sa = K.mr + 1 + rng.IntN(9)
		a = randFloats(rng, max(1, k*sa))
		sb = K.nr + 1 + rng.IntN(9)
	case "row":
		sa = k + rng.IntN(9)
		a = randFloats(rng, max(1, K.mr*sa))
		elemA = func(p, i int) int { return i*sa + p }
		sb = K.nr + rng.IntN(9)
	}
	b := randFloats(rng, max(1, k*sb))
	if poison && k > 0 {
		a[elemA(rng.IntN(k), rng.IntN(mr))] = float32(math.NaN())
		b[rng.IntN(k)*sb+rng.IntN(nr)] = float32(math.Inf(1))
	}
	ldc := K.nr + rng.IntN(5)
	const guard = 7
	c := randFloats(rng, K.mr*ldc+guard)
	if beta == 0 {
		c = nanFloats(len(c))
	}
	orig := append([]float32(nil), c...)
	tile := K.tile
	if form == "row" {
		tile = K.tileRow
	}
	tile(k, &a[0], sa, &b[0], sb, &c[0], ldc, mr, nr, alpha, beta)
	for i := range K.mr {
		for j := range ldc {
			got := c[i*ldc+j]
			if i >= mr || j >= nr {
				if math.Float32bits(got) != math.Float32bits(orig[i*ldc+j]) {
					t.Fatalf("%s: wrote C[%d][%d] outside the corner", name, i, j)
				}
				continue
			}
			var s, bound float64
			for p := range k {
				x := float64(a[elemA(p, i)]) * float64(b[p*sb+j])
				s += x
				bound += math.Abs(x)
			}
			want := float64(alpha) * s
			bound *= math.Abs(float64(alpha))
			if beta != 0 {
				want += float64(beta) * float64(orig[i*ldc+j])
				bound += math.Abs(float64(beta) * float64(orig[i*ldc+j]))
			}
			if !closeTo(got, want, bound, k) {
				t.Fatalf("%s: C[%d][%d] = %g, want %g", name, i, j, got, want)
			}
		}
	}
	for i := K.mr * ldc; i < len(c); i++ {
		if math.Float32bits(c[i]) != math.Float32bits(orig[i]) {
			t.Fatalf("%s: wrote past the tile", name)
		}
	}
}
