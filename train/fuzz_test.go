package train

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/hf"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/optim"
	"github.com/qkvdev/qkv/tensor"
)

// Fuzz targets for the files a run folder is read back from (the checkpoint files themselves
// are fuzzed in package checkpoint). run.json is read by cmd/qkv (loadRunOptions), outside this package.

// stateFixture is a checkpoint folder without its trainer_state.json: a one-parameter model and
// its AdamW moments, as loadState reads them.
type stateFixture struct {
	model, moments []byte
}

func newStateFixture(f *testing.F) stateFixture {
	dir := f.TempDir()
	ps := &nn.Params{}
	copy(ps.Add("w", true, 2).Value.Data(), []float32{1, 2})
	if err := hf.SaveWeights(filepath.Join(dir, "model.safetensors"), ps); err != nil {
		f.Fatal(err)
	}
	opt := optim.NewAdamW(ps.List(), optim.AdamWConfig{Beta1: 0.9, Beta2: 0.99, Eps: 1e-8})
	if err := saveOptimizer(filepath.Join(dir, checkpoint.OptimizerFile), opt); err != nil {
		f.Fatal(err)
	}
	var fx stateFixture
	var err error
	if fx.model, err = os.ReadFile(filepath.Join(dir, "model.safetensors")); err != nil {
		f.Fatal(err)
	}
	if fx.moments, err = os.ReadFile(filepath.Join(dir, checkpoint.OptimizerFile)); err != nil {
		f.Fatal(err)
	}
	return fx
}

// load writes the fixture and state into a new folder and runs loadState on it.
func (fx stateFixture) load(t *testing.T, state []byte) (state, *optim.AdamW, *tensor.RNG, *tensor.RNG, error) {
	dir := t.TempDir()
	for name, b := range map[string][]byte{"model.safetensors": fx.model, checkpoint.OptimizerFile: fx.moments, checkpoint.StateFile: state} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ps := &nn.Params{}
	ps.Add("w", true, 2)
	opt := optim.NewAdamW(ps.List(), optim.AdamWConfig{Beta1: 0.9, Beta2: 0.99, Eps: 1e-8})
	dataRNG, dropRNG := tensor.NewRNG(1), tensor.NewRNG(2)
	st, err := loadState(dir, ps, opt, dataRNG, dropRNG)
	return st, opt, dataRNG, dropRNG, err
}

// sameState compares two states, NaN (a skipped step) equal to NaN.
func sameState(a, b state) bool {
	if len(a.Recent) != len(b.Recent) {
		return false
	}
	for i := range a.Recent {
		if a.Recent[i] != b.Recent[i] && !(math.IsNaN(a.Recent[i]) && math.IsNaN(b.Recent[i])) {
			return false
		}
	}
	a.Recent, b.Recent = nil, nil
	return reflect.DeepEqual(a, b)
}

