package tensor

import (
	"math"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tensor/kernel"
)

func TestPackedMatMul(t *testing.T) {
	testPackedMatMul(t)
}

// TestPackedMatMulBF16Compute repeats TestPackedMatMul with bfloat16 compute set, where bf16
// weights are packed as the GEMM kernel's panels (skipped where the CPU lacks AVX512-BF16),
// and checks that they are.
func TestPackedMatMulBF16Compute(t *testing.T) {
	if err := kernel.SetCompute(kernel.BF16Compute); err != nil {
		t.Skipf("skipped: %v", err)
	}
	defer kernel.SetCompute(kernel.FP32Compute)
	testPackedMatMul(t)
	p, err := Pack(New(64, 96), false, BF16)
	if err != nil {
		t.Fatal(err)
	}
	if p.panels == nil || p.bf != nil {
		t.Fatal("bf16 weights under bf16 compute were not packed as panels")
	}
	if p.Bytes() != 2*64*96 {
		t.Fatalf("panels of a 64×96 weight take %d bytes, want %d", p.Bytes(), 2*64*96)
	}
}

func testPackedMatMul(t *testing.T) {
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
			// bf16 rounds each weight to 8 bits of mantissa; int8 to a step of its group's
			// largest magnitude / 127.
			var maxAbs float64
			for _, v := range w.Data() {
				maxAbs = max(maxAbs, math.Abs(float64(v)))
			}
			tol := func(wv float32) float64 { return 0x1p-8 * math.Abs(float64(wv)) }
			if f == Int8 {
				tol = func(float32) float64 { return maxAbs / 254 * 1.001 }
			}
			row := make([]float32, k)
			for i := range n {
				p.Row(i, row)
				for q, v := range row {
					var wv float32
					if kn {
						wv = w.At(q, i)
					} else {
						wv = w.At(i, q)
					}
					if d := math.Abs(float64(v - wv)); d > tol(wv) {
						t.Fatalf("%s kn=%v: Row(%d)[%d] = %g, weight %g", f, kn, i, q, v, wv)
					}
				}
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
				// With a bias, and a GELU after it: the bits of the product on bias rows, then
				// GELUInto.
				bias := New(1, n)
				Normal(bias, 0, 1, rng)
				xr := x.Narrow(0, 0, rows).Contiguous()
				for _, kind := range []GELUKind{-1, GELUTanh, GELUErf} {
					want, got := New(rows, n), New(rows, n)
					for i := range rows {
						copy(want.Data()[i*n:(i+1)*n], bias.Data())
					}
					p.MatMulInto(want, xr, 1)
					if kind < 0 {
						p.MatMulBiasInto(got, xr, bias)
					} else {
						GELUInto(want, want, kind)
						p.MatMulBiasGELUInto(got, xr, bias, kind)
					}
					for i, v := range got.Data() {
						if math.Float32bits(v) != math.Float32bits(want.Data()[i]) {
							t.Fatalf("%s kn=%v rows=%d gelu=%d: out[%d] = %g, want %g", f, kn, rows, kind, i, v, want.Data()[i])
						}
					}
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

// TestPackedFP32Panels checks fp32 weights packed under bfloat16 compute: every product has
// the bits of the same product on the unpacked float32 weight (bfloat16 tiles for many rows,
// float32 for one row or a few), Row gives the weights themselves, and without bfloat16
// compute Pack refuses fp32 unless the CPU has float32 panels.
func TestPackedFP32Panels(t *testing.T) {
	if p, err := Pack(New(8, 8), true, FP32); (err == nil) != kernel.FloatPanelsAvailable() || (err == nil && !p.HoldsWeights()) {
		t.Fatalf("fp32 packed under fp32 compute: %v, float32 panels available: %v", err, kernel.FloatPanelsAvailable())
	}
	if err := kernel.SetCompute(kernel.BF16Compute); err != nil {
		t.Skipf("skipped: %v", err)
	}
	defer kernel.SetCompute(kernel.FP32Compute)
	rng := NewRNG(7)
	// (K, N) = (768, 100): one row and three stay in float32, 40 run in the tiles.
	const K, N = 768, 100
	for _, kn := range []bool{true, false} {
		p, wt := packFP32(t, rng, K, N, kn)
		if p.HoldsWeights() {
			t.Fatal("bfloat16 panels of fp32 weights claim to hold the weights")
		}
		if b := p.Bytes(); b < 2*K*N || b > 2*K*(N+31) { // bfloat16, N padded to micro-panels
			t.Fatalf("kn=%v: panels take %d bytes for a %d×%d weight", kn, b, N, K)
		}
		checkRows(t, p, wt, kn)
		bias := New(1, N)
		Normal(bias, 0, 1, rng)
		for _, rows := range []int{1, 3, 40} {
			if tiled := kernel.Tiled(rows, N, K); tiled != (rows == 40) {
				t.Fatalf("kernel.Tiled(%d, %d, %d) = %v", rows, N, K, tiled)
			}
			x := New(rows, K)
			Normal(x, 0, 1, rng)
			same := func(what string, got, want *Tensor) {
				t.Helper()
				for i, v := range got.Data() {
					if math.Float32bits(v) != math.Float32bits(want.Data()[i]) {
						t.Fatalf("kn=%v rows=%d %s: out[%d] = %g, unpacked %g", kn, rows, what, i, v, want.Data()[i])
					}
				}
			}
			want, got := New(rows, N), New(rows, N)
			Normal(want, 0, 1, rng)
			CopyInto(got, want)
			MatMulInto(want, x, wt, 1, 0.5)
			p.MatMulInto(got, x, 0.5)
			same("MatMulInto", got, want)
			MatMulBiasInto(want, x, wt, bias)
			p.MatMulBiasInto(got, x, bias)
			same("MatMulBiasInto", got, want)
			GELUInto(want, want, GELUTanh)
			p.MatMulBiasGELUInto(got, x, bias, GELUTanh)
			same("MatMulBiasGELUInto", got, want)
			if rows == 40 { // the tiles did round to bfloat16: float32 gives other bits
				kernel.SetCompute(kernel.FP32Compute)
				MatMulInto(want, x, wt, 1, 0)
				kernel.SetCompute(kernel.BF16Compute)
				p.MatMulInto(got, x, 0)
				if diff := testenv.MaxDiff(got.Data(), want.Data()); diff == 0 || diff > 0.05 {
					t.Fatalf("kn=%v: bfloat16 tiles differ from float32 by %g", kn, diff)
				}
			}
		}
	}
}

// TestPackedFloatPanels checks fp32 weights packed as float32 panels under float32 compute
// (skipped where the CPU lacks them): they hold the weights (Row gives them back, Bytes is 4
// a weight), products of rows Sgemm runs in its tiles give its bits on a (N, K) weight, which
// Sgemm packs too, and every product is within float32 rounding of the unpacked one; one row
// runs on a MatVec with the bits of MatMulInto.
func TestPackedFloatPanels(t *testing.T) {
	if !kernel.FloatPanelsAvailable() {
		t.Skip("skipped: this CPU (or QKV_CPU) has no float32 panels (AVX2 or AVX-512)")
	}
	rng := NewRNG(8)
	const K, N = 768, 100
	for _, kn := range []bool{true, false} {
		p, wt := packFP32(t, rng, K, N, kn)
		if b := p.Bytes(); !p.HoldsWeights() || b < 4*K*N || b > 4*K*(N+31) { // N padded to whole micro-panels
			t.Fatalf("kn=%v: float32 panels hold the weights: %v, take %d bytes", kn, p.HoldsWeights(), p.Bytes())
		}
		checkRows(t, p, wt, kn)
		bias := New(1, N)
		Normal(bias, 0, 1, rng)
		for _, rows := range []int{1, 3, 40} {
			x := New(rows, K)
			Normal(x, 0, 1, rng)
			exact := !kn && kernel.Tiled(rows, N, K)
			check := func(what string, got, want *Tensor) {
				t.Helper()
				diff := testenv.MaxDiff(got.Data(), want.Data())
				if exact && diff != 0 || diff > 1e-4 {
					t.Fatalf("kn=%v rows=%d %s: differs from unpacked by %g (bits expected: %v)", kn, rows, what, diff, exact)
				}
			}
			want, got := New(rows, N), New(rows, N)
			Normal(want, 0, 1, rng)
			CopyInto(got, want)
			MatMulInto(want, x, wt, 1, 0.5)
			p.MatMulInto(got, x, 0.5)
			check("MatMulInto", got, want)
			MatMulBiasInto(want, x, wt, bias)
			p.MatMulBiasInto(got, x, bias)
			check("MatMulBiasInto", got, want)
			GELUInto(want, want, GELUTanh)
			p.MatMulBiasGELUInto(got, x, bias, GELUTanh)
			check("MatMulBiasGELUInto", got, want)
			if rows == 1 {
				var v kernel.MatVec
				p.BindMatVec(&v)
				v.Input(x.Data())
				one := make([]float32, N)
				v.Rows(0, N, one)
				p.MatMulInto(got, x, 0)
				for j, o := range one {
					if math.Float32bits(o) != math.Float32bits(got.Data()[j]) {
						t.Fatalf("kn=%v: MatVec output %d = %g, MatMulInto %g", kn, j, o, got.Data()[j])
					}
				}
			}
		}
	}
}

// packFP32 packs a random (K, N) weight, laid out (K, N) when kn, else (N, K), in fp32, and
// returns it with op(B), the weight as (K, N).
func packFP32(t *testing.T, rng *RNG, K, N int, kn bool) (*PackedMatrix, *Tensor) {
	t.Helper()
	w := New(K, N)
	if !kn {
		w = New(N, K)
	}
	Normal(w, 0, 0.1, rng)
	wt := w
	if !kn {
		wt = w.Transpose(0, 1)
	}
	p, err := Pack(w, kn, FP32)
	if err != nil {
		t.Fatal(err)
	}
	return p, wt
}

// checkRows checks that p.Row gives the weights themselves (columns of op(B) wt) for a few
// outputs.
func checkRows(t *testing.T, p *PackedMatrix, wt *Tensor, kn bool) {
	t.Helper()
	row := make([]float32, p.K)
	for _, i := range []int{0, p.N / 3, p.N - 1} {
		p.Row(i, row)
		for q, v := range row {
			if want := wt.At(q, i); v != want {
				t.Fatalf("kn=%v: Row(%d)[%d] = %g, want the weight %g", kn, i, q, v, want)
			}
		}
	}
}
