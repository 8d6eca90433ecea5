package train

import "context"

// Scorer is a Task that also measures its model on the validation split with metrics other
// than the loss — BLEU of a translation model's greedy outputs, accuracy of a classifier. Run
// calls Scores after each evaluation of the loss and logs every score as "val_NAME" (and
// "val_NAME_full" for the final evaluation over the whole split) in metrics.jsonl.
type Scorer interface {
	// Scores returns the scores by name, over a fixed subset of the validation split or the
	// whole split when full is set.
	Scores(ctx context.Context, full bool) (map[string]float64, error)
}
