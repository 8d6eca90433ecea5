package tensor

import (
	"fmt"
	"math/rand/v2"
)

// RNG is a seeded random source (PCG) whose state can be saved and restored, so that a training
// run resumes exactly.
type RNG struct {
	pcg *rand.PCG
	r   *rand.Rand
}

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG {
	pcg := rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	return &RNG{pcg: pcg, r: rand.New(pcg)}
}

// Float32 returns a uniform value in [0, 1).
func (g *RNG) Float32() float32 { return g.r.Float32() }

// Float64 returns a uniform value in [0, 1).
func (g *RNG) Float64() float64 { return g.r.Float64() }

// IntN returns a uniform value in [0, n).
func (g *RNG) IntN(n int) int { return g.r.IntN(n) }

// NormFloat64 returns a standard normal value.
func (g *RNG) NormFloat64() float64 { return g.r.NormFloat64() }

// Uint64 returns a uniform 64-bit value.
func (g *RNG) Uint64() uint64 { return g.r.Uint64() }

// MarshalBinary returns the generator's state.
func (g *RNG) MarshalBinary() ([]byte, error) { return g.pcg.MarshalBinary() }

// UnmarshalBinary restores a state returned by MarshalBinary.
func (g *RNG) UnmarshalBinary(b []byte) error {
	if err := g.pcg.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("rng state: %w", err)
	}
	return nil
}

// Normal fills t with samples of N(mean, std²).
func Normal(t *Tensor, mean, std float64, g *RNG) {
	d := t.Contiguous()
	if d != t {
		panic("tensor.Normal: tensor must be contiguous")
	}
	for i := range d.Data() {
		d.data[d.off+i] = float32(mean + std*g.NormFloat64())
	}
}

// Uniform fills t with samples of U(lo, hi).
func Uniform(t *Tensor, lo, hi float64, g *RNG) {
	d := t.Data()
	for i := range d {
		d[i] = float32(lo + (hi-lo)*g.Float64())
	}
}
