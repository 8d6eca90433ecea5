package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// naiveBPE is the textbook loop with no length limit: merge the lowest-ranked adjacent pair
// (the leftmost on ties) until none has a merge.
func naiveBPE(m *bpeMerger, piece string) []int {
	ids := make([]int32, len(piece))
	for i := range ids {
		ids[i] = m.byteID[piece[i]]
	}
	for {
		best, at := merge{rank: noRank}, -1
		for i := 0; i+1 < len(ids); i++ {
			if r, ok := m.lookup(ids[i], ids[i+1]); ok && r.rank < best.rank {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		ids[at] = best.id
		ids = slices.Delete(ids, at+1, at+2)
	}
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return out
}

// TestBPEPathsAgree checks the direct loop and the heap against the textbook loop, on pieces
// of the vectors and Shakespeare and on random and repetitive pieces of every length.
func TestBPEPathsAgree(t *testing.T) {
	g := loadTestGPT2(t)
	m := &g.bpeMerger
	pieces := PretokenizeGPT2(shakespeare(t)[:200000])
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "e", "t", "h", " ", "\n", "0", "é", "🤗", "\xff", "'", "!", "ing", "the"}
	for n := 2; n <= 3*smallPiece; n++ {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		pieces = append(pieces, b.String()[:n], strings.Repeat("a", n), strings.Repeat(" ", n), strings.Repeat("ab", n/2))
	}
	seen := map[string]bool{}
	for _, p := range pieces {
		if seen[p] || len(p) < 2 {
			continue
		}
		seen[p] = true
		want := naiveBPE(m, p)
		if got := m.bpeLong(p, nil); !slices.Equal(got, want) {
			t.Fatalf("bpeLong(%q) = %v, want %v", p, got, want)
		}
		if got := m.bpeByRank(p, nil); !slices.Equal(got, want) {
			t.Fatalf("bpeByRank(%q) = %v, want %v", p, got, want)
		}
		if len(p) <= smallPiece {
			if got := m.bpeSmall(p, nil); !slices.Equal(got, want) {
				t.Fatalf("bpeSmall(%q) = %v, want %v", p, got, want)
			}
		}
	}
	t.Logf("%d distinct pieces", len(seen))
}

// TestGPT2HostileInputs encodes megabyte inputs that the pre-tokenizer returns as one piece
// (or as a million tiny ones): a quadratic merge would take hours, a linearithmic one a
// fraction of a second. Each must round-trip.
func TestGPT2HostileInputs(t *testing.T) {
	g := loadTestGPT2(t)
	const n = 1 << 20
	inputs := map[string]string{
		"A":         strings.Repeat("A", n),
		"^":         strings.Repeat("^", n),
		"digits":    strings.Repeat("1234567890", n/10),
		"spaces":    strings.Repeat(" ", n),
		"newlines":  strings.Repeat("\n", n),
		"invalid":   strings.Repeat("\xff", n),
		"2-byte":    strings.Repeat("é", n/2),
		"emoji":     strings.Repeat("🤗", n/4),
		"word":      strings.Repeat("antidisestablishmentarianism", n/28),
		"a a":       strings.Repeat("a ", n/2),
		"surrogate": strings.Repeat("\xed\xa0\x80", n/3), // an encoded lone surrogate: invalid UTF-8
	}
	for name, text := range inputs {
		ids := g.Encode(text)
		back, err := g.Decode(ids)
		if err != nil || back != text {
			t.Errorf("%s: %d bytes do not round-trip (err %v)", name, len(text), err)
		}
		if len(ids) == 0 || len(ids) > len(text) {
			t.Errorf("%s: %d tokens for %d bytes", name, len(ids), len(text))
		}
	}
}

func FuzzGPT2RoundTrip(f *testing.F) {
	for _, s := range []string{"", "hello world", "a   b\n\n  c", "I'm WON'T", "\xff\xfe", "\xe2\x80", "<|endoftext|>", "日本語 🤗", "\x00\x01 \t", strings.Repeat("ab", 40)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g := loadTestGPT2(t)
		text := string(data)
		ids := g.Encode(text)
		back, err := g.Decode(ids)
		if err != nil || back != text {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", text, back, err)
		}
		for _, id := range ids {
			if id < 0 || id >= g.VocabSize() || g.kinds[id] != kindRegular {
				t.Fatalf("Encode(%q) produced id %d", text, id)
			}
		}
		// Long pieces take the heap; check it against the direct loop on short ones.
		for _, p := range PretokenizeGPT2(text) {
			if len(p) >= 2 && len(p) <= smallPiece {
				a, b, c := g.bpeSmall(p, nil), g.bpeLong(p, nil), g.bpeByRank(p, nil)
				if !slices.Equal(a, b) || !slices.Equal(a, c) {
					t.Fatalf("piece %q: direct %v, heap %v, by rank %v", p, a, b, c)
				}
			}
		}
		sp, err := g.EncodeSpecial(text, g.SpecialTokens())
		if err != nil {
			t.Fatal(err)
		}
		if back, err := g.Decode(sp); err != nil || back != text {
			t.Fatalf("Decode(EncodeSpecial(%q)) = %q, %v", text, back, err)
		}
	})
}
