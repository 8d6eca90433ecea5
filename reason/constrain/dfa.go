package constrain

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// DFA is a deterministic automaton over bytes. State 0 is the start; a transition to Dead
// means no output with that prefix can match. Every live state can still reach an accepting
// state (states that cannot are removed), so a decoder that keeps to live states can always
// finish.
type DFA struct {
	trans  [][256]int32 // state × byte → state or Dead
	accept []bool
	dist   []int // fewest bytes from the state to an accepting state
}

// Dead is the state of a prefix that no match can extend.
const Dead = -1

// Start returns the start state.
func (d *DFA) Start() int { return 0 }

// Next returns the state after byte b, or Dead.
func (d *DFA) Next(s int, b byte) int { return int(d.trans[s][b]) }

// Accepting reports whether the text read so far matches.
func (d *DFA) Accepting(s int) bool { return d.accept[s] }

// Distance returns the fewest bytes that take s to an accepting state.
func (d *DFA) Distance(s int) int { return d.dist[s] }

// States returns the number of states.
func (d *DFA) States() int { return len(d.trans) }

// Final reports whether s accepts and no byte continues it.
func (d *DFA) Final(s int) bool {
	if !d.accept[s] {
		return false
	}
	for _, t := range d.trans[s] {
		if t != Dead {
			return false
		}
	}
	return true
}

// Walk runs the DFA over text from s and returns the state, or Dead.
func (d *DFA) Walk(s int, text string) int {
	for i := 0; i < len(text) && s != Dead; i++ {
		s = int(d.trans[s][text[i]])
	}
	return s
}

// Match reports whether the whole of text is in the language.
func (d *DFA) Match(text string) bool {
	s := d.Walk(0, text)
	return s != Dead && d.accept[s]
}

// Regex compiles a regular expression (see the package comment for the subset) to a DFA.
func Regex(pattern string) (*DFA, error) {
	n, err := parseRegex(pattern)
	if err != nil {
		return nil, err
	}
	return compile(n)
}

// Choice returns a DFA that accepts exactly one of choices.
func Choice(choices []string) (*DFA, error) {
	if len(choices) == 0 {
		return nil, fmt.Errorf("constrain: no choices given")
	}
	subs := make([]*node, len(choices))
	for i, c := range choices {
		if c == "" {
			return nil, fmt.Errorf("constrain: choice %d is empty", i+1)
		}
		subs[i] = literal(c)
	}
	return compile(alt(subs...))
}

// nfa is a Thompson automaton: each state has either a byte-set edge to next, or epsilon edges.
type nfa struct {
	states []nfaState
}

type nfaState struct {
	set  *byteSet
	next int
	eps  []int
}

func (a *nfa) add(s nfaState) int {
	a.states = append(a.states, s)
	return len(a.states) - 1
}

// frag is a piece of automaton with one entry and one exit state (the exit has no edges yet).
type frag struct{ in, out int }

// leaves counts the byte-matching leaves an expanded tree would have, up to limit.
func leaves(n *node, limit int) int {
	switch n.kind {
	case kindSet:
		return 1
	case kindCat, kindAlt:
		t := 0
		for _, s := range n.subs {
			t += leaves(s, limit)
			if t > limit {
				return t
			}
		}
		return t
	case kindRepeat:
		k := n.max
		if k < 0 {
			k = n.min + 1
		}
		l := leaves(n.subs[0], limit)
		if l > 0 && k > limit/l {
			return limit + 1
		}
		return l * max(k, 1)
	}
	return 0
}

func (a *nfa) build(n *node) frag {
	switch n.kind {
	case kindEmpty:
		s := a.add(nfaState{next: -1})
		return frag{s, s}
	case kindSet:
		out := a.add(nfaState{next: -1})
		in := a.add(nfaState{set: n.set, next: out})
		return frag{in, out}
	case kindCat:
		f := a.build(n.subs[0])
		for _, s := range n.subs[1:] {
			g := a.build(s)
			a.states[f.out].eps = append(a.states[f.out].eps, g.in)
			f.out = g.out
		}
		return f
	case kindAlt:
		in := a.add(nfaState{next: -1})
		out := a.add(nfaState{next: -1})
		for _, s := range n.subs {
			g := a.build(s)
			a.states[in].eps = append(a.states[in].eps, g.in)
			a.states[g.out].eps = append(a.states[g.out].eps, out)
		}
		return frag{in, out}
	case kindRepeat:
		sub := n.subs[0]
		in := a.add(nfaState{next: -1})
		cur := in
		for range n.min {
			g := a.build(sub)
			a.states[cur].eps = append(a.states[cur].eps, g.in)
			cur = g.out
		}
		if n.max < 0 { // a loop
			g := a.build(sub)
			out := a.add(nfaState{next: -1})
			a.states[cur].eps = append(a.states[cur].eps, g.in, out)
			a.states[g.out].eps = append(a.states[g.out].eps, g.in, out)
			return frag{in, out}
		}
		out := a.add(nfaState{next: -1})
		for range n.max - n.min {
			g := a.build(sub)
			a.states[cur].eps = append(a.states[cur].eps, g.in, out)
			cur = g.out
		}
		a.states[cur].eps = append(a.states[cur].eps, out)
		return frag{in, out}
	}
	panic("constrain: unknown node kind")
}

