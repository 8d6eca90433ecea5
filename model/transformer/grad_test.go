package transformer

import (
	"math"
	"slices"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tensor"
)

// A finite-difference check of the whole model's loss (with label smoothing) through the parts
// the layer checks in package nn do not cover: the scaled embeddings, separate source and
// target tables, the untied LM head and the pre-LN final LayerNorms. Sampled elements of every
// parameter, in float32, so the tolerance is loose but catches a sign or factor error. (The
// ReLU model's gradients are checked against PyTorch by the parity test.)
func TestModelGradients(t *testing.T) {
	for name, edit := range configs {
		t.Run(name, func(t *testing.T) {
			m := testModel(t, func(c *Config) {
				if edit != nil {
					edit(c)
				}
				if c.ActivationFunction == "relu" {
					c.ActivationFunction = "gelu" // smooth, so that differences across ReLU's kink do not blur the check
				}
			})
			b := testSources(m)
			b.T = 4
			b.Labels = []int{3, 17, 8, 0, 22, 5, -100, -100, 0, 11, 2, 9}
			loss := func(g *autograd.Graph) *autograd.Var {
				return m.Loss(g, m.Decode(g, m.Encode(g, b, nil), b, nil), b.Labels, 0.1)
			}
			g := autograd.NewGraph()
			g.Backward(loss(g))
			rng := tensor.NewRNG(4)
			for _, p := range m.Trainable() {
				d, an := p.Var.Value.Data(), p.Var.Grad().Data()
				var maxAbs float64
				for _, v := range an {
					maxAbs = max(maxAbs, math.Abs(float64(v)))
				}
				for range 4 {
					j := rng.IntN(len(d))
					if p.Var == m.SrcEmbed.Weight || p.Var == m.TgtEmbed.Weight {
						j = (b.InputIDs[rng.IntN(len(b.InputIDs))]*m.Config.DModel + rng.IntN(m.Config.DModel)) % len(d) // a row in use
					}
					const h = 1e-2
					num := testenv.CentralDifference(d, j, h, func() float64 {
						g.Reset()
						return float64(loss(g).Value.Item())
					})
					if err := math.Abs(num - float64(an[j])); err > 1e-2*max(maxAbs, 1e-2) {
						t.Errorf("%s[%d]: numeric %.5g, analytic %.5g", p.Name, j, num, an[j])
					}
				}
			}
		})
	}
}

// Dropout is on when a random source is given: outputs then differ from the deterministic
// pass, repeat for the same seed, and gradients still flow.
func TestDropoutTraining(t *testing.T) {
	m := testModel(t, func(c *Config) { c.Dropout, c.AttentionDropout, c.ActivationDropout = 0.2, 0.1, 0.1 })
	b := testSources(m)
	b.T, b.Labels = 2, []int{3, 0, 5, 0, 7, 0}
	run := func(rng *tensor.RNG) []float32 {
		g := autograd.NewGraph()
		logits := m.Decode(g, m.Encode(g, b, rng), b, rng)
		m.Params.ZeroGrad()
		g.Backward(m.Loss(g, logits, b.Labels, 0))
		return slices.Clone(logits.Value.Data())
	}
	eval, a, a2 := run(nil), run(tensor.NewRNG(1)), run(tensor.NewRNG(1))
	if slices.Equal(eval, a) {
		t.Fatal("dropout changed nothing")
	}
	if !slices.Equal(a, a2) {
		t.Fatal("the same seed gave different dropout")
	}
	if g := m.Decoder[0].FFN.FC1.Weight.Grad(); g == nil || tensor.SumSquares(g) == 0 {
		t.Fatal("no gradient with dropout on")
	}
}
