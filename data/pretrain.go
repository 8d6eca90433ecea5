package data

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/tensor"
)

// BERT pretraining data, after Devlin et al. (2019) and their create_pretraining_data.py:
// documents are lists of sentences; each instance is a pair of segments, "[CLS] A [SEP] B [SEP]",
// where B is the text that follows A in the same document half of the time (IsNext) and a run
// of sentences from another document otherwise (NSP). The masked-language-model targets are
// drawn when a batch is drawn (dynamic masking, as RoBERTa does), so every epoch sees new masks.
//
// Notation: B is the batch size, T the padded sequence length of a batch.

// PretrainVocab is what pretraining data needs of a WordPiece tokenizer; *tokenizer.WordPiece
// satisfies it.
type PretrainVocab interface {
	Encode(text string) []int     // word pieces, no special tokens
	Token(id int) (string, error) // the piece of an id ("##ing")
	VocabSize() int
	ClsID() int
	SepID() int
	PadID() int // -1 when the vocabulary has no [PAD]
	MaskID() int
}

// PretrainOptions configures NewPretraining. Start from DefaultPretrainOptions: every field is
// checked, and a zero probability means zero.
type PretrainOptions struct {
	// MaxSeqLength bounds an instance, [CLS] and both [SEP] included (at least 5).
	MaxSeqLength int
	// ShortSeqProb is the chance that a document's instances aim at a random shorter length
	// (2 .. MaxSeqLength-3 tokens), so the model also sees short inputs.
	ShortSeqProb float64
	// MaskProb is the share of an instance's tokens that become MLM targets.
	MaskProb float64
	// MaxPredictions caps the MLM targets of one instance; 0 means no cap.
	MaxPredictions int
	// WholeWordMask masks the continuation pieces of a word ("##ing") with its first piece.
	WholeWordMask bool
	// Prefix marks a continuation piece; empty means "##".
	Prefix string
	// Seed drives the choice of segments, random next documents, short lengths and truncation.
	Seed uint64
}

// DefaultPretrainOptions are BERT's: 128 tokens, 10 % short sequences, 15 % masked with at most
// 20 predictions, word-piece (not whole-word) masking.
func DefaultPretrainOptions() PretrainOptions {
	return PretrainOptions{MaxSeqLength: 128, ShortSeqProb: 0.1, MaskProb: 0.15, MaxPredictions: 20, Prefix: "##"}
}

func (o *PretrainOptions) check() error {
	if o.MaxSeqLength < 5 || o.MaxSeqLength > 1<<20 {
		return fmt.Errorf("pretraining data: max sequence length %d: want 5..%d ([CLS], [SEP], [SEP] and at least one token of each segment)", o.MaxSeqLength, 1<<20)
	}
	if !(o.ShortSeqProb >= 0 && o.ShortSeqProb <= 1) {
		return fmt.Errorf("pretraining data: short-sequence probability %v: want a number in [0, 1] (BERT uses 0.1)", o.ShortSeqProb)
	}
	if !(o.MaskProb > 0 && o.MaskProb <= 1) {
		return fmt.Errorf("pretraining data: mask probability %v: want a number in (0, 1] (BERT uses 0.15)", o.MaskProb)
	}
	if o.MaxPredictions < 0 {
		return fmt.Errorf("pretraining data: max predictions %d is negative (0 means no cap)", o.MaxPredictions)
	}
	if o.Prefix == "" {
		o.Prefix = "##"
	}
	return nil
}

// PretrainInstance is one sentence pair, unmasked.
type PretrainInstance struct {
	Tokens       []int // [CLS] A [SEP] B [SEP]
	LenA         int   // tokens of segment A: positions 0..LenA+1 have token type 0, the rest 1
	IsRandomNext bool  // B comes from another document (NSP label 1)
}

// Pretraining holds the instances built from a corpus and what masking needs of the vocabulary.
type Pretraining struct {
	Instances []PretrainInstance
	opts      PretrainOptions

	cls, sep, pad, mask, vocabSize int
	cont                           []bool // cont[id]: the piece continues a word
}

