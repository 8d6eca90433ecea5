package nn

import (
	"fmt"
	"math"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// Recurrent layers: the LSTM (Hochreiter & Schmidhuber, 1997) and the GRU (Cho et al., 2014)
// as PyTorch defines them, with its parameter names and gate order, so that weights move
// between the two unchanged.
//
// Notation: B batch, T time steps, I input size, H hidden size, G gates (4 for the LSTM:
// i, f, g, o; 3 for the GRU: r, z, n), L layers, D directions (2 when bidirectional).
//
// A state is one (B, P·H) var per layer and direction: P = 2 for the LSTM, whose rows are
// [h | c], and P = 1 for the GRU (just h). Sequences of different lengths share a batch: a
// row past its length keeps its state, so padding never changes a finished sequence, its
// outputs are zero, and no gradient flows into padded inputs (what PyTorch computes for a
// pack_padded_sequence).

// CellKind is the recurrent unit: LSTM or GRU.
type CellKind int

const (
	LSTM CellKind = iota // long short-term memory: gates i, f, g, o; state [h | c]
	GRU                  // gated recurrent unit: gates r, z, n; state h
)

// ParseCellKind reads "lstm" or "gru".
func ParseCellKind(s string) (CellKind, error) {
	switch s {
	case "lstm":
		return LSTM, nil
	case "gru":
		return GRU, nil
	}
	return 0, fmt.Errorf("unknown recurrent cell %q (want lstm or gru)", s)
}

// String is the name ParseCellKind reads.
func (k CellKind) String() string {
	if k == GRU {
		return "gru"
	}
	return "lstm"
}

// Gates is G: 4 for the LSTM, 3 for the GRU.
func (k CellKind) Gates() int {
	if k == GRU {
		return 3
	}
	return 4
}

// StateParts is P, the state width in units of H: 2 for the LSTM ([h | c]), 1 for the GRU.
func (k CellKind) StateParts() int {
	if k == GRU {
		return 1
	}
	return 2
}

// RNNCell is one layer and direction of a recurrent network, with PyTorch's parameters.
type RNNCell struct {
	Kind             CellKind
	Hidden           int           // H
	WeightIH         *autograd.Var // (G·H, I)
	WeightHH         *autograd.Var // (G·H, H)
	BiasIH, BiasHH   *autograd.Var // (G·H)
	inputSize, gates int
}

// NewRNNCell registers weight_ih_<suffix>, weight_hh_<suffix>, bias_ih_<suffix> and
// bias_hh_<suffix> (suffix such as "l0" or "l1_reverse") under prefix in ps.
func NewRNNCell(ps *Params, prefix, suffix string, kind CellKind, input, hidden int) *RNNCell {
	gh := kind.Gates() * hidden
	return &RNNCell{
		Kind:      kind,
		Hidden:    hidden,
		WeightIH:  ps.Add(join(prefix, "weight_ih_"+suffix), true, gh, input),
		WeightHH:  ps.Add(join(prefix, "weight_hh_"+suffix), true, gh, hidden),
		BiasIH:    ps.Add(join(prefix, "bias_ih_"+suffix), false, gh),
		BiasHH:    ps.Add(join(prefix, "bias_hh_"+suffix), false, gh),
		inputSize: input,
		gates:     kind.Gates(),
	}
}

// InputProjection is W_ih·x + b_ih for every step at once: x (…, I) → (…, G·H).
func (c *RNNCell) InputProjection(g *autograd.Graph, x *autograd.Var) *autograd.Var {
	return g.Linear(x, c.WeightIH, c.BiasIH, true)
}

// Step advances state (B, P·H) by one time step t given gx (B, G·H), this step's input
// projection. With lengths set, rows with t ≥ lengths[b] keep their state.
func (c *RNNCell) Step(g *autograd.Graph, gx, state *autograd.Var, lengths []int, t int) *autograd.Var {
	gh := g.Linear(c.H(g, state), c.WeightHH, c.BiasHH, true) // (B, G·H)
	if c.Kind == GRU {
		return g.GRUCell(gx, gh, state, lengths, t)
	}
	return g.LSTMCell(gx, gh, state, lengths, t)
}

// H is the hidden state h (B, H) of a state: a view, for the LSTM, of its first half.
func (c *RNNCell) H(g *autograd.Graph, state *autograd.Var) *autograd.Var {
	if c.Kind == GRU {
		return state
	}
	return g.Narrow(state, 1, 0, c.Hidden)
}

// C is the LSTM's cell state c (B, H), a view of a state's second half; nil for the GRU.
func (c *RNNCell) C(g *autograd.Graph, state *autograd.Var) *autograd.Var {
	if c.Kind == GRU {
		return nil
	}
	return g.Narrow(state, 1, c.Hidden, c.Hidden)
}

// ZeroState is the all-zero state for batch b.
func (c *RNNCell) ZeroState(g *autograd.Graph, b int) *autograd.Var {
	return g.Const(g.Arena().Zeros(b, c.Kind.StateParts()*c.Hidden))
}

// RNN is a stack of recurrent layers, optionally bidirectional, as torch.nn.LSTM and
// torch.nn.GRU (batch_first) define them: layer l > 0 reads the D·H outputs of layer l − 1.
type RNN struct {
	Kind          CellKind
	InputSize     int // I
	HiddenSize    int // H
	NumLayers     int // L
	Bidirectional bool
	Cells         [][]*RNNCell // [layer][direction]; direction 1 runs backwards in time

	steps  []*autograd.Var // scratch: one output view per time step
	finals []*autograd.Var // scratch: the final states Forward returns
}

// NewRNN registers the parameters of an L-layer recurrent network under prefix in ps, named
// as PyTorch names them (weight_ih_l0, …, bias_hh_l{L−1}_reverse). They start at zero; see
// Init.
func NewRNN(ps *Params, prefix string, kind CellKind, input, hidden, layers int, bidirectional bool) *RNN {
	r := &RNN{Kind: kind, InputSize: input, HiddenSize: hidden, NumLayers: layers, Bidirectional: bidirectional}
	in := input
	for l := 0; l < layers; l++ {
		cells := []*RNNCell{NewRNNCell(ps, prefix, fmt.Sprintf("l%d", l), kind, in, hidden)}
		if bidirectional {
			cells = append(cells, NewRNNCell(ps, prefix, fmt.Sprintf("l%d_reverse", l), kind, in, hidden))
		}
		r.Cells = append(r.Cells, cells)
		in = r.Directions() * hidden
	}
	return r
}

// NewLSTM is NewRNN for LSTM cells.
func NewLSTM(ps *Params, prefix string, input, hidden, layers int, bidirectional bool) *RNN {
	return NewRNN(ps, prefix, LSTM, input, hidden, layers, bidirectional)
}

// NewGRU is NewRNN for GRU cells.
func NewGRU(ps *Params, prefix string, input, hidden, layers int, bidirectional bool) *RNN {
	return NewRNN(ps, prefix, GRU, input, hidden, layers, bidirectional)
}

// Directions is D: 2 when bidirectional, else 1.
func (r *RNN) Directions() int {
	if r.Bidirectional {
		return 2
	}
	return 1
}

// Init draws every weight and bias from U(−1/√H, 1/√H), PyTorch's initialisation.
func (r *RNN) Init(rng *tensor.RNG) {
	k := 1 / math.Sqrt(float64(r.HiddenSize))
	for _, cells := range r.Cells {
		for _, c := range cells {
			for _, p := range []*autograd.Var{c.WeightIH, c.WeightHH, c.BiasIH, c.BiasHH} {
				tensor.Uniform(p.Value, -k, k, rng)
			}
		}
	}
}

// Forward runs the network over x (B, T, I). lengths (B values in 0..T) gives each
// sequence's length, or is nil when every sequence fills T; it must stay unchanged until
// Backward. h0 holds the L·D initial states in PyTorch's order (layer-major: l0, l0_reverse,
// l1, …), each (B, P·H), or is nil for zeros.
//
// It returns the outputs (B, T, D·H) of the last layer — forward and backward halves
// concatenated, zero at padded positions — and the L·D final states, in h0's order: for the
// backward direction the state after reading position 0, for the forward one the state
// after each sequence's last position. The slice of final states is reused by the next
// Forward.
func (r *RNN) Forward(g *autograd.Graph, x *autograd.Var, lengths []int, h0 []*autograd.Var) (*autograd.Var, []*autograd.Var) {
	b, t := x.Value.Dim(0), x.Value.Dim(1)
	nd := r.Directions()
	if x.Value.Dims() != 3 || x.Value.Dim(2) != r.InputSize || (h0 != nil && len(h0) != r.NumLayers*nd) {
		panic(fmt.Sprintf("nn.RNN: input %v for input size %d, %d initial states for %d layers × %d directions", x.Shape(), r.InputSize, len(h0), r.NumLayers, nd))
	}
	for i, n := range lengths {
		if n < 0 || n > t || len(lengths) != b {
			panic(fmt.Sprintf("nn.RNN: length %d of sequence %d (of %d lengths) outside 0..%d for a batch of %d", n, i, len(lengths), t, b))
		}
	}
	if cap(r.steps) < t {
		r.steps = make([]*autograd.Var, t)
	}
	steps := r.steps[:t]
	finals := r.finals[:0]
	in := g.Contiguous(g.Transpose(x, 0, 1)) // time-major (T, B, I): each step's rows are contiguous
	var dirs [2]*autograd.Var
	for l, cells := range r.Cells {
		for d, c := range cells {
			gx := c.InputProjection(g, in) // (T, B, G·H), every step's input projection at once
			var state *autograd.Var
			if h0 != nil {
				state = h0[l*nd+d]
			} else {
				state = c.ZeroState(g, b)
			}
			for k := 0; k < t; k++ {
				step := k
				if d == 1 {
					step = t - 1 - k
				}
				gxt := g.Reshape(g.Narrow(gx, 0, step, 1), b, c.gates*c.Hidden) // (B, G·H)
				state = c.Step(g, gxt, state, lengths, step)
				steps[step] = g.SplitDim(c.H(g, state), 0, 1) // (1, B, H)
			}
			dirs[d] = g.Concat(0, steps...) // (T, B, H)
			finals = append(finals, state)
		}
		in = dirs[0]
		if nd == 2 {
			in = g.Concat(2, dirs[0], dirs[1]) // (T, B, 2H)
		}
	}
	if lengths != nil {
		in = g.Mul(in, g.Const(timeMask(g.Arena(), lengths, t))) // zero the padded positions
	}
	r.finals = finals
	return g.Contiguous(g.Transpose(in, 0, 1)), finals // (B, T, D·H)
}

// Step runs a unidirectional network one time step for decoding: x (B, I) is the input,
// states the L current states, which it replaces with the new ones. It returns the last
// layer's hidden state h (B, H).
func (r *RNN) Step(g *autograd.Graph, x *autograd.Var, states []*autograd.Var) *autograd.Var {
	if r.Bidirectional || len(states) != r.NumLayers {
		panic(fmt.Sprintf("nn.RNN.Step: %d states for %d layers (bidirectional %v); stepping needs a unidirectional network", len(states), r.NumLayers, r.Bidirectional))
	}
	for l, cells := range r.Cells {
		c := cells[0]
		states[l] = c.Step(g, c.InputProjection(g, x), states[l], nil, 0)
		x = c.H(g, states[l])
	}
	return x
}

// H is the hidden part h (B, H) of one of the network's states.
func (r *RNN) H(g *autograd.Graph, state *autograd.Var) *autograd.Var {
	return r.Cells[0][0].H(g, state)
}

// C is the cell part c (B, H) of one of an LSTM's states; nil for the GRU.
func (r *RNN) C(g *autograd.Graph, state *autograd.Var) *autograd.Var {
	return r.Cells[0][0].C(g, state)
}

// timeMask is (T, B, 1): 1 where t < lengths[b], else 0.
func timeMask(a *tensor.Arena, lengths []int, t int) *tensor.Tensor {
	b := len(lengths)
	m := a.New(t, b, 1)
	d := m.Data()
	for s := 0; s < t; s++ {
		for r, n := range lengths {
			d[s*b+r] = 0
			if s < n {
				d[s*b+r] = 1
			}
		}
	}
	return m
}
