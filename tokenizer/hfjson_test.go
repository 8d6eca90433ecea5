package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tinyBPE returns a small byte-level vocabulary (the 256 bytes, three merges, <|endoftext|>)
// as vocab.json and merges.txt contents.
func tinyBPE() (vocab map[string]int, merges []string) {
	vocab = map[string]int{}
	for i, b := range byteOrder {
		vocab[string(byteRune[b])] = i
	}
	merges = []string{"Ġ t", "h e", "Ġt he"}
	for _, m := range merges {
		vocab[strings.ReplaceAll(m, " ", "")] = len(vocab)
	}
	vocab[EndOfText] = len(vocab)
	return vocab, merges
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestTinyBPE(t *testing.T) {
	vocab, merges := tinyBPE()
	dir := writeFiles(t, map[string]string{"vocab.json": mustJSON(t, vocab), "merges.txt": "#version: 0.2\n" + strings.Join(merges, "\n") + "\n"})
	g, err := LoadGPT2(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Encode(" the theme"); !slices.Equal(got, []int{258, 258, vocab["m"], vocab["e"]}) {
		t.Errorf("Encode = %v", got)
	}
	if sp := g.SpecialTokens(); !slices.Equal(sp, []string{EndOfText}) {
		t.Errorf("SpecialTokens = %q", sp)
	}
}

// TestGPT2FileErrors feeds corrupt vocab.json / merges.txt pairs: each must fail with an error
// that names the file and the problem.
func TestGPT2FileErrors(t *testing.T) {
	good, merges := tinyBPE()
	mergesTxt := "#version: 0.2\n" + strings.Join(merges, "\n") + "\n"
	with := func(f func(m map[string]int)) string {
		m := map[string]int{}
		for k, v := range good {
			m[k] = v
		}
		f(m)
		return mustJSON(t, m)
	}
	for _, c := range []struct {
		name, vocab, merges, wantFile, want string
	}{
		{"bad JSON", `{"a": 1,`, mergesTxt, "vocab.json", "not valid JSON"},
		{"array", `[1, 2]`, mergesTxt, "vocab.json", "want a JSON object"},
		{"string id", `{"a": "1"}`, mergesTxt, "vocab.json", "integer ids"},
		{"float id", `{"a": 1.5}`, mergesTxt, "vocab.json", "integer ids"},
		{"empty", `{}`, mergesTxt, "vocab.json", "empty vocabulary"},
		{"null", `null`, mergesTxt, "vocab.json", "empty vocabulary"},
		{"trailing data", mustJSON(t, good) + "x", mergesTxt, "vocab.json", "not valid JSON"},
		{"repeated token", `{"a": 0, "b": 1, "a": 2}`, mergesTxt, "vocab.json", `"a" appears twice`},
		{"negative id", with(func(m map[string]int) { m["Ġt"] = -1 }), mergesTxt, "vocab.json", "not in [0, 2^31)"},
		{"huge id", with(func(m map[string]int) { m["Ġt"] = 1 << 40 }), mergesTxt, "vocab.json", "not in [0, 2^31)"},
		{"duplicate id", with(func(m map[string]int) { m["Ġt"] = 5 }), mergesTxt, "vocab.json", "is given to both"},
		{"gap in ids", with(func(m map[string]int) { m[EndOfText] = 500 }), mergesTxt, "vocab.json", "out of range"},
		{"unknown merge token", mustJSON(t, good), mergesTxt + "x q\n", "merges.txt", `line 5: merge "x" "q" makes "xq"`},
		{"merge of a missing token", mustJSON(t, good), mergesTxt + "Ġthe m\n", "merges.txt", "not in the vocabulary"},
		{"merge longer than any token", mustJSON(t, good), mergesTxt + "Ġthe Ġthe\n", "merges.txt", `makes "ĠtheĠthe", which is not in the vocabulary`},
		{"three parts", mustJSON(t, good), "Ġ t x\n", "merges.txt", "not two tokens"},
		{"empty line", mustJSON(t, good), "Ġ t\n\nh e\n", "merges.txt", "line 2"},
		{"missing byte", with(func(m map[string]int) { delete(m, "Ā"); m["Ā"+"x"] = good["Ā"] }), mergesTxt, "vocab.json", "needs a token for each of the 256 bytes; missing 0x00"},
		{"merge of a special token", with(func(m map[string]int) { m["<|endoftext|>t"] = 260 }), mergesTxt + "<|endoftext|> t\n", "vocab.json", "uses a special or added token"},
	} {
		dir := writeFiles(t, map[string]string{"vocab.json": c.vocab, "merges.txt": c.merges})
		_, err := LoadGPT2(dir)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Join(dir, c.wantFile)) {
			t.Errorf("%s: error %q should name %s and say %q", c.name, err, c.wantFile, c.want)
		}
		if _, err2 := Load(dir); err2 == nil {
			t.Errorf("%s: Load accepted what LoadGPT2 refused", c.name)
		}
	}
}

func TestGPT2SaveMatchesOriginal(t *testing.T) {
	g := loadTestGPT2(t)
	src := dataDir(t, "gpt2-tokenizer")
	dir := t.TempDir()
	if err := g.Save(dir); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(filepath.Join(src, "vocab.bpe"))
	saved, _ := os.ReadFile(filepath.Join(dir, "merges.txt"))
	if !bytes.Equal(orig, saved) {
		t.Error("merges.txt differs from vocab.bpe")
	}
	var a, b map[string]int
	readJSON(t, filepath.Join(src, "encoder.json"), &a)
	readJSON(t, filepath.Join(dir, "vocab.json"), &b)
	if len(a) != len(b) {
		t.Fatalf("vocab.json has %d entries, encoder.json %d", len(b), len(a))
	}
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("vocab.json[%q] = %d, encoder.json says %d", k, b[k], v)
		}
	}
	text := shakespeare(t)[:100000] + " <|endoftext|> Café 🤗 \xff"
	want := g.Encode(text)
	tok, err := Load(dir) // tokenizer.json
	if err != nil {
		t.Fatal(err)
	}
	g2 := tok.(*GPT2)
	if got := g2.Encode(text); !slices.Equal(got, want) {
		t.Error("tokenizer.json encodes differently")
	}
	if id, ok := g2.SpecialTokenID(EndOfText); !ok || id != 50256 || g2.VocabSize() != 50257 {
		t.Errorf("tokenizer.json: %s id %d %v, size %d", EndOfText, id, ok, g2.VocabSize())
	}
}