// NewPretraining tokenizes docs (each a list of sentences) and cuts them into sentence-pair
// instances as create_pretraining_data.py does. Sentences that tokenize to nothing and
// documents left empty are dropped; at least two documents must remain, as a random next
// segment comes from another document.
func NewPretraining(ctx context.Context, docs [][]string, vocab PretrainVocab, opts PretrainOptions) (*Pretraining, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	p := &Pretraining{opts: opts, cls: vocab.ClsID(), sep: vocab.SepID(), pad: vocab.PadID(), mask: vocab.MaskID(), vocabSize: vocab.VocabSize()}
	if p.pad < 0 || p.mask < 0 {
		return nil, fmt.Errorf("pretraining data: the vocabulary needs [PAD] and [MASK] tokens")
	}
	p.cont = make([]bool, p.vocabSize)
	for id := range p.cont {
		tok, err := vocab.Token(id)
		if err != nil {
			return nil, fmt.Errorf("pretraining data: %w", err)
		}
		p.cont[id] = len(tok) > len(opts.Prefix) && strings.HasPrefix(tok, opts.Prefix)
	}
	var all [][][]int // documents of sentences of token ids
	for i, doc := range docs {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("pretraining data: tokenizing stopped at document %d: %w", i, err)
			}
		}
		var sents [][]int
		for _, s := range doc {
			if ids := vocab.Encode(s); len(ids) > 0 {
				sents = append(sents, ids)
			}
		}
		if len(sents) > 0 {
			all = append(all, sents)
		}
	}
	if len(all) < 2 {
		return nil, fmt.Errorf("pretraining data: %d non-empty document(s); next-sentence prediction needs at least two (separate documents by a blank line, or give a folder of files)", len(all))
	}
	rng := tensor.NewRNG(opts.Seed)
	for d := range all {
		p.Instances = p.appendInstances(p.Instances, all, d, rng)
	}
	for i := len(p.Instances) - 1; i > 0; i-- { // shuffle, as the original does
		j := rng.IntN(i + 1)
		p.Instances[i], p.Instances[j] = p.Instances[j], p.Instances[i]
	}
	return p, nil
}

// appendInstances is create_instances_from_document: it gathers sentences of document d into a
// chunk until the chunk reaches the target length, splits the chunk at a random sentence into A
// and B, and with probability 1/2 (always, for a chunk of one sentence) replaces B by sentences
// of a random other document, putting the unused sentences back.
func (p *Pretraining) appendInstances(out []PretrainInstance, docs [][][]int, d int, rng *tensor.RNG) []PretrainInstance {
	doc := docs[d]
	maxTokens := p.opts.MaxSeqLength - 3
	target := maxTokens
	if rng.Float64() < p.opts.ShortSeqProb {
		target = 2 + rng.IntN(maxTokens-1) // randint(2, maxTokens)
	}
	var chunk [][]int
	length := 0
	for i := 0; i < len(doc); i++ {
		chunk = append(chunk, doc[i])
		length += len(doc[i])
		if i != len(doc)-1 && length < target {
			continue
		}
		aEnd := 1
		if len(chunk) >= 2 {
			aEnd = 1 + rng.IntN(len(chunk)-1) // randint(1, len(chunk)-1)
		}
		var a, b []int
		for _, s := range chunk[:aEnd] {
			a = append(a, s...)
		}
		random := len(chunk) == 1 || rng.Float64() < 0.5
		if random {
			targetB := target - len(a)
			r := rng.IntN(len(docs) - 1) // another document, uniformly
			if r >= d {
				r++
			}
			other := docs[r]
			for _, s := range other[rng.IntN(len(other)):] {
				b = append(b, s...)
				if len(b) >= targetB {
					break
				}
			}
			i -= len(chunk) - aEnd // the unused sentences start the next chunk
		} else {
			for _, s := range chunk[aEnd:] {
				b = append(b, s...)
			}
		}
		a, b = truncatePair(a, b, maxTokens, rng)
		toks := make([]int, 0, len(a)+len(b)+3)
		toks = append(toks, p.cls)
		toks = append(toks, a...)
		toks = append(toks, p.sep)
		toks = append(toks, b...)
		toks = append(toks, p.sep)
		out = append(out, PretrainInstance{Tokens: toks, LenA: len(a), IsRandomNext: random})
		chunk, length = chunk[:0], 0
	}
	return out
}

// truncatePair shortens the longer of a and b by one token at a time, from the front or the back
// with equal chance, until both fit in maxTokens (truncate_seq_pair). Each keeps at least one
// token as long as maxTokens ≥ 2.
func truncatePair(a, b []int, maxTokens int, rng *tensor.RNG) ([]int, []int) {
	for len(a)+len(b) > maxTokens {
		t := &b
		if len(a) > len(b) {
			t = &a
		}
		if rng.Float64() < 0.5 {
			*t = (*t)[1:]
		} else {
			*t = (*t)[:len(*t)-1]
		}
	}
	return a, b
}

