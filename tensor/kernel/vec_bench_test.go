package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// vecBenchCase is one row kernel for BenchmarkVec: call runs it on row i of cols elements,
// with the operands laid out as rows×cols blocks; bytes is the traffic per element (each
// operand read, plus each output written).
type vecBenchCase struct {
	name  string
	bytes int
	call  func(ops [][]float32, lo, hi int)
	// operands the kernel needs (the first are inputs drawn from normal(0, 3)); pos lists
	// operands that must be positive.
	nops int
	pos  []int
}

var vecBenchCases = []vecBenchCase{
	{"Exp", 8, func(o [][]float32, lo, hi int) { Exp(o[1][lo:hi], o[0][lo:hi]) }, 2, nil},
	{"Tanh", 8, func(o [][]float32, lo, hi int) { Tanh(o[1][lo:hi], o[0][lo:hi]) }, 2, nil},
	{"Erf", 8, func(o [][]float32, lo, hi int) { Erf(o[1][lo:hi], o[0][lo:hi]) }, 2, nil},
	{"SoftmaxRow", 8, func(o [][]float32, lo, hi int) { SoftmaxRow(o[1][lo:hi], o[0][lo:hi]) }, 2, nil},
	{"LogSumExp", 4, func(o [][]float32, lo, hi int) { LogSumExp(o[0][lo:hi]) }, 1, nil},
	{"SoftmaxCrossEntropyBackwardRow", 12, func(o [][]float32, lo, hi int) {
		SoftmaxCrossEntropyBackwardRow(o[1][lo:hi], o[0][lo:hi], 10, 1e-3)
	}, 2, nil},
	{"SoftmaxBackwardRow", 16, func(o [][]float32, lo, hi int) {
		SoftmaxBackwardRow(o[2][lo:hi], o[0][lo:hi], o[1][lo:hi])
	}, 3, nil},
	{"LayerNormRow", 16, func(o [][]float32, lo, hi int) {
		LayerNormRow(o[3][lo:hi], o[0][lo:hi], o[1][lo:hi], o[2][lo:hi], 1e-5)
	}, 4, nil},
	{"LayerNormBackwardRow", 20, func(o [][]float32, lo, hi int) {
		LayerNormBackwardRow(o[3][lo:hi], o[0][lo:hi], o[1][lo:hi], o[2][lo:hi], 0.1, 0.9)
	}, 4, nil},
	{"LayerNormParamGradRow", 24, func(o [][]float32, lo, hi int) {
		LayerNormParamGradRow(o[2][lo:hi], o[3][lo:hi], o[0][lo:hi], o[1][lo:hi], 0.1, 0.9)
	}, 4, nil},
	{"GELUTanh", 8, func(o [][]float32, lo, hi int) { GELUTanh(o[1][lo:hi], o[0][lo:hi]) }, 2, nil},
	{"GELUTanhBackward", 16, func(o [][]float32, lo, hi int) {
		GELUTanhBackward(o[2][lo:hi], o[1][lo:hi], o[0][lo:hi])
	}, 3, nil},
	{"GELUErf", 8, func(o [][]float32, lo, hi int) { GELUErf(o[1][lo:hi], o[0][lo:hi]) }, 2, nil},
	{"GELUErfBackward", 16, func(o [][]float32, lo, hi int) {
		GELUErfBackward(o[2][lo:hi], o[1][lo:hi], o[0][lo:hi])
	}, 3, nil},
	{"AdamWStep", 28, func(o [][]float32, lo, hi int) {
		AdamWStep(o[2][lo:hi], o[0][lo:hi], o[3][lo:hi], o[1][lo:hi], 0.9, 0.999, 1e-8, 0.99997, 3e-4, 0.1)
	}, 4, []int{1}},
	{"Add", 12, func(o [][]float32, lo, hi int) { Add(o[2][lo:hi], o[0][lo:hi], o[1][lo:hi]) }, 3, nil},
	{"Mul", 12, func(o [][]float32, lo, hi int) { Mul(o[2][lo:hi], o[0][lo:hi], o[1][lo:hi]) }, 3, nil},
	{"AddTo", 12, func(o [][]float32, lo, hi int) { AddTo(o[1][lo:hi], o[0][lo:hi]) }, 2, nil},
	{"Scale", 8, func(o [][]float32, lo, hi int) { Scale(o[1][lo:hi], o[0][lo:hi], 0.5) }, 2, nil},
}

// BenchmarkVec times every row kernel on one 4096-element row and on a 2048×512 block
// (row by row), on the assembly and the pure-Go paths, and reports the traffic in MB/s and
// the elements per second. Run it briefly: go test -bench Vec -benchtime 200ms.
func BenchmarkVec(b *testing.B) {
	shapes := []struct{ rows, cols int }{{1, 4096}, {2048, 512}}
	for _, c := range vecBenchCases {
		for _, sh := range shapes {
			for _, asm := range []bool{true, false} {
				if asm && !hasAsm {
					continue
				}
				path := "go"
				if asm {
					path = "asm"
				}
				b.Run(fmt.Sprintf("%s/%dx%d/%s", c.name, sh.rows, sh.cols, path), func(b *testing.B) {
					n := sh.rows * sh.cols
					rng := rand.New(rand.NewPCG(1, 2))
					ops := make([][]float32, c.nops)
					for k := range ops {
						ops[k] = make([]float32, n)
						for i := range ops[k] {
							ops[k][i] = float32(3 * rng.NormFloat64())
						}
					}
					for _, k := range c.pos {
						for i, v := range ops[k] {
							ops[k][i] = v * v
						}
					}
					defer func(old bool) { useAsm = old }(useAsm)
					useAsm = asm
					b.SetBytes(int64(c.bytes * n))
					for b.Loop() {
						for r := range sh.rows {
							c.call(ops, r*sh.cols, (r+1)*sh.cols)
						}
					}
					b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
				})
			}
		}
	}
}

// BenchmarkGELUScale runs the GELUs on normal inputs of several standard deviations: far in
// their tails the terms fall into the subnormals, which the kernels flush (see FTZON in
// vec_amd64.s); at sd=10 (a BERT's MLP before training) that was 2.5x the time.
func BenchmarkGELUScale(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sd := range []float32{1, 10} {
		x := make([]float32, 3072*64)
		for i := range x {
			x[i] = float32(rng.NormFloat64()) * sd
		}
		y := make([]float32, len(x))
		for _, f := range []struct {
			name string
			fn   func(dst, src []float32)
		}{{"erf", GELUErf}, {"tanh", GELUTanh}} {
			b.Run(fmt.Sprintf("%s/sd=%g", f.name, sd), func(b *testing.B) {
				for b.Loop() {
					f.fn(y, x)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(x)), "ns/elem")
			})
		}
	}
}
