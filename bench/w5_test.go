package bench

import (
	"context"
	"maps"
	"testing"
)

// W5 on tiny shapes: one tokens_per_s result per case with the fields of the --json contract
// and a loss that starts near ln V + ln 2. (That a step allocates nothing once its pools are
// warm is model/bert's TestPretrainStepAllocatesNothing.)
func TestW5(t *testing.T) {
	saved := maps.Clone(W5Configs)
	t.Cleanup(func() { W5Configs = saved })
	for cs, c := range saved {
		c.Model.VocabSize, c.Model.HiddenSize, c.Model.NumAttentionHeads, c.Model.IntermediateSize, c.Model.NumHiddenLayers = 64, 16, 2, 32, 1
		c.Seq, c.Batch = 24, 2
		W5Configs[cs] = c
	}
	for _, cs := range []string{"mini", "base"} {
		res, err := runW5(context.Background(), cs, "", 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 {
			t.Fatalf("%s: %d results, want 1", cs, len(res))
		}
		checkResult(t, res[0], "W5", cs, 1, []string{"tokens_per_s"}, nil, []string{""})
		extra := res[0].Extra.(map[string]any)
		// ln 64 ≈ 4.16 for the MLM part, ln 2 ≈ 0.69 for NSP.
		if l := extra["loss_first"].(float32); l < 4 || l > 5.8 {
			t.Errorf("%s: first loss %v, want about ln 64 + ln 2 = 4.85", cs, l)
		}
	}
	if _, err := runW5(context.Background(), "huge", "", 1); err == nil {
		t.Error("an unknown case is accepted")
	}
}