// PretrainBatch is a padded batch of masked instances. InputIDs, TokenTypeIDs and AttentionMask
// are the fields of bert.Batch (data sits below the model families, so it does not import
// them); MLMLabels and NSPLabels are the targets of bert.Model.PretrainingLoss.
type PretrainBatch struct {
	B, T          int
	InputIDs      []int // (B, T) masked tokens, then [PAD]
	TokenTypeIDs  []int // (B, T) 0 for [CLS] A [SEP] and padding, 1 for B [SEP]
	AttentionMask []int // (B, T) 1 for real tokens, 0 for padding
	MLMLabels     []int // (B, T) the original token where one was chosen, tensor.IgnoreIndex elsewhere
	NSPLabels     []int // (B) 0: B follows A; 1: B is random (Hugging Face's convention)
}

// PretrainSampler draws batches from a Pretraining: each epoch visits every instance once in a
// fresh order, and masks each instance anew. The order of epoch e and the masks of instance i in
// epoch e depend only on the seed, e and i, so the same seed gives the same batches and a
// sampler placed at (epoch, position) with Seek resumes exactly.
type PretrainSampler struct {
	p          *Pretraining
	seed       uint64
	epoch, pos int
	order      []int
	batch      PretrainBatch
	drawn      [][2]int // (instance, epoch) of each row of the batch, reused
	groups     [][2]int // candidate spans of the masking, reused
}

// Sampler returns a sampler at the start of epoch 0.
func (p *Pretraining) Sampler(seed uint64) *PretrainSampler {
	s := &PretrainSampler{p: p, seed: seed}
	s.Seek(0, 0)
	return s
}

// Seek places the sampler at instance pos of epoch's order.
func (s *PretrainSampler) Seek(epoch, pos int) {
	s.epoch, s.pos = epoch, pos
	n := len(s.p.Instances)
	if cap(s.order) < n {
		s.order = make([]int, n)
	}
	s.order = s.order[:n]
	for i := range s.order {
		s.order[i] = i
	}
	rng := tensor.NewRNG(mix(s.seed, uint64(epoch), math.MaxUint64))
	for i := n - 1; i > 0; i-- {
		j := rng.IntN(i + 1)
		s.order[i], s.order[j] = s.order[j], s.order[i]
	}
}

// Position returns the epoch and the index within its order of the next instance.
func (s *PretrainSampler) Position() (epoch, pos int) { return s.epoch, s.pos }

// Next masks the next b instances (crossing into the next epoch when needed) and returns them
// padded to the longest. The batch's slices are reused by the following call.
func (s *PretrainSampler) Next(b int) *PretrainBatch {
	if b <= 0 {
		panic(fmt.Sprintf("data: batch size %d", b))
	}
	p := s.p
	s.drawn = s.drawn[:0]
	t := 0
	for range b {
		if s.pos == len(s.order) {
			s.Seek(s.epoch+1, 0)
		}
		i := s.order[s.pos]
		s.pos++
		s.drawn = append(s.drawn, [2]int{i, s.epoch})
		t = max(t, len(p.Instances[i].Tokens))
	}
	bt := &s.batch
	bt.B, bt.T = b, t
	bt.InputIDs = resize(bt.InputIDs, b*t)
	bt.TokenTypeIDs = resize(bt.TokenTypeIDs, b*t)
	bt.AttentionMask = resize(bt.AttentionMask, b*t)
	bt.MLMLabels = resize(bt.MLMLabels, b*t)
	bt.NSPLabels = resize(bt.NSPLabels, b)
	for r, d := range s.drawn {
		i, epoch := d[0], d[1]
		inst := &p.Instances[i]
		row := r * t
		ids, labels := bt.InputIDs[row:row+t], bt.MLMLabels[row:row+t]
		n := len(inst.Tokens)
		copy(ids, inst.Tokens)
		for j := range t {
			labels[j] = tensor.IgnoreIndex
			switch {
			case j >= n:
				ids[j], bt.TokenTypeIDs[row+j], bt.AttentionMask[row+j] = p.pad, 0, 0
			case j <= inst.LenA+1:
				bt.TokenTypeIDs[row+j], bt.AttentionMask[row+j] = 0, 1
			default:
				bt.TokenTypeIDs[row+j], bt.AttentionMask[row+j] = 1, 1
			}
		}
		rng := tensor.NewRNG(mix(s.seed, uint64(epoch), uint64(i)))
		s.groups = p.maskInto(ids[:n], labels[:n], rng, s.groups)
		bt.NSPLabels[r] = 0
		if inst.IsRandomNext {
			bt.NSPLabels[r] = 1
		}
	}
	return bt
}

