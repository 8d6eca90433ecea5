package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/qkvdev/qkv/internal/testenv"
)

// Fuzz targets for the parsers of vocabulary files: encoder.json + vocab.bpe (or vocab.json +
// merges.txt), vocab.txt and special_tokens_map.json. Each checks that what a parser accepts is
// a valid vocabulary that encodes and decodes consistently and survives being written back in
// the same format, and that what it refuses gets an error and no result.

// Paths the GPT-2 fuzz target names its inputs by; every error must name one of them.
const (
	fuzzVocabPath  = "/fuzz/encoder.json"
	fuzzMergesPath = "/fuzz/vocab.bpe"
)

// checkAllocated fails when a parser allocated more than a fixed allowance plus a multiple of
// its input (Go strings, maps and slices of the vocabulary cost a few dozen bytes a byte).
func checkAllocated(t *testing.T, what string, n uint64, inputLen int) {
	t.Helper()
	if limit := uint64(4<<20) + 512*uint64(inputLen); n > limit {
		t.Fatalf("%s of %d bytes allocated %d bytes (limit %d)", what, inputLen, n, limit)
	}
}

// sharedDataFile reads a file of the shared data folder, or returns nil when it is absent.
func sharedDataFile(sub, name string) []byte {
	root, ok := testenv.DataDir()
	if !ok {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(root, sub, name))
	if err != nil {
		return nil
	}
	return data
}

// byteVocabHead returns the start of a vocabulary file that gives the 256 byte tokens their
// ids in GPT-2's order (those of encoder.json), without the closing brace. FuzzParseGPT2Files
// appends its input to it in one of its modes, so that short inputs get past the check that
// every byte has a token: the fuzzer minimizes each new input in time quadratic in its size, so
// long ones would leave it no time to fuzz.
func byteVocabHead() string {
	var b bytes.Buffer
	b.WriteString("{")
	for id, c := range byteOrder {
		if id > 0 {
			b.WriteString(",")
		}
		jsonString(&b, string(byteRune[c]))
		b.WriteString(":" + strconv.Itoa(id))
	}
	return b.String()
}

// gpt2SubsetSeed cuts GPT-2's real files down to a small consistent pair, as a tail for
// byteVocabHead(): the tokens made by the first nMerges merges of vocab.bpe, then <|endoftext|>,
// and those merges. ok is false when the shared data is absent or not as expected.
func gpt2SubsetSeed(nMerges int) (tail, merges []byte, ok bool) {
	enc, bpe := sharedDataFile("gpt2-tokenizer", "encoder.json"), sharedDataFile("gpt2-tokenizer", "vocab.bpe")
	if enc == nil || bpe == nil {
		return nil, nil, false
	}
	var m map[string]int
	if json.Unmarshal(enc, &m) != nil {
		return nil, nil, false
	}
	have := map[string]bool{}
	for id, c := range byteOrder {
		name := string(byteRune[c])
		if m[name] != id {
			return nil, nil, false // encoder.json does not number the bytes as byteVocabHead does
		}
		have[name] = true
	}
	var tb, mb bytes.Buffer
	next := len(byteOrder)
	lines := strings.Split(string(bpe), "\n")
	mb.WriteString(lines[0] + "\n")
	for _, line := range lines[1:] {
		if nMerges == 0 {
			break
		}
		a, b, found := strings.Cut(line, " ")
		if !found || !have[a] || !have[b] || have[a+b] {
			continue
		}
		have[a+b] = true
		tb.WriteString(",")
		jsonString(&tb, a+b)
		tb.WriteString(":" + strconv.Itoa(next))
		next++
		mb.WriteString(line + "\n")
		nMerges--
	}
	tb.WriteString(",")
	jsonString(&tb, EndOfText)
	tb.WriteString(":" + strconv.Itoa(next) + "}")
	return tb.Bytes(), mb.Bytes(), true
}

