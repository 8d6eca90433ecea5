package constrain

import (
	"math"
	"sort"
	"sync"
)

// Vocab holds the byte strings of a tokenizer's tokens in a trie, so that the tokens a DFA
// state allows are found in one walk that abandons a whole subtree at the first dead byte.
type Vocab struct {
	size  int
	eos   int // end-of-sequence id, or -1
	nodes []trieNode
}

type trieNode struct {
	bytes    []byte  // child edges' bytes, sorted
	children []int32 // child node per edge
	tokens   []int32 // ids whose text ends here
}

// NewVocab indexes tokens (the text of each id; "" for ids that never appear in constrained
// output, such as special tokens). eos is the end-of-sequence id, or -1 when the model has none.
func NewVocab(tokens []string, eos int) *Vocab {
	v := &Vocab{size: len(tokens), eos: eos, nodes: []trieNode{{}}}
	for id, t := range tokens {
		if t == "" || id == eos {
			continue
		}
		n := int32(0)
		for i := 0; i < len(t); i++ {
			n = v.child(n, t[i])
		}
		v.nodes[n].tokens = append(v.nodes[n].tokens, int32(id))
	}
	return v
}

func (v *Vocab) child(n int32, b byte) int32 {
	nd := &v.nodes[n]
	i := sort.Search(len(nd.bytes), func(i int) bool { return nd.bytes[i] >= b })
	if i < len(nd.bytes) && nd.bytes[i] == b {
		return nd.children[i]
	}
	v.nodes = append(v.nodes, trieNode{})
	c := int32(len(v.nodes) - 1)
	nd = &v.nodes[n]
	nd.bytes = append(nd.bytes, 0)
	nd.children = append(nd.children, 0)
	copy(nd.bytes[i+1:], nd.bytes[i:])
	copy(nd.children[i+1:], nd.children[i:])
	nd.bytes[i], nd.children[i] = b, c
	return c
}

// Size returns the number of ids.
func (v *Vocab) Size() int { return v.size }

// Allowed is what one DFA state permits: the ids that keep the output in the language and the
// state each leads to.
type Allowed struct {
	IDs   []int32
	Next  []int32
	far   int // the largest distance to acceptance among Next
	final bool
}

// Index caches, per DFA state, the tokens a DFA allows over a vocabulary. It is safe for
// concurrent use.
type Index struct {
	dfa   *DFA
	vocab *Vocab
	mu    sync.Mutex
	cache []*Allowed // by state, filled on first use
}

// NewIndex pairs a DFA with a vocabulary.
func NewIndex(d *DFA, v *Vocab) *Index {
	return &Index{dfa: d, vocab: v, cache: make([]*Allowed, d.States())}
}

// DFA returns the automaton.
func (ix *Index) DFA() *DFA { return ix.dfa }

// Allowed returns the tokens state s allows, computing them on first use.
func (ix *Index) Allowed(s int) *Allowed {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if a := ix.cache[s]; a != nil {
		return a
	}
	a := &Allowed{final: ix.dfa.Final(s)}
	ix.walk(0, s, a)
	for _, t := range a.Next {
		a.far = max(a.far, ix.dfa.dist[t])
	}
	ix.cache[s] = a
	return a
}

func (ix *Index) walk(n int32, s int, a *Allowed) {
	nd := &ix.vocab.nodes[n]
	row := &ix.dfa.trans[s]
	for i, b := range nd.bytes {
		t := row[b]
		if t == Dead {
			continue
		}
		c := nd.children[i]
		for _, id := range ix.vocab.nodes[c].tokens {
			a.IDs = append(a.IDs, id)
			a.Next = append(a.Next, t)
		}
		ix.walk(c, int(t), a)
	}
}

// State is one constrained decoding in progress.
type State struct {
	ix   *Index
	s    int
	Done bool // the output is complete (END was chosen or the DFA has no way on)
	ext  []float32
}

// NewState starts a constrained decoding at the DFA's start state.
func (ix *Index) NewState() *State { return &State{ix: ix} }

// Reset returns st to the start state.
func (st *State) Reset() { st.s, st.Done = 0, false }

// Mask writes into a buffer the logits with every token outside the language set to −∞, and
// one extra entry at index V (the vocabulary size), END, that stands for stopping here: it is
// −∞ unless the text so far matches, and then carries the end-of-sequence token's logit or,
// for a model without one, the log of the probability mass the model puts on tokens the
// language forbids (the model "wants" to leave the language: stopping is the closest
// allowed choice). remaining is how many tokens may still be generated: a token is allowed
// only if the output can still be completed within that budget (with one-byte tokens), so a
// decoding that runs to its limit still ends in the language. The returned slice is valid
// until the next call.
func (st *State) Mask(logits []float32, remaining int) []float32 {
	v := st.ix.vocab.size
	if cap(st.ext) < v+1 {
		st.ext = make([]float32, v+1)
	}
	ext := st.ext[:v+1]
	negInf := float32(math.Inf(-1))
	for i := range ext {
		ext[i] = negInf
	}
	a := st.ix.Allowed(st.s)
	d := st.ix.dfa
	check := a.far > remaining-1
	for i, id := range a.IDs {
		if check && d.dist[a.Next[i]] > remaining-1 {
			continue
		}
		if int(id) < len(logits) {
			ext[id] = logits[id]
		}
	}
	if d.accept[st.s] {
		if e := st.ix.vocab.eos; e >= 0 && e < len(logits) {
			ext[v] = logits[e]
		} else {
			ext[v] = outsideMass(logits, ext)
		}
		if a.final || remaining <= 1 {
			ext[v] = 0
		}
	}
	return ext
}

// outsideMass is log Σ exp(logit) over the tokens ext masks out (ext[i] = −∞, logit finite).
func outsideMass(logits, ext []float32) float32 {
	m := math.Inf(-1)
	for i, l := range logits {
		if math.IsInf(float64(ext[i]), -1) && float64(l) > m {
			m = float64(l)
		}
	}
	if math.IsInf(m, -1) || math.IsNaN(m) {
		return float32(math.Inf(-1))
	}
	var sum float64
	for i, l := range logits {
		if math.IsInf(float64(ext[i]), -1) && !math.IsNaN(float64(l)) {
			sum += math.Exp(float64(l) - m)
		}
	}
	return float32(m + math.Log(sum))
}

// Advance records the chosen id (V, the vocabulary size, for END). It reports false when id is
// not allowed, which a caller that picked from Mask's logits never sees.
func (st *State) Advance(id int) bool {
	if id == st.ix.vocab.size {
		if !st.ix.dfa.accept[st.s] {
			return false
		}
		st.Done = true
		return true
	}
	a := st.ix.Allowed(st.s)
	for i, x := range a.IDs {
		if int(x) == id {
			st.s = int(a.Next[i])
			if st.ix.dfa.Final(st.s) {
				st.Done = true
			}
			return true
		}
	}
	return false
}

// Accepting reports whether the output so far matches the language.
func (st *State) Accepting() bool { return st.ix.dfa.accept[st.s] }
