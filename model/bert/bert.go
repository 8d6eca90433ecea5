// Package bert is BERT (Devlin et al., 2019): a bidirectional Transformer encoder with
// post-LayerNorm blocks, pretrained with masked language modelling and next-sentence
// prediction. Parameters carry HuggingFace's BertForPreTraining names.
//
// Notation: B batch size, T sequence length, C = hidden_size, V = vocab_size, nh heads,
// hs = C/nh, I = intermediate_size.
package bert

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
)

// Model is the encoder (bert.*) with the head Config.Head names: BertForPreTraining's two
// pretraining heads (cls.*), BertForSequenceClassification's classifier, or none (BertModel).
type Model struct {
	Config Config
	Params nn.Params

	Embeddings *Embeddings
	Layers     []*Layer
	Pooler     *nn.Linear // tanh(dense(h[:, 0])): the sentence representation

	// Pretraining heads (HeadPretraining; nil otherwise).
	Transform   *nn.Linear    // cls.predictions.transform.dense
	TransformLN *nn.LayerNorm // cls.predictions.transform.LayerNorm
	MLMBias     *autograd.Var // cls.predictions.bias (V); the decoder weight is word_embeddings
	NSP         *nn.Linear    // cls.seq_relationship: C → 2

	// Sequence classification head (HeadClassification; nil otherwise).
	Classifier *nn.Linear // classifier: C → num_labels, on the pooled output after dropout

	act        tensor.GELUKind
	packedOnly bool // PackForInference released the float32 weights of the layers
}

// part is a group of parameters that a checkpoint may lack: the pooler and each head.
type part int

const (
	partPooler part = 1 << iota
	partMLM
	partNSP
	partClassifier
)

// parts are the parameter groups of a head, the pooler included.
func (h Head) parts() part {
	switch h {
	case HeadPretraining:
		return partPooler | partMLM | partNSP
	case HeadClassification:
		return partPooler | partClassifier
	}
	return partPooler
}

// partOf is the group parameter name belongs to, 0 for the encoder.
func partOf(name string) part {
	switch {
	case strings.HasPrefix(name, "bert.pooler."):
		return partPooler
	case strings.HasPrefix(name, "cls.predictions."):
		return partMLM
	case strings.HasPrefix(name, "cls.seq_relationship."):
		return partNSP
	case strings.HasPrefix(name, "classifier."):
		return partClassifier
	}
	return 0
}

// Embeddings sum word, position and token-type embeddings, then LayerNorm.
type Embeddings struct {
	Word, Position, TokenType *nn.Embedding
	LN                        *nn.LayerNorm
	Dropout                   float32
}

// Layer is one post-LayerNorm encoder block:
//
//	h = LN(x + dense(attention(x)))
//	y = LN(h + output(gelu(intermediate(h))))
type Layer struct {
	Query, Key, Value *nn.Linear
	AttnOut           *nn.Linear
	AttnLN            *nn.LayerNorm
	Intermediate      *nn.Linear
	Output            *nn.Linear
	OutLN             *nn.LayerNorm
	NHead             int
	Act               tensor.GELUKind
	Dropout           float32 // hidden dropout (training)
	AttnDropout       float32 // attention-weights dropout (training)

	// qkv, set by Pack, is the query, key and value weights packed as one (3C, C) matrix,
	// with qkvBias their biases (3C): inference runs the three products as one, over one
	// rounding of x.
	qkv     *tensor.PackedMatrix
	qkvBias *tensor.Tensor
}

// New builds a model with BERT's initialisation from seed: weights N(0, 0.02), biases 0,
// LayerNorm weights 1.
func New(cfg Config, seed uint64) (*Model, error) {
	m, err := build(cfg, cfg.head().parts())
	if err != nil {
		return nil, err
	}
	initialise(m.Params.List(), seed)
	return m, nil
}

// initialise draws every matrix of params from N(0, 0.02).
func initialise(params []*nn.Param, seed uint64) {
	rng := tensor.NewRNG(seed)
	for _, p := range params {
		if v := p.Var.Value; v.Dims() >= 2 {
			tensor.Normal(v, 0, 0.02, rng)
		}
	}
}

