package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// WordPiece is BERT's tokenizer: a basic tokenizer (clean the text, split Chinese characters
// and punctuation apart, split on whitespace, optionally lower-case and strip accents) followed
// by greedy longest-match-first WordPiece with "##" marking a piece that continues a word.
//
// Encode (the Tokenizer method) returns the word pieces of a text with no special tokens;
// EncodeSingle, EncodePair and EncodeBatch add [CLS] and [SEP], token type ids, truncation and
// padding, as BERT's inputs need. A WordPiece is safe for concurrent use.
type WordPiece struct {
	vocab   []string
	initial map[string]int32 // pieces that start a word
	cont    map[string]int32 // pieces that continue one, without the prefix
	maxInit int              // longest key of initial, in bytes
	maxCont int              // longest key of cont, in bytes
	opts    WordPieceOptions

	unk, cls, sep, pad, mask int // ids; pad and mask are -1 when the vocabulary lacks them
}

// WordPieceOptions configures a WordPiece tokenizer. The zero value is BERT's cased tokenizer
// with the standard special tokens; set Lowercase for uncased models.
type WordPieceOptions struct {
	// Lowercase lower-cases the text (and strips accents unless StripAccents says otherwise).
	Lowercase bool
	// StripAccents removes accents (canonical decomposition, then no nonspacing marks). nil
	// follows Lowercase, as in BERT.
	StripAccents *bool
	// NoChineseSplit keeps CJK ideographs together instead of making each its own word.
	NoChineseSplit bool
	// NoCleanText keeps control characters, NUL and U+FFFD, and other whitespace as it is.
	NoCleanText bool
	// UnkToken, ClsToken, SepToken, PadToken and MaskToken name the special tokens; empty
	// means "[UNK]", "[CLS]", "[SEP]", "[PAD]" and "[MASK]". The first three must be in the
	// vocabulary; the pad token is needed only to pad.
	UnkToken, ClsToken, SepToken, PadToken, MaskToken string
	// Prefix marks a piece that continues a word; empty means "##".
	Prefix string
	// MaxInputCharsPerWord: a longer word becomes the unknown token; 0 means 100.
	MaxInputCharsPerWord int
}

func (o *WordPieceOptions) defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.UnkToken, "[UNK]")
	def(&o.ClsToken, "[CLS]")
	def(&o.SepToken, "[SEP]")
	def(&o.PadToken, "[PAD]")
	def(&o.MaskToken, "[MASK]")
	def(&o.Prefix, "##")
	if o.MaxInputCharsPerWord <= 0 {
		o.MaxInputCharsPerWord = 100
	}
}

func (o *WordPieceOptions) stripAccents() bool {
	if o.StripAccents != nil {
		return *o.StripAccents
	}
	return o.Lowercase
}

// NewWordPiece builds a tokenizer over vocab, where a token's id is its index.
func NewWordPiece(vocab []string, opts WordPieceOptions) (*WordPiece, error) {
	opts.defaults()
	if len(vocab) == 0 {
		return nil, fmt.Errorf("tokenizer: empty WordPiece vocabulary")
	}
	if len(vocab) >= 1<<31-1 {
		return nil, fmt.Errorf("tokenizer: WordPiece vocabulary of %d tokens is too large", len(vocab))
	}
	w := &WordPiece{
		vocab:   append([]string(nil), vocab...),
		initial: make(map[string]int32, len(vocab)),
		cont:    make(map[string]int32, len(vocab)/4),
		opts:    opts,
	}
	seen := make(map[string]int, len(vocab))
	for id, t := range vocab {
		if prev, dup := seen[t]; dup {
			return nil, fmt.Errorf("tokenizer: token %q appears twice in the vocabulary (ids %d and %d)", clip(t), prev, id)
		}
		seen[t] = id
		if rest, ok := strings.CutPrefix(t, opts.Prefix); ok && rest != "" {
			w.cont[rest] = int32(id)
			w.maxCont = max(w.maxCont, len(rest))
		} else {
			w.initial[t] = int32(id)
			w.maxInit = max(w.maxInit, len(t))
		}
	}
	var missing []string
	need := func(name string) int {
		id, ok := seen[name]
		if !ok {
			missing = append(missing, fmt.Sprintf("%q", name))
			return -1
		}
		return id
	}
	w.unk, w.cls, w.sep = need(opts.UnkToken), need(opts.ClsToken), need(opts.SepToken)
	if len(missing) > 0 {
		return nil, fmt.Errorf("tokenizer: the WordPiece vocabulary lacks the special token%s %s", plural(len(missing)), strings.Join(missing, ", "))
	}
	w.pad, w.mask = -1, -1
	if id, ok := seen[opts.PadToken]; ok {
		w.pad = id
	}
	if id, ok := seen[opts.MaskToken]; ok {
		w.mask = id
	}
	return w, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// LoadWordPiece reads a BERT vocabulary: path is a vocab.txt file (one token a line, the line
// number less one its id) or a folder holding one. lowercase selects an uncased tokenizer.
func LoadWordPiece(path string, lowercase bool) (*WordPiece, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, vocabTxtFile)
	}
	return loadVocabTxt(path, WordPieceOptions{Lowercase: lowercase})
}

