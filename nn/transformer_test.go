package nn

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tensor"
)

// Notation: B batch, T target positions, S source positions, C = d_model.

const (
	testB, testT, testS  = 2, 3, 4
	testC, testNH, testF = 8, 2, 12
)

// testLayers builds one encoder and one decoder layer with random weights (LayerNorm weights
// around 1) and returns their parameters.
func testLayers(preLN bool, act Activation, seed uint64) (*TransformerEncoderLayer, *TransformerDecoderLayer, *Params) {
	ps := &Params{}
	cfg := LayerConfig{C: testC, NHead: testNH, FFN: testF, Act: act, PreLN: preLN, Eps: 1e-5}
	enc := NewTransformerEncoderLayer(ps, "enc", cfg)
	dec := NewTransformerDecoderLayer(ps, "dec", cfg)
	rng := tensor.NewRNG(seed)
	for _, p := range ps.List() {
		tensor.Uniform(p.Var.Value, -0.5, 0.5, rng)
		if p.Var.Value.Dims() == 1 && len(p.Name) > 6 && p.Name[len(p.Name)-6:] == "weight" {
			d := p.Var.Value.Data()
			for i := range d {
				d[i] += 1
			}
		}
	}
	return enc, dec, ps
}

// padMask masks the last source position of batch row 1.
func padMask() tensor.AttentionMask {
	m := make(tensor.AttentionMask, testB*testS)
	m[testB*testS-1] = -3.4028234663852886e38
	return m
}

// encDec runs the encoder layer on src and the decoder layer on tgt with the encoder output
// as memory: (B, T, C).
func encDec(g *autograd.Graph, enc *TransformerEncoderLayer, dec *TransformerDecoderLayer, src, tgt *autograd.Var) *autograd.Var {
	mask := padMask()
	h := enc.Forward(g, src, mask, nil)
	return dec.Forward(g, tgt, dec.Memory(g, h, mask), nil, nil)
}

// Finite-difference check of both layers together, post-LN and pre-LN, through every
// parameter and both inputs: the gradient of Σ y·R against central differences.
func TestTransformerLayerGradients(t *testing.T) {
	for _, tc := range []struct {
		preLN bool
		act   Activation
	}{{false, SiLU}, {true, SiLU}, {false, GELU}, {true, GELUTanh}} {
		t.Run(fmt.Sprintf("preLN=%v/act=%d", tc.preLN, tc.act), func(t *testing.T) {
			enc, dec, ps := testLayers(tc.preLN, tc.act, 7)
			rng := tensor.NewRNG(11)
			src := autograd.NewParam(tensor.New(testB, testS, testC))
			tgt := autograd.NewParam(tensor.New(testB, testT, testC))
			tensor.Uniform(src.Value, -1, 1, rng)
			tensor.Uniform(tgt.Value, -1, 1, rng)
			r := tensor.New(testB, testT, testC)
			tensor.Uniform(r, -1, 1, rng)
			g := autograd.NewGraph()
			loss := func() float64 {
				g.Reset()
				y := encDec(g, enc, dec, src, tgt).Value.Data()
				var s float64
				for i, v := range y {
					s += float64(v) * float64(r.Data()[i])
				}
				return s
			}
			y := encDec(g, enc, dec, src, tgt)
			g.Backward(g.Sum(g.Mul(y, g.Const(r))))

			vars := map[string]*autograd.Var{"src": src, "tgt": tgt}
			for _, p := range ps.List() {
				vars[p.Name] = p.Var
			}
			const h = 1e-2
			for name, v := range vars {
				if v.Grad() == nil {
					t.Fatalf("%s received no gradient", name)
				}
				maxErr, maxAbs := testenv.GradientError(v.Value.Data(), v.Grad().Data(), h, loss)
				if maxErr > 3e-3*max(1, maxAbs) {
					t.Errorf("%s: max |numeric − analytic| = %.3g (max |grad| %.3g)", name, maxErr, maxAbs)
				}
			}
		})
	}
}

