package plot

import (
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pixelsDiffer reports whether the PNG at path has at least two distinct colours.
func pixelsDiffer(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	r0, g0, b0, _ := img.At(b.Min.X, b.Min.Y).RGBA()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bl, _ := img.At(x, y).RGBA(); r != r0 || g != g0 || bl != b0 {
				return true
			}
		}
	}
	return false
}

func TestCurves(t *testing.T) {
	dir := t.TempDir()
	metrics := filepath.Join(dir, "metrics.jsonl")
	data := `{"step":10,"loss":5.1,"lr":0.001}
{"step":20,"loss":4.2,"lr":0.0009}
{"step":20,"val_loss":4.4,"val_bleu":3.5}
{"step":30,"loss":null,"lr":0.0008}
{"step":30,"val_loss_full":4.0,"val_bleu_full":5.0}
`
	if err := os.WriteFile(metrics, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ReadMetrics(metrics)
	if err != nil {
		t.Fatal(err)
	}
	if len(s["loss"]) != 2 || len(s["lr"]) != 3 || len(s["val_bleu_full"]) != 1 {
		t.Fatalf("series: loss %d, lr %d, val_bleu_full %d points; want 2, 3, 1", len(s["loss"]), len(s["lr"]), len(s["val_bleu_full"]))
	}
	for _, name := range []string{"c.png", "c.svg"} {
		out := filepath.Join(dir, name)
		if err := Curves(out, s, "run"); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".png") && !pixelsDiffer(t, out) {
			t.Fatalf("%s is blank", out)
		}
	}
	if err := Curves(filepath.Join(dir, "c.gif"), s, "run"); err == nil {
		t.Fatal("a .gif: no error")
	}
	if err := Curves(filepath.Join(dir, "e.png"), Series{}, "run"); err == nil {
		t.Fatal("no series: no error")
	}
	if err := os.WriteFile(metrics, []byte(data+`{"step":40,"lo`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMetrics(metrics); err == nil || !strings.Contains(err.Error(), ":6:") {
		t.Fatalf("a record cut short: %v; want an error naming line 6", err)
	}
}

func TestAttentionSave(t *testing.T) {
	a := &Attention{Kind: "cross", TokensSrc: []string{"a", "b"}, TokensTgt: []string{"x", "y", "</s>"},
		Layers: []Layer{{Layer: 0, Heads: [][][]float32{{{0.9, 0.1}, {0.2, 0.8}, {0.5, 0.5}}}}}}
	dir := t.TempDir()
	for _, name := range []string{"a.png", "a.svg", "a.json"} {
		if err := a.Save(filepath.Join(dir, name), 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if !pixelsDiffer(t, filepath.Join(dir, "a.png")) {
		t.Fatal("a.png is blank")
	}
	js, _ := os.ReadFile(filepath.Join(dir, "a.json"))
	if want := `{"kind":"cross","tokens_src":["a","b"],"tokens_tgt":["x","y","\u003c/s\u003e"],"layers":[{"layer":0,"heads":[[[0.9,0.1],[0.2,0.8],[0.5,0.5]]]}]}`; strings.TrimSpace(string(js)) != want {
		t.Fatalf("JSON:\n%s\nwant\n%s", js, want)
	}
	for _, bad := range []struct {
		layer, head int
		path        string
	}{{1, 0, "b.png"}, {0, 1, "b.png"}, {0, 0, "b.gif"}} {
		if err := a.Save(filepath.Join(dir, bad.path), bad.layer, bad.head); err == nil {
			t.Fatalf("layer %d head %d %s: no error", bad.layer, bad.head, bad.path)
		}
	}
	a.Layers[0].Heads[0] = a.Layers[0].Heads[0][:2]
	if err := a.Save(filepath.Join(dir, "c.json"), 0, 0); err == nil {
		t.Fatal("weights of the wrong shape: no error")
	}
	if _, err := os.Stat(filepath.Join(dir, "c.json")); !os.IsNotExist(err) {
		t.Fatal("a refused save left a file")
	}
}

// writeMetrics writes records, one JSON object a line, to dir/name/metrics.jsonl and returns
// the file's path.
func writeMetrics(t *testing.T, dir, name, records string) string {
	t.Helper()
	path := filepath.Join(dir, name, "metrics.jsonl")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(records), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// syntheticRun is the metrics.jsonl of a translation run of 30 steps whose loss falls at
// rate and whose steps take secPerStep seconds.
func syntheticRun(rate, secPerStep float64) string {
	var b strings.Builder
	for step := 10; step <= 30; step += 10 {
		fmt.Fprintf(&b, `{"step":%d,"loss":%g,"lr":0.001,"elapsed_s":%g}`+"\n", step, 9-rate*float64(step), secPerStep*float64(step))
		fmt.Fprintf(&b, `{"step":%d,"val_loss":%g,"val_bleu":%g}`+"\n", step, 9.5-rate*float64(step), rate*float64(step))
	}
	fmt.Fprintf(&b, `{"step":30,"val_loss_full":%g,"val_bleu_full":%g}`+"\n", 9.4-30*rate, 30*rate+1)
	return b.String()
}

func TestCompareCurves(t *testing.T) {
	dir := t.TempDir()
	var runs []Run
	for i, name := range []string{"gru", "attention", "transformer"} {
		s, err := ReadMetrics(writeMetrics(t, dir, name, syntheticRun(0.05*float64(i+1), 2+float64(i))))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, Run{Name: name, Series: s})
	}
	for _, tc := range []struct {
		out  string
		runs int
		x    Axis
	}{
		{"steps.png", 3, AxisStep},
		{"time.png", 3, AxisTime},
		{"two.svg", 2, AxisTime},
		{"one.png", 1, AxisTime},
	} {
		out := filepath.Join(dir, tc.out)
		if err := CompareCurves(out, runs[:tc.runs], tc.x, "compare"); err != nil {
			t.Fatalf("%s: %v", tc.out, err)
		}
		if strings.HasSuffix(tc.out, ".png") && !pixelsDiffer(t, out) {
			t.Fatalf("%s is blank", out)
		}
		if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
			t.Fatalf("%s: %v, empty", out, err)
		}
	}
	if runs[0].Series["loss"][0].X != 10 {
		t.Fatal("CompareCurves with AxisTime changed the caller's series")
	}
}

func TestByTime(t *testing.T) {
	// Training records at steps 10 (60 s), 20 (180 s) and 40 (300 s); validation between,
	// before and after them, and on a training step.
	s := Series{
		"elapsed_s": {{X: 20, Y: 180}, {X: 10, Y: 60}, {X: 40, Y: 300}},
		"loss":      {{X: 10, Y: 5}, {X: 20, Y: 4}, {X: 40, Y: 3}},
		"val_bleu":  {{X: 5, Y: 1}, {X: 15, Y: 2}, {X: 20, Y: 3}, {X: 25, Y: 4}, {X: 50, Y: 5}},
	}
	got, err := s.ByTime()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want []float64 // minutes
	}{
		{"loss", []float64{1, 3, 5}},
		{"val_bleu", []float64{1, 2, 3, 3.5, 5}},
	} {
		for i, pt := range got[tc.name] {
			if math.Abs(pt.X-tc.want[i]) > 1e-12 || pt.Y != s[tc.name][i].Y {
				t.Errorf("%s point %d: (%g, %g); want (%g, %g)", tc.name, i, pt.X, pt.Y, tc.want[i], s[tc.name][i].Y)
			}
		}
	}
	if s["loss"][0].X != 10 {
		t.Fatal("ByTime changed its receiver")
	}
}

func TestCompareCurvesErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := ReadMetrics(writeMetrics(t, dir, "good", syntheticRun(0.1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	noTime := Series{"loss": {{X: 1, Y: 5}, {X: 2, Y: 4}}}
	nothing := Series{"grad_norm": {{X: 1, Y: 1}}, "elapsed_s": {{X: 1, Y: 3}}}
	for _, tc := range []struct {
		name string
		runs []Run
		x    Axis
		out  string
		want string // in the error
	}{
		{"no elapsed_s", []Run{{"good", good}, {"old", noTime}}, AxisTime, "e.png", "old: the metrics have no elapsed_s"},
		{"unknown axis", []Run{{"good", good}}, "tokens", "e.png", `x axis "tokens"`},
		{"nothing to draw", []Run{{"good", good}, {"empty", nothing}}, AxisStep, "e.png", "empty: the metrics hold no loss"},
		{"same names", []Run{{"good", good}, {"good", noTime}}, AxisStep, "e.png", `two runs are named "good"`},
		{"no runs", nil, AxisStep, "e.png", "no runs"},
		{"gif", []Run{{"good", good}, {"old", noTime}}, AxisStep, "e.gif", "want a .png or .svg"},
	} {
		err := CompareCurves(filepath.Join(dir, tc.out), tc.runs, tc.x, "compare")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error with %q", tc.name, err, tc.want)
		}
		if _, err := os.Stat(filepath.Join(dir, tc.out)); !os.IsNotExist(err) {
			t.Errorf("%s: the refused picture was written", tc.name)
		}
	}
}
