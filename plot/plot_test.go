package plot

import (
	"image/png"
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