// specialSet reads the fuzzed list of extra special tokens, one a line; empty means none (nil).
func specialSet(lines string) map[string]bool {
	if lines == "" {
		return nil
	}
	m := map[string]bool{}
	for _, s := range strings.Split(lines, "\n") {
		m[s] = true
	}
	return m
}

// fuzzTexts are the fixed texts every accepted vocabulary must encode and decode.
var fuzzTexts = []string{"", "hello world", " the theme\n\n  x", "I'm WON'T 1234!", "\xff\xfe\x00 \xe2\x80 日本語 🤗", "[CLS] un aff able [SEP]"}

// checkGPT2Files checks a tokenizer that parseGPT2Files built from vdata and mdata.
func checkGPT2Files(t *testing.T, g *GPT2, vdata, mdata []byte, specials map[string]bool) {
	t.Helper()
	n := g.VocabSize()

	// Ids are unique and exactly 0..n-1, and every id writes back as its name in the file.
	var m map[string]int64
	if err := json.Unmarshal(vdata, &m); err != nil {
		t.Fatalf("accepted a vocabulary that is not a JSON object of ids: %v", err)
	}
	if len(m) != n || n == 0 {
		t.Fatalf("vocabulary file has %d tokens, tokenizer %d", len(m), n)
	}
	for name, id := range m {
		if id < 0 || id >= int64(n) {
			t.Fatalf("accepted id %d of %q with %d tokens", id, name, n)
		}
		if s, err := g.TokenString(int(id)); err != nil || s != name {
			t.Fatalf("TokenString(%d) = %q, %v; the file says %q", id, s, err, name)
		}
		isSpecial := g.kinds[id] == kindSpecial
		if sid, ok := g.SpecialTokenID(name); ok != isSpecial || ok && sid != int(id) {
			t.Fatalf("token %q (id %d, kind %d): SpecialTokenID = %d, %v", name, id, g.kinds[id], sid, ok)
		}
		if isSpecial && !specials[name] && !(strings.HasPrefix(name, "<|") && strings.HasSuffix(name, "|>")) {
			t.Fatalf("token %q is special though neither named so nor written <|...|>", name)
		}
		if _, ok := byteLevelDecode(name); g.kinds[id] == kindAdded && ok {
			t.Fatalf("token %q is an added token though written in the byte-level alphabet", name)
		}
	}
	// Every byte has a token of its own.
	for b, id := range g.byteID {
		if id < 0 || int(id) >= n || g.kinds[id] != kindRegular || !bytes.Equal(g.bytesOf(int(id)), []byte{byte(b)}) {
			t.Fatalf("byte %#02x has id %d", b, id)
		}
	}

	// The merges are those of the file (each once, in order), and each makes the token that
	// concatenates its two halves.
	var want []string
	seen := map[string]bool{}
	for i, line := range strings.Split(string(mdata), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if i == 0 && strings.HasPrefix(line, "#version") || line == "" || seen[line] {
			continue
		}
		seen[line] = true
		want = append(want, line)
	}
	names := g.tokenStrings()
	var got []string
	for r, mg := range g.mergeIDs {
		a, b, res := mg[0], mg[1], mg[2]
		if g.kinds[a] != kindRegular || g.kinds[b] != kindRegular || g.kinds[res] != kindRegular {
			t.Fatalf("merge %d (%d %d -> %d) involves a special or added token", r+1, a, b, res)
		}
		if !bytes.Equal(g.bytesOf(int(res)), append(slices.Clone(g.bytesOf(int(a))), g.bytesOf(int(b))...)) {
			t.Fatalf("merge %d: %q + %q makes %q", r+1, g.bytesOf(int(a)), g.bytesOf(int(b)), g.bytesOf(int(res)))
		}
		if mr, ok := g.lookup(a, b); !ok || mr.rank != int32(r) || mr.id != res {
			t.Fatalf("merge %d: lookup gives %+v, %v", r+1, mr, ok)
		}
		got = append(got, names[a]+" "+names[b])
	}
	if !slices.Equal(got, want) {
		t.Fatalf("merges %q, the file has %q", got, want)
	}

	// Encoding and decoding.
	sp := g.SpecialTokens()
	texts := append(slices.Clone(fuzzTexts), strings.Join(sp, "x "))
	for _, s := range texts {
		ids := g.Encode(s)
		for _, id := range ids {
			if id < 0 || id >= n || g.kinds[id] != kindRegular {
				t.Fatalf("Encode(%q) produced id %d", s, id)
			}
		}
		if back, err := g.Decode(ids); err != nil || back != s {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", s, back, err)
		}
		ids, err := g.EncodeSpecial(s, sp)
		if err != nil {
			t.Fatalf("EncodeSpecial(%q) with every special token allowed: %v", s, err)
		}
		if back, err := g.Decode(ids); err != nil || back != s {
			t.Fatalf("Decode(EncodeSpecial(%q)) = %q, %v", s, back, err)
		}
	}
	for _, s := range sp[:min(len(sp), 8)] {
		id, _ := g.SpecialTokenID(s)
		if ids, err := g.EncodeSpecial(s, sp); err != nil || !slices.Equal(ids, []int{id}) {
			t.Fatalf("EncodeSpecial(%q) = %v, %v, want [%d]", s, ids, err, id)
		}
	}
	if _, err := g.Decode([]int{n}); err == nil {
		t.Fatal("Decode accepted an id out of range")
	}

	// Written back as Save writes vocab.json, merges.txt and special_tokens_map.json, the files
	// read as the same tokenizer.
	var vb, mb bytes.Buffer
	writeVocabObject(&vb, names, "")
	mb.WriteString("#version: 0.2\n")
	for _, line := range got {
		mb.WriteString(line + "\n")
	}
	var sp2 map[string]bool
	if len(sp) > 0 {
		sp2 = map[string]bool{}
		for _, s := range sp {
			sp2[s] = true
		}
	}
	g2, err := parseGPT2Files(vb.Bytes(), mb.Bytes(), fuzzVocabPath, fuzzMergesPath, sp2)
	if err != nil {
		t.Fatalf("the files written back do not load: %v\n%s\n%s", err, vb.Bytes(), mb.Bytes())
	}
	if !slices.Equal(g2.tokenStrings(), names) || !slices.Equal(g2.kinds, g.kinds) || !slices.Equal(g2.mergeIDs, g.mergeIDs) {
		t.Fatalf("the files written back load as another tokenizer")
	}
	for _, s := range texts {
		if a, b := g.Encode(s), g2.Encode(s); !slices.Equal(a, b) {
			t.Fatalf("Encode(%q) = %v, after writing back %v", s, a, b)
		}
	}
}

