// Package finetune trains a pretrained model to classify sentence pairs (natural language
// inference: MNLI, SNLI, SciTail, QNLI, RTE) the two ways the field began with: BERT's
// (Devlin et al., 2019: "[CLS] A [SEP] B [SEP]", a classifier on the pooled [CLS] state) and
// GPT-1's (Radford et al., 2018: "start A delim B extract", a classifier on the extract token's
// state, with the language-model loss as an auxiliary objective). Task is a train.Task whose
// epochs are passes over the training pairs, evaluated on each dev set after each epoch, the
// best model kept.
package finetune

import (
	"fmt"
	"slices"
	"strings"

	"github.com/qkvdev/qkv/tensor"
)

// Pair is one tokenized example: the two segments' token ids (no special tokens) and the class.
type Pair struct {
	A, B  []int
	Label int // class id, or -1 when unknown
}

// Truncation strategies, as HuggingFace's tokenizers name them.
const (
	LongestFirst = "longest_first" // remove one token at a time from the end of the longer segment
	OnlyFirst    = "only_first"    // remove tokens from the end of the first segment only
	OnlySecond   = "only_second"   // remove tokens from the end of the second segment only
	DoNotTrunc   = "do_not_truncate"
)

// Strategies lists the truncation strategies.
var Strategies = []string{LongestFirst, OnlyFirst, OnlySecond, DoNotTrunc}

// CheckStrategy reports a strategy that is not one of Strategies.
func CheckStrategy(s string) error {
	for _, v := range Strategies {
		if s == v {
			return nil
		}
	}
	return fmt.Errorf("truncation strategy %q: want one of %s", s, strings.Join(Strategies, ", "))
}

// Truncate shortens a and b so that together they hold at most budget tokens, by strategy.
// longest_first removes the last token of the longer segment (of b when they are as long) one
// at a time, as HuggingFace's tokenizers do; only_first and only_second cut one segment, keeping at
// least one of its tokens, and fail when they cannot; do_not_truncate fails on a pair that does not fit.
func Truncate(a, b []int, budget int, strategy string) ([]int, []int, error) {
	over := len(a) + len(b) - budget
	if over <= 0 {
		return a, b, nil
	}
	switch strategy {
	case LongestFirst:
		for ; over > 0; over-- {
			if len(a) > len(b) {
				a = a[:len(a)-1]
			} else {
				b = b[:len(b)-1]
			}
		}
		return a, b, nil
	case OnlyFirst:
		if over >= len(a) {
			return nil, nil, fmt.Errorf("the pair is %d tokens over the limit of %d and its first segment has only %d (use --truncation %s)", over, budget, len(a), LongestFirst)
		}
		return a[:len(a)-over], b, nil
	case OnlySecond:
		if over >= len(b) {
			return nil, nil, fmt.Errorf("the pair is %d tokens over the limit of %d and its second segment has only %d (use --truncation %s)", over, budget, len(b), LongestFirst)
		}
		return a, b[:len(b)-over], nil
	case DoNotTrunc:
		return nil, nil, fmt.Errorf("the pair has %d tokens, more than the limit of %d (use --truncation %s)", len(a)+len(b), budget, LongestFirst)
	}
	return nil, nil, CheckStrategy(strategy)
}

// Subsample returns n of pairs chosen by a shuffle drawn from seed, in their original order.
func Subsample(pairs []Pair, n int, seed uint64) []Pair {
	idx := make([]int, len(pairs))
	for i := range idx {
		idx[i] = i
	}
	rng := tensor.NewRNG(seed ^ 0x5deece66d)
	for i := len(idx) - 1; i > 0; i-- {
		j := rng.IntN(i + 1)
		idx[i], idx[j] = idx[j], idx[i]
	}
	idx = idx[:n]
	slices.Sort(idx)
	out := make([]Pair, n)
	for i, j := range idx {
		out[i] = pairs[j]
	}
	return out
}
