package transformer

// Notation: B sequences, S the longest source, T the longest target plus its eos.

import (
	"fmt"

	"github.com/qkvdev/qkv/tensor"
)

// MakeBatch pads B source sequences and, if tgt is non-nil, their B target sequences into a
// Batch, as a tokenizer's padding does: sources to the longest source S with pad_token_id
// (masked by AttentionMask); targets get eos_token_id appended and become the labels, padded to
// the longest target T with −100, and the decoder inputs are the labels shifted right
// (decoder_start_token_id first). Sequences hold token ids without eos; none may be empty or
// longer than max_position_embeddings allows.
func (m *Model) MakeBatch(src, tgt [][]int) (*Batch, error) {
	c := m.Config
	if len(src) == 0 || (tgt != nil && len(tgt) != len(src)) {
		return nil, fmt.Errorf("transformer: %d sources and %d targets; want at least one source and, with targets, one per source", len(src), len(tgt))
	}
	b := &Batch{B: len(src)}
	for i, s := range src {
		if len(s) == 0 {
			return nil, fmt.Errorf("transformer: source %d is empty", i)
		}
		b.S = max(b.S, len(s))
	}
	for i, t := range tgt {
		if err := checkIDs(fmt.Sprintf("target %d: token", i), t, c.TargetVocab()); err != nil {
			return nil, err
		}
		b.T = max(b.T, len(t)+1) // + eos
	}
	if b.S > c.MaxPositionEmbeddings || b.T > c.MaxPositionEmbeddings {
		return nil, fmt.Errorf("transformer: a source of %d or target of %d tokens (with eos) exceeds max_position_embeddings = %d", b.S, b.T, c.MaxPositionEmbeddings)
	}
	b.InputIDs, b.AttentionMask = make([]int, b.B*b.S), make([]int, b.B*b.S)
	for i, s := range src {
		for j := range b.S {
			b.InputIDs[i*b.S+j] = c.PadTokenID
			if j < len(s) {
				b.InputIDs[i*b.S+j], b.AttentionMask[i*b.S+j] = s[j], 1
			}
		}
	}
	if tgt != nil {
		b.Labels = make([]int, b.B*b.T)
		for i, t := range tgt {
			row := b.Labels[i*b.T : (i+1)*b.T]
			for j := range row {
				switch {
				case j < len(t):
					row[j] = t[j]
				case j == len(t):
					row[j] = c.EOSTokenID
				default:
					row[j] = tensor.IgnoreIndex
				}
			}
		}
		b.DecoderInputIDs = ShiftTokensRight(b.Labels, b.B, b.T, c.DecoderStartTokenID, c.PadTokenID)
	}
	if err := m.Check(b); err != nil {
		return nil, err
	}
	return b, nil
}