// hfMutate parses a tokenizer.json, applies f, and writes it back.
func hfMutate(t testing.TB, data []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func savedJSON(t testing.TB, tok Tokenizer) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func tinyGPT2(t testing.TB) *GPT2 {
	t.Helper()
	vocab, merges := tinyBPE()
	g, err := parseGPT2Files([]byte(mustJSON(t, vocab)), []byte(strings.Join(merges, "\n")), "vocab.json", "merges.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestTokenizerJSONErrors covers broken and unsupported tokenizer.json files, including those of
// HOSTILE-INPUTS item 17: every one must be an error, none a panic.
func TestTokenizerJSONErrors(t *testing.T) {
	bpe := savedJSON(t, tinyGPT2(t))
	wp := savedJSON(t, newMini(t, WordPieceOptions{Lowercase: true}))
	model := func(m map[string]any) map[string]any { return m["model"].(map[string]any) }
	for _, c := range []struct {
		name string
		base []byte
		f    func(m map[string]any)
		want string
	}{
		{"BPE merge longer than any token", bpe, func(m map[string]any) {
			model(m)["merges"] = append(model(m)["merges"].([]any), "Ġthe Ġthe")
		}, `makes "ĠtheĠthe", which is not in the vocabulary`},
		{"merge of an unknown token", bpe, func(m map[string]any) { model(m)["merges"] = []any{[]any{"Ġ", "zz"}} }, `"zz" is not in the vocabulary`},
		{"merge that is not a pair", bpe, func(m map[string]any) { model(m)["merges"] = []any{[]any{"Ġ"}} }, "want \"left right\""},
		{"merges not a list", bpe, func(m map[string]any) { model(m)["merges"] = "Ġ t" }, "want a list"},
		{"vocab not an object", bpe, func(m map[string]any) { model(m)["vocab"] = []any{1} }, "model.vocab: want a JSON object"},
		{"no model", bpe, func(m map[string]any) { delete(m, "model") }, `no "model"`},
		{"Unigram", bpe, func(m map[string]any) { model(m)["type"] = "Unigram" }, `model type "Unigram" is not supported`},
		{"dropout", bpe, func(m map[string]any) { model(m)["dropout"] = 0.1 }, "dropout"},
		{"byte fallback", bpe, func(m map[string]any) { model(m)["byte_fallback"] = true }, "byte_fallback"},
		{"added token id clash", bpe, func(m map[string]any) {
			m["added_tokens"] = []any{map[string]any{"id": 5, "content": "<|x|>", "special": true}}
		}, "id 5 is given to both"},
		{"added token id gap", bpe, func(m map[string]any) {
			m["added_tokens"] = []any{map[string]any{"id": 9999, "content": "<|x|>", "special": true}}
		}, "out of range"},
		{"added token without id", bpe, func(m map[string]any) { m["added_tokens"] = []any{map[string]any{"content": "<|x|>"}} }, "has no id"},
		{"added token moved", bpe, func(m map[string]any) {
			m["added_tokens"] = []any{map[string]any{"id": 3, "content": EndOfText, "special": true}}
		}, "but the vocabulary gives it"},
		{"template with a missing special token", bpe, func(m map[string]any) {
			m["post_processor"] = map[string]any{"type": "TemplateProcessing",
				"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>"}}, map[string]any{"Sequence": map[string]any{"id": "A"}}},
				"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []any{1}, "tokens": []any{"<s>"}}}}
		}, `"<s>", which is not in the vocabulary`},
		{"template naming an undeclared token", bpe, func(m map[string]any) {
			m["post_processor"] = map[string]any{"type": "TemplateProcessing",
				"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>"}}}}
		}, "not among the template's special_tokens"},
		{"stride >= max_length", bpe, func(m map[string]any) {
			m["truncation"] = map[string]any{"max_length": 8, "stride": 8, "strategy": "LongestFirst", "direction": "Right"}
		}, "stride 8 must be in [0, max_length 8)"},
		{"max_length 0", bpe, func(m map[string]any) { m["truncation"] = map[string]any{"max_length": 0} }, "max_length must be a positive"},
		{"fixed padding of length 0", bpe, func(m map[string]any) {
			m["padding"] = map[string]any{"strategy": map[string]any{"Fixed": 0}, "pad_id": 0, "pad_token": "[PAD]"}
		}, "fixed length 0 must be positive"},
		{"FixedLength pre-tokenizer", bpe, func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "FixedLength", "length": 0} }, `pre_tokenizer "FixedLength" is not supported`},
		{"Strip decoder beyond the token", bpe, func(m map[string]any) {
			m["decoder"] = map[string]any{"type": "Strip", "content": " ", "start": 1000, "stop": 1000}
		}, `decoder "Strip" is not supported`},
		{"invalid precompiled_charsmap", bpe, func(m map[string]any) {
			m["normalizer"] = map[string]any{"type": "Precompiled", "precompiled_charsmap": "AAAA////"}
		}, `normalizer "Precompiled" is not supported`},
		{"add_prefix_space", bpe, func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "add_prefix_space": true}
		}, "add_prefix_space"},
		{"other split pattern", bpe, func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\w+`}, "behavior": "Isolated"},
				map[string]any{"type": "ByteLevel", "use_regex": false}}}
		}, "only a Split with GPT-2's pattern"},
		{"no pre-tokenizer", bpe, func(m map[string]any) { m["pre_tokenizer"] = nil }, "byte-level BPE needs ByteLevel"},
		{"WordPiece template with a missing token", wp, func(m map[string]any) {
			pp := m["post_processor"].(map[string]any)
			pp["special_tokens"].(map[string]any)["[CLS]"].(map[string]any)["tokens"] = []any{"[BOS]"}
		}, `"[BOS]", which is not in the vocabulary`},
		{"WordPiece without [UNK]", wp, func(m map[string]any) { model(m)["unk_token"] = "[NOPE]" }, `lacks the special token "[NOPE]"`},
		{"WordPiece other template", wp, func(m map[string]any) {
			pp := m["post_processor"].(map[string]any)
			pp["single"] = pp["single"].([]any)[1:]
		}, "only the template"},
		{"WordPiece Whitespace pre-tokenizer", wp, func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "Whitespace"} }, `pre_tokenizer "Whitespace" is not supported`},
		{"WordPiece NFKC", wp, func(m map[string]any) { m["normalizer"] = map[string]any{"type": "NFKC"} }, `normalizer "NFKC" is not supported`},
		{"WordPiece huge max chars", wp, func(m map[string]any) { model(m)["max_input_chars_per_word"] = -3 }, "out of range"},
		{"WordPiece duplicate ids", wp, func(m map[string]any) { model(m)["vocab"].(map[string]any)["cat"] = 5 }, "is given to both"},
		{"WordPiece BertProcessing missing sep", wp, func(m map[string]any) {
			m["post_processor"] = map[string]any{"type": "BertProcessing", "sep": []any{"[SEPX]", 3}, "cls": []any{"[CLS]", 2}}
		}, `sep token "[SEPX]" is not in the vocabulary`},
	} {
		data := hfMutate(t, c.base, c.f)
		_, err := parseTokenizerJSON(data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	for _, bad := range []string{"", "{", "[]", "null", "1", `"x"`, `{"model": null}`, `{"model": 3}`, `{"model": {"type": "BPE"}}`, `{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}`} {
		if _, err := parseTokenizerJSON([]byte(bad)); err == nil {
			t.Errorf("parseTokenizerJSON(%q): no error", bad)
		}
	}
	// The file name is in the error.
	dir := writeFiles(t, map[string]string{"tokenizer.json": "{"})
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "tokenizer.json")) {
		t.Errorf("Load: err = %v", err)
	}
}

func TestTokenizerJSONForms(t *testing.T) {
	g := tinyGPT2(t)
	base := savedJSON(t, g)
	want := g.Encode(" the theme <|endoftext|>")
	for name, f := range map[string]func(m map[string]any){
		"as saved": func(map[string]any) {},
		"merges as pairs": func(m map[string]any) {
			mm := m["model"].(map[string]any)
			var pairs []any
			for _, s := range mm["merges"].([]any) {
				a, b, _ := strings.Cut(s.(string), " ")
				pairs = append(pairs, []any{a, b})
			}
			mm["merges"] = pairs
		},
		"no model type": func(m map[string]any) { delete(m["model"].(map[string]any), "type") },
		"Split then ByteLevel": func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": GPT2Pattern}, "behavior": "Isolated", "invert": false},
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}}}
		},
		"no added_tokens": func(m map[string]any) { delete(m, "added_tokens") },
		"template with known tokens": func(m map[string]any) {
			m["post_processor"] = map[string]any{"type": "TemplateProcessing",
				"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": EndOfText}}, map[string]any{"Sequence": map[string]any{"id": "A"}}},
				"special_tokens": map[string]any{EndOfText: map[string]any{"id": EndOfText, "ids": []any{259}, "tokens": []any{EndOfText}}}}
		},
	} {
		tok, err := parseTokenizerJSON(hfMutate(t, base, f))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := tok.Encode(" the theme <|endoftext|>"); !slices.Equal(got, want) {
			t.Errorf("%s: Encode = %v, want %v", name, got, want)
		}
	}
}

func TestWordPieceSaveLoad(t *testing.T) {
	for _, lower := range []bool{true, false} {
		w := newMini(t, WordPieceOptions{Lowercase: lower})
		dir := t.TempDir()
		if err := w.Save(dir); err != nil {
			t.Fatal(err)
		}
		text := "The Cat SAT on the über-mat! 中文"
		want := w.Tokenize(text)
		tok, err := Load(dir) // tokenizer.json
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.(*WordPiece).Tokenize(text); !slices.Equal(got, want) {
			t.Errorf("lower=%v: tokenizer.json: %q, want %q", lower, got, want)
		}
		os.Remove(filepath.Join(dir, "tokenizer.json"))
		tok, err = Load(dir) // vocab.txt + tokenizer_config.json
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.(*WordPiece).Tokenize(text); !slices.Equal(got, want) || tok.(*WordPiece).Options().Lowercase != lower {
			t.Errorf("lower=%v: vocab.txt: %q, want %q", lower, got, want)
		}
	}
	// vocab.txt alone is uncased, as bert-base-uncased.
	dir := writeFiles(t, map[string]string{"vocab.txt": strings.Join(miniVocab, "\n") + "\n"})
	tok, err := Load(dir)
	if err != nil || !tok.(*WordPiece).Options().Lowercase {
		t.Fatalf("Load(vocab.txt): %v", err)
	}
	// The real BERT vocabulary survives a save and load.
	b := loadTestBERT(t)
	dir = t.TempDir()
	if err := b.Save(dir); err != nil {
		t.Fatal(err)
	}
	tok, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	q := "How many teams can boast a 15–1 regular season record?"
	if got, want := tok.Encode(q), b.Encode(q); !slices.Equal(got, want) || tok.VocabSize() != 30522 {
		t.Errorf("reloaded BERT: %v, want %v", got, want)
	}
}

func TestVocabTxtErrors(t *testing.T) {
	for _, c := range []struct {
		name, vocab, config, want string
	}{
		{"no [UNK]", "[CLS]\n[SEP]\na\n", "", `lacks the special token "[UNK]"`},
		{"no [CLS] nor [SEP]", "[UNK]\na\n", "", `lacks the special tokens "[CLS]", "[SEP]"`},
		{"duplicate", "[UNK]\n[CLS]\n[SEP]\na\na\n", "", `"a" appears twice in the vocabulary (ids 3 and 4)`},
		{"empty", "", "", "empty vocabulary"},
		{"invalid UTF-8", "[UNK]\n[CLS]\n[SEP]\n\xff\n", "", "not valid UTF-8"},
		{"bad config", "[UNK]\n[CLS]\n[SEP]\n", "{", "tokenizer_config.json"},
		{"bad config token", "[UNK]\n[CLS]\n[SEP]\n", `{"unk_token": 3}`, "unk_token"},
		{"config names a missing token", "[UNK]\n[CLS]\n[SEP]\n", `{"sep_token": "</s>"}`, `"</s>"`},
	} {
		files := map[string]string{"vocab.txt": c.vocab}
		if c.config != "" {
			files["tokenizer_config.json"] = c.config
		}
		dir := writeFiles(t, files)
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
		if err != nil && c.config == "" && !strings.Contains(err.Error(), filepath.Join(dir, "vocab.txt")) {
			t.Errorf("%s: error %q does not name the file", c.name, err)
		}
	}
	if _, err := LoadWordPiece(filepath.Join(t.TempDir(), "missing.txt"), true); err == nil {
		t.Error("LoadWordPiece of a missing file: no error")
	}
}

func TestLoadFormats(t *testing.T) {
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrNoTokenizer) {
		t.Errorf("empty folder: %v", err)
	}
	// OpenAI's file names.
	tok, err := Load(dataDir(t, "gpt2-tokenizer"))
	if err != nil || tok.Kind() != "gpt2-bpe" || tok.VocabSize() != 50257 {
		t.Fatalf("Load(gpt2-tokenizer) = %v, %v", tok, err)
	}
	tok, err = Load(dataDir(t, "bert-base-uncased-vocab"))
	if err != nil || tok.Kind() != "wordpiece" || tok.VocabSize() != 30522 {
		t.Fatalf("Load(bert-base-uncased-vocab) = %v, %v", tok, err)
	}
	if _, err := LoadGPT2(writeFiles(t, map[string]string{"vocab.json": "{}"})); err == nil || !strings.Contains(err.Error(), "has vocab.json but not merges.txt") {
		t.Errorf("LoadGPT2 without merges.txt: %v", err)
	}
	if _, err := LoadGPT2(dataDir(t, "bert-base-uncased-vocab")); err == nil {
		t.Error("LoadGPT2 of a BERT folder: no error")
	}
	dir := t.TempDir()
	if err := newMini(t, WordPieceOptions{}).Save(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadGPT2(dir); err == nil || !strings.Contains(err.Error(), "not byte-level BPE") {
		t.Errorf("LoadGPT2 of a WordPiece tokenizer.json: %v", err)
	}
}

func FuzzLoadTokenizerJSON(f *testing.F) {
	bpe := savedJSON(f, tinyGPT2(f))
	wp := savedJSON(f, newMini(f, WordPieceOptions{Lowercase: true}))
	f.Add(bpe)
	f.Add(wp)
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a a"]}, "pre_tokenizer": {"type": "ByteLevel"}}`))
	f.Add([]byte(`{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "a": 3}, "unk_token": "[UNK]"}, "normalizer": {"type": "BertNormalizer"}, "pre_tokenizer": {"type": "BertPreTokenizer"}, "truncation": {"max_length": 4, "stride": 9}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := parseTokenizerJSON(data)
		if err != nil {
			return
		}
		for _, s := range []string{"", "hello world", "The cat sat. 中文 \xff", "<|endoftext|>"} {
			ids := tok.Encode(s)
			for _, id := range ids {
				if id < 0 || id >= tok.VocabSize() {
					t.Fatalf("Encode(%q) gave id %d of %d", s, id, tok.VocabSize())
				}
			}
			back, err := tok.Decode(ids)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := tok.(*GPT2); ok && back != s {
				t.Fatalf("GPT2 round trip: %q -> %q", s, back)
			}
		}
		if _, err := tok.Decode([]int{tok.VocabSize()}); err == nil {
			t.Fatal("Decode accepted an id out of range")
		}
	})
}
