package eval

import (
	"path/filepath"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
)

// BenchmarkMulti30k scores the 29,000 German training captions of Multi30k against the
// English ones: 360k hypothesis tokens, BLEU and chrF.
func BenchmarkMulti30k(b *testing.B) {
	dir := testenv.RequireDataSubdir(b, "multi30k-en-de")
	hyps, err := ReadSegments(filepath.Join(dir, "train.de.gz"))
	if err != nil {
		b.Fatal(err)
	}
	refs, err := ReadSegments(filepath.Join(dir, "train.en.gz"))
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range []struct {
		name  string
		score func([]string, [][]string, Options) error
	}{
		{"BLEU", func(h []string, r [][]string, o Options) error { _, err := BLEU(h, r, o); return err }},
		{"chrF", func(h []string, r [][]string, o Options) error { _, err := CHRF(h, r, o); return err }},
	} {
		b.Run(m.name, func(b *testing.B) {
			for b.Loop() {
				if err := m.score(hyps, [][]string{refs}, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
