package tokenizer

import (
	"fmt"
)

// Encoding is a model-ready input: BERT's input_ids, token_type_ids and attention_mask, with
// the token strings alongside.
type Encoding struct {
	IDs           []int    // token ids: [CLS] A [SEP] or [CLS] A [SEP] B [SEP], then padding
	TypeIDs       []int    // 0 for [CLS], A and its [SEP]; 1 for B and its [SEP]; 0 for padding
	AttentionMask []int    // 1 for real tokens, 0 for padding
	Tokens        []string // the token of each id
}

// Len is the number of positions.
func (e *Encoding) Len() int { return len(e.IDs) }

// Truncation names how EncodePair shortens a pair that does not fit in MaxLength, as Hugging
// Face defines the strategies.
type Truncation string

const (
	// NoTruncation keeps every token even past MaxLength.
	NoTruncation Truncation = ""
	// LongestFirst takes tokens off the end of the longer sequence until the pair fits: when both
	// are long, each keeps half the room and the longer one the odd position (the second one
	// when they are equally long), as Hugging Face tokenizers does.
	LongestFirst Truncation = "longest_first"
	// OnlyFirst shortens only the first sequence; it is an error if that is not enough.
	OnlyFirst Truncation = "only_first"
	// OnlySecond shortens only the second sequence; it is an error if that is not enough, or if
	// there is no second sequence.
	OnlySecond Truncation = "only_second"
)

// Padding names how encodings are padded.
type Padding string

const (
	// NoPadding leaves every encoding its own length.
	NoPadding Padding = ""
	// PadToMaxLength pads every encoding to MaxLength.
	PadToMaxLength Padding = "max_length"
	// PadToLongest pads every encoding of a batch to the longest one (a single encoding is left
	// as it is).
	PadToLongest Padding = "longest"
)

// EncodeOptions controls EncodeSingle, EncodePair and EncodeBatch.
type EncodeOptions struct {
	// MaxLength bounds the length, special tokens included, when Truncation is set; it is the
	// target length of PadToMaxLength. 0 means no bound.
	MaxLength  int
	Truncation Truncation
	Padding    Padding
}

func (o EncodeOptions) check() error {
	if o.MaxLength < 0 {
		return fmt.Errorf("tokenizer: MaxLength %d is negative", o.MaxLength)
	}
	switch o.Truncation {
	case NoTruncation, LongestFirst, OnlyFirst, OnlySecond:
	default:
		return fmt.Errorf("tokenizer: unknown truncation strategy %q (want %q, %q or %q)", o.Truncation, LongestFirst, OnlyFirst, OnlySecond)
	}
	switch o.Padding {
	case NoPadding, PadToLongest:
	case PadToMaxLength:
		if o.MaxLength == 0 {
			return fmt.Errorf("tokenizer: padding to max_length needs MaxLength")
		}
	default:
		return fmt.Errorf("tokenizer: unknown padding %q (want %q or %q)", o.Padding, PadToMaxLength, PadToLongest)
	}
	return nil
}

// EncodeSingle encodes one text as [CLS] text [SEP].
func (w *WordPiece) EncodeSingle(text string, opts EncodeOptions) (Encoding, error) {
	encs, err := w.EncodeBatch([]string{text}, nil, opts)
	if err != nil {
		return Encoding{}, err
	}
	return encs[0], nil
}

// EncodePair encodes two texts as [CLS] a [SEP] b [SEP], with type id 1 for b and its [SEP].
func (w *WordPiece) EncodePair(a, b string, opts EncodeOptions) (Encoding, error) {
	encs, err := w.EncodeBatch([]string{a}, []string{b}, opts)
	if err != nil {
		return Encoding{}, err
	}
	return encs[0], nil
}