// The decoder is causal: changing a later target position leaves earlier outputs unchanged.
// Cross-attention honours the source mask: changing a padded source position changes nothing.
func TestTransformerLayerMasks(t *testing.T) {
	for _, preLN := range []bool{false, true} {
		enc, dec, _ := testLayers(preLN, ReLU, 3)
		rng := tensor.NewRNG(5)
		src, tgt := tensor.New(testB, testS, testC), tensor.New(testB, testT, testC)
		tensor.Uniform(src, -1, 1, rng)
		tensor.Uniform(tgt, -1, 1, rng)
		run := func() []float32 {
			g := autograd.NewGraph()
			return encDec(g, enc, dec, g.Const(src), g.Const(tgt)).Value.Clone().Data()
		}
		base := run()

		tgt.Set(tgt.At(0, testT-1, 0)+3, 0, testT-1, 0) // the last target position of row 0
		after := run()
		lastChanged := false
		for i := range base {
			b, pos := i/(testT*testC), i/testC%testT
			edited := b == 0 && pos == testT-1
			if base[i] != after[i] && !edited {
				t.Fatalf("preLN %v: output (%d, %d) changed when a later position did", preLN, b, pos)
			}
			lastChanged = lastChanged || (edited && base[i] != after[i])
		}
		if !lastChanged {
			t.Fatalf("preLN %v: editing a target position did not change its output", preLN)
		}

		src.Set(src.At(1, testS-1, 2)+3, 1, testS-1, 2) // the padded source position of row 1
		if got := run(); !slices.Equal(got, after) {
			t.Fatalf("preLN %v: a padded source position changed the output", preLN)
		}
		src.Set(src.At(0, testS-1, 2)+3, 0, testS-1, 2) // a real source position of row 0
		if got := run(); slices.Equal(got, after) {
			t.Fatalf("preLN %v: a real source position did not change the output", preLN)
		}
	}
}

// Decoding one position at a time with a KV cache gives the outputs of one causal pass.
func TestTransformerDecoderLayerCache(t *testing.T) {
	_, dec, _ := testLayers(false, ReLU, 9)
	rng := tensor.NewRNG(2)
	mem, tgt := tensor.New(testB, testS, testC), tensor.New(testB, testT, testC)
	tensor.Uniform(mem, -1, 1, rng)
	tensor.Uniform(tgt, -1, 1, rng)
	g := autograd.NewGraph()
	g.SetGrad(false)
	full := dec.Forward(g, g.Const(tgt), dec.Memory(g, g.Const(mem), padMask()), nil, nil).Value.Clone()

	cache := NewKVCache(testB, testNH, testT, testC/testNH)
	for pos := 0; pos < testT; pos++ {
		g.Reset()
		x := g.Const(g.Arena().Narrow(tgt, 1, pos, 1)) // (B, 1, C)
		y := dec.Forward(g, x, dec.Memory(g, g.Const(mem), padMask()), cache, nil).Value
		cache.Len++
		for b := 0; b < testB; b++ {
			for c := 0; c < testC; c++ {
				if d := math.Abs(float64(y.At(b, 0, c) - full.At(b, pos, c))); d > 1e-5 {
					t.Fatalf("position %d: cached output differs by %g", pos, d)
				}
			}
		}
	}
}

// Parameter names follow HuggingFace's Marian layout.
func TestTransformerLayerNames(t *testing.T) {
	_, _, ps := testLayers(false, ReLU, 1)
	for _, name := range []string{
		"enc.self_attn.q_proj.weight", "enc.self_attn.out_proj.bias", "enc.self_attn_layer_norm.weight",
		"enc.fc1.weight", "enc.fc2.bias", "enc.final_layer_norm.bias",
		"dec.self_attn.k_proj.weight", "dec.encoder_attn.v_proj.bias", "dec.encoder_attn_layer_norm.weight",
		"dec.fc1.bias", "dec.final_layer_norm.weight",
	} {
		if _, ok := ps.Get(name); !ok {
			t.Errorf("no parameter %s (have %v)", name, ps.Names())
		}
	}
	if n := len(ps.List()); n != 16+26 {
		t.Errorf("%d parameters, want 16 (encoder layer) + 26 (decoder layer)", n)
	}
}

func TestParseActivation(t *testing.T) {
	for name, want := range map[string]Activation{"relu": ReLU, "swish": SiLU, "silu": SiLU, "gelu": GELU, "gelu_new": GELUTanh} {
		if got, err := ParseActivation(name); err != nil || got != want {
			t.Errorf("ParseActivation(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := ParseActivation("tanh"); err == nil {
		t.Error("ParseActivation accepted tanh")
	}
}