// maskInto chooses the MLM targets of one instance (ids holds its tokens and is masked in
// place; labels receives the targets), as create_masked_lm_predictions does: candidates are the
// tokens other than [CLS] and [SEP] (whole words with WholeWordMask), taken in random order
// until round(len·MaskProb) tokens (at least 1, at most MaxPredictions) are chosen, skipping a
// word that would overshoot; a chosen token becomes [MASK] with probability 0.8, a uniformly
// random token with 0.1 and stays itself with 0.1.
func (p *Pretraining) maskInto(ids, labels []int, rng *tensor.RNG, groups [][2]int) [][2]int {
	groups = groups[:0]
	for i, id := range ids {
		if id == p.cls || id == p.sep {
			continue
		}
		if n := len(groups); p.opts.WholeWordMask && n > 0 && groups[n-1][1] == i && p.cont[id] {
			groups[n-1][1] = i + 1
			continue
		}
		groups = append(groups, [2]int{i, i + 1})
	}
	for i := len(groups) - 1; i > 0; i-- {
		j := rng.IntN(i + 1)
		groups[i], groups[j] = groups[j], groups[i]
	}
	want := max(1, int(math.RoundToEven(float64(len(ids))*p.opts.MaskProb)))
	if p.opts.MaxPredictions > 0 {
		want = min(want, p.opts.MaxPredictions)
	}
	chosen := 0
	for _, g := range groups {
		if chosen >= want {
			break
		}
		if chosen+g[1]-g[0] > want {
			continue
		}
		for i := g[0]; i < g[1]; i++ {
			labels[i] = ids[i]
			if rng.Float64() < 0.8 {
				ids[i] = p.mask
			} else if rng.Float64() < 0.5 {
				ids[i] = rng.IntN(p.vocabSize)
			}
			chosen++
		}
	}
	return groups
}

// mix derives a seed from a seed and two indices (SplitMix64's finaliser over their sum).
func mix(seed, a, b uint64) uint64 {
	z := seed + 0x9e3779b97f4a7c15*(a+1) + 0xbf58476d1ce4e5b9*(b+1)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func resize(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}

// LoadDocuments reads a pretraining corpus: a text file whose documents are separated by blank
// lines, or a folder whose text files (recursively, in lexical order, hidden entries skipped)
// are one document each. Each non-blank line is a sentence (BERT's input format); a byte order
// mark and CRLF line ends are accepted. It refuses what is not a regular file, text that is not
// UTF-8 (naming the file and line), more than maxBytes in all, and a corpus with no text.
func LoadDocuments(path string, maxBytes int64) ([][]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("pretraining corpus: %w", err)
	}
	var docs [][]string
	total := int64(0)
	read := func(file string, oneDoc bool) error {
		text, err := readDocumentFile(file, maxBytes-total)
		if errors.Is(err, errTooLarge) {
			return fmt.Errorf("pretraining corpus: %s is larger than the limit of %d bytes; give a smaller corpus or raise the limit", path, maxBytes)
		}
		if err != nil {
			return err
		}
		total += int64(len(text))
		docs = appendDocuments(docs, text, oneDoc)
		return nil
	}
	if !st.IsDir() {
		if err := read(path, false); err != nil {
			return nil, err
		}
	} else {
		err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("pretraining corpus: %w", err)
			}
			if p != path && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			return read(p, true)
		})
		if err != nil {
			return nil, err
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("pretraining corpus: %s: %w", path, ErrEmptyCorpus)
	}
	return docs, nil
}

// appendDocuments splits text into sentences (its non-blank lines, trimmed) and appends them
// as one document, or with oneDoc false as documents separated by blank lines.
func appendDocuments(docs [][]string, text string, oneDoc bool) [][]string {
	var cur []string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" {
			if !oneDoc && len(cur) > 0 {
				docs, cur = append(docs, cur), nil
			}
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		docs = append(docs, cur)
	}
	return docs
}

var errTooLarge = errors.New("too large")

// readDocumentFile reads one regular file of at most limit bytes as UTF-8 text without a byte
// order mark.
func readDocumentFile(path string, limit int64) (string, error) {
	f, err := fileutil.Open(path) // refuses a FIFO, a device without blocking
	if errors.Is(err, fileutil.ErrNotRegular) {
		return "", fmt.Errorf("pretraining corpus: %w; give a text file or a folder of them", err)
	}
	if err != nil {
		return "", fmt.Errorf("pretraining corpus: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max(limit, 0)+1))
	if err != nil {
		return "", fmt.Errorf("pretraining corpus: %w", err)
	}
	if int64(len(data)) > limit {
		return "", errTooLarge
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if !utf8.Valid(data) {
		bad := 0
		for len(data[bad:]) > 0 {
			r, size := utf8.DecodeRune(data[bad:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			bad += size
		}
		line := 1 + bytes.Count(data[:bad], []byte("\n"))
		return "", fmt.Errorf("pretraining corpus: %s:%d: not UTF-8 text (byte 0x%02x at offset %d)", path, line, data[bad], bad)
	}
	return string(data), nil
}
