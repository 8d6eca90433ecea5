// Package plot draws qkv's pictures with gonum/plot: attention weights as heatmaps with the
// tokens on both axes, and training curves from a run's metrics.jsonl. Files are PNG or SVG
// by their extension, written atomically.
package plot

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"unicode/utf8"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

// Attention is the attention weights of a model on one input, as `qkv attention --out
// FILE.json` writes them (and a web page draws them):
//
//	{"kind": "cross", "tokens_src": [...], "tokens_tgt": [...],
//	 "layers": [{"layer": 0, "heads": [[[w, ...], ...], ...]}, ...]}
//
// Kind "cross" is an encoder–decoder's attention from the target (rows, tokens_tgt: the
// token written at each step) to the source (columns, tokens_src). Kind "self" is a sequence
// attending to itself: tokens_src and tokens_tgt are then the same tokens (the keys and the
// queries). heads[h][i][j] is the weight of row i on column j in head h; each row sums to 1
// (over the positions it may see). A recurrent model has one layer with one head.
type Attention struct {
	Kind      string   `json:"kind"`
	Model     string   `json:"model,omitempty"` // the model_type: marian, qkv-seq2seq, gpt2, bert
	TokensSrc []string `json:"tokens_src"`
	TokensTgt []string `json:"tokens_tgt"`
	Layers    []Layer  `json:"layers"`
}

// Layer is one layer's heads: (heads, rows, columns).
type Layer struct {
	Layer int           `json:"layer"`
	Heads [][][]float32 `json:"heads"`
}

// Check reports weights whose shape does not match the tokens.
func (a *Attention) Check() error {
	if len(a.Layers) == 0 {
		return fmt.Errorf("attention: no layers")
	}
	for _, l := range a.Layers {
		for h, m := range l.Heads {
			if len(m) != len(a.TokensTgt) {
				return fmt.Errorf("attention: layer %d head %d has %d rows for %d target tokens", l.Layer, h, len(m), len(a.TokensTgt))
			}
			for i, row := range m {
				if len(row) != len(a.TokensSrc) {
					return fmt.Errorf("attention: layer %d head %d row %d has %d weights for %d source tokens", l.Layer, h, i, len(row), len(a.TokensSrc))
				}
			}
		}
	}
	return nil
}

// Head returns the weights of one head of the layer numbered layer.
func (a *Attention) Head(layer, head int) ([][]float32, error) {
	for _, l := range a.Layers {
		if l.Layer == layer {
			if head < 0 || head >= len(l.Heads) {
				return nil, fmt.Errorf("attention: head %d: layer %d has heads 0..%d", head, layer, len(l.Heads)-1)
			}
			return l.Heads[head], nil
		}
	}
	return nil, fmt.Errorf("attention: layer %d: the model has layers 0..%d", layer, a.Layers[len(a.Layers)-1].Layer)
}

// Save writes the attention to path: JSON (.json), or a heatmap of one layer and head (.png,
// .svg).
func (a *Attention) Save(path string, layer, head int) error {
	if err := a.Check(); err != nil {
		return err
	}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		data, err := json.Marshal(a)
		if err != nil {
			return err
		}
		return atomicfile.WriteFile(path, append(data, '\n'), 0o644)
	}
	w, err := a.Head(layer, head)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("%s attention, layer %d, head %d", a.Kind, layer, head)
	return Heatmap(path, w, a.TokensSrc, a.TokensTgt, title)
}

// grid is a matrix of weights as gonum's GridXYZ, row 0 drawn at the top.
type grid [][]float32

func (g grid) Dims() (c, r int)   { return len(g[0]), len(g) }
func (g grid) Z(c, r int) float64 { return float64(g[len(g)-1-r][c]) }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }

// Heatmap draws w (rows, columns) with the column labels along the bottom and the row labels
// down the left side, first row at the top, and writes it to path (.png or .svg).
func Heatmap(path string, w [][]float32, cols, rows []string, title string) error {
	if len(w) == 0 || len(w[0]) == 0 {
		return fmt.Errorf("heatmap: no weights to draw")
	}
	if len(w) != len(rows) || len(w[0]) != len(cols) {
		return fmt.Errorf("heatmap: %d×%d weights for %d row and %d column labels", len(w), len(w[0]), len(rows), len(cols))
	}
	p := gplot.New()
	p.Title.Text = title
	h := plotter.NewHeatMap(grid(w), palette.Heat(64, 1))
	h.Min, h.Max = 0, 1
	for _, row := range w {
		for _, v := range row {
			h.Max = math.Max(h.Max, float64(v))
		}
	}
	p.Add(h)
	p.NominalX(cols...)
	rev := make([]string, len(rows))
	for i, r := range rows {
		rev[len(rows)-1-i] = r
	}
	p.NominalY(rev...)
	p.X.Tick.Label.Rotation = math.Pi / 2
	p.X.Tick.Label.XAlign = -1.0 // text ends at the tick
	p.X.Tick.Label.YAlign = -0.5
	p.X.Label.Text, p.Y.Label.Text = "attends to", "at"
	cell := 0.6 * vg.Centimeter
	width := max(8*vg.Centimeter, vg.Length(len(cols))*cell+4*vg.Centimeter)
	height := max(6*vg.Centimeter, vg.Length(len(rows))*cell+4*vg.Centimeter)
	return save(p, width, height, path)
}

// save renders p in the format path's extension names and writes it atomically.
func save(p *gplot.Plot, w, h vg.Length, path string) error {
	format, ok := imageFormat(path)
	if !ok {
		return fmt.Errorf("%s: want a .png or .svg file (or .json for the weights)", path)
	}
	wt, err := p.WriterTo(w, h, format)
	if err != nil {
		return err
	}
	return writeImage(path, wt)
}

// TokenLabels returns a label for each token id: its text, with a leading space shown as ▁
// and bytes that do not make a whole character as U+FFFD.
func TokenLabels(tok tokenizer.Tokenizer, ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		var s string
		if b, ok := tok.(interface{ TokenBytes(int) ([]byte, error) }); ok {
			if bs, err := b.TokenBytes(id); err == nil {
				s = string(bs)
			}
		} else if t, err := tok.Decode([]int{id}); err == nil {
			s = t
		}
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\uFFFD")
		}
		if strings.HasPrefix(s, " ") {
			s = "▁" + s[1:]
		}
		out[i] = s
	}
	return out
}

// Heads copies the weights of the first batch row of w — (B, nh, T, S), or (B, T, S) for a
// single head — as [head][row][column].
func Heads(w *tensor.Tensor) [][][]float32 {
	w = w.Contiguous()
	shape := w.Shape()
	nh := 1
	if len(shape) == 4 {
		nh = shape[1]
	}
	t, s := shape[len(shape)-2], shape[len(shape)-1]
	d := w.Data()
	out := make([][][]float32, nh)
	for h := range out {
		out[h] = make([][]float32, t)
		for i := range out[h] {
			off := (h*t + i) * s
			out[h][i] = append([]float32(nil), d[off:off+s]...)
		}
	}
	return out
}
