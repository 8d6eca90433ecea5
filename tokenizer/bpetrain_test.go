package tokenizer

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/qkvdev/qkv/internal/testenv"
)

// naiveTrain is the reference trainer: recount every pair over every word at each step.
func naiveTrain(text string, vocabSize int, specials []string) [][2]int32 {
	freq := map[string]int64{}
	for _, chunk := range splitOnSpecials(text, specials) {
		for _, p := range PretokenizeGPT2(chunk) {
			freq[p]++
		}
	}
	var keys []string
	for k := range freq {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	byteID := map[byte]int32{}
	var tokens []string
	for i, b := range byteOrder {
		byteID[b] = int32(i)
		tokens = append(tokens, string([]byte{b}))
	}
	ids := map[string]int32{}
	for i, s := range tokens {
		ids[s] = int32(i)
	}
	words := make([][]int32, len(keys))
	for i, k := range keys {
		for j := 0; j < len(k); j++ {
			words[i] = append(words[i], byteID[k[j]])
		}
	}
	isSpecial := map[string]bool{}
	for _, s := range specials {
		isSpecial[s] = true
	}
	banned := map[uint64]bool{}
	var merges [][2]int32
	for len(tokens) < vocabSize-len(specials) {
		counts := map[uint64]int64{}
		for i, w := range words {
			for j := 0; j+1 < len(w); j++ {
				counts[pairKey(w[j], w[j+1])] += freq[keys[i]]
			}
		}
		var best uint64
		var bestN int64
		for k, n := range counts {
			if banned[k] {
				continue
			}
			if n > bestN || n == bestN && k < best {
				best, bestN = k, n
			}
		}
		if bestN == 0 {
			break
		}
		a, b := int32(best>>32), int32(uint32(best))
		m := tokens[a] + tokens[b]
		if isSpecial[m] {
			banned[best] = true
			continue
		}
		id, ok := ids[m]
		if !ok {
			id = int32(len(tokens))
			ids[m] = id
			tokens = append(tokens, m)
		}
		merges = append(merges, [2]int32{a, b})
		for i, w := range words {
			var out []int32
			for j := 0; j < len(w); j++ {
				if j+1 < len(w) && w[j] == a && w[j+1] == b {
					out = append(out, id)
					j++
				} else {
					out = append(out, w[j])
				}
			}
			words[i] = out
		}
	}
	return merges
}

func trainedMerges(g *GPT2) [][2]int32 {
	out := make([][2]int32, len(g.mergeIDs))
	for i, m := range g.mergeIDs {
		out[i] = [2]int32{m[0], m[1]}
	}
	return out
}

func TestTrainBPEMatchesReference(t *testing.T) {
	corpora := map[string]string{
		"repeats":  strings.Repeat("aaaa aaa aa a ", 20) + strings.Repeat("abab ba ", 7) + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"mixed":    "Hello, hello! HELLO? héllo 日本語日本語 🤗🤗🤗 123 1234 12345\n\n\tx <|endoftext|> y",
		"specials": "ab<|endoftext|>ab<|endoftext|><|end|>ab <|end|>",
	}
	if root, ok := testenv.DataDir(); ok {
		text, err := os.ReadFile(filepath.Join(root, "tinyshakespeare", "input.txt"))
		if err != nil {
			t.Fatal(err)
		}
		corpora["shakespeare-20k"] = string(text[:20000])
	}
	for name, text := range corpora {
		specials := []string{EndOfText}
		if name == "specials" {
			specials = []string{EndOfText, "<|end|>", "ab"}
		}
		for _, size := range []int{260, 300, 600} {
			g, err := TrainBPE(context.Background(), strings.NewReader(text), size, &BPETrainOptions{SpecialTokens: specials})
			if err != nil {
				t.Fatalf("%s/%d: %v", name, size, err)
			}
			want := naiveTrain(text, size, specials)
			if got := trainedMerges(g); !slices.Equal(got, want) {
				t.Errorf("%s/%d: %d merges differ from the reference's %d", name, size, len(got), len(want))
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Errorf("first difference at merge %d: %v vs %v", i, got[i], want[i])
						break
					}
				}
			}
			ids := g.Encode(text)
			if back, err := g.Decode(ids); err != nil || back != text {
				t.Errorf("%s/%d: round trip failed", name, size)
			}
		}
	}
}