// closure adds the epsilon closure of set to itself, sorted by discovery.
func (a *nfa) closure(set []int, mark []uint32, gen uint32) []int {
	stack := append([]int(nil), set...)
	for _, s := range set {
		mark[s] = gen
	}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, t := range a.states[s].eps {
			if mark[t] != gen {
				mark[t] = gen
				set = append(set, t)
				stack = append(stack, t)
			}
		}
	}
	return set
}

func compile(n *node) (*DFA, error) {
	if l := leaves(n, maxNodes); l > maxNodes {
		return nil, fmt.Errorf("constrain: the expression expands to more than %d byte matchers; use smaller repetition counts", maxNodes)
	}
	a := &nfa{}
	f := a.build(n)
	mark := make([]uint32, len(a.states))
	var gen uint32 = 1
	key := func(set []int) string {
		// Sets are compared as sorted state lists.
		sorted := append([]int(nil), set...)
		slices.Sort(sorted)
		b := make([]byte, 0, 4*len(sorted))
		for _, s := range sorted {
			b = binary.LittleEndian.AppendUint32(b, uint32(s))
		}
		return string(b)
	}
	start := a.closure([]int{f.in}, mark, gen)
	ids := map[string]int{key(start): 0}
	sets := [][]int{start}
	d := &DFA{}
	for i := 0; i < len(sets); i++ {
		var row [256]int32
		acc := false
		for _, s := range sets[i] {
			if s == f.out {
				acc = true
			}
		}
		for b := 0; b < 256; b++ {
			var next []int
			gen++
			for _, s := range sets[i] {
				st := &a.states[s]
				if st.set != nil && st.set.has(byte(b)) && mark[st.next] != gen {
					mark[st.next] = gen
					next = append(next, st.next)
				}
			}
			if len(next) == 0 {
				row[b] = Dead
				continue
			}
			gen++
			next = a.closure(next, mark, gen)
			k := key(next)
			id, ok := ids[k]
			if !ok {
				if len(sets) >= maxDFAState {
					return nil, fmt.Errorf("constrain: the automaton needs more than %d states; simplify the expression", maxDFAState)
				}
				id = len(sets)
				ids[k] = id
				sets = append(sets, next)
			}
			row[b] = int32(id)
		}
		d.trans = append(d.trans, row)
		d.accept = append(d.accept, acc)
	}
	return d.prune()
}

// prune removes the states that cannot reach an accepting state and computes distances.
func (d *DFA) prune() (*DFA, error) {
	n := len(d.trans)
	rev := make([][]int32, n)
	for s := range d.trans {
		for _, t := range d.trans[s] {
			if t != Dead {
				rev[t] = append(rev[t], int32(s))
			}
		}
	}
	dist := make([]int, n)
	for i := range dist {
		dist[i] = math.MaxInt
	}
	var queue []int32
	for s, acc := range d.accept {
		if acc {
			dist[s] = 0
			queue = append(queue, int32(s))
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, p := range rev[s] {
			if dist[p] == math.MaxInt {
				dist[p] = dist[s] + 1
				queue = append(queue, p)
			}
		}
	}
	if dist[0] == math.MaxInt {
		return nil, fmt.Errorf("constrain: the expression matches nothing")
	}
	// Renumber the live states, keeping the start at 0.
	newID := make([]int32, n)
	k := int32(0)
	for s := range n {
		if dist[s] == math.MaxInt {
			newID[s] = Dead
			continue
		}
		newID[s] = k
		k++
	}
	out := &DFA{}
	for s := range n {
		if newID[s] == Dead {
			continue
		}
		var row [256]int32
		for b, t := range d.trans[s] {
			row[b] = Dead
			if t != Dead {
				row[b] = newID[t]
			}
		}
		out.trans = append(out.trans, row)
		out.accept = append(out.accept, d.accept[s])
		out.dist = append(out.dist, dist[s])
	}
	return out, nil
}