// FuzzLoadState fuzzes trainer_state.json. An accepted state has counters that a run can have
// reached (steps, optimizer steps, skipped steps, tokens and elapsed time not negative, no more
// optimizer or skipped steps than steps, an elapsed time a time.Duration holds), restores exactly
// its RNG states and optimizer step count, and re-marshals and re-parses to an equal state. A
// refused one gives an error that names the file.
func FuzzLoadState(f *testing.F) {
	fx := newStateFixture(f)
	rng := func(seed uint64) []byte {
		b, _ := tensor.NewRNG(seed).MarshalBinary()
		return b
	}
	valid := state{Step: 20, Iters: 40, OptSteps: 19, DataRNG: rng(7), DropoutRNG: rng(8), Skipped: 1,
		Recent: lossWindow{3.5, math.NaN(), 3.25}, ElapsedS: 12.5, Tokens: 2560}
	seed := func(edit func(*state)) []byte {
		s := valid
		s.Recent = append(lossWindow(nil), valid.Recent...)
		if edit != nil {
			edit(&s)
		}
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			f.Fatal(err)
		}
		return append(b, '\n')
	}
	v := 3.1
	for _, b := range [][]byte{
		seed(nil), seed(func(s *state) { s.ValLoss, s.Planned = &v, true }), seed(func(s *state) { s.Iters = 0 }),
		seed(func(s *state) { s.Recent = nil }),
		// damaged
		nil, []byte("{"), []byte("null"), []byte("{}"), []byte("[]"), []byte(`{"step":"20"}`),
		seed(func(s *state) { s.DataRNG = s.DataRNG[:5] }), seed(func(s *state) { s.DropoutRNG = nil }),
		bytes.Replace(seed(nil), []byte(`"recent_losses": [`), []byte(`"recent_losses": ["x", `), 1),
		// impossible counters
		seed(func(s *state) { s.Step = -1 }), seed(func(s *state) { s.OptSteps = -1 }),
		seed(func(s *state) { s.OptSteps = 21 }), seed(func(s *state) { s.Skipped = -3 }),
		seed(func(s *state) { s.Iters = -40 }), seed(func(s *state) { s.Tokens = -1 }),
		seed(func(s *state) { s.ElapsedS = -1 }), seed(func(s *state) { s.ElapsedS = 1e300 }),
		bytes.Replace(seed(nil), []byte(`"step": 20`), []byte(`"step": 1e30`), 1),
		// Found by this target: impossible counters were accepted (optimizer_steps -1 makes
		// AdamW's bias correction 1-β⁰ = 0 and the weights Inf; a negative step a negative
		// warm-up learning rate), and a bad RNG state gave "rng state: invalid PCG encoding"
		// without naming the file.
		[]byte(`{"optimizer_steps":-1,"data_rng":"cGNnOgAAAAAAAAAHnjd5uX9KfBI=","dropout_rng":"cGNnOgAAAAAAAAAInjd5uX9KfB0="}`),
		[]byte(`{"step":-5,"data_rng":"cGNnOgAAAAAAAAAHnjd5uX9KfBI=","dropout_rng":"cGNnOgAAAAAAAAAInjd5uX9KfB0="}`),
		[]byte(`{"step":1,"data_rng":"AAAA","dropout_rng":"AAAA"}`),
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, opt, dataRNG, dropRNG, err := fx.load(t, data)
		if err != nil {
			if !strings.Contains(err.Error(), checkpoint.StateFile) {
				t.Fatalf("error %q does not name %s", err, checkpoint.StateFile)
			}
			return
		}
		switch {
		case st.Step < 0 || st.Iters < 0 || st.OptSteps < 0 || st.Skipped < 0 || st.Tokens < 0:
			t.Fatalf("state %q accepted with a negative counter: %+v", data, st)
		case st.OptSteps > st.Step || st.Skipped > st.Step:
			t.Fatalf("state %q accepted with more optimizer or skipped steps than steps: %+v", data, st)
		case !(st.ElapsedS >= 0) || st.ElapsedS > float64(math.MaxInt64/int64(time.Second)):
			t.Fatalf("state %q accepted with elapsed time %g s", data, st.ElapsedS)
		case opt.Steps != st.OptSteps:
			t.Fatalf("optimizer at step %d, state says %d", opt.Steps, st.OptSteps)
		}
		for _, r := range []struct {
			g    *tensor.RNG
			want []byte
		}{{dataRNG, st.DataRNG}, {dropRNG, st.DropoutRNG}} {
			if got, _ := r.g.MarshalBinary(); !bytes.Equal(got, r.want) {
				t.Fatalf("RNG state %x restored as %x", r.want, got)
			}
		}
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatalf("state %+v does not marshal: %v", st, err)
		}
		back, _, _, _, err := fx.load(t, b)
		if err != nil || !sameState(back, st) {
			t.Fatalf("state %+v does not survive a round trip: %+v, %v", st, back, err)
		}
	})
}

// metricLines is what metrics.jsonl holds, line by line, as bufio.ScanLines splits it.
func metricLines(data []byte) [][]byte {
	lines := bytes.Split(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		lines[i] = bytes.TrimSuffix(l, []byte("\r"))
	}
	return lines
}

