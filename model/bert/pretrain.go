package bert

import (
	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/tensor"
)

// PretrainingLoss is BERT's pretraining objective: the mean cross-entropy of the MLM logits
// (B, T, V) over positions whose label is not tensor.IgnoreIndex (-100), plus the cross-entropy
// of the NSP logits (B, 2) against nspLabels (HuggingFace's convention: 0 means sentence B
// follows sentence A, 1 that it is random). It returns both parts and their sum.
func (m *Model) PretrainingLoss(g *autograd.Graph, mlmLogits, nspLogits *autograd.Var, mlmLabels, nspLabels []int) (mlm, nsp, total *autograd.Var) {
	mlm = g.CrossEntropy(mlmLogits, mlmLabels)
	nsp = g.CrossEntropy(nspLogits, nspLabels)
	return mlm, nsp, g.Add(mlm, nsp)
}

// MaskedPositions are the positions of a batch that carry an MLM label. The MLM decoder
// (C → V, the largest product of a pretraining step) then runs on those rows only, as the
// original BERT does (gather_indexes): the loss and every gradient equal those of the logits
// at all B·T positions, whose unlabelled rows the cross-entropy ignores.
type MaskedPositions struct {
	Positions []int // indices into the B·T positions, ascending
	Labels    []int // the label at each
}

// Set fills s from labels (B·T entries, tensor.IgnoreIndex or any negative value where a
// position has no label), reusing its slices.
func (s *MaskedPositions) Set(labels []int) {
	s.Positions, s.Labels = s.Positions[:0], s.Labels[:0]
	for i, l := range labels {
		if l >= 0 {
			s.Positions = append(s.Positions, i)
			s.Labels = append(s.Labels, l)
		}
	}
	if len(s.Positions) == 0 { // one ignored row: the loss of no label, as for the full logits
		s.Positions = append(s.Positions, 0)
		s.Labels = append(s.Labels, tensor.IgnoreIndex)
	}
}

// Pretrain runs the encoder on b and returns the MLM loss (over the positions of s, set from
// the batch's MLM labels), the NSP loss and their sum. rng non-nil turns dropout on.
func (m *Model) Pretrain(g *autograd.Graph, b *Batch, s *MaskedPositions, nspLabels []int, rng *tensor.RNG) (mlm, nsp, total *autograd.Var) {
	out := m.Encode(g, b, rng, nil)
	h := g.Reshape(out.Hidden, b.B*b.T, m.Config.HiddenSize)
	picked := g.Embedding(h, s.Positions) // (N, C): the labelled positions
	return m.PretrainingLoss(g, m.MLMLogits(g, picked), m.NSPLogits(g, out.Pooled), s.Labels, nspLabels)
}
