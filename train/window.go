package train

// WindowMetrics is a Task that measures more than its loss on its training batches — the
// masked-LM and next-sentence losses and accuracies of BERT pretraining. Run calls
// WindowMetrics at each logging step and adds the returned values (the means since the previous
// call) to that step's record in metrics.jsonl under their own names (a name the loop uses
// itself, such as loss, is left out). After a resume the first
// window holds the steps since the resume only.
type WindowMetrics interface {
	WindowMetrics() map[string]float64
}