// build registers the encoder and the parameter groups in parts (zero-filled, LayerNorm weights 1).
func build(cfg Config, parts part) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	act := tensor.GELUErf
	if cfg.HiddenAct != "gelu" {
		act = tensor.GELUTanh
	}
	m := &Model{Config: cfg, act: act}
	ps := &m.Params
	C, eps := cfg.HiddenSize, cfg.LayerNormEps
	m.Embeddings = &Embeddings{
		Word:      nn.NewEmbedding(ps, "bert.embeddings.word_embeddings", cfg.VocabSize, C),
		Position:  nn.NewEmbedding(ps, "bert.embeddings.position_embeddings", cfg.MaxPositionEmbeddings, C),
		TokenType: nn.NewEmbedding(ps, "bert.embeddings.token_type_embeddings", cfg.TypeVocabSize, C),
		LN:        nn.NewLayerNorm(ps, "bert.embeddings.LayerNorm", C, eps),
		Dropout:   cfg.HiddenDropoutProb,
	}
	for l := 0; l < cfg.NumHiddenLayers; l++ {
		p := fmt.Sprintf("bert.encoder.layer.%d", l)
		m.Layers = append(m.Layers, &Layer{
			Query:        nn.NewLinear(ps, p+".attention.self.query", C, C, true, true),
			Key:          nn.NewLinear(ps, p+".attention.self.key", C, C, true, true),
			Value:        nn.NewLinear(ps, p+".attention.self.value", C, C, true, true),
			AttnOut:      nn.NewLinear(ps, p+".attention.output.dense", C, C, true, true),
			AttnLN:       nn.NewLayerNorm(ps, p+".attention.output.LayerNorm", C, eps),
			Intermediate: nn.NewLinear(ps, p+".intermediate.dense", C, cfg.IntermediateSize, true, true),
			Output:       nn.NewLinear(ps, p+".output.dense", cfg.IntermediateSize, C, true, true),
			OutLN:        nn.NewLayerNorm(ps, p+".output.LayerNorm", C, eps),
			NHead:        cfg.NumAttentionHeads,
			Act:          act,
			Dropout:      cfg.HiddenDropoutProb,
			AttnDropout:  cfg.AttentionDropoutProb,
		})
	}
	m.add(parts)
	return m, nil
}

// add registers the parameter groups in parts and returns the parameters it added.
func (m *Model) add(parts part) []*nn.Param {
	ps, cfg := &m.Params, m.Config
	C, eps := cfg.HiddenSize, cfg.LayerNormEps
	n := len(ps.List())
	if parts&partPooler != 0 {
		m.Pooler = nn.NewLinear(ps, "bert.pooler.dense", C, C, true, true)
	}
	if parts&partMLM != 0 {
		m.Transform = nn.NewLinear(ps, "cls.predictions.transform.dense", C, C, true, true)
		m.TransformLN = nn.NewLayerNorm(ps, "cls.predictions.transform.LayerNorm", C, eps)
		m.MLMBias = ps.Add("cls.predictions.bias", false, cfg.VocabSize)
	}
	if parts&partNSP != 0 {
		m.NSP = nn.NewLinear(ps, "cls.seq_relationship", C, 2, true, true)
	}
	if parts&partClassifier != 0 {
		m.Classifier = nn.NewLinear(ps, "classifier", C, cfg.NumLabels, true, true)
	}
	return ps.List()[n:]
}

// Batch is the input of a forward pass: B rows of T tokens, row-major.
type Batch struct {
	B, T          int
	InputIDs      []int
	TokenTypeIDs  []int // nil: all 0
	AttentionMask []int // 1 for real tokens, 0 for padding; nil: all 1
}

// Check validates the batch against the model.
func (m *Model) Check(b *Batch) error {
	n := b.B * b.T
	if b.B <= 0 || b.T <= 0 || len(b.InputIDs) != n {
		return fmt.Errorf("bert: %d input ids for (B, T) = (%d, %d)", len(b.InputIDs), b.B, b.T)
	}
	if b.T > m.Config.MaxPositionEmbeddings {
		return fmt.Errorf("bert: sequence of %d tokens exceeds max_position_embeddings = %d", b.T, m.Config.MaxPositionEmbeddings)
	}
	if (b.TokenTypeIDs != nil && len(b.TokenTypeIDs) != n) || (b.AttentionMask != nil && len(b.AttentionMask) != n) {
		return fmt.Errorf("bert: token_type_ids and attention_mask must have B·T = %d entries", n)
	}
	for i, id := range b.InputIDs {
		if id < 0 || id >= m.Config.VocabSize {
			return fmt.Errorf("bert: input id %d at position %d is outside the vocabulary [0, %d)", id, i, m.Config.VocabSize)
		}
	}
	for i, id := range b.TokenTypeIDs {
		if id < 0 || id >= m.Config.TypeVocabSize {
			return fmt.Errorf("bert: token type %d at position %d is outside [0, %d)", id, i, m.Config.TypeVocabSize)
		}
	}
	return nil
}

