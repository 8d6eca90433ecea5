package data

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/tensor"
)

// byteVocab is a vocabulary for tests: the five special tokens, then a piece per byte that
// starts a word (id 5+b) and per byte that continues one (id 261+b, "##" and the byte).
type byteVocab struct{}

func (byteVocab) Encode(text string) []int {
	var ids []int
	for _, w := range strings.Fields(text) {
		for i := 0; i < len(w); i++ {
			ids = append(ids, 5+256*min(i, 1)+int(w[i]))
		}
	}
	return ids
}

func (byteVocab) Token(id int) (string, error) {
	switch {
	case id < 0 || id >= 517:
		return "", fmt.Errorf("id %d out of range", id)
	case id < 5:
		return []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}[id], nil
	case id < 261:
		return string(rune(id - 5)), nil
	}
	return "##" + string(rune(id-261)), nil
}

func (byteVocab) VocabSize() int { return 517 }
func (byteVocab) PadID() int     { return 0 }
func (byteVocab) ClsID() int     { return 2 }
func (byteVocab) SepID() int     { return 3 }
func (byteVocab) MaskID() int    { return 4 }

// FuzzPretraining builds instances from any text (documents split as LoadDocuments splits a
// file) and checks the layout of every instance and the masking of a batch.
func FuzzPretraining(f *testing.F) {
	f.Add("one two three\nfour five\n\nsix seven\neight\n\nnine", uint8(8), uint8(10), false, uint64(1))
	f.Add("a\n\nb", uint8(5), uint8(0), true, uint64(2))
	f.Add(strings.Repeat("word piece wordpiece\n", 30)+"\n"+strings.Repeat("x y\n\n", 5), uint8(40), uint8(255), true, uint64(3))
	f.Fuzz(func(t *testing.T, text string, maxLen, short uint8, wwm bool, seed uint64) {
		o := DefaultPretrainOptions()
		o.MaxSeqLength, o.ShortSeqProb, o.WholeWordMask, o.Seed = int(maxLen), float64(short)/255, wwm, seed
		docs := appendDocuments(nil, text, false)
		for _, d := range docs {
			for _, s := range d {
				if s == "" || s != strings.TrimSpace(s) || strings.ContainsAny(s, "\n") {
					t.Fatalf("sentence %q", s)
				}
			}
		}
		p, err := NewPretraining(context.Background(), docs, byteVocab{}, o)
		if err != nil {
			return
		}
		if len(p.Instances) == 0 {
			t.Fatal("no instances")
		}
		for _, in := range p.Instances {
			n := len(in.Tokens)
			if n > o.MaxSeqLength || in.LenA < 1 || n-in.LenA-3 < 1 || in.Tokens[0] != 2 || in.Tokens[in.LenA+1] != 3 || in.Tokens[n-1] != 3 {
				t.Fatalf("instance %v (LenA %d, max %d)", in.Tokens, in.LenA, o.MaxSeqLength)
			}
		}
		b := p.Sampler(seed).Next(3)
		for r := range b.B {
			n := 0
			chosen := 0
			for j := r * b.T; j < (r+1)*b.T; j++ {
				if b.AttentionMask[j] == 1 {
					n++
				}
				if l := b.MLMLabels[j]; l != tensor.IgnoreIndex {
					chosen++
					if b.AttentionMask[j] == 0 || l == 2 || l == 3 || l < 0 || l >= 517 {
						t.Fatalf("label %d at position %d (mask %d)", l, j, b.AttentionMask[j])
					}
				}
			}
			want := min(o.MaxPredictions, max(1, int(math.RoundToEven(float64(n)*o.MaskProb))))
			if chosen > want || !wwm && chosen != want {
				t.Fatalf("%d chosen of %d tokens, want %d", chosen, n, want)
			}
		}
	})
}
