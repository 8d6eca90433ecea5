package transformer

// Incremental decoding. Notation: B hypotheses (rows of the cache), S source length, T
// positions decoded so far, C = d_model, V target vocabulary, nh heads, hs = C/nh, L decoder
// layers.
//
// A decoder step feeds one token per hypothesis. Its cost is one position, not the whole
// prefix: each layer's self-attention keys and values of earlier positions are kept in a KV
// cache, and the cross-attention keys and values of the source, the same at every step, are
// computed once when the cache is made.
//
// Beam search drives the same two calls: Step returns log-probabilities (B, V) for the next
// token of every hypothesis, and Reorder selects and repeats the rows of the cache that the
// surviving hypotheses continue (row i of the new cache is row indices[i] of the old one, so
// the number of rows may change, as when B sources fan out into B·k beams).

import (
	"context"
	"fmt"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/decode"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
)

// Cache is the decoding state of B hypotheses: per decoder layer, the self-attention keys and
// values of the positions decoded so far and the cross-attention keys and values of each
// hypothesis's source, with the source padding mask. It owns its memory; a Cache is not safe
// for concurrent use.
type Cache struct {
	rows, srcLen   int              // B, S
	self           []*nn.KVCache    // per layer: (B, nh, P', hs), Len positions filled
	crossK, crossV []*tensor.Tensor // per layer: (B, nh, S, hs)
	padding        []float32        // (B·S) additive key mask; all zeros when nothing is padded
	spare          []*tensor.Tensor // per layer: buffers the next Reorder gathers into
	sparePadding   []float32
	maxLen         int             // P': positions the self-attention caches hold
	g              *autograd.Graph // inference graph, reset every step
	logp           *tensor.Tensor  // (B, V): the last step's log-probabilities
}

// Rows is B, the number of hypotheses (it changes with Reorder).
func (c *Cache) Rows() int { return c.rows }

// Len is the number of positions decoded so far.
func (c *Cache) Len() int { return c.self[0].Len }

// NewCache encodes the batch's sources (B rows of S tokens, padded as its attention mask says;
// decoder inputs and labels are not read) and returns a cache ready for up to maxLen decoder
// steps (at most max_position_embeddings; 0 means that many).
func (m *Model) NewCache(b *Batch, maxLen int) (*Cache, error) {
	src := Batch{B: b.B, S: b.S, InputIDs: b.InputIDs, AttentionMask: b.AttentionMask}
	if err := m.Check(&src); err != nil {
		return nil, err
	}
	P := m.Config.MaxPositionEmbeddings
	if maxLen <= 0 {
		maxLen = P
	}
	if maxLen > P {
		return nil, fmt.Errorf("transformer: %d decoder steps exceed max_position_embeddings = %d", maxLen, P)
	}
	g := autograd.NewGraph()
	g.SetGrad(false)
	enc := m.Encode(g, &src, nil) // (B, S, C)
	nh := m.Config.DecoderAttentionHeads
	hs := m.Config.DModel / nh
	c := &Cache{rows: b.B, srcLen: b.S, maxLen: maxLen, g: g, padding: make([]float32, b.B*b.S)}
	copy(c.padding, keyMask(g, b.AttentionMask))
	for _, l := range m.Decoder {
		mem := l.Memory(g, enc, nil) // (B, nh, S, hs) views
		k, v := tensor.New(b.B, nh, b.S, hs), tensor.New(b.B, nh, b.S, hs)
		tensor.CopyInto(k, mem.K.Value)
		tensor.CopyInto(v, mem.V.Value)
		c.crossK, c.crossV = append(c.crossK, k), append(c.crossV, v)
		c.self = append(c.self, nn.NewKVCache(b.B, nh, maxLen, hs))
	}
	return c, nil
}

// Step feeds tokens (one per hypothesis: the decoder start token first, then each chosen
// token) and returns the log-probabilities of the next token, (B, V). The tensor is owned by
// the cache and valid until the next Step or Reorder.
func (m *Model) Step(c *Cache, tokens []int) (*tensor.Tensor, error) {
	if len(tokens) != c.rows {
		return nil, fmt.Errorf("transformer: %d tokens for a cache of %d hypotheses", len(tokens), c.rows)
	}
	if err := checkIDs("decoder token", tokens, m.Config.TargetVocab()); err != nil {
		return nil, err
	}
	pos := c.Len()
	if pos >= c.maxLen {
		return nil, fmt.Errorf("transformer: the cache holds %d decoder positions and all are used", c.maxLen)
	}
	g := c.g
	g.Reset()
	mask := tensor.AttentionMask(c.padding)
	if keyMaskIsEmpty(c.padding) {
		mask = nil
	}
	x := m.embed(g, m.TgtEmbed, tokens, c.rows, 1, pos) // (B, 1, C)
	for l, layer := range m.Decoder {
		mem := nn.Memory{K: g.Const(c.crossK[l]), V: g.Const(c.crossV[l]), Mask: mask}
		x = layer.Forward(g, x, mem, c.self[l], nil)
	}
	for _, s := range c.self {
		s.Len++
	}
	logits := m.logits(g, x) // (B, 1, V)
	V := m.Config.TargetVocab()
	if c.logp == nil || c.logp.Dim(0) != c.rows {
		c.logp = tensor.New(c.rows, V)
	}
	decode.LogSoftmax(c.logp.Data(), logits.Value.Data(), V)
	return c.logp, nil
}