// Output holds what a forward pass computes.
type Output struct {
	Hidden *autograd.Var // last_hidden_state (B, T, C)
	Pooled *autograd.Var // pooler_output (B, C)
}

// Encode runs the encoder: embeddings and every layer, then the pooler. rng non-nil turns
// dropout on. weights, if non-nil, receives each layer's attention weights (B, nh, T, T).
func (m *Model) Encode(g *autograd.Graph, b *Batch, rng *tensor.RNG, weights []*tensor.Tensor) Output {
	if err := m.Check(b); err != nil {
		panic(err.Error())
	}
	if m.packedOnly && g.GradEnabled() {
		panic("bert.Encode: the model's float32 weights were released by PackForInference; it can only run inference (SetGrad(false))")
	}
	x := m.Embeddings.Forward(g, b, rng) // (B, T, C)
	mask := keyMask(g, b)
	for l, layer := range m.Layers {
		var w **tensor.Tensor
		if weights != nil {
			w = &weights[l]
		}
		x = layer.Forward(g, x, mask, rng, w)
	}
	first := g.Narrow(x, 1, 0, 1) // (B, 1, C): the [CLS] position
	pooled := g.Tanh(m.Pooler.Forward(g, g.Reshape(g.Contiguous(first), b.B, m.Config.HiddenSize)))
	return Output{Hidden: x, Pooled: pooled}
}

// keyMask is the additive attention mask: 0 for real keys, the float32 minimum for padding
// (as HuggingFace does), or nil when nothing is padded. It lives in g's arena.
func keyMask(g *autograd.Graph, b *Batch) tensor.AttentionMask {
	if b.AttentionMask == nil {
		return nil
	}
	padded := false
	for _, v := range b.AttentionMask {
		padded = padded || v == 0
	}
	if !padded {
		return nil
	}
	mask := tensor.AttentionMask(g.Arena().Zeros(len(b.AttentionMask)).Data())
	for i, v := range b.AttentionMask {
		if v == 0 {
			mask[i] = -3.4028234663852886e38
		}
	}
	return mask
}

// Forward sums the three embeddings of b and normalises: (B, T, C).
func (e *Embeddings) Forward(g *autograd.Graph, b *Batch, rng *tensor.RNG) *autograd.Var {
	C := e.Word.Weight.Value.Dim(1)
	x := g.Reshape(e.Word.Forward(g, b.InputIDs), b.B, b.T, C)
	x = g.Add(x, g.Narrow(e.Position.Weight, 0, 0, b.T)) // positions 0..T-1, broadcast over B
	if b.TokenTypeIDs == nil {                           // all type 0: row 0, broadcast over (B, T)
		return g.Dropout(e.LN.Forward(g, g.Add(x, g.Narrow(e.TokenType.Weight, 0, 0, 1))), on(rng, e.Dropout), rng)
	}
	x = g.Add(x, g.Reshape(e.TokenType.Forward(g, b.TokenTypeIDs), b.B, b.T, C))
	return g.Dropout(e.LN.Forward(g, x), on(rng, e.Dropout), rng)
}

// Forward applies the encoder block to x (B, T, C).
func (l *Layer) Forward(g *autograd.Graph, x *autograd.Var, mask tensor.AttentionMask, rng *tensor.RNG, weights **tensor.Tensor) *autograd.Var {
	var q, k, v *autograd.Var
	if l.qkv != nil && !g.GradEnabled() {
		C := x.Value.Dim(2)
		qkv := g.LinearPacked(x, l.qkv, g.Const(l.qkvBias))   // (B, T, 3C)
		q = nn.SplitHeads(g, g.Narrow(qkv, 2, 0, C), l.NHead) // (B, nh, T, hs)
		k = nn.SplitHeads(g, g.Narrow(qkv, 2, C, C), l.NHead)
		v = nn.SplitHeads(g, g.Narrow(qkv, 2, 2*C, C), l.NHead)
	} else {
		q = nn.SplitHeads(g, l.Query.Forward(g, x), l.NHead) // (B, nh, T, hs)
		k = nn.SplitHeads(g, l.Key.Forward(g, x), l.NHead)
		v = nn.SplitHeads(g, l.Value.Forward(g, x), l.NHead)
	}
	a := nn.Attention(g, q, k, v, nn.AttentionOptions{Mask: mask, Dropout: on(rng, l.AttnDropout), RNG: rng, Weights: weights}) // (B, T, C)
	h := l.AttnLN.Forward(g, g.Add(x, g.Dropout(l.AttnOut.Forward(g, a), on(rng, l.Dropout), rng)))
	f := l.Output.Forward(g, l.Intermediate.ForwardGELU(g, h, l.Act)) // (B, T, C)
	return l.OutLN.Forward(g, g.Add(h, g.Dropout(f, on(rng, l.Dropout), rng)))
}