// TestTrainBPEShakespeare trains tiny Shakespeare to 4,096 tokens (logging the time), checks
// the round trip, and that the saved files load back to identical encodings.
func TestTrainBPEShakespeare(t *testing.T) {
	text := shakespeare(t)
	start := time.Now()
	g, err := TrainBPE(context.Background(), strings.NewReader(text), 4096, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trained tiny Shakespeare (%d bytes) to %d tokens (%d merges) in %v", len(text), g.VocabSize(), g.NumMerges(), time.Since(start))
	if g.VocabSize() != 4096 || g.NumMerges() != 4096-257 {
		t.Fatalf("VocabSize %d, NumMerges %d", g.VocabSize(), g.NumMerges())
	}
	if id, ok := g.SpecialTokenID(EndOfText); !ok || id != 4095 {
		t.Fatalf("%s has id %d, %v", EndOfText, id, ok)
	}
	for i := 0; i < 256; i++ { // the byte tokens have GPT-2's ids
		if b, _ := g.TokenBytes(i); len(b) != 1 || b[0] != byteOrder[i] {
			t.Fatalf("token %d is %q", i, b)
		}
	}
	ids := g.Encode(text)
	t.Logf("tiny Shakespeare is %d tokens with the learned vocabulary", len(ids))
	if back, err := g.Decode(ids); err != nil || back != text {
		t.Fatal("round trip failed")
	}
	if len(ids) > len(text)/3 {
		t.Errorf("%d tokens for %d bytes: the merges do not compress", len(ids), len(text))
	}
	dir := t.TempDir()
	if err := g.Save(dir); err != nil {
		t.Fatal(err)
	}
	sample := text[:50000] + " <|endoftext|> 日本語 \xff"
	want, _ := g.EncodeSpecial(sample, g.SpecialTokens())
	check := func(name string, tok Tokenizer, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		g2, ok := tok.(*GPT2)
		if !ok {
			t.Fatalf("%s: got a %T", name, tok)
		}
		got, err := g2.EncodeSpecial(sample, g2.SpecialTokens())
		if err != nil || !slices.Equal(got, want) || g2.VocabSize() != g.VocabSize() {
			t.Errorf("%s: encodings differ after loading (err %v)", name, err)
		}
	}
	tok, err := Load(dir)
	check("Load (tokenizer.json)", tok, err)
	tok, err = LoadTokenizerJSON(filepath.Join(dir, "tokenizer.json"))
	check("LoadTokenizerJSON", tok, err)
	g2, err := LoadGPT2(dir)
	check("LoadGPT2 (vocab.json + merges.txt)", g2, err)
	os.Remove(filepath.Join(dir, "tokenizer.json"))
	tok, err = Load(dir)
	check("Load (vocab.json + merges.txt)", tok, err)
}

func TestTrainBPEOptions(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		size int
		opts *BPETrainOptions
		want string
	}{
		{256, nil, "below the 256 byte tokens"},
		{300, &BPETrainOptions{SpecialTokens: []string{"x"}}, "at least two bytes"},
		{300, &BPETrainOptions{SpecialTokens: []string{"<a>", "<a>"}}, "listed twice"},
	} {
		if _, err := TrainBPE(ctx, strings.NewReader("abc"), c.size, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("TrainBPE(%d, %+v): err = %v, want %q", c.size, c.opts, err, c.want)
		}
	}
	// Without pairs to merge, training stops early; no special tokens is allowed.
	g, err := TrainBPE(ctx, strings.NewReader("a\nb.c"), 1000, &BPETrainOptions{SpecialTokens: []string{}})
	if err != nil || g.VocabSize() != 256 || len(g.SpecialTokens()) != 0 {
		t.Fatalf("TrainBPE on pairless text: err %v", err)
	}
	// MinFrequency stops at rare pairs.
	g, err = TrainBPE(ctx, strings.NewReader("ab ab ab cd"), 1000, &BPETrainOptions{MinFrequency: 2})
	if err != nil || g.NumMerges() != 2 { // "a b" and then " ab" (the word " ab" occurs twice)
		t.Errorf("MinFrequency 2: %d merges, %v", g.NumMerges(), err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := TrainBPE(cctx, strings.NewReader(strings.Repeat("abcdefghijklmnopqrstuvwxyz ", 200)), 2000, nil); err == nil {
		t.Error("cancelled context: no error")
	}
}
