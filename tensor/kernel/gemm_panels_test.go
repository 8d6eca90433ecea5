package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmPanels checks that a GEMM on pre-packed panels gives the bits of Sgemm in bfloat16
// compute on the same float32 weights, in both weight layouts, over shapes with partial
// micro-panels, odd and several depth blocks, one row (a matrix–vector product) and many,
// at 1 and 2 threads; and that Row returns the rounded weights.
func TestGemmPanels(t *testing.T) {
	withCompute(t, BF16Compute, func() {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, s := range [][3]int{{1, 32, 64}, {1, 50, 768}, {1, 33, 17}, {1, 70, 130}, {1, 200, 300}, {1, 300, 1100}, {3, 33, 17}, {12, 64, 100}, {13, 70, 1}, {64, 96, 1100}, {200, 45, 513}, {1, 40, 3000}} {
			m, n, k := s[0], s[1], s[2]
			for _, kn := range []bool{false, true} {
				w := randFloats(rng, n*k)
				p, err := NewPanelMatrix(w, n, k, kn)
				if err != nil {
					t.Fatal(err)
				}
				ldx, ldy := k+3, n+1
				x := randFloats(rng, m*ldx)
				for _, threads := range []int{1, 2} {
					name := fmt.Sprintf("m=%d n=%d k=%d kn=%v threads=%d", m, n, k, kn, threads)
					beta := []float32{0, 1, -0.5}[rng.IntN(3)]
					y0 := randFloats(rng, m*ldy)
					got, want := append([]float32(nil), y0...), append([]float32(nil), y0...)
					withThreads(threads, func() {
						GemmPanels(p, m, 0.5, x, ldx, beta, got, ldy)
						if kn {
							Sgemm(false, false, m, n, k, 0.5, x, ldx, w, n, beta, want, ldy)
						} else {
							Sgemm(false, true, m, n, k, 0.5, x, ldx, w, k, beta, want, ldy)
						}
					})
					if m == 1 {
						// Sgemm runs one row as a float32 GEMV: compare with the rounded reference.
						ref, bound := refBF16Gemm(false, !kn, m, n, k, 0.5, x, ldx, w, map[bool]int{true: n, false: k}[kn], beta, y0, ldy)
						for j := range n {
							if !closeTo(got[j], ref[j], bound[j], k) {
								t.Fatalf("%s: Y[0][%d] = %g, want %g (bound %g)", name, j, got[j], ref[j], bound[j])
							}
						}
						continue
					}
					for i, v := range got {
						if math.Float32bits(v) != math.Float32bits(want[i]) {
							t.Fatalf("%s: Y element %d = %g, Sgemm in bf16 compute gives %g", name, i, v, want[i])
						}
					}
				}
				row := make([]float32, k)
				for _, i := range []int{0, n / 2, n - 1} {
					p.Row(i, row)
					for q, v := range row {
						wv := w[i*k+q]
						if kn {
							wv = w[q*n+i]
						}
						if v != bf16Widen(bf16Round(wv)) {
							t.Fatalf("n=%d k=%d kn=%v: Row(%d)[%d] = %g, want %g rounded", n, k, kn, i, q, v, wv)
						}
					}
				}
			}
		}
	})
}

// TestPanelsRefused checks that panels are refused, with the reason, when bfloat16 compute is
// not set.
func TestPanelsRefused(t *testing.T) {
	old := computeBF16
	defer func() { computeBF16 = old }()
	computeBF16 = false
	if PanelsAvailable() {
		t.Fatal("PanelsAvailable with fp32 compute")
	}
	if _, err := NewPanelMatrix(make([]float32, 4), 2, 2, false); err == nil {
		t.Fatal("NewPanelMatrix succeeded with fp32 compute")
	}
}
