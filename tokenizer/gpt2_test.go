package tokenizer

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

type gpt2Vectors struct {
	Vectors []struct {
		Text   string   `json:"text"`
		IDs    []int    `json:"ids"`
		Tokens []string `json:"tokens"`
	} `json:"vectors"`
	SpecialTokenVectors []struct {
		Text           string `json:"text"`
		AllowedSpecial string `json:"allowed_special"`
		IDs            []int  `json:"ids"`
	} `json:"special_token_vectors"`
	Counts struct {
		Full       int   `json:"encode_ordinary_full"`
		Train      int   `json:"nanoGPT_split_train_first_90pct_chars"`
		Val        int   `json:"nanoGPT_split_val_last_10pct_chars"`
		First20IDs []int `json:"first_20_ids"`
	} `json:"tinyshakespeare_counts"`
}

func TestGPT2Vectors(t *testing.T) {
	g := loadTestGPT2(t)
	var v gpt2Vectors
	readJSON(t, filepath.Join(dataDir(t, "gpt2-tokenizer"), "test_vectors.json"), &v)
	if len(v.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for _, c := range v.Vectors {
		got := g.Encode(c.Text)
		if !slices.Equal(got, c.IDs) && !(len(got) == 0 && len(c.IDs) == 0) {
			t.Errorf("Encode(%q) = %v, want %v", c.Text, got, c.IDs)
			continue
		}
		for i, id := range got {
			if s, _ := g.TokenString(id); s != c.Tokens[i] {
				t.Errorf("Encode(%q): token %d is %q, want %q", c.Text, i, s, c.Tokens[i])
			}
		}
		if back, err := g.Decode(got); err != nil || back != c.Text {
			t.Errorf("Decode(Encode(%q)) = %q, %v", c.Text, back, err)
		}
	}
	t.Logf("%d vectors", len(v.Vectors))
	for _, c := range v.SpecialTokenVectors {
		got, err := g.EncodeSpecial(c.Text, g.SpecialTokens())
		if err != nil || !slices.Equal(got, c.IDs) {
			t.Errorf("EncodeSpecial(%q, all) = %v, %v; want %v", c.Text, got, err, c.IDs)
		}
	}
}

func TestGPT2SwiftVector(t *testing.T) {
	g := loadTestGPT2(t)
	var v struct {
		Text        string   `json:"text"`
		EncodedText []string `json:"encoded_text"`
		BPETokens   []string `json:"bpe_tokens"`
		TokenIDs    []int    `json:"token_ids"`
	}
	readJSON(t, filepath.Join(dataDir(t, "gpt2-tokenizer"), "hf_swift_encoded_tokens.json"), &v)
	pieces := PretokenizeGPT2(v.Text)
	if len(pieces) != len(v.EncodedText) {
		t.Fatalf("%d pieces, want %d", len(pieces), len(v.EncodedText))
	}
	for i, p := range pieces {
		if got := byteLevelEncode([]byte(p)); got != v.EncodedText[i] {
			t.Errorf("piece %d = %q, want %q", i, got, v.EncodedText[i])
		}
	}
	got := g.Encode(v.Text)
	if !slices.Equal(got, v.TokenIDs) {
		t.Fatalf("Encode = %v\nwant %v", got, v.TokenIDs)
	}
	for i, id := range got {
		if s, _ := g.TokenString(id); s != v.BPETokens[i] {
			t.Errorf("token %d = %q, want %q", i, s, v.BPETokens[i])
		}
	}
	t.Logf("%d ids", len(got))
}

func TestGPT2Shakespeare(t *testing.T) {
	g := loadTestGPT2(t)
	var v gpt2Vectors
	readJSON(t, filepath.Join(dataDir(t, "gpt2-tokenizer"), "test_vectors.json"), &v)
	text := shakespeare(t)
	// nanoGPT's data/shakespeare/prepare.py splits at 90% of the characters.
	n := utf8.RuneCountInString(text)
	cut := n * 9 / 10
	train, val := string([]rune(text)[:cut]), string([]rune(text)[cut:])
	full := g.Encode(text)
	trainIDs, valIDs := g.Encode(train), g.Encode(val)
	t.Logf("tiny Shakespeare: %d tokens; train %d, val %d", len(full), len(trainIDs), len(valIDs))
	if len(full) != v.Counts.Full || len(trainIDs) != v.Counts.Train || len(valIDs) != v.Counts.Val {
		t.Errorf("got %d/%d/%d tokens, want %d/%d/%d", len(full), len(trainIDs), len(valIDs), v.Counts.Full, v.Counts.Train, v.Counts.Val)
	}
	if len(trainIDs) != 301966 || len(valIDs) != 36059 {
		t.Errorf("train/val = %d/%d, want 301966/36059", len(trainIDs), len(valIDs))
	}
	if !slices.Equal(full[:20], v.Counts.First20IDs) {
		t.Errorf("first ids %v, want %v", full[:20], v.Counts.First20IDs)
	}
	back, err := g.Decode(full)
	if err != nil || back != text {
		t.Errorf("Shakespeare does not round-trip (err %v)", err)
	}
	// The same with the piece cache cleared, and through EncodeSpecial.
	g.ClearCache()
	again, err := g.EncodeSpecial(text, nil)
	if err != nil || !slices.Equal(again, full) {
		t.Errorf("EncodeSpecial differs from Encode (err %v)", err)
	}
}

func TestGPT2Special(t *testing.T) {
	g := loadTestGPT2(t)
	if id, ok := g.SpecialTokenID(EndOfText); !ok || id != 50256 {
		t.Fatalf("SpecialTokenID(%q) = %d, %v", EndOfText, id, ok)
	}
	if sp := g.SpecialTokens(); !slices.Equal(sp, []string{EndOfText}) {
		t.Fatalf("SpecialTokens = %q", sp)
	}
	if g.VocabSize() != 50257 || g.NumMerges() != 50000 || g.Kind() != "gpt2-bpe" {
		t.Fatalf("VocabSize %d, NumMerges %d, Kind %q", g.VocabSize(), g.NumMerges(), g.Kind())
	}
	plain := g.Encode("hello <|endoftext|>")
	if slices.Contains(plain, 50256) {
		t.Errorf("Encode turned the special token's text into the special token: %v", plain)
	}
	_, err := g.EncodeSpecial("hello <|endoftext|>", nil)
	if !errors.Is(err, ErrDisallowedSpecial) {
		t.Errorf("disallowed special: err = %v", err)
	}
	if _, err := g.EncodeSpecial("x", []string{"<|nope|>"}); err == nil {
		t.Error("unknown allowed special: no error")
	}
	for _, c := range []struct {
		text string
		want []int
	}{
		{"<|endoftext|>", []int{50256}},
		{"<|endoftext|><|endoftext|>", []int{50256, 50256}},
		{"a<|endoftext|>b", []int{64, 50256, 65}},
		{"hello <|endoftext|> world", []int{31373, 220, 50256, 995}},
		{"<|endoftext", g.Encode("<|endoftext")},
	} {
		got, err := g.EncodeSpecial(c.text, []string{EndOfText})
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("EncodeSpecial(%q) = %v, %v; want %v", c.text, got, err, c.want)
		}
		if back, _ := g.Decode(got); back != c.text {
			t.Errorf("Decode(EncodeSpecial(%q)) = %q", c.text, back)
		}
	}
}