// EncodeBatch encodes texts, paired with second[i] when second is not nil (it must then be as
// long as first). PadToLongest pads to the longest encoding of the batch.
func (w *WordPiece) EncodeBatch(first, second []string, opts EncodeOptions) ([]Encoding, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if second != nil && len(second) != len(first) {
		return nil, fmt.Errorf("tokenizer: %d first texts but %d second texts", len(first), len(second))
	}
	if opts.Padding != NoPadding && w.pad < 0 {
		return nil, fmt.Errorf("tokenizer: cannot pad: the vocabulary has no pad token %q", w.opts.PadToken)
	}
	out := make([]Encoding, len(first))
	longest := 0
	for i := range first {
		a := w.Encode(first[i])
		var b []int
		pair := second != nil
		if pair {
			b = w.Encode(second[i])
		}
		var err error
		if a, b, err = truncatePair(a, b, pair, opts); err != nil {
			if len(first) > 1 {
				return nil, fmt.Errorf("%w (batch item %d)", err, i)
			}
			return nil, err
		}
		out[i] = w.assemble(a, b, pair)
		longest = max(longest, len(out[i].IDs))
	}
	target := 0
	switch opts.Padding {
	case PadToMaxLength:
		target = opts.MaxLength
	case PadToLongest:
		target = longest
	}
	for i := range out {
		w.padTo(&out[i], target)
	}
	return out, nil
}

// truncatePair shortens a and b so that they and their special tokens (2 for one sequence, 3
// for a pair) fit in opts.MaxLength, following Hugging Face tokenizers' truncate_encodings.
func truncatePair(a, b []int, pair bool, opts EncodeOptions) ([]int, []int, error) {
	if opts.Truncation == NoTruncation || opts.MaxLength == 0 {
		return a, b, nil
	}
	added := 2
	if pair {
		added = 3
	}
	if opts.MaxLength < added {
		return nil, nil, fmt.Errorf("tokenizer: MaxLength %d leaves no room: the special tokens alone take %d", opts.MaxLength, added)
	}
	limit := opts.MaxLength - added
	n1, n2 := len(a), len(b)
	if limit == 0 {
		return a[:0], b[:0], nil
	}
	if n1+n2 <= limit {
		return a, b, nil
	}
	remove := n1 + n2 - limit
	switch opts.Truncation {
	case LongestFirst:
		if !pair {
			return a[:limit], b, nil
		}
		// With s the shorter length and l the longer: keep the shorter whole if the longer can
		// make all the room; else each gets half, the longer one the odd position.
		swap := n1 > n2
		s, l := n1, n2
		if swap {
			s, l = n2, n1
		}
		if s > limit {
			l = s
		} else {
			l = max(s, limit-s)
		}
		if s+l > limit {
			s = limit / 2
			l = s + limit%2
		}
		if swap {
			s, l = l, s
		}
		return a[:min(n1, s)], b[:min(n2, l)], nil
	case OnlyFirst:
		if n1 <= remove {
			return nil, nil, fmt.Errorf("tokenizer: truncation only_first: the first sequence has %d tokens, %d must go for the input to fit in %d", n1, remove, opts.MaxLength)
		}
		return a[:n1-remove], b, nil
	case OnlySecond:
		if !pair {
			return nil, nil, fmt.Errorf("tokenizer: truncation only_second needs a second sequence")
		}
		if n2 <= remove {
			return nil, nil, fmt.Errorf("tokenizer: truncation only_second: the second sequence has %d tokens, %d must go for the input to fit in %d", n2, remove, opts.MaxLength)
		}
		return a, b[:n2-remove], nil
	}
	return a, b, nil
}

// assemble lays out [CLS] a [SEP] (b [SEP]).
func (w *WordPiece) assemble(a, b []int, pair bool) Encoding {
	n := len(a) + 2
	if pair {
		n += len(b) + 1
	}
	e := Encoding{
		IDs:           make([]int, 0, n),
		TypeIDs:       make([]int, 0, n),
		AttentionMask: make([]int, 0, n),
		Tokens:        make([]string, 0, n),
	}
	add := func(id, typ int) {
		e.IDs = append(e.IDs, id)
		e.TypeIDs = append(e.TypeIDs, typ)
		e.AttentionMask = append(e.AttentionMask, 1)
		e.Tokens = append(e.Tokens, w.vocab[id])
	}
	add(w.cls, 0)
	for _, id := range a {
		add(id, 0)
	}
	add(w.sep, 0)
	if pair {
		for _, id := range b {
			add(id, 1)
		}
		add(w.sep, 1)
	}
	return e
}

func (w *WordPiece) padTo(e *Encoding, n int) {
	for len(e.IDs) < n {
		e.IDs = append(e.IDs, w.pad)
		e.TypeIDs = append(e.TypeIDs, 0)
		e.AttentionMask = append(e.AttentionMask, 0)
		e.Tokens = append(e.Tokens, w.vocab[w.pad])
	}
}
