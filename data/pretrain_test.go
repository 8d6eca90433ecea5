package data_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/data"
	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/model/bert"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

const nSpecial = 5 // [PAD] [UNK] [CLS] [SEP] [MASK]

// wordVocab is a WordPiece vocabulary of the special tokens, the words t0 … t(n-1) (id
// nSpecial+k for tk) and the continuation piece "##x".
func wordVocab(t *testing.T, n int) *tokenizer.WordPiece {
	t.Helper()
	v := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	for k := range n {
		v = append(v, fmt.Sprintf("t%d", k))
	}
	v = append(v, "##x")
	w, err := tokenizer.NewWordPiece(v, tokenizer.WordPieceOptions{Lowercase: true})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// numberedDocs returns nDocs documents of nSent sentences of sentLen words each, word k of
// document d being t(d·nSent·sentLen + k), so a token's id says where it comes from.
func numberedDocs(nDocs, nSent, sentLen int) [][]string {
	docs := make([][]string, nDocs)
	for d := range docs {
		for s := range nSent {
			var words []string
			for k := range sentLen {
				words = append(words, fmt.Sprintf("t%d", (d*nSent+s)*sentLen+k))
			}
			docs[d] = append(docs[d], strings.Join(words, " "))
		}
	}
	return docs
}

func build(t *testing.T, docs [][]string, v data.PretrainVocab, mod func(*data.PretrainOptions)) *data.Pretraining {
	t.Helper()
	o := data.DefaultPretrainOptions()
	o.Seed = 7
	if mod != nil {
		mod(&o)
	}
	p, err := data.NewPretraining(context.Background(), docs, v, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPretrainInstances checks the layout of every instance and where its segments come from:
// an IsNext pair is a run of consecutive sentences of one document, split between A and B; a
// random pair takes B from another document.
func TestPretrainInstances(t *testing.T) {
	const nDocs, nSent, sentLen = 60, 8, 5
	v := wordVocab(t, nDocs*nSent*sentLen)
	for _, maxLen := range []int{128, 24} {
		t.Run(fmt.Sprint(maxLen), func(t *testing.T) {
			p := build(t, numberedDocs(nDocs, nSent, sentLen), v, func(o *data.PretrainOptions) { o.MaxSeqLength = maxLen })
			random := 0
			for n, in := range p.Instances {
				toks, la := in.Tokens, in.LenA
				lb := len(toks) - la - 3
				if len(toks) > maxLen || la < 1 || lb < 1 || toks[0] != v.ClsID() || toks[la+1] != v.SepID() || toks[len(toks)-1] != v.SepID() {
					t.Fatalf("instance %d: bad layout %v (LenA %d)", n, toks, la)
				}
				a, b := toks[1:la+1], toks[la+2:len(toks)-1]
				pos := func(id int) int { return id - nSpecial }
				doc := func(id int) int { return pos(id) / (nSent * sentLen) }
				for _, seg := range [][]int{a, b} {
					for i := 1; i < len(seg); i++ {
						if doc(seg[i]) != doc(seg[0]) || pos(seg[i]) != pos(seg[i-1])+1 {
							t.Fatalf("instance %d: segment %v is not a contiguous run of one document", n, seg)
						}
					}
				}
				if in.IsRandomNext {
					random++
					if doc(b[0]) == doc(a[0]) {
						t.Fatalf("instance %d: random next segment from the same document %d", n, doc(a[0]))
					}
				} else if doc(b[0]) != doc(a[0]) || pos(b[0]) <= pos(a[len(a)-1]) || (maxLen == 128 && pos(b[0]) != pos(a[len(a)-1])+1) {
					t.Fatalf("instance %d: next segment %v does not follow %v", n, b, a)
				}
			}
			// Each document (40 tokens) fits in 128 as one chunk: one instance per document,
			// and more where a random next segment put sentences back.
			if maxLen == 128 && (len(p.Instances) < nDocs || len(p.Instances) > nDocs+random) {
				t.Errorf("%d instances (%d random next) from %d short documents", len(p.Instances), random, nDocs)
			}
			t.Logf("%d instances, %d random next", len(p.Instances), random)
		})
	}
}

// TestPretrainNSPRatio: half the pairs take a random next segment (a little more, since a
// chunk of one sentence always does).
func TestPretrainNSPRatio(t *testing.T) {
	const nDocs, nSent, sentLen = 40, 150, 4
	v := wordVocab(t, nDocs*nSent*sentLen)
	p := build(t, numberedDocs(nDocs, nSent, sentLen), v, func(o *data.PretrainOptions) { o.MaxSeqLength = 20 })
	random := 0
	for _, in := range p.Instances {
		if in.IsRandomNext {
			random++
		}
	}
	ratio := float64(random) / float64(len(p.Instances))
	t.Logf("%d of %d instances (%.3f) have a random next segment", random, len(p.Instances), ratio)
	if n := len(p.Instances); n < 1000 || ratio < 0.47 || ratio > 0.54 {
		t.Errorf("%d of %d instances (%.3f) have a random next segment, want about half", random, n, ratio)
	}
}

// TestPretrainShortSequences: ShortSeqProb 1 makes every document aim at a random shorter
// length; 0 fills instances to the maximum.
func TestPretrainShortSequences(t *testing.T) {
	const nDocs, nSent, sentLen = 100, 20, 3
	v := wordVocab(t, nDocs*nSent*sentLen)
	mean := func(prob float64) float64 {
		p := build(t, numberedDocs(nDocs, nSent, sentLen), v, func(o *data.PretrainOptions) { o.MaxSeqLength = 40; o.ShortSeqProb = prob })
		sum := 0
		for _, in := range p.Instances {
			sum += len(in.Tokens)
		}
		return float64(sum) / float64(len(p.Instances))
	}
	long, short := mean(0), mean(1)
	if long < 30 || short > 0.75*long {
		t.Errorf("mean length %.1f with short-sequence probability 0, %.1f with 1: want above 30 (of 40), and clearly shorter", long, short)
	}
}

// TestPretrainMasking draws many batches and checks BERT's rates: round(15 %) of each
// instance's tokens chosen (never [CLS], [SEP] or padding), of which 80 % [MASK], 10 % random
// and 10 % unchanged, labels holding the original token and -100 elsewhere.
func TestPretrainMasking(t *testing.T) {
	const nDocs, nSent, sentLen = 40, 10, 6
	v := wordVocab(t, nDocs*nSent*sentLen)
	p := build(t, numberedDocs(nDocs, nSent, sentLen), v, func(o *data.PretrainOptions) { o.MaxSeqLength = 64; o.MaxPredictions = 0 })
	byTokens := map[string]*data.PretrainInstance{}
	for i := range p.Instances {
		byTokens[fmt.Sprint(p.Instances[i].Tokens)] = &p.Instances[i]
	}
	s := p.Sampler(3)
	var masked, random, same int
	const B = 8
	for range 400 {
		b := s.Next(B)
		if len(b.InputIDs) != b.B*b.T || len(b.MLMLabels) != b.B*b.T || len(b.NSPLabels) != B {
			t.Fatalf("batch sizes %d, %d, %d for (B, T) = (%d, %d)", len(b.InputIDs), len(b.MLMLabels), len(b.NSPLabels), b.B, b.T)
		}
		for r := range B {
			row := func(s []int) []int { return s[r*b.T : (r+1)*b.T] }
			ids, labels, mask, types := row(b.InputIDs), row(b.MLMLabels), row(b.AttentionMask), row(b.TokenTypeIDs)
			n := 0
			for n < b.T && mask[n] == 1 {
				n++
			}
			orig := make([]int, n)
			nChosen := 0
			for j := range b.T {
				if j >= n {
					if mask[j] != 0 || ids[j] != v.PadID() || labels[j] != tensor.IgnoreIndex || types[j] != 0 {
						t.Fatalf("padding position %d: id %d, mask %d, label %d, type %d", j, ids[j], mask[j], labels[j], types[j])
					}
					continue
				}
				orig[j] = ids[j]
				if labels[j] == tensor.IgnoreIndex {
					continue
				}
				orig[j] = labels[j]
				nChosen++
				if labels[j] == v.ClsID() || labels[j] == v.SepID() {
					t.Fatalf("special token %d chosen for prediction", labels[j])
				}
				switch ids[j] {
				case v.MaskID():
					masked++
				case labels[j]:
					same++
				default:
					random++
				}
			}
			in := byTokens[fmt.Sprint(orig)]
			if in == nil {
				t.Fatalf("row %d does not unmask to an instance: %v", r, orig)
			}
			if want := max(1, int(math.RoundToEven(0.15*float64(n)))); nChosen != want {
				t.Fatalf("%d of %d tokens chosen, want %d", nChosen, n, want)
			}
			for j := range n {
				if want := 0; j > in.LenA+1 {
					if types[j] != 1 {
						t.Fatalf("token type %d at %d after A (length %d)", types[j], j, in.LenA)
					}
				} else if types[j] != want {
					t.Fatalf("token type %d at %d in [CLS] A [SEP]", types[j], j)
				}
			}
			if nsp := b.NSPLabels[r]; nsp != map[bool]int{false: 0, true: 1}[in.IsRandomNext] {
				t.Fatalf("NSP label %d for IsRandomNext %v", nsp, in.IsRandomNext)
			}
		}
	}
	total := masked + random + same
	t.Logf("%d chosen tokens: %.4f [MASK], %.4f random, %.4f unchanged", total, float64(masked)/float64(total), float64(random)/float64(total), float64(same)/float64(total))
	// A random replacement hits the original token with chance 1/V.
	V := float64(v.VocabSize())
	for _, c := range []struct {
		name string
		n    int
		want float64
	}{{"[MASK]", masked, 0.8}, {"random", random, 0.1 * (1 - 1/V)}, {"unchanged", same, 0.1 + 0.1/V}} {
		got := float64(c.n) / float64(total)
		if sd := math.Sqrt(c.want * (1 - c.want) / float64(total)); math.Abs(got-c.want) > 5*sd {
			t.Errorf("%s: %.4f of %d chosen tokens, want %.4f ± %.4f", c.name, got, total, c.want, 5*sd)
		}
	}
}

// TestPretrainWholeWordMask: the pieces of a word ("t3", "##x") are chosen together or not at
// all.
func TestPretrainWholeWordMask(t *testing.T) {
	v := wordVocab(t, 200)
	var docs [][]string
	for d := range 30 {
		var doc []string
		for s := range 6 {
			doc = append(doc, fmt.Sprintf("t%d t%dx t%dxx t%d", d, s, d+s, s+100))
		}
		docs = append(docs, doc)
	}
	xid, _ := v.TokenID("##x")
	for _, wwm := range []bool{false, true} {
		p := build(t, docs, v, func(o *data.PretrainOptions) { o.MaxSeqLength = 32; o.WholeWordMask = wwm })
		s := p.Sampler(1)
		split := 0
		for range 300 {
			b := s.Next(4)
			for r := range b.B {
				for j := r*b.T + 1; j < (r+1)*b.T; j++ {
					orig := func(j int) int {
						if b.MLMLabels[j] == tensor.IgnoreIndex {
							return b.InputIDs[j]
						}
						return b.MLMLabels[j]
					}
					// A piece right after [CLS] or [SEP] (its word cut by truncation) stands alone.
					if orig(j) != xid || orig(j-1) == v.ClsID() || orig(j-1) == v.SepID() {
						continue
					}
					if (b.MLMLabels[j] == tensor.IgnoreIndex) != (b.MLMLabels[j-1] == tensor.IgnoreIndex) {
						split++
					}
				}
			}
		}
		if wwm && split != 0 {
			t.Errorf("whole-word masking chose %d continuation pieces apart from the piece before", split)
		}
		if !wwm && split == 0 {
			t.Errorf("word-piece masking never chose a continuation piece apart from its word; the test cannot tell the modes apart")
		}
	}
}

// TestPretrainDeterministic: the same seeds give the same instances and batches; a new epoch
// gives new masks; Seek resumes exactly.
func TestPretrainDeterministic(t *testing.T) {
	const nDocs, nSent, sentLen = 20, 6, 5
	v := wordVocab(t, nDocs*nSent*sentLen)
	docs := numberedDocs(nDocs, nSent, sentLen)
	mod := func(o *data.PretrainOptions) { o.MaxSeqLength = 24 }
	p1, p2 := build(t, docs, v, mod), build(t, docs, v, mod)
	if !reflect.DeepEqual(p1.Instances, p2.Instances) {
		t.Fatal("two builds with one seed differ")
	}
	p3 := build(t, docs, v, func(o *data.PretrainOptions) { mod(o); o.Seed = 8 })
	if reflect.DeepEqual(p1.Instances, p3.Instances) {
		t.Error("two seeds give the same instances")
	}
	n := len(p1.Instances)
	draw := func(s *data.PretrainSampler, k int) []data.PretrainBatch {
		var out []data.PretrainBatch
		for range k {
			b := *s.Next(3)
			b.InputIDs = append([]int(nil), b.InputIDs...)
			b.MLMLabels = append([]int(nil), b.MLMLabels...)
			b.NSPLabels = append([]int(nil), b.NSPLabels...)
			b.TokenTypeIDs, b.AttentionMask = nil, nil
			out = append(out, b)
		}
		return out
	}
	a, b := draw(p1.Sampler(5), 2*n), draw(p2.Sampler(5), 2*n)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two samplers with one seed draw different batches")
	}
	s := p1.Sampler(5)
	draw(s, 7)
	ep, pos := s.Position()
	rest := draw(s, 5)
	r := p1.Sampler(5)
	r.Seek(ep, pos)
	if !reflect.DeepEqual(draw(r, 5), rest) {
		t.Error("a sampler placed with Seek draws other batches than the one it resumes")
	}
	// Epochs 0 and 1 mask instance 0 differently (with 20+ tokens, the chance of equal masks
	// is negligible).
	masks := func(epoch int) string {
		s := p1.Sampler(5)
		s.Seek(epoch, 0)
		var all []string
		for range n {
			bt := s.Next(1)
			all = append(all, fmt.Sprint(bt.InputIDs))
		}
		return strings.Join(all, "|")
	}
	if masks(0) == masks(1) {
		t.Error("two epochs draw the same masks")
	}
}

// TestPretrainBatchFeedsBERT runs a batch through a small BERT and its pretraining loss.
func TestPretrainBatchFeedsBERT(t *testing.T) {
	const nDocs, nSent, sentLen = 10, 6, 4
	v := wordVocab(t, nDocs*nSent*sentLen)
	p := build(t, numberedDocs(nDocs, nSent, sentLen), v, func(o *data.PretrainOptions) { o.MaxSeqLength = 16 })
	cfg := bert.Config{VocabSize: v.VocabSize(), HiddenSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 32,
		MaxPositionEmbeddings: 16, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	m, err := bert.New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	pb := p.Sampler(1).Next(4)
	b := &bert.Batch{B: pb.B, T: pb.T, InputIDs: pb.InputIDs, TokenTypeIDs: pb.TokenTypeIDs, AttentionMask: pb.AttentionMask}
	if err := m.Check(b); err != nil {
		t.Fatal(err)
	}
	g := autograd.NewGraph()
	out := m.Encode(g, b, nil, nil)
	_, _, loss := m.PretrainingLoss(g, m.MLMLogits(g, out.Hidden), m.NSPLogits(g, out.Pooled), pb.MLMLabels, pb.NSPLabels)
	if l := loss.Value.Item(); math.IsNaN(float64(l)) || l <= 0 {
		t.Errorf("pretraining loss %v", l)
	}
	// The gathered path (the MLM decoder on the labelled positions only) reads the same labels.
	var pos bert.MaskedPositions
	pos.Set(pb.MLMLabels)
	_, _, gathered := m.Pretrain(autograd.NewGraph(), b, &pos, pb.NSPLabels, nil)
	if d := math.Abs(float64(gathered.Value.Item() - loss.Value.Item())); d > 1e-5 {
		t.Errorf("loss %v over the labelled positions, %v over all", gathered.Value.Item(), loss.Value.Item())
	}
}

func TestPretrainBadOptions(t *testing.T) {
	v := wordVocab(t, 100)
	docs := numberedDocs(2, 3, 3)
	noMask, err := tokenizer.NewWordPiece([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "t0"}, tokenizer.WordPieceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		docs  [][]string
		vocab data.PretrainVocab
		mod   func(*data.PretrainOptions)
		want  string
	}{
		{"short max length", docs, v, func(o *data.PretrainOptions) { o.MaxSeqLength = 4 }, "max sequence length 4"},
		{"NaN short prob", docs, v, func(o *data.PretrainOptions) { o.ShortSeqProb = math.NaN() }, "short-sequence probability NaN"},
		{"short prob > 1", docs, v, func(o *data.PretrainOptions) { o.ShortSeqProb = 1.5 }, "short-sequence probability 1.5"},
		{"zero mask prob", docs, v, func(o *data.PretrainOptions) { o.MaskProb = 0 }, "mask probability 0"},
		{"Inf mask prob", docs, v, func(o *data.PretrainOptions) { o.MaskProb = math.Inf(1) }, "mask probability +Inf"},
		{"negative predictions", docs, v, func(o *data.PretrainOptions) { o.MaxPredictions = -1 }, "max predictions -1"},
		{"one document", docs[:1], v, nil, "at least two"},
		{"blank documents", [][]string{{"  "}, {""}}, v, nil, "0 non-empty"},
		{"no [MASK]", docs, noMask, nil, "[MASK]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := data.DefaultPretrainOptions()
			if c.mod != nil {
				c.mod(&o)
			}
			_, err := data.NewPretraining(context.Background(), c.docs, c.vocab, o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := data.NewPretraining(ctx, docs, v, data.DefaultPretrainOptions()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

func TestLoadDocuments(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := write("one.txt", "\uFEFFFirst doc, line one.\r\nLine two.\r\n \t\r\n\r\nSecond doc.\n\n\n  Third doc.  \n")
	docs, err := data.LoadDocuments(file, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"First doc, line one.", "Line two."}, {"Second doc."}, {"Third doc."}}
	if !reflect.DeepEqual(docs, want) {
		t.Errorf("file: %q, want %q", docs, want)
	}

	folder := filepath.Join(dir, "folder")
	write("folder/b.txt", "B one\n\nB two\n")
	write("folder/a/a.txt", "A one\r\nA two")
	write("folder/.hidden.txt", "hidden\n")
	write("folder/c.txt", "")
	docs, err = data.LoadDocuments(folder, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want = [][]string{{"A one", "A two"}, {"B one", "B two"}}
	if !reflect.DeepEqual(docs, want) {
		t.Errorf("folder: %q, want %q", docs, want)
	}

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		limit      int64
		want       string
	}{
		{"empty", write("empty.txt", "\n \n\r\n"), 1 << 20, "empty"},
		{"not UTF-8", write("latin1.txt", "ok\nline two \xe9t\xe9\n"), 1 << 20, "latin1.txt:2: not UTF-8"},
		{"over the limit", write("big.txt", strings.Repeat("x\n", 100)), 50, "larger than the limit of 50 bytes"},
		{"folder over the limit", folder, 12, "larger than the limit of 12 bytes"},
		{"missing", filepath.Join(dir, "nope"), 1 << 20, "no such file"},
		{"FIFO", fifo, 1 << 20, "not a regular file"},
		{"device", "/dev/zero", 1 << 20, "not a regular file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := data.LoadDocuments(c.path, c.limit)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestPretrainSharedData builds pretraining data from tinyshakespeare (its speeches, separated
// by blank lines, as documents) with bert-base-uncased's vocabulary and whole-word masking.
func TestPretrainSharedData(t *testing.T) {
	text := filepath.Join(testenv.RequireDataSubdir(t, "tinyshakespeare"), "input.txt")
	vocab := testenv.RequireDataSubdir(t, "bert-base-uncased-vocab")
	docs, err := data.LoadDocuments(text, data.MaxCorpusBytes)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(text)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(strings.Split(strings.TrimSpace(string(raw)), "\n\n")); len(docs) != want {
		t.Errorf("%d documents, want the %d blank-line separated blocks", len(docs), want)
	}
	v, err := tokenizer.LoadWordPiece(vocab, true)
	if err != nil {
		t.Fatal(err)
	}
	p := build(t, docs, v, func(o *data.PretrainOptions) { o.WholeWordMask = true })
	random, tokens := 0, 0
	for _, in := range p.Instances {
		tokens += len(in.Tokens)
		if in.IsRandomNext {
			random++
		}
		if len(in.Tokens) > 128 {
			t.Fatalf("instance of %d tokens", len(in.Tokens))
		}
	}
	ratio := float64(random) / float64(len(p.Instances))
	t.Logf("%d documents, %d instances, mean length %.1f, %.3f random next", len(docs), len(p.Instances), float64(tokens)/float64(len(p.Instances)), ratio)
	// Speeches are short, so many chunks hold a single line and always take a random next
	// segment: the ratio is above one half, as the original script's would be.
	if ratio < 0.5 || ratio > 0.8 {
		t.Errorf("random-next ratio %.3f", ratio)
	}
	b := p.Sampler(1).Next(16)
	total := 0
	for r := range b.B {
		n, chosen := 0, 0
		for j := r * b.T; j < (r+1)*b.T; j++ {
			n += b.AttentionMask[j]
			if b.MLMLabels[j] != tensor.IgnoreIndex {
				chosen++
			}
		}
		// Whole words may fall short of the count, never over it.
		if want := min(20, max(1, int(math.RoundToEven(0.15*float64(n))))); chosen > want {
			t.Errorf("row %d: %d of %d tokens chosen, want at most %d", r, chosen, n, want)
		}
		total += chosen
	}
	if total == 0 {
		t.Error("nothing chosen for prediction")
	}
}