func TestGPT2DecodeErrors(t *testing.T) {
	g := loadTestGPT2(t)
	for _, ids := range [][]int{{-1}, {50257}, {1, 2, 1 << 40}} {
		if _, err := g.Decode(ids); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("Decode(%v): err = %v", ids, err)
		}
	}
	if _, err := g.TokenBytes(50257); err == nil {
		t.Error("TokenBytes out of range: no error")
	}
}

// TestGPT2EveryTokenDirect checks that each token of GPT-2's vocabulary, encoded alone, is
// itself: so the whole-piece lookup (tiktoken's shortcut) agrees with the merge rules.
func TestGPT2EveryTokenDirect(t *testing.T) {
	g := loadTestGPT2(t)
	bad := 0
	for id := 0; id < g.VocabSize(); id++ {
		if g.kinds[id] != kindRegular {
			continue
		}
		b := string(g.bytesOf(id))
		got := g.bpe(b, nil)
		if len(got) != 1 || got[0] != id {
			bad++
			if bad < 5 {
				t.Errorf("token %d (%q) merges to %v", id, b, got)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d tokens are not reached by their own merges", bad)
	}
}

// TestGPT2Concurrent encodes from several goroutines at once (the piece cache and the
// whole-piece flags are shared); run it with -race.
func TestGPT2Concurrent(t *testing.T) {
	g := loadTestGPT2(t)
	text := shakespeare(t)[:200000]
	g.ClearCache()
	want := g.Encode(text)
	g.ClearCache()
	done := make(chan []int)
	for i := 0; i < 4; i++ {
		go func() {
			var ids []int
			for j := 0; j < 2; j++ {
				ids = g.Encode(text)
				if j == 0 && i == 0 {
					g.ClearCache()
				}
			}
			done <- ids
		}()
	}
	for i := 0; i < 4; i++ {
		if got := <-done; !slices.Equal(got, want) {
			t.Error("a concurrent encoding differs")
		}
	}
}