// FuzzParseGPT2Files feeds encoder.json + vocab.bpe pairs (and extra special tokens, one a line)
// to parseGPT2Files. With whole false, the vocabulary file is byteVocabHead() followed by vdata.
func FuzzParseGPT2Files(f *testing.F) {
	head := []byte(byteVocabHead())
	// GPT-2's own files: a consistent cut, then truncated prefixes.
	if tail, merges, ok := gpt2SubsetSeed(12); ok {
		f.Add(false, tail, merges, "")
		f.Add(false, tail, bytes.ReplaceAll(merges, []byte("\n"), []byte("\r\n")), "Ġt\n"+EndOfText)
	}
	if enc, bpe := sharedDataFile("gpt2-tokenizer", "encoder.json"), sharedDataFile("gpt2-tokenizer", "vocab.bpe"); enc != nil && bpe != nil {
		f.Add(true, enc[:min(len(enc), 200)], bpe[:min(len(bpe), 60)], "")
		f.Add(false, enc[:min(len(enc), 40)], bpe[:min(len(bpe), 17)], "")
	}

	// tinyBPE's vocabulary after the bytes: Ġt, he, Ġthe, <|endoftext|>.
	const tiny = `,"Ġt":256,"he":257,"Ġthe":258,"<|endoftext|>":259}`
	const mergesTxt = "#version: 0.2\nĠ t\nh e\nĠt he\n"
	for _, c := range []struct {
		tail, merges, specials string
	}{
		{tiny, mergesTxt, ""},
		{"}", "", ""},
		{tiny, "", ""},
		{tiny, mergesTxt + "\n", ""},
		{tiny, "Ġ t\r\nh e\r\nĠt he\r\n", ""},
		{tiny, mergesTxt + mergesTxt, "Ġthe\n"},
		{`,"hello world":256}`, "", "hello world"},
		{`,"hello world":256}`, "", ""},
		{`,"<|im_start|>":256,"<s>":257}`, "", "<s>\n"},
		{`,"ab":256}`, "a b\n", "ab"},
		{`,"ab":256}`, "", "ab"},
		// Wrong types, ids and structure.
		{`,"Ġt":"256"}`, "", ""},
		{`,"Ġt":256.5}`, "", ""},
		{`,"Ġt":1e12}`, "", ""},
		{`,"Ġt":NaN}`, "", ""},
		{`,"Ġt":-1}`, "", ""},
		{`,"Ġt":2147483646}`, "", ""},
		{`,"Ġt":1099511627776}`, "", ""},
		{`,"Ġt":5}`, "", ""},
		{`,"Ġt":257}`, "", ""},
		{`,"!":256}`, "", ""},
		{`,"Ġt":256`, "", ""},
		{`,"Ġt":256}x`, "", ""},
		{`,"Ġt":256,}`, "", ""},
		{`,"<|endoftext|>t":256,"<|endoftext|>":257}`, "<|endoftext|> t\n", ""},
		// Broken merges.
		{tiny, mergesTxt + "x q\n", ""},
		{tiny, mergesTxt + "Ġthe m\n", ""},
		{tiny, mergesTxt + "Ġthe Ġthe\n", ""},
		{tiny, "Ġ t x\n", ""},
		{tiny, "Ġ  t\n", ""},
		{tiny, "Ġ t\n\nh e\n", ""},
		{tiny, "#version: 0.2", ""},
		{tiny, "\xff \xfe\n", ""},
		{tiny, "Ġ t\nh e\nĠt h", ""},
	} {
		f.Add(false, []byte(c.tail), []byte(c.merges), c.specials)
	}
	// Whole files that are not vocabularies.
	for _, v := range []string{`{"a": 1,`, `[1, 2]`, `{"a": "1"}`, `{"a": 0, "b": 1, "a": 2}`, `{}`, `null`, ``, `{"Ā": 0}`} {
		f.Add(true, []byte(v), []byte(mergesTxt), "")
	}
	f.Fuzz(func(t *testing.T, whole bool, vdata, mdata []byte, specialLines string) {
		if !whole {
			vdata = append(slices.Clip(head), vdata...)
		}
		specials := specialSet(specialLines)
		var g *GPT2
		var err error
		alloc := testenv.HeapAllocated(func() { g, err = parseGPT2Files(vdata, mdata, fuzzVocabPath, fuzzMergesPath, specials) })
		checkAllocated(t, "parseGPT2Files", alloc, len(vdata)+len(mdata)+len(specialLines))
		if err != nil {
			msg := err.Error()
			if g != nil {
				t.Fatalf("parseGPT2Files failed (%v) but returned a tokenizer", err)
			}
			if !strings.HasPrefix(msg, "tokenizer: ") || !strings.Contains(msg, fuzzVocabPath) && !strings.Contains(msg, fuzzMergesPath) {
				t.Fatalf("error %q does not name the file at fault", msg)
			}
			return
		}
		if g == nil {
			t.Fatal("parseGPT2Files returned neither a tokenizer nor an error")
		}
		checkGPT2Files(t, g, vdata, mdata, specials)
	})
}