// MLMLogits are the masked-language-model logits (B, T, V): transform (dense, GELU, LayerNorm),
// then the decoder tied to the word embeddings, plus cls.predictions.bias. The model must have
// the pretraining heads.
func (m *Model) MLMLogits(g *autograd.Graph, hidden *autograd.Var) *autograd.Var {
	m.mustHave(m.Transform != nil, HeadPretraining)
	h := m.TransformLN.Forward(g, m.Transform.ForwardGELU(g, hidden, m.act))
	return g.Linear(h, m.Embeddings.Word.Weight, m.MLMBias, true)
}

// NSPLogits are the next-sentence-prediction logits (B, 2) from the pooled output.
func (m *Model) NSPLogits(g *autograd.Graph, pooled *autograd.Var) *autograd.Var {
	m.mustHave(m.NSP != nil, HeadPretraining)
	return m.NSP.Forward(g, pooled)
}

// Classify returns the sequence-classification logits (B, num_labels): the classifier on the
// pooled output after dropout (rng non-nil turns dropout on). The model must have the
// classification head, and b must pass Check.
func (m *Model) Classify(g *autograd.Graph, b *Batch, rng *tensor.RNG) *autograd.Var {
	m.mustHave(m.Classifier != nil, HeadClassification)
	pooled := m.Encode(g, b, rng, nil).Pooled // (B, C)
	return m.Classifier.Forward(g, g.Dropout(pooled, on(rng, m.Config.ClassifierDropoutProb), rng))
}

// Loss is BertForSequenceClassification's loss: the mean cross-entropy of the logits of b
// (returned too) against labels, one class id per row. b must pass Check and labels
// CheckLabels.
func (m *Model) Loss(g *autograd.Graph, b *Batch, labels []int, rng *tensor.RNG) (loss, logits *autograd.Var) {
	if err := m.CheckLabels(b, labels); err != nil {
		panic(err.Error())
	}
	logits = m.Classify(g, b, rng)
	return g.CrossEntropy(logits, labels), logits
}

// CheckLabels validates classification labels for b: one per row, each a class id.
func (m *Model) CheckLabels(b *Batch, labels []int) error {
	if m.Classifier == nil {
		return fmt.Errorf("bert: the model has the %s head, not a classifier", m.Config.head())
	}
	if len(labels) != b.B {
		return fmt.Errorf("bert: %d labels for a batch of %d sequences", len(labels), b.B)
	}
	for i, l := range labels {
		if l < 0 || l >= m.Config.NumLabels {
			return fmt.Errorf("bert: label %d of sequence %d is not a class id in [0, %d)", l, i, m.Config.NumLabels)
		}
	}
	return nil
}

// mustHave panics, naming the head, when a head's method is called on a model without it.
func (m *Model) mustHave(ok bool, h Head) {
	if !ok {
		panic(fmt.Sprintf("bert: the model has the %s head; this needs %s", m.Config.head(), h))
	}
}

func on(rng *tensor.RNG, p float32) float32 {
	if rng == nil {
		return 0
	}
	return p
}

// Pack stores a compact copy of the encoder's linear layers in format (bf16 or int8; fp32
// removes the copies) that forward passes use when the graph is not recording (inference);
// training and saving keep the float32 weights. With bfloat16 compute set
// (kernel.SetCompute), bf16 packs the weights once as the bfloat16 GEMM kernel's panels: an
// encoder pass then gives the same bits as on the float32 weights, without rounding and
// packing every weight again in each product.
func (m *Model) Pack(format tensor.WeightFormat) error {
	if m.packedOnly {
		return errReleased(format)
	}
	for _, l := range m.Layers {
		if err := l.pack(format, false); err != nil {
			return fmt.Errorf("bert: %w", err)
		}
	}
	return nil
}

// errReleased is the error of packing an encoder whose float32 weights are gone.
func errReleased(format tensor.WeightFormat) error {
	return fmt.Errorf("bert: cannot pack as %s: the float32 weights were released by PackForInference", format)
}