func keyMaskIsEmpty(m []float32) bool {
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

// Reorder keeps the hypotheses indices names: row i of the cache becomes old row indices[i].
// Rows may repeat or be dropped, and len(indices) becomes the new B. Only the positions decoded
// so far are copied, into buffers kept from the previous Reorder when B does not change, so a
// beam search that reorders at every step does not allocate at every step.
func (c *Cache) Reorder(indices []int) error {
	if len(indices) == 0 {
		return fmt.Errorf("transformer: Reorder needs at least one row")
	}
	for i, r := range indices {
		if r < 0 || r >= c.rows {
			return fmt.Errorf("transformer: Reorder index %d at %d is outside the cache's %d rows", r, i, c.rows)
		}
	}
	if len(c.spare) != 4*len(c.self) {
		c.spare = make([]*tensor.Tensor, 4*len(c.self))
	}
	for l, s := range c.self {
		sp := c.spare[4*l : 4*l+4]
		for i, t := range []**tensor.Tensor{&s.K, &s.V, &c.crossK[l], &c.crossV[l]} {
			used := s.Len // self-attention: the positions decoded so far
			if i >= 2 {
				used = c.srcLen // cross-attention: the whole source
			}
			sp[i] = gatherRows(sp[i], *t, indices, used)
			*t, sp[i] = sp[i], *t
		}
	}
	padding := c.sparePadding[:0]
	for _, r := range indices {
		padding = append(padding, c.padding[r*c.srcLen:(r+1)*c.srcLen]...)
	}
	c.padding, c.sparePadding = padding, c.padding
	c.rows = len(indices)
	return nil
}

// gatherRows makes row i of dst (B', nh, P, hs) row idx[i] of src (B, nh, P, hs), copying the
// first used positions of each head, and returns dst — reused if it has the right shape, else
// a new tensor.
func gatherRows(dst, src *tensor.Tensor, idx []int, used int) *tensor.Tensor {
	nh, p, hs := src.Dim(1), src.Dim(2), src.Dim(3)
	if dst == nil || dst.Dim(0) != len(idx) || dst.Dim(2) != p {
		dst = tensor.New(len(idx), nh, p, hs)
	}
	sd, dd := src.Data(), dst.Data()
	for i, r := range idx {
		for h := 0; h < nh; h++ {
			from, to := (r*nh+h)*p*hs, (i*nh+h)*p*hs
			copy(dd[to:to+used*hs], sd[from:from+used*hs])
		}
	}
	return dst
}

// GreedyOptions control Greedy.
type GreedyOptions struct {
	MaxTokens int  // new tokens per source, at most max_position_embeddings − 1
	StopAtEOS bool // stop a row at eos_token_id (kept), and all rows once each has
}

// Greedy decodes every source of the batch (B rows of S tokens, padded as its attention mask
// says) by taking the most probable token at each step, all rows at once through one cache.
// Each returned row starts with decoder_start_token_id.
func (m *Model) Greedy(ctx context.Context, b *Batch, o GreedyOptions) ([][]int, error) {
	if o.MaxTokens <= 0 || o.MaxTokens >= m.Config.MaxPositionEmbeddings {
		return nil, fmt.Errorf("transformer: MaxTokens = %d, want 1..%d (max_position_embeddings − 1)", o.MaxTokens, m.Config.MaxPositionEmbeddings-1)
	}
	c, err := m.NewCache(b, o.MaxTokens)
	if err != nil {
		return nil, err
	}
	out := make([][]int, b.B)
	tokens := make([]int, b.B)
	done := make([]bool, b.B)
	for i := range out {
		out[i] = []int{m.Config.DecoderStartTokenID}
		tokens[i] = m.Config.DecoderStartTokenID
	}
	V := m.Config.TargetVocab()
	for step, finished := 0, 0; step < o.MaxTokens && finished < b.B; step++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		logp, err := m.Step(c, tokens)
		if err != nil {
			return out, err
		}
		for i := range tokens {
			if done[i] {
				tokens[i] = m.Config.PadTokenID
				continue
			}
			id := argmax(logp.Data()[i*V : (i+1)*V])
			if id < 0 {
				return out, fmt.Errorf("transformer: the model produced no finite logit (non-finite weights?)")
			}
			tokens[i] = id
			out[i] = append(out[i], id)
			if o.StopAtEOS && id == m.Config.EOSTokenID {
				done[i] = true
				finished++
			}
		}
	}
	return out, nil
}

// argmax is the index of the largest value of row, the first among equals; NaNs are passed
// over, and a row of NaNs gives −1.
func argmax(row []float32) int {
	best := -1
	for j, v := range row {
		if v == v && (best < 0 || v > row[best]) {
			best = j
		}
	}
	return best
}