// FuzzParseVocabTxt feeds vocab.txt files to parseVocabTxt, then what it accepts to
// NewWordPiece.
func FuzzParseVocabTxt(f *testing.F) {
	// Seeds stay short: the fuzzer minimizes each new input in time quadratic in its size.
	if data := sharedDataFile("bert-base-uncased-vocab", "vocab.txt"); data != nil {
		lines := strings.Split(string(data), "\n")
		if len(lines) > 2010 {
			// [PAD], [UNK], [CLS], [SEP], [MASK] and the commonest words of bert-base-uncased.
			seed := append(append(slices.Clone(lines[:1]), lines[100:104]...), lines[1996:2010]...)
			f.Add([]byte(strings.Join(seed, "\n") + "\n"))
			f.Add([]byte(strings.Join(seed, "\r\n")))
		}
		f.Add(data[:min(len(data), 120)])
	}
	base := strings.Join(miniVocab, "\n") + "\n"
	for _, s := range []string{
		base,
		strings.Join(miniVocab, "\r\n") + "\r\n",
		"\ufeff" + base,
		base + "\n",
		base + "the\n",
		"[UNK]\n[CLS]\n[SEP]",
		"[UNK]\n[CLS]\n[SEP]\n\n",
		"[UNK]\n[CLS]\n[SEP]\n##\n##a\na\n###\n",
		"[UNK]\n[CLS]\n[SEP]\n\x00\n\t\n \n",
		"[UNK]\n[CLS]\n[SEP]\n" + strings.Repeat("x", 120) + "\n",
		// Missing special tokens, empty files, invalid UTF-8.
		"[UNK]\n[CLS]\n",
		"", "\n", "\ufeff", "\ufeff\n", "\n\n", "\xff\n", "[UNK]\xc3\n", "\xed\xa0\x80\n",
		// Found by this target: each read as tokens that the file written back does not hold
		// ("[SEP]\r", "\ufeff[UNK]", ""), now refused.
		"[UNK]\r\n[CLS]\r\n[SEP]\r\r\n",
		"\ufeff\ufeff[UNK]\n[CLS]\n[SEP]\n",
		"\r\n",
		"[UNK]\n[CLS]\n[SEP]\na\rb\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var vocab []string
		var err error
		checkAllocated(t, "parseVocabTxt", testenv.HeapAllocated(func() { vocab, err = parseVocabTxt(data) }), len(data))
		if err != nil {
			if err.Error() == "" || vocab != nil {
				t.Fatalf("parseVocabTxt failed with %q and returned %d tokens", err, len(vocab))
			}
			return
		}
		if !utf8.Valid(data) || len(vocab) == 0 {
			t.Fatalf("accepted %q as %d tokens", data, len(vocab))
		}
		for id, tok := range vocab {
			if strings.Contains(tok, "\n") {
				t.Fatalf("token %d %q holds a line break", id, tok)
			}
		}
		// Written back as WordPiece.Save writes vocab.txt, the file reads as the same tokens.
		var b strings.Builder
		for _, tok := range vocab {
			b.WriteString(tok + "\n")
		}
		back, err := parseVocabTxt([]byte(b.String()))
		if err != nil || !slices.Equal(back, vocab) {
			t.Fatalf("%q read as %q, written back as %q and read again as %q, %v", data, vocab, b.String(), back, err)
		}

		w, err := NewWordPiece(vocab, WordPieceOptions{Lowercase: true})
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "tokenizer: ") || len(msg) <= len("tokenizer: ") {
				t.Fatalf("NewWordPiece error %q does not say what is wrong", msg)
			}
			return
		}
		checkWordPieceVocab(t, w, vocab)
	})
}

