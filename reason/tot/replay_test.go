package tot

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/qkvdev/qkv/internal/testenv"
	"github.com/qkvdev/qkv/reason/tasks"
)

// TestReplayGPT4Game24 runs the BFS against the recorded GPT-4 run (puzzles 900–999): every
// level must select what the reference selected, and the score must be the recording's
// (first candidate 62/100, any of five 69/100).
func TestReplayGPT4Game24(t *testing.T) {
	dir := testenv.RequireDataSubdir(t, "game24")
	recs, err := LoadRecording(filepath.Join(dir, "tot_bfs_gpt-4_0.7_propose1_value3_greedy5_start900_end1000.json"))
	if err != nil {
		t.Fatal(err)
	}
	puzzles, err := tasks.LoadGame24(filepath.Join(dir, "24.csv"))
	if err != nil {
		t.Fatal(err)
	}
	replay, err := NewReplay(recs)
	if err != nil {
		t.Fatal(err)
	}
	cache := map[string]float64{}
	first, any5 := 0, 0
	for _, rec := range recs {
		x := puzzles[rec.Idx]
		bfs := &BFS{Temperature: 0.7, NEvaluate: 3, NSelect: 5, ValueCache: cache}
		ys, log, err := bfs.Solve(context.Background(), replay, Game24{}, x)
		if err != nil {
			t.Fatalf("idx %d: %v", rec.Idx, err)
		}
		for i, st := range log {
			want := rec.Steps[i]
			if !slices.Equal(st.NewYs, want.NewYs) {
				t.Fatalf("idx %d step %d: proposals differ", rec.Idx, i)
			}
			if !slices.Equal(st.Values, want.Values) {
				t.Fatalf("idx %d step %d: values %v, recorded %v", rec.Idx, i, st.Values, want.Values)
			}
			if !slices.Equal(st.Selected, want.Selected) {
				t.Fatalf("idx %d step %d: selected %q, recorded %q", rec.Idx, i, st.Selected, want.Selected)
			}
		}
		if !slices.Equal(ys, rec.Ys) {
			t.Fatalf("idx %d: final thoughts differ", rec.Idx)
		}
		for j, y := range ys {
			ok := tasks.Check24(x, y)
			if rec.Infos[j]["r"] != map[bool]int{false: 0, true: 1}[ok] {
				t.Errorf("idx %d candidate %d: scored %v, recorded r=%d", rec.Idx, j, ok, rec.Infos[j]["r"])
			}
		}
		if tasks.Check24(x, ys[0]) {
			first++
		}
		if slices.ContainsFunc(ys, func(y string) bool { return tasks.Check24(x, y) }) {
			any5++
		}
	}
	t.Logf("ToT (GPT-4 replay): first candidate %d/100, any of five %d/100", first, any5)
	if first != 62 || any5 != 69 {
		t.Errorf("scores %d and %d, recorded 62 and 69", first, any5)
	}
}
