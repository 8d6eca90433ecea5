package tensor

import (
	"math"
	"strings"
	"testing"
)

func TestPackedMatMul(t *testing.T) {
	rng := NewRNG(5)
	for _, kn := range []bool{true, false} {
		w := New(48, 40) // (K, N) when kn, else (N, K)
		Normal(w, 0, 0.1, rng)
		n, k := 40, 48
		if !kn {
			n, k = 48, 40
		}
		x := New(3, k)
		Normal(x, 0, 1, rng)
		want := New(3, n)
		if kn {
			MatMulInto(want, x, w, 1, 0)
		} else {
			MatMulInto(want, x, w.Transpose(0, 1), 1, 0)
		}
		for _, f := range []WeightFormat{BF16, Int8} {
			p, err := Pack(w, kn, f)
			if err != nil {
				t.Fatal(err)
			}
			if p.N != n || p.K != k {
				t.Fatalf("%s: packed %d×%d, want %d×%d", f, p.N, p.K, n, k)
			}
			for _, rows := range []int{1, 3} {
				got := New(rows, n)
				p.MatMulInto(got, x.Narrow(0, 0, rows).Contiguous(), 0)
				var worst, scale float64
				for i, v := range got.Data() {
					worst = max(worst, math.Abs(float64(v-want.Data()[i])))
					scale = max(scale, math.Abs(float64(want.Data()[i])))
				}
				if worst > 0.02*scale {
					t.Errorf("%s kn=%v rows=%d: off by %.3g (scale %.3g)", f, kn, rows, worst, scale)
				}
			}
		}
	}
	bad := New(4, 4)
	bad.Set(float32(math.NaN()), 1, 2)
	if _, err := Pack(bad, true, Int8); err == nil || !strings.Contains(err.Error(), "finite") {
		t.Fatalf("NaN weight: %v", err)
	}
	if _, err := Pack(New(2, 2, 2), true, BF16); err == nil {
		t.Fatal("3-d weight packed")
	}
	if _, err := ParseWeightFormat("fp8"); err == nil {
		t.Fatal("fp8 accepted")
	}
}