// checkWordPieceVocab checks a tokenizer that NewWordPiece built from a parsed vocab.txt.
func checkWordPieceVocab(t *testing.T, w *WordPiece, vocab []string) {
	t.Helper()
	n := w.VocabSize()
	if n != len(vocab) {
		t.Fatalf("VocabSize %d for %d tokens", n, len(vocab))
	}
	for id, tok := range vocab {
		if got, ok := w.TokenID(tok); !ok || got != id {
			t.Fatalf("TokenID(%q) = %d, %v, want %d", tok, got, ok, id)
		}
		if got, err := w.Token(id); err != nil || got != tok {
			t.Fatalf("Token(%d) = %q, %v, want %q", id, got, err, tok)
		}
	}
	for _, c := range []struct {
		name string
		id   int
	}{{"[UNK]", w.UnkID()}, {"[CLS]", w.ClsID()}, {"[SEP]", w.SepID()}} {
		if c.id < 0 || c.id >= n || vocab[c.id] != c.name {
			t.Fatalf("%s has id %d", c.name, c.id)
		}
	}
	for _, s := range fuzzTexts {
		ids, toks := w.Encode(s), w.Tokenize(s)
		if len(ids) != len(toks) {
			t.Fatalf("Encode(%q): %d ids but %d tokens", s, len(ids), len(toks))
		}
		for i, id := range ids {
			if id < 0 || id >= n || vocab[id] != toks[i] {
				t.Fatalf("Encode(%q): id %d for token %q", s, id, toks[i])
			}
		}
		if _, err := w.Decode(ids); err != nil {
			t.Fatalf("Decode(Encode(%q)): %v", s, err)
		}
		e, err := w.EncodeSingle(s, EncodeOptions{})
		if err != nil || len(e.IDs) != len(ids)+2 || e.IDs[0] != w.ClsID() || e.IDs[len(e.IDs)-1] != w.SepID() {
			t.Fatalf("EncodeSingle(%q) = %v, %v", s, e.IDs, err)
		}
	}
	// A vocabulary word of lower-case letters and digits is its own single token, and decodes
	// back to itself, alone or in a sentence.
	var words []string
	var wordIDs []int
	for id, tok := range vocab {
		if len(words) == 8 {
			break
		}
		if tok == "" || len(tok) > 100 || strings.HasPrefix(tok, "##") || strings.Trim(tok, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			continue
		}
		if ids := w.Encode(tok); !slices.Equal(ids, []int{id}) {
			t.Fatalf("Encode(%q) = %v, want [%d]", tok, ids, id)
		}
		words, wordIDs = append(words, tok), append(wordIDs, id)
	}
	text := strings.Join(words, " ")
	if ids := w.Encode(text); !slices.Equal(ids, wordIDs) {
		t.Fatalf("Encode(%q) = %v, want %v", text, ids, wordIDs)
	}
	if back, err := w.Decode(wordIDs); err != nil || back != text {
		t.Fatalf("Decode(%v) = %q, %v, want %q", wordIDs, back, err, text)
	}
}