const vocabTxtFile = "vocab.txt"

func loadVocabTxt(path string, opts WordPieceOptions) (*WordPiece, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	vocab, err := parseVocabTxt(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	w, err := NewWordPiece(vocab, opts)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, dropPrefix(err))
	}
	return w, nil
}

// parseVocabTxt splits a vocab.txt into its lines (LF or CRLF; a final newline ends the last
// token rather than starting an empty one; a leading byte order mark is dropped). A token that
// holds a carriage return, or a first token that starts with a second byte order mark, is an
// error: Save could not write it back.
func parseVocabTxt(data []byte) ([]string, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("not valid UTF-8")
	}
	text := string(data)
	text = strings.TrimPrefix(text, "\uFEFF")
	if strings.HasPrefix(text, "\uFEFF") {
		return nil, fmt.Errorf("starts with two byte order marks (U+FEFF); remove the second one")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
		if strings.Contains(lines[i], "\r") {
			return nil, fmt.Errorf("line %d: token %q holds a carriage return; write one token a line, each ending with \\n or \\r\\n", i+1, clip(lines[i]))
		}
	}
	if len(lines) == 1 && lines[0] == "" {
		return nil, fmt.Errorf("empty vocabulary")
	}
	return lines, nil
}

// Encode returns the ids of text's word pieces, without [CLS] or [SEP]. Special tokens written
// in the text are plain text ("[SEP]" is "[", "sep", "]").
func (w *WordPiece) Encode(text string) []int {
	ids := make([]int, 0, len(text)/4+1) // English runs at about a token every five bytes
	w.pieces(text, func(id int32, _ string, _ bool) { ids = append(ids, int(id)) })
	return ids
}

// Tokenize returns text's word pieces as strings ("bo", "##ast").
func (w *WordPiece) Tokenize(text string) []string {
	var toks []string
	w.pieces(text, func(id int32, _ string, _ bool) { toks = append(toks, w.vocab[id]) })
	return toks
}

// BasicTokenize returns the words of text after the basic tokenizer: cleaned, lower-cased and
// stripped of accents as configured, split on whitespace, punctuation and CJK characters.
func (w *WordPiece) BasicTokenize(text string) []string {
	var words []string
	w.basic(text, 0, func(word string) { words = append(words, word) })
	return words
}

// pieces calls fn with each word piece of text. A word is not kept past the bytes that show it
// has more than MaxInputCharsPerWord characters (and is the unknown token): a megabyte "word"
// costs no megabyte of memory.
func (w *WordPiece) pieces(text string, fn func(id int32, word string, first bool)) {
	w.basic(text, 4*(w.opts.MaxInputCharsPerWord+1), func(word string) { w.wordPieces(word, fn) })
}

// wordPieces splits one word greedily, longest match first. A word longer than
// MaxInputCharsPerWord, or with a remainder that no piece matches, is the unknown token.
func (w *WordPiece) wordPieces(word string, fn func(id int32, word string, first bool)) {
	if utf8.RuneCountInString(word) > w.opts.MaxInputCharsPerWord {
		fn(int32(w.unk), word, true)
		return
	}
	var buf [32]int32
	ids := buf[:0]
	for start := 0; start < len(word); {
		dict, maxLen := w.initial, w.maxInit
		if start > 0 {
			dict, maxLen = w.cont, w.maxCont
		}
		end := min(len(word), start+maxLen)
		for end > start && end < len(word) && !utf8.RuneStart(word[end]) {
			end--
		}
		found := int32(-1)
		for end > start {
			if id, ok := dict[word[start:end]]; ok {
				found = id
				break
			}
			end--
			for end > start && !utf8.RuneStart(word[end]) {
				end--
			}
		}
		if found < 0 {
			fn(int32(w.unk), word, true)
			return
		}
		ids = append(ids, found)
		start = end
	}
	for i, id := range ids {
		fn(id, word, i == 0)
	}
}