// pack packs the layer's linear maps in format (fp32: none, unless panels asks for float32
// panels): query, key and value as one matrix (packQKV), the others each on their own.
func (l *Layer) pack(format tensor.WeightFormat, panels bool) error {
	if err := l.packQKV(format, panels); err != nil {
		return err
	}
	for _, lin := range l.linears()[3:] { // query, key and value went into qkv
		var err error
		if panels {
			err = lin.PackPanels()
		} else {
			err = lin.Pack(format)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// release drops the float32 weights of the layer's linear maps.
func (l *Layer) release() {
	for _, lin := range l.linears() {
		lin.Weight.Value = nil
	}
}

// linears returns the layer's six linear maps: query, key and value first, then the
// attention output, intermediate and output.
func (l *Layer) linears() []*nn.Linear {
	return []*nn.Linear{l.Query, l.Key, l.Value, l.AttnOut, l.Intermediate, l.Output}
}

// packQKV packs the query, key and value weights as one (3C, C) matrix in format (fp32: none,
// unless panels asks for float32 panels), with their biases beside it. Each output of the
// joint product has the bits of its own layer's product.
func (l *Layer) packQKV(format tensor.WeightFormat, panels bool) error {
	l.qkv, l.qkvBias = nil, nil
	for _, lin := range l.linears()[:3] {
		lin.Packed = nil
	}
	if format == tensor.FP32 && !panels {
		return nil
	}
	C := l.Query.Weight.Value.Dim(1)
	w := tensor.New(3*C, C)
	for i, lin := range l.linears()[:3] { // (out, in) each
		copy(w.Data()[i*C*C:], lin.Weight.Value.Contiguous().Data())
	}
	p, err := tensor.Pack(w, false, format)
	if err != nil {
		return err
	}
	l.qkv, l.qkvBias = p, l.jointQKVBias()
	return nil
}

// jointQKVBias returns the query, key and value biases as one (3C).
func (l *Layer) jointQKVBias() *tensor.Tensor {
	C := l.Query.Bias.Value.Len()
	b := tensor.New(3 * C)
	for i, lin := range l.linears()[:3] {
		copy(b.Data()[i*C:], lin.Bias.Value.Data())
	}
	return b
}

// PackForInference is Pack followed by releasing the float32 copies of the packed weights
// (every layer's linear maps), so a bf16 or int8 encoder takes about half or a quarter of
// the memory of its layers. The model can then only run inference: no training, no Save, no
// other format. fp32 under float32 compute, on a CPU with float32 panels
// (kernel.FloatPanelsAvailable), packs the linear maps as the float32 kernel's micro-panels
// and releases the float32 weights layer by layer: the same memory, and products that never
// pack a weight again, with the bits of the float32 weights wherever Sgemm would tile the
// product (see tensor.PackedMatrix). Elsewhere fp32 packs nothing and releases nothing.
func (m *Model) PackForInference(format tensor.WeightFormat) error {
	if format == tensor.FP32 {
		if tensor.FloatPanels() {
			return m.packFloatPanels()
		}
		return m.Pack(format)
	}
	// Every layer is packed before any is released: a weight int8 cannot hold leaves the
	// encoder as it was.
	if err := m.Pack(format); err != nil {
		return err
	}
	for _, l := range m.Layers {
		l.release()
	}
	m.packedOnly = true
	return nil
}

// packFloatPanels is PackForInference(fp32) with float32 panels: a layer at a time is packed
// and its float32 weights released and handed back before the next, so the encoder never
// holds two copies of more than a layer.
func (m *Model) packFloatPanels() error {
	if m.packedOnly {
		return errReleased(tensor.FP32)
	}
	for _, l := range m.Layers {
		if err := l.pack(tensor.FP32, true); err != nil {
			return fmt.Errorf("bert: %w", err)
		}
		m.packedOnly = true // from the first release on, inference only
		l.release()
		runtime.GC()
	}
	return nil
}

// PackForCompute prepares the encoder for inference in the arithmetic set now: every product
// would pack the float32 weights again (under bfloat16 compute, rounded to bfloat16), so
// they are packed once, as bf16 panels under bfloat16 compute and as float32 panels under
// float32 compute where the CPU has them, and the float32 copies released
// (PackForInference; the outputs come out the same where Sgemm tiles the products). On a CPU
// with neither it does nothing, and on an encoder it packed already it does nothing again.
func (m *Model) PackForCompute() error {
	format := computeFormat()
	if format == "" {
		return nil
	}
	if m.packedOnly && (len(m.Layers) == 0 || m.Layers[0].qkv.Format == format) {
		return nil // packed so already
	}
	return m.PackForInference(format)
}

// computeFormat is the format PackForCompute packs in for the arithmetic set now: bf16 under
// bfloat16 compute, fp32 (float32 panels) under float32 compute where the CPU has them, and
// "" where it has neither.
func computeFormat() tensor.WeightFormat {
	switch {
	case kernel.ActiveCompute() == kernel.BF16Compute:
		return tensor.BF16
	case kernel.FloatPanelsAvailable():
		return tensor.FP32
	}
	return ""
}