// jsonStrings lists every string (keys included) of a JSON document that json.Unmarshal accepted.
func jsonStrings(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		if s, ok := tok.(string); ok {
			out[s] = true
		}
	}
}

// FuzzParseSpecialTokensMap feeds special_tokens_map.json files to parseSpecialTokensMap, then
// the names it reads to parseGPT2Files as the special tokens of a small vocabulary.
func FuzzParseSpecialTokensMap(f *testing.F) {
	for _, s := range []string{
		`{"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}`,
		`{"additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "eos_token": {"content": "</s>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false}}`,
		`{"pad_token": null, "mask_token": "[MASK]", "additional_special_tokens": null}`,
		`{"cls_token": "[CLS]", "sep_token": "[SEP]", "unk_token": "[UNK]", "pad_token": "[PAD]", "mask_token": "[MASK]"}`,
		`{"eos_token": "", "additional_special_tokens": ["", {"content": ""}]}`,
		`{"eos_token": "Ġt", "bos_token": "a", "unk_token": "hello world"}`,
		`{"eos_token": "x", "eos_token": "y"}`,
		`{"EOS_TOKEN": {"CONTENT": "z"}}`,
		`{"eos_token": "\ud800", "bos_token": "\u0000"}`,
		"{\"eos_token\": \"\xff\"}",
		// Wrong types.
		`{"eos_token": 1}`,
		`{"eos_token": ["</s>"]}`,
		`{"eos_token": {"text": "</s>"}}`,
		`{"eos_token": {"content": 5}}`,
		`{"eos_token": {"content": null}}`,
		`{"additional_special_tokens": "<s>"}`,
		`{"additional_special_tokens": [1, 2]}`,
		`{"additional_special_tokens": [["<s>"]]}`,
		// Not an object, not JSON, truncated.
		``, `null`, `[]`, `"<s>"`, `{}`, `{"eos_token": "</s>"`, `{"eos_token": "</`, `{"eos_token": NaN}`,
	} {
		f.Add([]byte(s))
	}
	good, merges := tinyBPE()
	mergesTxt := []byte(strings.Join(merges, "\n") + "\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		var names map[string]bool
		var err error
		checkAllocated(t, "parseSpecialTokensMap", testenv.HeapAllocated(func() { names, err = parseSpecialTokensMap(data) }), len(data))
		if err != nil {
			if err.Error() == "" || names != nil {
				t.Fatalf("parseSpecialTokensMap failed with %q and returned %v", err, names)
			}
			return
		}
		if names == nil {
			t.Fatal("parseSpecialTokensMap returned neither names nor an error")
		}
		// Every name is non-empty and written in the file.
		inFile := jsonStrings(t, data)
		list := make([]string, 0, len(names))
		for s, ok := range names {
			if !ok || s == "" || !inFile[s] {
				t.Fatalf("read special token %q (%v), which the file does not hold", s, ok)
			}
			list = append(list, s)
		}
		sort.Strings(list)

		// Written back as GPT2.Save writes it, or with "content" objects, the names read the same.
		objects := map[string]any{}
		for i, s := range list {
			objects[fmt.Sprintf("token_%d", i)] = map[string]any{"content": s, "special": true}
		}
		for _, v := range []any{map[string]any{"additional_special_tokens": list}, objects} {
			data2, err := marshalJSON(v)
			if err != nil {
				t.Fatal(err)
			}
			back, err := parseSpecialTokensMap(data2)
			if err != nil || len(back) != len(names) {
				t.Fatalf("names %q written back as %s read as %v, %v", list, data2, back, err)
			}
			for s := range names {
				if !back[s] {
					t.Fatalf("names %q written back as %s lost %q", list, data2, s)
				}
			}
		}

		// Given with a small vocabulary that holds them, the names are its special tokens, except
		// those that are single bytes or that merges make.
		vocab := map[string]int{}
		for k, v := range good {
			vocab[k] = v
		}
		for _, s := range list {
			if _, ok := vocab[s]; !ok {
				vocab[s] = len(vocab)
			}
		}
		vdata, err := json.Marshal(vocab)
		if err != nil {
			t.Fatal(err)
		}
		g, err := parseGPT2Files(vdata, mergesTxt, fuzzVocabPath, fuzzMergesPath, names)
		if err != nil {
			t.Fatalf("a vocabulary with the special tokens %q does not load: %v", list, err)
		}
		made := map[string]bool{}
		for _, m := range merges {
			made[strings.ReplaceAll(m, " ", "")] = true
		}
		for _, s := range list {
			if raw, ok := byteLevelDecode(s); ok && len(raw) == 1 || made[s] {
				continue
			}
			id, ok := g.SpecialTokenID(s)
			if !ok {
				t.Fatalf("%q is not a special token of the vocabulary", s)
			}
			if ids, err := g.EncodeSpecial(s, g.SpecialTokens()); err != nil || !slices.Equal(ids, []int{id}) {
				t.Fatalf("EncodeSpecial(%q) = %v, %v, want [%d]", s, ids, err, id)
			}
		}
	})
}
