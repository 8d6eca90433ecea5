package tensor

import "testing"

// TestArenaReusesBuffers: a step that repeats the shapes of the step before allocates nothing.
func TestArenaReusesBuffers(t *testing.T) {
	var a Arena
	step := func() {
		a.Reset()
		for _, n := range []int{3, 1000, 70000, 1000, 5} {
			x := a.New(n)
			if x.Len() != n {
				t.Fatalf("New(%d) has %d elements", n, x.Len())
			}
		}
	}
	step()
	before := a.Bytes()
	allocs := testing.AllocsPerRun(10, step)
	if a.Bytes() != before {
		t.Errorf("arena grew from %d to %d bytes on a repeated step", before, a.Bytes())
	}
	if allocs > 0 {
		t.Errorf("a repeated step made %.0f allocations, want 0", allocs)
	}
}

// TestArenaBoundedAcrossStructures: steps of different structure — here a large tensor asked
// for after a varying number of small ones, as a recurrent decoder unrolled over sequences of
// different lengths does — must reuse each other's buffers rather than leave a large buffer
// behind at every position.
func TestArenaBoundedAcrossStructures(t *testing.T) {
	var a Arena
	const big = 1 << 20
	for step := range 200 {
		a.Reset()
		for range step % 50 {
			a.New(64)
		}
		a.New(big)
		a.New(64)
	}
	// One big buffer and at most 51 small ones are ever live at once.
	if limit := 4 * (sizeClass(big) + 51*sizeClass(64)); a.Bytes() > limit {
		t.Errorf("arena holds %d bytes after 200 steps, want at most %d", a.Bytes(), limit)
	}
}

func TestSizeClass(t *testing.T) {
	for n := range 1 << 14 {
		c := sizeClass(n)
		if c < n || (n > 256 && 4*c > 5*n+4*256) || (n <= 256 && c > n+15) {
			t.Fatalf("sizeClass(%d) = %d", n, c)
		}
		if sizeClass(c) != c {
			t.Fatalf("sizeClass(%d) = %d, not a fixed point (sizeClass(%d) = %d)", n, c, c, sizeClass(c))
		}
	}
}

// TestArenaReleasesIdleBuffers: a buffer that no step has asked for in idleResets resets is let
// go, and one a step asks for again is kept.
func TestArenaReleasesIdleBuffers(t *testing.T) {
	var a Arena
	a.New(1 << 20)
	a.New(100)
	for range idleResets + 2 {
		a.Reset()
		a.New(100)
	}
	if want := 4 * sizeClass(100); a.Bytes() != want {
		t.Errorf("arena holds %d bytes, want %d (the idle large buffer released)", a.Bytes(), want)
	}
}

// TestArenaTakesLargerFreeBuffer: a request with no free buffer of its class takes a free one
// of a slightly larger class rather than allocating.
func TestArenaTakesLargerFreeBuffer(t *testing.T) {
	var a Arena
	a.New(1000)
	a.Reset()
	before := a.Bytes()
	x := a.New(900)
	if a.Bytes() != before || x.Len() != 900 {
		t.Errorf("New(900) after a free 1000-value buffer: %d bytes held (was %d), %d values", a.Bytes(), before, x.Len())
	}
}