// basic runs BERT's basic tokenizer and calls fn with each word. A word longer than maxWord bytes
// (when maxWord > 0) is cut to about maxWord bytes.
func (w *WordPiece) basic(text string, maxWord int, fn func(word string)) {
	lower, strip := w.opts.Lowercase, w.opts.stripAccents()
	var word []byte
	var tmp []rune
	flush := func() {
		if len(word) > 0 {
			fn(string(word))
			word = word[:0]
		}
	}
	emit := func(r rune) { // r is a word of its own
		flush()
		word = utf8.AppendRune(word, r)
		flush()
	}
	for i := 0; i < len(text); {
		if len(word) > maxWord && maxWord > 0 {
			word = word[:maxWord]
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		if r < utf8.RuneSelf {
			// ASCII fast path.
			switch c := byte(r); {
			case c == ' ' || c == '\t' || c == '\n' || c == '\r':
				flush()
			case c < 0x20 || c == 0x7F:
				// Cleaning drops control characters (NUL included); without it, vertical tab
				// and form feed are whitespace and the others part of a word.
				if w.opts.NoCleanText {
					if c == '\v' || c == '\f' {
						flush()
					} else {
						word = append(word, c)
					}
				}
			case isBertPunct(r):
				emit(r)
			default:
				if lower && c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				word = append(word, c)
			}
			continue
		}
		if !w.opts.NoCleanText {
			if r == utf8.RuneError || isBertControl(r) {
				continue
			}
		}
		if unicode.IsSpace(r) {
			flush()
			continue
		}
		if !w.opts.NoChineseSplit && isCJK(r) {
			flush()
		}
		tmp = tmp[:0]
		if lower {
			if r == 'İ' { // its full lower case is two characters
				tmp = append(tmp, 'i', '\u0307')
			} else {
				tmp = append(tmp, unicode.ToLower(r))
			}
		} else {
			tmp = append(tmp, r)
		}
		if strip {
			n := len(tmp)
			for _, x := range tmp[:n] {
				tmp = appendStripped(tmp, x)
			}
			tmp = tmp[n:]
		}
		for _, x := range tmp {
			if isBertPunct(x) {
				emit(x)
			} else {
				word = utf8.AppendRune(word, x)
			}
		}
		if !w.opts.NoChineseSplit && isCJK(r) {
			flush()
		}
	}
	flush()
}

// isBertPunct is BERT's punctuation: every ASCII non-alphanumeric printable character (so "$",
// "+", "^" count) and every character of Unicode category P.
func isBertPunct(r rune) bool {
	if r >= 33 && r <= 47 || r >= 58 && r <= 64 || r >= 91 && r <= 96 || r >= 123 && r <= 126 {
		return true
	}
	return r >= utf8.RuneSelf && unicode.IsPunct(r)
}

// isBertControl reports a character that cleaning removes: category C (control, format,
// private use, surrogate, unassigned) other than tab, newline and carriage return.
func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if unicode.Is(unicode.C, r) {
		return true
	}
	// Unassigned (Cn): in no category at all.
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// isCJK reports a CJK Unified Ideograph or CJK Compatibility Ideograph (the blocks BERT
// splits); Hiragana, Katakana and Hangul are not among them.
func isCJK(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF ||
		r >= 0x3400 && r <= 0x4DBF ||
		r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F ||
		r >= 0x2B740 && r <= 0x2B81F ||
		r >= 0x2B820 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF ||
		r >= 0x2F800 && r <= 0x2FA1F
}

// Decode joins the tokens of ids with spaces, glues "##" pieces to the piece before, and tidies
// the spaces before punctuation and English contractions as Hugging Face's decode does by
// default. Special tokens are kept. It is not the inverse of Encode: case, accents and spacing
// are lost.
func (w *WordPiece) Decode(ids []int) (string, error) {
	if err := checkIDs(ids, len(w.vocab)); err != nil {
		return "", err
	}
	toks := make([]string, len(ids))
	for i, id := range ids {
		toks[i] = w.vocab[id]
	}
	s := strings.TrimSpace(strings.ReplaceAll(strings.Join(toks, " "), " "+w.opts.Prefix, ""))
	return cleanupTokenization.Replace(s), nil
}

var cleanupTokenization = strings.NewReplacer(
	" .", ".", " ?", "?", " !", "!", " ,", ",", " ' ", "'", " n't", "n't",
	" 'm", "'m", " 's", "'s", " 've", "'ve", " 're", "'re",
)

// VocabSize is the number of tokens (30,522 for bert-base-uncased).
func (w *WordPiece) VocabSize() int { return len(w.vocab) }

// Kind returns "wordpiece".
func (w *WordPiece) Kind() string { return "wordpiece" }

// Options returns the tokenizer's configuration, defaults filled in.
func (w *WordPiece) Options() WordPieceOptions { return w.opts }

// TokenID returns the id of a token, such as "[MASK]" or "##ing".
func (w *WordPiece) TokenID(token string) (int, bool) {
	if rest, ok := strings.CutPrefix(token, w.opts.Prefix); ok && rest != "" {
		id, ok := w.cont[rest]
		return int(id), ok
	}
	id, ok := w.initial[token]
	return int(id), ok
}

// Token returns the token of id.
func (w *WordPiece) Token(id int) (string, error) {
	if id < 0 || id >= len(w.vocab) {
		return "", fmt.Errorf("tokenizer: id %d is out of range [0, %d)", id, len(w.vocab))
	}
	return w.vocab[id], nil
}

// UnkID is the id of the unknown token ([UNK]).
func (w *WordPiece) UnkID() int { return w.unk }

// ClsID is the id of the classification token ([CLS]) that starts an encoding.
func (w *WordPiece) ClsID() int { return w.cls }

// SepID is the id of the separator token ([SEP]) that ends each sequence.
func (w *WordPiece) SepID() int { return w.sep }

// PadID is the id of the padding token ([PAD]), or -1 when the vocabulary has none.
func (w *WordPiece) PadID() int { return w.pad }

// MaskID is the id of the mask token ([MASK]), or -1 when the vocabulary has none.
func (w *WordPiece) MaskID() int { return w.mask }

// Save writes vocab.txt, tokenizer_config.json (do_lower_case and the other options, as
// Hugging Face's BertTokenizer reads them) and tokenizer.json (for its fast tokenizer).
func (w *WordPiece) Save(dir string) error {
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	for _, t := range w.vocab {
		bw.WriteString(t)
		bw.WriteByte('\n')
	}
	bw.Flush()
	if err := writeFileAtomic(filepath.Join(dir, vocabTxtFile), b.Bytes()); err != nil {
		return err
	}
	cfg := map[string]any{
		"tokenizer_class":        "BertTokenizer",
		"do_lower_case":          w.opts.Lowercase,
		"tokenize_chinese_chars": !w.opts.NoChineseSplit,
		"unk_token":              w.opts.UnkToken,
		"cls_token":              w.opts.ClsToken,
		"sep_token":              w.opts.SepToken,
		"pad_token":              w.opts.PadToken,
		"mask_token":             w.opts.MaskToken,
	}
	if w.opts.StripAccents != nil {
		cfg["strip_accents"] = *w.opts.StripAccents
	}
	data, err := marshalJSON(cfg)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, tokenizerConfigFile), data); err != nil {
		return err
	}
	data, err = w.tokenizerJSON()
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, tokenizerJSONFile), data)
}

