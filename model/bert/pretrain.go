package bert

import (
	"github.com/qkvdev/qkv/autograd"
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
