package data

import (
	"bytes"
	"compress/gzip"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/tensor"
)

// writeFile writes content to dir/name, gzipped when the name ends in .gz.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	b := []byte(content)
	if strings.HasSuffix(name, ".gz") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		b = buf.Bytes()
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadLines(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"plain.txt", "a b\nc\n", []string{"a b", "c"}},
		{"plain.gz", "a b\nc\n", []string{"a b", "c"}},
		{"no-final-newline.txt", "a\nb", []string{"a", "b"}},
		{"crlf.txt", "a\r\nb\r\n", []string{"a\r", "b\r"}},
		{"lone-cr.txt", "a\rb\n", []string{"a\rb"}},
		{"blank-lines.txt", "\n\nx\n\n", []string{"", "", "x", ""}},
		{"empty.txt", "", nil},
		{"empty.gz", "", nil},
		{"utf8.txt", "Größe\n我爱\n", []string{"Größe", "我爱"}},
	} {
		got, err := ReadLines(writeFile(t, dir, tc.name, tc.content), 1<<20)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestReadLinesRefuses(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(make([]byte, 4<<20))
	zw.Close()
	bombPath := filepath.Join(dir, "bomb.gz")
	os.WriteFile(bombPath, bomb.Bytes(), 0o644)
	fakeGz := filepath.Join(dir, "fake.gz")
	os.WriteFile(fakeGz, []byte("plain text"), 0o644)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.txt"), "no such file"},
		{"folder", dir, "not a regular file"},
		{"fifo", fifo, "not a regular file"},
		{"device", "/dev/zero", "not a regular file"},
		{"not gzip", fakeGz, "not gzip"},
		{"invalid UTF-8", writeFile(t, dir, "latin1.txt", "ok\nGr\xf6\xdfe\n"), "latin1.txt:2: not valid UTF-8"},
		{"too large", writeFile(t, dir, "big.txt", strings.Repeat("x", 2<<20)), "more than 1048576 bytes"},
		{"gzip bomb", bombPath, "more than 1048576 bytes"},
	} {
		_, err := ReadLines(tc.path, 1<<20)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadParallel(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "train.en.gz", "A dog runs.\r\n\nTwo men.\n  \nA cat.\n")
	tgt := writeFile(t, dir, "train.de", "Ein Hund rennt.\r\nEtwas.\nZwei Männer.\nNichts.\n\t\n")
	c, err := LoadParallel(src, tgt, MaxParallelBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Src, []string{"A dog runs.", "Two men."}) || !slices.Equal(c.Tgt, []string{"Ein Hund rennt.", "Zwei Männer."}) ||
		!slices.Equal(c.Line, []int{1, 3}) || c.Empty != 3 || c.Len() != 2 {
		t.Fatalf("corpus %+v; want 2 pairs from lines 1 and 3, 3 empty pairs dropped", c)
	}

	short := writeFile(t, dir, "short.de", "Ein Hund.\n")
	_, err = LoadParallel(src, short, MaxParallelBytes)
	if !errors.Is(err, ErrLineCount) || !strings.Contains(err.Error(), src+" has 5 lines but "+short+" has 1") {
		t.Fatalf("mismatched line counts: %v; want ErrLineCount naming both files and counts", err)
	}
	blank := writeFile(t, dir, "blank.en", "\n \n")
	blank2 := writeFile(t, dir, "blank.de", "x\n\n")
	if _, err := LoadParallel(blank, blank2, MaxParallelBytes); err == nil || !strings.Contains(err.Error(), "no pair of non-empty lines") {
		t.Fatalf("all pairs empty: %v", err)
	}
	empty := writeFile(t, dir, "empty.en", "")
	if _, err := LoadParallel(empty, empty, MaxParallelBytes); err == nil {
		t.Fatal("two empty files make a corpus")
	}
	if _, err := LoadParallel(src, filepath.Join(dir, "missing.de"), MaxParallelBytes); err == nil || !strings.Contains(err.Error(), "missing.de") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestLengthFilter(t *testing.T) {
	for _, f := range []LengthFilter{{MinTokens: -1}, {MaxTokens: -1}, {MinTokens: 5, MaxTokens: 4}, {MaxRatio: 0.5}, {MaxRatio: math.NaN()}, {MaxRatio: -1}} {
		if f.Validate() == nil {
			t.Errorf("%+v passes Validate", f)
		}
	}
	f := LengthFilter{MinTokens: 1, MaxTokens: 10, MaxRatio: 2}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ns, nt int
		keep   bool
	}{
		{1, 1, true}, {0, 1, false}, {10, 10, true}, {11, 10, false}, {10, 11, false},
		{4, 8, true}, {4, 9, false}, {9, 4, false}, {5, 10, true},
	} {
		if got := f.Keep(tc.ns, tc.nt); got != tc.keep {
			t.Errorf("Keep(%d, %d) = %v, want %v", tc.ns, tc.nt, got, tc.keep)
		}
	}
	if !(LengthFilter{}).Keep(0, 1000) {
		t.Error("the zero filter drops a pair")
	}
}

// words turns a sentence into one id per whitespace-separated word (its length is all the
// batching needs).
func words(s string) []int { return make([]int, len(strings.Fields(s))) }

func TestEncode(t *testing.T) {
	c := &ParallelCorpus{Src: []string{"a b", "a b c d e", "a"}, Tgt: []string{"x y", "x", "x y z"}, Line: []int{1, 2, 4}}
	pairs, dropped, err := c.Encode(words, words, LengthFilter{MaxRatio: 2.5})
	if err != nil || dropped != 2 || len(pairs) != 1 || pairs[0].Line != 1 || len(pairs[0].Src) != 2 {
		t.Fatalf("pairs %+v, dropped %d, %v; want the pair of line 1 only", pairs, dropped, err)
	}
	if _, _, err := c.Encode(words, words, LengthFilter{MinTokens: 9}); err == nil || !strings.Contains(err.Error(), "drops all 3 pairs") {
		t.Fatalf("a filter dropping everything: %v", err)
	}
	if _, _, err := c.Encode(words, words, LengthFilter{MaxRatio: math.NaN()}); err == nil {
		t.Fatal("a NaN ratio passes")
	}
}

// randomPairs makes n pairs of seeded random lengths in [1, maxLen].
func randomPairs(n, maxLen int, seed uint64) []Pair {
	rng := tensor.NewRNG(seed)
	pairs := make([]Pair, n)
	for i := range pairs {
		pairs[i] = Pair{Src: make([]int, 1+rng.IntN(maxLen)), Tgt: make([]int, 1+rng.IntN(maxLen)), Line: i + 1}
	}
	return pairs
}

// checkBatches checks that batches partition pairs, that no batch costs more than maxTokens
// padded tokens, and returns the share of real (unpadded) tokens on the longer side.
func checkBatches(t *testing.T, pairs []Pair, batches [][]int, maxTokens int) float64 {
	t.Helper()
	seen := make([]bool, len(pairs))
	real, padded := 0, 0
	for _, b := range batches {
		if len(b) == 0 {
			t.Fatal("empty batch")
		}
		longest := 0
		for _, i := range b {
			if seen[i] {
				t.Fatalf("pair %d in two batches", i)
			}
			seen[i] = true
			l := max(len(pairs[i].Src), len(pairs[i].Tgt))
			longest = max(longest, l)
			real += l
		}
		if cost := len(b) * longest; cost > maxTokens {
			t.Fatalf("batch of %d pairs up to %d tokens costs %d > %d", len(b), longest, cost, maxTokens)
		}
		padded += len(b) * longest
	}
	for i, s := range seen {
		if !s {
			t.Fatalf("pair %d in no batch", i)
		}
	}
	return float64(real) / float64(padded)
}

func TestTokenBatches(t *testing.T) {
	pairs := randomPairs(2000, 60, 1)
	const maxTokens = 500
	a, err := TokenBatches(pairs, maxTokens, 7)
	if err != nil {
		t.Fatal(err)
	}
	if eff := checkBatches(t, pairs, a, maxTokens); eff < 0.95 {
		t.Errorf("only %.1f%% of padded tokens are real: sorting by length should keep padding small", 100*eff)
	}
	b, _ := TokenBatches(pairs, maxTokens, 7)
	if !slices.EqualFunc(a, b, slices.Equal) {
		t.Error("same pairs and seed, different batches")
	}
	c, _ := TokenBatches(pairs, maxTokens, 8)
	if slices.EqualFunc(a, c, slices.Equal) {
		t.Error("another seed gives the same batch order")
	}
	// Shuffled: the first batches are not the shortest ones.
	short := 0
	for _, batch := range a[:10] {
		if max(len(pairs[batch[0]].Src), len(pairs[batch[0]].Tgt)) < 10 {
			short++
		}
	}
	if short == 10 {
		t.Error("batches come in length order; want them shuffled")
	}

	if _, err := TokenBatches(pairs, 0, 1); err == nil {
		t.Error("0 tokens per batch accepted")
	}
	long := append(slices.Clone(pairs), Pair{Src: make([]int, 3), Tgt: make([]int, 501), Line: 77})
	if _, err := TokenBatches(long, maxTokens, 1); err == nil || !strings.Contains(err.Error(), "line 77 has 501 tokens") {
		t.Errorf("a pair longer than a batch: %v", err)
	}
	if got, err := TokenBatches(nil, 10, 1); err != nil || len(got) != 0 {
		t.Errorf("no pairs: %v, %v", got, err)
	}
}

// TestMulti30k reads the Multi30k training captions (29,000 English–German pairs, gzipped).
func TestMulti30k(t *testing.T) {
	dir := testenv.RequireDataSubdir(t, "multi30k-en-de")
	c, err := LoadParallel(filepath.Join(dir, "train.en.gz"), filepath.Join(dir, "train.de.gz"), MaxParallelBytes)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len()+c.Empty != 29000 {
		t.Fatalf("%d pairs + %d empty, want 29,000 lines", c.Len(), c.Empty)
	}
	if c.Src[0] != "Two young, White males are outside near many bushes." || c.Tgt[0] != "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche." {
		t.Fatalf("first pair %q / %q", c.Src[0], c.Tgt[0])
	}
	pairs, dropped, err := c.Encode(words, words, LengthFilter{MinTokens: 1, MaxTokens: 50, MaxRatio: 3})
	if err != nil {
		t.Fatal(err)
	}
	if dropped > c.Len()/100 {
		t.Errorf("the filter drops %d of %d captions", dropped, c.Len())
	}
	batches, err := TokenBatches(pairs, 4096, 1)
	if err != nil {
		t.Fatal(err)
	}
	eff := checkBatches(t, pairs, batches, 4096)
	t.Logf("%d pairs (%d empty, %d filtered) in %d batches, %.1f%% of padded tokens real", len(pairs), c.Empty, dropped, len(batches), 100*eff)
	if eff < 0.97 {
		t.Errorf("only %.1f%% of padded tokens are real", 100*eff)
	}
}

// FuzzReadLines: whatever a file holds, ReadLines either refuses it as invalid UTF-8 or
// returns lines that rebuild it, plain or gzipped alike.
func FuzzReadLines(f *testing.F) {
	for _, s := range []string{"", "\n", "a\nb", "a\r\nb\r\n", "\n\n\n", "Gr\xf6\xdfe", "我\n", "\x00\n"} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content []byte) {
		for _, name := range []string{"f.txt", "f.gz"} {
			lines, err := ReadLines(writeFile(t, dir, name, string(content)), 1<<20)
			if err != nil {
				if !strings.Contains(err.Error(), "not valid UTF-8") || utf8.Valid(content) {
					t.Fatalf("%s: %v", name, err)
				}
				continue
			}
			if !utf8.Valid(content) {
				t.Fatalf("%s: invalid UTF-8 accepted", name)
			}
			want := strings.TrimSuffix(string(content), "\n")
			if got := strings.Join(lines, "\n"); got != want || (len(content) == 0) != (lines == nil) {
				t.Fatalf("%s: lines %q do not rebuild %q", name, lines, content)
			}
		}
	})
}