// metricsSeeds are metrics.jsonl contents as Run writes them, damaged ones, and one whose line is
// longer than any buffer a scanner would hold.
func metricsSeeds() []string {
	good := `{"elapsed_s":0.5,"grad_norm":1.2,"loss":3.4,"lr":0.002,"step":5,"tokens_per_s":1000}` + "\n" +
		`{"elapsed_s":1,"grad_norm":1.1,"loss":null,"lr":0.004,"step":10,"tokens_per_s":1000}` + "\n" +
		`{"step":10,"val_loss":3.2}` + "\n" +
		`{"elapsed_s":1.5,"grad_norm":1,"loss":3,"lr":0.006,"step":15,"tokens_per_s":1000}` + "\n"
	return []string{
		good, good + `{"elapsed_s":2,"lo`, strings.ReplaceAll(good, "\n", "\r\n"), "", "\n\n", "null\n", "[]\n", "1\n",
		`{"step":-1}` + "\n", `{"step":1.5}` + "\n", `{"step":"3"}` + "\n", `{"step":5,"step":50}` + "\n", `{"step":null}` + "\n",
		`{"step":1}{"step":2}` + "\n", "{\"step\":1}\x00\n", `{"step":99999999999999999999}` + "\n",
		// Found by these targets: a line over 1 MiB made ReadMetrics fail with "bufio.Scanner:
		// token too long" and trimMetrics silently drop every record after it; a "null" line
		// gave ReadMetrics a nil record.
		`{"step":1,"note":"` + strings.Repeat("x", 1<<20) + `"}` + "\n" + good,
		"null\n" + good,
	}
}

// FuzzReadMetrics: ReadMetrics returns, in order, exactly the lines that are JSON objects — never
// a nil record, whatever the line lengths — and each record re-marshals and re-parses equal.
func FuzzReadMetrics(f *testing.F) {
	for _, s := range metricsSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), checkpoint.MetricsFile)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		recs, err := ReadMetrics(path)
		if err != nil {
			t.Fatalf("ReadMetrics(%.200q): %v", data, err)
		}
		var want []map[string]any
		for _, l := range metricLines(data) {
			var m map[string]any
			if json.Unmarshal(l, &m) == nil && m != nil {
				want = append(want, m)
			}
		}
		if !reflect.DeepEqual(recs, want) {
			t.Fatalf("ReadMetrics(%.200q) = %.300v, want %.300v", data, recs, want)
		}
		for _, r := range recs {
			b, err := json.Marshal(r)
			var back map[string]any
			if err != nil || json.Unmarshal(b, &back) != nil || !reflect.DeepEqual(back, r) {
				t.Fatalf("record %.300v does not survive a round trip (%v)", r, err)
			}
		}
	})
}

// FuzzTrimMetrics: trimming metrics.jsonl at a step keeps, in order and unchanged, every record
// line whose step is at most that step, and nothing else (no record after a long or damaged line
// is lost); trimming again changes nothing.
func FuzzTrimMetrics(f *testing.F) {
	for _, s := range metricsSeeds() {
		f.Add([]byte(s), 10)
	}
	f.Add([]byte(metricsSeeds()[0]), 0)
	f.Add([]byte(metricsSeeds()[0]), -1)
	f.Fuzz(func(t *testing.T, data []byte, step int) {
		path := filepath.Join(t.TempDir(), checkpoint.MetricsFile)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := trimMetrics(path, step); err != nil {
			t.Fatalf("trimMetrics(%.200q, %d): %v", data, step, err)
		}
		var want bytes.Buffer
		for _, l := range metricLines(data) {
			var rec struct {
				Step *int `json:"step"`
			}
			if json.Unmarshal(l, &rec) == nil && rec.Step != nil && *rec.Step <= step {
				want.Write(l)
				want.WriteByte('\n')
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("trimMetrics(%.200q, %d) left %.300q, want %.300q", data, step, got, want.Bytes())
		}
		if err := trimMetrics(path, step); err != nil {
			t.Fatal(err)
		}
		if again, _ := os.ReadFile(path); !bytes.Equal(again, got) {
			t.Fatalf("trimming twice at %d changed %.300q to %.300q", step, got, again)
		}
	})
}
