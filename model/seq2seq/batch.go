package seq2seq

import (
	"fmt"

	"github.com/qkvdev/qkv/tensor"
)

// Batch is B source–target pairs, padded, laid out for teacher forcing.
type Batch struct {
	B, S, T int   // batch size, longest source, longest target (EOS included)
	Src     []int // (B, S) source ids, row-major, padded with pad_token_id
	SrcLen  []int // (B) source lengths
	DecIn   []int // (B, T) decoder inputs y_0…y_{T−1}: BOS, then the target, padded
	Targets []int // (B·T) predictions y_1…y_T: the target, then EOS; tensor.IgnoreIndex at padding
	TgtLen  []int // (B) target lengths, EOS included
	Tokens  int   // target tokens, EOS included: the positions the loss counts
}

// MakeBatch fills bt from sources and targets (token ids, with neither BOS nor EOS; the
// targets may be nil to batch sources only), reusing bt's buffers. It refuses empty or
// overlong sequences and ids outside the vocabularies.
func (m *Model) MakeBatch(bt *Batch, src, tgt [][]int) error {
	c := m.Config
	if len(src) == 0 || (tgt != nil && len(tgt) != len(src)) {
		return fmt.Errorf("seq2seq: a batch of %d sources and %d targets; want one target per source, at least one pair", len(src), len(tgt))
	}
	b := len(src)
	bt.B, bt.S, bt.T, bt.Tokens = b, 0, 0, 0
	for i, s := range src {
		if err := m.checkIDs("source", i, s, c.SrcVocabSize, c.MaxLength); err != nil {
			return err
		}
		bt.S = max(bt.S, len(s))
	}
	bt.Src, bt.SrcLen = resize(bt.Src, b*bt.S), resize(bt.SrcLen, b)
	for i, s := range src {
		row := bt.Src[i*bt.S : (i+1)*bt.S]
		n := copy(row, s)
		fill(row[n:], c.PadTokenID)
		bt.SrcLen[i] = len(s)
	}
	if tgt == nil {
		bt.DecIn, bt.Targets, bt.TgtLen = bt.DecIn[:0], bt.Targets[:0], bt.TgtLen[:0]
		return nil
	}
	for i, t := range tgt {
		if err := m.checkIDs("target", i, t, c.TgtVocabSize, c.MaxLength-1); err != nil {
			return err
		}
		bt.T = max(bt.T, len(t)+1)
	}
	bt.DecIn, bt.Targets, bt.TgtLen = resize(bt.DecIn, b*bt.T), resize(bt.Targets, b*bt.T), resize(bt.TgtLen, b)
	for i, t := range tgt {
		in, out := bt.DecIn[i*bt.T:(i+1)*bt.T], bt.Targets[i*bt.T:(i+1)*bt.T]
		in[0] = c.BOSTokenID
		copy(in[1:], t)
		fill(in[len(t)+1:], c.PadTokenID)
		copy(out, t)
		out[len(t)] = c.EOSTokenID
		fill(out[len(t)+1:], tensor.IgnoreIndex)
		bt.TgtLen[i] = len(t) + 1
		bt.Tokens += len(t) + 1
	}
	return nil
}

// checkIDs refuses sequence i of kind ("source", "target") if it is empty, longer than
// limit, or holds an id outside [0, vocab).
func (m *Model) checkIDs(kind string, i int, ids []int, vocab, limit int) error {
	if len(ids) == 0 && kind == "source" {
		return fmt.Errorf("seq2seq: source %d is empty", i)
	}
	if len(ids) > limit {
		return fmt.Errorf("seq2seq: %s %d has %d tokens, more than the %d the model takes (max_length %d, EOS included)", kind, i, len(ids), limit, m.Config.MaxLength)
	}
	for j, id := range ids {
		if id < 0 || id >= vocab {
			return fmt.Errorf("seq2seq: %s %d: token %d at position %d is outside the vocabulary [0, %d)", kind, i, id, j, vocab)
		}
	}
	return nil
}

// resize returns s with length n, reallocated only when too short.
func resize(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}

func fill(s []int, v int) {
	for i := range s {
		s[i] = v
	}
}
