package nn

import (
	"math"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// TestLinearForwardGELU checks that ForwardGELU gives the bits of GELU(Forward) in both
// layouts, on float32 weights (recording or not) and on packed ones, with the bf16 weights
// packed as the GEMM's panels under bf16 compute where the CPU has it (the GELU then runs in
// the product's store).
func TestLinearForwardGELU(t *testing.T) {
	testenv.EachCompute(t, func(compute kernel.Compute) {
		for _, torch := range []bool{false, true} {
			ps := &Params{}
			l := NewLinear(ps, "fc", 40, 72, true, torch)
			rng := tensor.NewRNG(3)
			for _, p := range ps.List() {
				tensor.Normal(p.Var.Value, 0, 0.3, rng)
			}
			x := tensor.New(2, 13, 40) // 26 rows: two tiles and an edge
			tensor.Normal(x, 0, 1, rng)
			for _, format := range []tensor.WeightFormat{tensor.FP32, tensor.BF16, tensor.Int8} {
				if err := l.Pack(format); err != nil {
					t.Fatal(err)
				}
				for _, kind := range []tensor.GELUKind{tensor.GELUTanh, tensor.GELUErf} {
					for _, grad := range []bool{false, true} {
						if grad && format != tensor.FP32 {
							continue // packed weights are for inference
						}
						g := autograd.NewGraph()
						g.SetGrad(grad)
						in := g.Const(x)
						want := g.GELU(l.Forward(g, in), kind).Value.Data()
						got := l.ForwardGELU(g, in, kind).Value.Data()
						for i, v := range got {
							if math.Float32bits(v) != math.Float32bits(want[i]) {
								t.Fatalf("%s torch=%v %s kind=%d grad=%v: out[%d] = %g, want %g", compute, torch, format, kind, grad, i, v, want[i])
							}
						}
					}
				}
			}
		}
	})
}