const tokenizerConfigFile = "tokenizer_config.json"

// wordPieceConfig is what tokenizer_config.json says about a BERT tokenizer.
type wordPieceConfig struct {
	DoLowerCase          *bool           `json:"do_lower_case"`
	StripAccents         *bool           `json:"strip_accents"`
	TokenizeChineseChars *bool           `json:"tokenize_chinese_chars"`
	UnkToken             json.RawMessage `json:"unk_token"`
	ClsToken             json.RawMessage `json:"cls_token"`
	SepToken             json.RawMessage `json:"sep_token"`
	PadToken             json.RawMessage `json:"pad_token"`
	MaskToken            json.RawMessage `json:"mask_token"`
}

// loadWordPieceDir reads vocab.txt with the options of tokenizer_config.json when present
// (do_lower_case defaults to true, as for bert-base-uncased).
func loadWordPieceDir(dir string) (*WordPiece, error) {
	opts := WordPieceOptions{Lowercase: true}
	cfgPath := filepath.Join(dir, tokenizerConfigFile)
	data, ok, err := readOptionalFile(cfgPath)
	if err != nil {
		return nil, err
	}
	if ok {
		var c wordPieceConfig
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", cfgPath, err)
		}
		if c.DoLowerCase != nil {
			opts.Lowercase = *c.DoLowerCase
		}
		opts.StripAccents = c.StripAccents
		if c.TokenizeChineseChars != nil {
			opts.NoChineseSplit = !*c.TokenizeChineseChars
		}
		for _, f := range []struct {
			raw json.RawMessage
			dst *string
			key string
		}{
			{c.UnkToken, &opts.UnkToken, "unk_token"}, {c.ClsToken, &opts.ClsToken, "cls_token"},
			{c.SepToken, &opts.SepToken, "sep_token"}, {c.PadToken, &opts.PadToken, "pad_token"},
			{c.MaskToken, &opts.MaskToken, "mask_token"},
		} {
			s, err := tokenName(f.raw)
			if err != nil {
				return nil, fmt.Errorf("tokenizer: %s: %s: %w", cfgPath, f.key, err)
			}
			*f.dst = s
		}
	}
	return loadVocabTxt(filepath.Join(dir, vocabTxtFile), opts)
}

// tokenName reads a special token as tokenizer_config.json and special_tokens_map.json write
// it: a string, an object with "content", or null/absent ("").
func tokenName(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var o struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &o); err != nil || o.Content == nil {
		return "", fmt.Errorf("want a string or an object with \"content\", got %s", clip(string(raw)))
	}
	return *o.Content, nil
}

// Lowercase reports whether the tokenizer lower-cases its input (an uncased model).
func (w *WordPiece) Lowercase() bool { return w.opts.Lowercase }
