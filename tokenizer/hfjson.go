package tokenizer

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/qkvdev/qkv/internal/atomicfile"
)

// Hugging Face's tokenizer.json: the whole tokenizer pipeline in one file. qkv reads the two
// pipelines it implements, byte-level BPE (GPT-2 and its kin) and BERT's WordPiece, and refuses
// the rest with an error naming the component it does not support, rather than encoding
// differently from the file's intent.

const (
	tokenizerJSONFile    = "tokenizer.json"
	specialTokensMapFile = "special_tokens_map.json"
)

// hfTokenizer is the part of tokenizer.json that qkv reads.
type hfTokenizer struct {
	Version       string          `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

type hfAddedToken struct {
	ID         *int64 `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// hfComponent is any pipeline component: its "type" and the fields qkv looks at.
type hfComponent struct {
	Type           string            `json:"type"`
	AddPrefixSpace *bool             `json:"add_prefix_space"`
	UseRegex       *bool             `json:"use_regex"`
	Pretokenizers  []json.RawMessage `json:"pretokenizers"`
	Normalizers    []json.RawMessage `json:"normalizers"`
	Processors     []json.RawMessage `json:"processors"`
	Decoders       []json.RawMessage `json:"decoders"`
	Pattern        *struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Behavior string `json:"behavior"`
	Invert   bool   `json:"invert"`
	// BertNormalizer
	CleanText          *bool `json:"clean_text"`
	HandleChineseChars *bool `json:"handle_chinese_chars"`
	StripAccents       *bool `json:"strip_accents"`
	Lowercase          *bool `json:"lowercase"`
	// WordPiece decoder
	Prefix  *string `json:"prefix"`
	Cleanup *bool   `json:"cleanup"`
	// TemplateProcessing
	Single        []json.RawMessage          `json:"single"`
	Pair          []json.RawMessage          `json:"pair"`
	SpecialTokens map[string]hfTemplateToken `json:"special_tokens"`
	// BertProcessing / RobertaProcessing: [token, id]
	Sep []json.RawMessage `json:"sep"`
	Cls []json.RawMessage `json:"cls"`
}

type hfTemplateToken struct {
	ID     string   `json:"id"`
	IDs    []int64  `json:"ids"`
	Tokens []string `json:"tokens"`
}

// hfModel is tokenizer.json's "model".
type hfModel struct {
	Type                    string          `json:"type"`
	Vocab                   json.RawMessage `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	MaxInputCharsPerWord    *int64          `json:"max_input_chars_per_word"`
}

// LoadTokenizerJSON reads a Hugging Face tokenizer.json holding a byte-level BPE (returned as
// *GPT2) or a BERT WordPiece (*WordPiece) pipeline.
func LoadTokenizerJSON(path string) (Tokenizer, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	tok, err := parseTokenizerJSON(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return tok, nil
}

func isNull(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || string(s) == "null"
}

func parseComponent(raw json.RawMessage, what string) (*hfComponent, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &c, nil
}

func parseTokenizerJSON(data []byte) (Tokenizer, error) {
	var t hfTokenizer
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("not valid tokenizer JSON: %w", err)
	}
	if isNull(t.Model) {
		return nil, fmt.Errorf("no \"model\"")
	}
	var m hfModel
	if err := json.Unmarshal(t.Model, &m); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if m.Type == "" { // files from old versions of the library leave the type out
		switch {
		case !isNull(m.Merges):
			m.Type = "BPE"
		case m.MaxInputCharsPerWord != nil || m.ContinuingSubwordPrefix != nil:
			m.Type = "WordPiece"
		}
	}
	if err := checkTruncationPadding(t.Truncation, t.Padding); err != nil {
		return nil, err
	}
	switch m.Type {
	case "BPE":
		return parseHFBPE(&t, &m)
	case "WordPiece":
		return parseHFWordPiece(&t, &m)
	default:
		return nil, fmt.Errorf("model type %q is not supported (qkv reads byte-level BPE and WordPiece)", m.Type)
	}
}

// checkTruncationPadding validates the stored truncation and padding settings. qkv does not
// apply them (EncodeOptions does that job) but refuses settings that make no sense.
func checkTruncationPadding(truncRaw, padRaw json.RawMessage) error {
	if !isNull(truncRaw) {
		var tr struct {
			MaxLength *int64 `json:"max_length"`
			Stride    int64  `json:"stride"`
			Strategy  string `json:"strategy"`
			Direction string `json:"direction"`
		}
		if err := json.Unmarshal(truncRaw, &tr); err != nil {
			return fmt.Errorf("truncation: %w", err)
		}
		if tr.MaxLength == nil || *tr.MaxLength <= 0 {
			return fmt.Errorf("truncation: max_length must be a positive integer")
		}
		if tr.Stride < 0 || tr.Stride >= *tr.MaxLength {
			return fmt.Errorf("truncation: stride %d must be in [0, max_length %d)", tr.Stride, *tr.MaxLength)
		}
		switch tr.Strategy {
		case "", "LongestFirst", "OnlyFirst", "OnlySecond":
		default:
			return fmt.Errorf("truncation: unknown strategy %q", tr.Strategy)
		}
		switch tr.Direction {
		case "", "Left", "Right":
		default:
			return fmt.Errorf("truncation: unknown direction %q", tr.Direction)
		}
	}
	if !isNull(padRaw) {
		var pd struct {
			Strategy         json.RawMessage `json:"strategy"`
			PadToMultipleOf  *int64          `json:"pad_to_multiple_of"`
			PadID            int64           `json:"pad_id"`
			PadTypeID        int64           `json:"pad_type_id"`
			PadToken         string          `json:"pad_token"`
			PaddingDirection string          `json:"direction"`
		}
		if err := json.Unmarshal(padRaw, &pd); err != nil {
			return fmt.Errorf("padding: %w", err)
		}
		var fixed struct {
			Fixed *int64 `json:"Fixed"`
		}
		var name string
		switch {
		case isNull(pd.Strategy):
		case json.Unmarshal(pd.Strategy, &name) == nil:
			if name != "BatchLongest" {
				return fmt.Errorf("padding: unknown strategy %q", name)
			}
		case json.Unmarshal(pd.Strategy, &fixed) == nil && fixed.Fixed != nil:
			if *fixed.Fixed <= 0 {
				return fmt.Errorf("padding: fixed length %d must be positive", *fixed.Fixed)
			}
		default:
			return fmt.Errorf("padding: unknown strategy %s", clip(string(pd.Strategy)))
		}
		if pd.PadToMultipleOf != nil && *pd.PadToMultipleOf <= 0 {
			return fmt.Errorf("padding: pad_to_multiple_of %d must be positive", *pd.PadToMultipleOf)
		}
		if pd.PadID < 0 {
			return fmt.Errorf("padding: pad_id %d is negative", pd.PadID)
		}
	}
	return nil
}

// parseHFBPE reads a byte-level BPE pipeline: no normalizer, the ByteLevel pre-tokenizer with
// GPT-2's pattern and no added prefix space (alone, or after a Split with GPT2Pattern), a
// ByteLevel or no decoder.
func parseHFBPE(t *hfTokenizer, m *hfModel) (*GPT2, error) {
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, fmt.Errorf("model: BPE dropout %v is not supported", *m.Dropout)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" ||
		m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, fmt.Errorf("model: BPE with a continuing_subword_prefix or end_of_word_suffix is not byte-level BPE")
	}
	if m.ByteFallback {
		return nil, fmt.Errorf("model: byte_fallback BPE is not supported")
	}
	if err := checkByteLevelPipeline(t); err != nil {
		return nil, err
	}
	names, entries, err := vocabInIDOrder(t, m)
	if err != nil {
		return nil, err
	}
	byContent := make(map[string]hfAddedToken, len(t.AddedTokens))
	for _, a := range t.AddedTokens {
		byContent[a.Content] = a
	}
	ids := make(map[string]int32, len(entries))
	for _, e := range entries {
		ids[e.tok] = int32(e.id)
	}
	pairs, err := parseMergesJSON(m.Merges, ids)
	if err != nil {
		return nil, err
	}
	if m.UnkToken != nil && *m.UnkToken != "" {
		if _, ok := ids[*m.UnkToken]; !ok {
			if _, ok := byContent[*m.UnkToken]; !ok {
				return nil, fmt.Errorf("model: unk_token %q is not in the vocabulary", *m.UnkToken)
			}
		}
	}
	spec := gpt2Spec{tokens: make([]string, len(names)), kinds: make([]tokenKind, len(names)), merges: pairs, ignoreMerges: m.IgnoreMerges}
	for id, s := range names {
		_, inModel := ids[s]
		if a, ok := byContent[s]; ok && (a.Special || !inModel) {
			spec.tokens[id] = s
			spec.kinds[id] = kindAdded
			if a.Special {
				spec.kinds[id] = kindSpecial
			}
			continue
		}
		raw, ok := byteLevelDecode(s)
		switch {
		case ok:
			spec.tokens[id] = string(raw)
		case byContent[s].Content != "": // a non-special added token that is also in the model
			spec.tokens[id], spec.kinds[id] = s, kindAdded
		default:
			return nil, fmt.Errorf("model.vocab: token %q (id %d) is not written in the byte-level alphabet", clip(s), id)
		}
	}
	if err := checkPostProcessor(t.PostProcessor, func(s string) bool {
		_, ok := ids[s]
		_, ok2 := byContent[s]
		return ok || ok2
	}); err != nil {
		return nil, err
	}
	g, err := newGPT2(spec)
	if err != nil {
		return nil, err
	}
	return g, nil
}

func checkByteLevelPipeline(t *hfTokenizer) error {
	if n, err := parseComponent(t.Normalizer, "normalizer"); err != nil {
		return err
	} else if n != nil && !(n.Type == "Sequence" && len(n.Normalizers) == 0) {
		return fmt.Errorf("normalizer %q is not supported with byte-level BPE", n.Type)
	}
	pre, err := parseComponent(t.PreTokenizer, "pre_tokenizer")
	if err != nil {
		return err
	}
	if pre == nil {
		return fmt.Errorf("pre_tokenizer: none, but byte-level BPE needs ByteLevel")
	}
	byteLevel := func(c *hfComponent, wantRegex bool) error {
		if c.AddPrefixSpace != nil && *c.AddPrefixSpace {
			return fmt.Errorf("pre_tokenizer: ByteLevel with add_prefix_space is not supported")
		}
		regex := c.UseRegex == nil || *c.UseRegex
		if regex != wantRegex {
			return fmt.Errorf("pre_tokenizer: ByteLevel use_regex=%v is not supported here", regex)
		}
		return nil
	}
	switch pre.Type {
	case "ByteLevel":
		if err := byteLevel(pre, true); err != nil {
			return err
		}
	case "Sequence":
		var parts []*hfComponent
		for i, raw := range pre.Pretokenizers {
			c, err := parseComponent(raw, fmt.Sprintf("pre_tokenizer.pretokenizers[%d]", i))
			if err != nil {
				return err
			}
			if c == nil {
				return fmt.Errorf("pre_tokenizer.pretokenizers[%d] is null", i)
			}
			parts = append(parts, c)
		}
		switch {
		case len(parts) == 1 && parts[0].Type == "ByteLevel":
			if err := byteLevel(parts[0], true); err != nil {
				return err
			}
		case len(parts) == 2 && parts[0].Type == "Split" && parts[1].Type == "ByteLevel":
			sp := parts[0]
			if sp.Pattern == nil || sp.Pattern.Regex == nil || *sp.Pattern.Regex != GPT2Pattern || sp.Invert || sp.Behavior != "Isolated" {
				return fmt.Errorf("pre_tokenizer: only a Split with GPT-2's pattern (%s), Isolated, is supported", GPT2Pattern)
			}
			if err := byteLevel(parts[1], false); err != nil {
				return err
			}
		default:
			return fmt.Errorf("pre_tokenizer: this Sequence is not supported (want ByteLevel, or Split with GPT-2's pattern then ByteLevel)")
		}
	default:
		return fmt.Errorf("pre_tokenizer %q is not supported with byte-level BPE", pre.Type)
	}
	dec, err := parseComponent(t.Decoder, "decoder")
	if err != nil {
		return err
	}
	if dec != nil && dec.Type != "ByteLevel" {
		return fmt.Errorf("decoder %q is not supported with byte-level BPE (want ByteLevel)", dec.Type)
	}
	return nil
}

// checkPostProcessor accepts no post-processor, ByteLevel, or a template whose special tokens
// are all known; it returns the template's tokens for WordPiece.
func checkPostProcessor(raw json.RawMessage, known func(string) bool) error {
	_, _, err := postProcessorTokens(raw, known)
	if errors.Is(err, errTemplateLayout) {
		return nil // byte-level BPE adds no special tokens; the references were checked
	}
	return err
}

// postProcessorTokens returns the [CLS]-like and [SEP]-like tokens of a BERT-style
// post-processor (empty when there is none).
func postProcessorTokens(raw json.RawMessage, known func(string) bool) (cls, sep string, err error) {
	pp, err := parseComponent(raw, "post_processor")
	if err != nil || pp == nil {
		return "", "", err
	}
	switch pp.Type {
	case "ByteLevel":
		return "", "", nil
	case "BertProcessing", "RobertaProcessing":
		name := func(v []json.RawMessage, what string) (string, error) {
			var s string
			if len(v) != 2 || json.Unmarshal(v[0], &s) != nil {
				return "", fmt.Errorf("post_processor: %s must be [token, id]", what)
			}
			if !known(s) {
				return "", fmt.Errorf("post_processor: %s token %q is not in the vocabulary", what, s)
			}
			return s, nil
		}
		if cls, err = name(pp.Cls, "cls"); err != nil {
			return "", "", err
		}
		if sep, err = name(pp.Sep, "sep"); err != nil {
			return "", "", err
		}
		return cls, sep, nil
	case "TemplateProcessing":
		for name, st := range pp.SpecialTokens {
			if len(st.Tokens) == 0 {
				return "", "", fmt.Errorf("post_processor: special token %q has no tokens", name)
			}
			for _, tok := range st.Tokens {
				if !known(tok) {
					return "", "", fmt.Errorf("post_processor: special token %q uses %q, which is not in the vocabulary", name, tok)
				}
			}
		}
		single, err := templateItems(pp.Single, pp.SpecialTokens, "single")
		if err != nil {
			return "", "", err
		}
		pair, err := templateItems(pp.Pair, pp.SpecialTokens, "pair")
		if err != nil {
			return "", "", err
		}
		// BERT's layout: [CLS] $A [SEP] and [CLS] $A [SEP] $B:1 [SEP]:1.
		if len(single) == 3 && single[0].special && single[1].seq == "A" && single[2].special &&
			len(pair) == 5 && pair[0].special && pair[1].seq == "A" && pair[2].special && pair[3].seq == "B" && pair[4].special &&
			pair[0].id == single[0].id && pair[2].id == single[2].id && pair[4].id == single[2].id {
			return single[0].id, single[2].id, nil
		}
		return "", "", errTemplateLayout
	case "Sequence":
		for i, r := range pp.Processors {
			c, s, err := postProcessorTokens(r, known)
			if err != nil {
				return "", "", fmt.Errorf("post_processor.processors[%d]: %w", i, err)
			}
			if c != "" {
				cls, sep = c, s
			}
		}
		return cls, sep, nil
	}
	return "", "", fmt.Errorf("post_processor %q is not supported", pp.Type)
}

// errTemplateLayout marks a TemplateProcessing other than BERT's layout: byte-level BPE never
// adds special tokens, so it only matters for WordPiece.
var errTemplateLayout = errors.New("post_processor: only the template [CLS] $A [SEP] / [CLS] $A [SEP] $B:1 [SEP]:1 is supported")

type templateItem struct {
	special bool
	id      string // special token name
	seq     string // "A" or "B"
}

func templateItems(raw []json.RawMessage, specials map[string]hfTemplateToken, what string) ([]templateItem, error) {
	var out []templateItem
	for i, r := range raw {
		var it struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct {
				ID string `json:"id"`
			} `json:"Sequence"`
		}
		if err := json.Unmarshal(r, &it); err != nil {
			return nil, fmt.Errorf("post_processor.%s[%d]: %w", what, i, err)
		}
		switch {
		case it.SpecialToken != nil:
			if _, ok := specials[it.SpecialToken.ID]; !ok {
				return nil, fmt.Errorf("post_processor.%s[%d]: special token %q is not among the template's special_tokens", what, i, it.SpecialToken.ID)
			}
			out = append(out, templateItem{special: true, id: it.SpecialToken.ID})
		case it.Sequence != nil:
			if it.Sequence.ID != "A" && it.Sequence.ID != "B" {
				return nil, fmt.Errorf("post_processor.%s[%d]: sequence %q is not A or B", what, i, it.Sequence.ID)
			}
			out = append(out, templateItem{seq: it.Sequence.ID})
		default:
			return nil, fmt.Errorf("post_processor.%s[%d]: neither SpecialToken nor Sequence", what, i)
		}
	}
	return out, nil
}

// parseMergesJSON reads model.merges: ["a b", ...] or [["a", "b"], ...].
func parseMergesJSON(raw json.RawMessage, ids map[string]int32) ([][2]int32, error) {
	if isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("model.merges: want a list: %w", err)
	}
	pairs := make([][2]int32, 0, len(items))
	for i, it := range items {
		var p [2]int32
		var s string
		var two []string
		var err error
		switch {
		case json.Unmarshal(it, &s) == nil:
			p, err = resolveMerge(s, ids)
		case json.Unmarshal(it, &two) == nil && len(two) == 2:
			p, err = resolvePair(two[0], two[1], ids)
		default:
			err = fmt.Errorf("want \"left right\" or [left, right], got %s", clip(string(it)))
		}
		if err != nil {
			return nil, fmt.Errorf("model.merges[%d]: %w", i, err)
		}
		pairs = append(pairs, p)
	}
	return pairs, nil
}

// addedTokenCount checks added_tokens against the vocabulary and returns the number of ids.
// An added token either repeats a vocabulary entry (same text, same id) or takes a new id.
// vocabInIDOrder reads model.vocab and the added tokens and returns every token name by id,
// and the model's own entries.
func vocabInIDOrder(t *hfTokenizer, m *hfModel) (names []string, entries []vocabEntry, err error) {
	if entries, err = readVocabObject(m.Vocab); err != nil {
		return nil, nil, fmt.Errorf("model.vocab: %w", err)
	}
	n, err := addedTokenCount(entries, t.AddedTokens)
	if err != nil {
		return nil, nil, err
	}
	all := entries[:len(entries):len(entries)] // appending must not write into entries
	for _, a := range t.AddedTokens {
		all = append(all, vocabEntry{a.Content, *a.ID})
	}
	if names, err = idOrderShared(all, n); err != nil {
		return nil, nil, fmt.Errorf("model.vocab and added_tokens: %w", err)
	}
	return names, entries, nil
}

func addedTokenCount(entries []vocabEntry, added []hfAddedToken) (int, error) {
	byTok := make(map[string]int64, len(entries))
	for _, e := range entries {
		byTok[e.tok] = e.id
	}
	n := len(entries)
	seen := map[string]bool{}
	for i, a := range added {
		if a.ID == nil {
			return 0, fmt.Errorf("added_tokens[%d] (%q) has no id", i, clip(a.Content))
		}
		if a.Content == "" {
			return 0, fmt.Errorf("added_tokens[%d] has empty content", i)
		}
		if seen[a.Content] {
			return 0, fmt.Errorf("added_tokens[%d]: %q is listed twice", i, clip(a.Content))
		}
		seen[a.Content] = true
		if id, ok := byTok[a.Content]; ok {
			if id != *a.ID {
				return 0, fmt.Errorf("added_tokens[%d]: %q has id %d but the vocabulary gives it %d", i, clip(a.Content), *a.ID, id)
			}
			continue
		}
		n++
	}
	return n, nil
}

// vocabEntry is one "token": id pair of a vocabulary object.
type vocabEntry struct {
	tok string
	id  int64
}

// readVocabObject reads a JSON object of token -> id, rejecting repeated tokens and ids that
// are not integers in [0, 2^31). The entries come back sorted by id, then token.
func readVocabObject(data []byte) ([]vocabEntry, error) {
	var m map[string]int64
	if err := json.Unmarshal(data, &m); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("want a JSON object mapping tokens to integer ids: %w", err)
		}
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("empty vocabulary")
	}
	if n := countTopLevelKeys(data); n != len(m) {
		// Some token appears twice (json.Unmarshal keeps the last): find it for the message.
		return nil, findRepeatedKey(data)
	}
	out := make([]vocabEntry, 0, len(m))
	for k, id := range m {
		if id < 0 || id >= 1<<31-1 {
			return nil, fmt.Errorf("the id of %q, %d, is not in [0, 2^31)", clip(k), id)
		}
		out = append(out, vocabEntry{k, id})
	}
	slices.SortFunc(out, func(a, b vocabEntry) int {
		if c := cmp.Compare(a.id, b.id); c != 0 {
			return c
		}
		return strings.Compare(a.tok, b.tok)
	})
	return out, nil
}

// countTopLevelKeys counts the members of the JSON object data (which json.Unmarshal accepted).
func countTopLevelKeys(data []byte) int {
	n, depth, inString := 0, 0, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ':':
			if depth == 1 {
				n++
			}
		}
	}
	return n
}

// findRepeatedKey reports the first token of the vocabulary object that appears twice.
func findRepeatedKey(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("not valid JSON: %w", err)
		}
		key, _ := t.(string)
		if seen[key] {
			return fmt.Errorf("token %q appears twice", clip(key))
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return fmt.Errorf("not valid JSON: %w", err)
		}
	}
	return fmt.Errorf("a token appears twice")
}

// idOrder lists the tokens by id, checking that the ids are exactly 0..n-1.
func idOrder(entries []vocabEntry, n int) ([]string, error) {
	names := make([]string, n)
	set := make([]bool, n)
	for _, e := range entries {
		if e.id < 0 || e.id >= int64(n) {
			return nil, fmt.Errorf("id %d of %q is out of range: %d tokens need ids 0..%d", e.id, clip(e.tok), n, n-1)
		}
		if set[e.id] {
			return nil, fmt.Errorf("id %d is given to both %q and %q", e.id, clip(names[e.id]), clip(e.tok))
		}
		names[e.id], set[e.id] = e.tok, true
	}
	return names, nil
}

// idOrderShared is idOrder where a token may appear twice with the same id (an added token
// that repeats a vocabulary entry).
func idOrderShared(entries []vocabEntry, n int) ([]string, error) {
	names := make([]string, n)
	set := make([]bool, n)
	for _, e := range entries {
		if e.id < 0 || e.id >= int64(n) {
			return nil, fmt.Errorf("id %d of %q is out of range: %d tokens need ids 0..%d", e.id, clip(e.tok), n, n-1)
		}
		if set[e.id] && names[e.id] != e.tok {
			return nil, fmt.Errorf("id %d is given to both %q and %q", e.id, clip(names[e.id]), clip(e.tok))
		}
		names[e.id], set[e.id] = e.tok, true
	}
	for id, ok := range set {
		if !ok {
			return nil, fmt.Errorf("no token has id %d: ids must run from 0 to %d", id, n-1)
		}
	}
	return names, nil
}

// parseSpecialTokensMap reads the token names of a special_tokens_map.json.
func parseSpecialTokensMap(data []byte) (map[string]bool, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	out := map[string]bool{}
	for key, raw := range m {
		if key == "additional_special_tokens" {
			var list []json.RawMessage
			if err := json.Unmarshal(raw, &list); err != nil {
				return nil, fmt.Errorf("%s: want a list: %w", key, err)
			}
			for i, r := range list {
				s, err := tokenName(r)
				if err != nil {
					return nil, fmt.Errorf("%s[%d]: %w", key, i, err)
				}
				if s != "" {
					out[s] = true
				}
			}
			continue
		}
		s, err := tokenName(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		if s != "" {
			out[s] = true
		}
	}
	return out, nil
}

// parseHFWordPiece reads BERT's pipeline: BertNormalizer, BertPreTokenizer, WordPiece, a BERT
// template (or BertProcessing) and the WordPiece decoder.
func parseHFWordPiece(t *hfTokenizer, m *hfModel) (*WordPiece, error) {
	opts := WordPieceOptions{}
	if m.UnkToken != nil {
		opts.UnkToken = *m.UnkToken
	}
	if m.ContinuingSubwordPrefix != nil {
		opts.Prefix = *m.ContinuingSubwordPrefix
		if opts.Prefix == "" {
			return nil, fmt.Errorf("model: empty continuing_subword_prefix is not supported")
		}
	}
	if m.MaxInputCharsPerWord != nil {
		if *m.MaxInputCharsPerWord <= 0 || *m.MaxInputCharsPerWord > 1<<20 {
			return nil, fmt.Errorf("model: max_input_chars_per_word %d is out of range", *m.MaxInputCharsPerWord)
		}
		opts.MaxInputCharsPerWord = int(*m.MaxInputCharsPerWord)
	}
	norm, err := parseComponent(t.Normalizer, "normalizer")
	if err != nil {
		return nil, err
	}
	if norm == nil {
		opts.NoCleanText, opts.NoChineseSplit = true, true
	} else {
		if norm.Type != "BertNormalizer" {
			return nil, fmt.Errorf("normalizer %q is not supported with WordPiece (want BertNormalizer)", norm.Type)
		}
		opts.NoCleanText = norm.CleanText != nil && !*norm.CleanText
		opts.NoChineseSplit = norm.HandleChineseChars != nil && !*norm.HandleChineseChars
		opts.Lowercase = norm.Lowercase == nil || *norm.Lowercase
		opts.StripAccents = norm.StripAccents
	}
	pre, err := parseComponent(t.PreTokenizer, "pre_tokenizer")
	if err != nil {
		return nil, err
	}
	if pre == nil || pre.Type != "BertPreTokenizer" {
		name := "none"
		if pre != nil {
			name = fmt.Sprintf("%q", pre.Type)
		}
		return nil, fmt.Errorf("pre_tokenizer %s is not supported with WordPiece (want BertPreTokenizer)", name)
	}
	if dec, err := parseComponent(t.Decoder, "decoder"); err != nil {
		return nil, err
	} else if dec != nil && dec.Type != "WordPiece" {
		return nil, fmt.Errorf("decoder %q is not supported with WordPiece", dec.Type)
	} else if dec != nil && dec.Prefix != nil && *dec.Prefix != "" && *dec.Prefix != opts.Prefix && !(opts.Prefix == "" && *dec.Prefix == "##") {
		return nil, fmt.Errorf("decoder: prefix %q differs from the model's %q", *dec.Prefix, opts.Prefix)
	}
	vocab, _, err := vocabInIDOrder(t, m)
	if err != nil {
		return nil, err
	}
	known := make(map[string]bool, len(vocab))
	for _, s := range vocab {
		known[s] = true
	}
	cls, sep, err := postProcessorTokens(t.PostProcessor, func(s string) bool { return known[s] })
	if err != nil {
		return nil, err
	}
	opts.ClsToken, opts.SepToken = cls, sep
	if !isNull(t.Padding) {
		var pd struct {
			PadToken string `json:"pad_token"`
		}
		if json.Unmarshal(t.Padding, &pd) == nil && pd.PadToken != "" {
			opts.PadToken = pd.PadToken
		}
	}
	w, err := NewWordPiece(vocab, opts)
	if err != nil {
		return nil, dropPrefix(err)
	}
	return w, nil
}

// dropPrefix removes the "tokenizer: " prefix from an error that will be wrapped again.
func dropPrefix(err error) error {
	if s, ok := strings.CutPrefix(err.Error(), "tokenizer: "); ok {
		return errors.New(s)
	}
	return err
}

// marshalJSON writes v as indented JSON without HTML escaping ("<|endoftext|>" stays as it is).
func marshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return b.Bytes(), nil
}

// jsonString writes s as a JSON string without HTML escaping.
func jsonString(b *bytes.Buffer, s string) {
	data, _ := marshalJSON(s)
	b.Write(bytes.TrimSuffix(data, []byte("\n")))
}

func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	return nil
}

// writeVocabObject writes {"token": id, ...} in id order, one entry a line.
func writeVocabObject(b *bytes.Buffer, names []string, indent string) {
	b.WriteString("{")
	for id, s := range names {
		if id > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n" + indent + "  ")
		jsonString(b, s)
		b.WriteString(": ")
		b.WriteString(strconv.Itoa(id))
	}
	b.WriteString("\n" + indent + "}")
}

// tokenStrings returns every id as vocabulary files write it.
func (g *GPT2) tokenStrings() []string {
	names := make([]string, len(g.kinds))
	for id := range names {
		names[id], _ = g.TokenString(id)
	}
	return names
}

// Save writes vocab.json and merges.txt (GPT-2's files under Hugging Face's names),
// tokenizer.json, and special_tokens_map.json when the vocabulary has special tokens.
func (g *GPT2) Save(dir string) error {
	names := g.tokenStrings()
	var b bytes.Buffer
	writeVocabObject(&b, names, "")
	b.WriteString("\n")
	if err := writeFileAtomic(filepath.Join(dir, "vocab.json"), b.Bytes()); err != nil {
		return err
	}
	b.Reset()
	b.WriteString("#version: 0.2\n")
	for _, m := range g.mergeIDs {
		b.WriteString(names[m[0]] + " " + names[m[1]] + "\n")
	}
	if err := writeFileAtomic(filepath.Join(dir, "merges.txt"), b.Bytes()); err != nil {
		return err
	}
	if sp := g.SpecialTokens(); len(sp) > 0 {
		m := map[string]any{"additional_special_tokens": sp}
		if _, ok := g.special[EndOfText]; ok {
			m["bos_token"], m["eos_token"], m["unk_token"] = EndOfText, EndOfText, EndOfText
		}
		data, err := marshalJSON(m)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(dir, specialTokensMapFile), data); err != nil {
			return err
		}
	}
	return writeFileAtomic(filepath.Join(dir, tokenizerJSONFile), g.tokenizerJSON(names))
}

// addedTokensJSON writes the added_tokens list.
func addedTokensJSON(b *bytes.Buffer, ids []int, names []string, special func(int) bool) {
	b.WriteString("[")
	for i, id := range ids {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n    {\"id\": " + strconv.Itoa(id) + ", \"content\": ")
		jsonString(b, names[id])
		fmt.Fprintf(b, ", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": %v}", special(id))
	}
	if len(ids) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("]")
}

func (g *GPT2) tokenizerJSON(names []string) []byte {
	var b bytes.Buffer
	b.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ")
	var added []int
	for id, k := range g.kinds {
		if k != kindRegular {
			added = append(added, id)
		}
	}
	addedTokensJSON(&b, added, names, func(id int) bool { return g.kinds[id] == kindSpecial })
	b.WriteString(",\n  \"normalizer\": null,\n")
	b.WriteString("  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true},\n")
	b.WriteString("  \"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": false, \"use_regex\": true},\n")
	b.WriteString("  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n")
	fmt.Fprintf(&b, "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": %v,\n    \"vocab\": ", g.ignoreMerges)
	// Added tokens are listed in added_tokens and, for GPT-2's layout, also in the vocabulary
	// when their ids follow the BPE tokens.
	writeVocabObject(&b, names, "    ")
	b.WriteString(",\n    \"merges\": [")
	for i, m := range g.mergeIDs {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n      ")
		jsonString(&b, names[m[0]]+" "+names[m[1]])
	}
	b.WriteString("\n    ]\n  }\n}\n")
	return b.Bytes()
}

// tokenizerJSON writes BERT's pipeline as Hugging Face's fast tokenizer reads it.
func (w *WordPiece) tokenizerJSON() ([]byte, error) {
	o := w.opts
	var b bytes.Buffer
	b.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ")
	var specials []int
	for _, id := range []int{w.pad, w.unk, w.cls, w.sep, w.mask} {
		if id >= 0 {
			specials = append(specials, id)
		}
	}
	addedTokensJSON(&b, specials, w.vocab, func(int) bool { return true })
	strip := "null"
	if o.StripAccents != nil {
		strip = strconv.FormatBool(*o.StripAccents)
	}
	fmt.Fprintf(&b, ",\n  \"normalizer\": {\"type\": \"BertNormalizer\", \"clean_text\": %v, \"handle_chinese_chars\": %v, \"strip_accents\": %s, \"lowercase\": %v},\n",
		!o.NoCleanText, !o.NoChineseSplit, strip, o.Lowercase)
	b.WriteString("  \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},\n")
	tok := func(s string) string {
		var t bytes.Buffer
		jsonString(&t, s)
		return t.String()
	}
	cls, sep := tok(o.ClsToken), tok(o.SepToken)
	fmt.Fprintf(&b, "  \"post_processor\": {\"type\": \"TemplateProcessing\",\n"+
		"    \"single\": [{\"SpecialToken\": {\"id\": %[1]s, \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id\": %[2]s, \"type_id\": 0}}],\n"+
		"    \"pair\": [{\"SpecialToken\": {\"id\": %[1]s, \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"SpecialToken\": {\"id\": %[2]s, \"type_id\": 0}}, {\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}, {\"SpecialToken\": {\"id\": %[2]s, \"type_id\": 1}}],\n"+
		"    \"special_tokens\": {%[1]s: {\"id\": %[1]s, \"ids\": [%[3]d], \"tokens\": [%[1]s]}, %[2]s: {\"id\": %[2]s, \"ids\": [%[4]d], \"tokens\": [%[2]s]}}},\n",
		cls, sep, w.cls, w.sep)
	fmt.Fprintf(&b, "  \"decoder\": {\"type\": \"WordPiece\", \"prefix\": %s, \"cleanup\": true},\n", tok(o.Prefix))
	fmt.Fprintf(&b, "  \"model\": {\n    \"type\": \"WordPiece\",\n    \"unk_token\": %s,\n    \"continuing_subword_prefix\": %s,\n    \"max_input_chars_per_word\": %d,\n    \"vocab\": ",
		tok(o.UnkToken), tok(o.Prefix), o.MaxInputCharsPerWord)
	writeVocabObject(&b, w.vocab, "    ")
	b.WriteString("\n  }\n}\n")
	return b.Bytes(), nil
}
