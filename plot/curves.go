package plot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strings"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
)

// Series are a run's metrics by name ("loss", "val_loss", "lr", "val_bleu", …): the (step,
// value) points of every record of metrics.jsonl that has the metric. Records of a final
// evaluation ("val_loss_full") are kept under their own name.
type Series map[string]plotter.XYs

// ReadMetrics reads a metrics.jsonl file. A line that is not a JSON object (a record cut short
// by a crash) is an error naming its line; null values are skipped.
func ReadMetrics(path string) (Series, error) {
	f, err := fileutil.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := Series{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: not a JSON record: %w", path, n, err)
		}
		step, ok := rec["step"].(float64)
		if !ok {
			return nil, fmt.Errorf("%s:%d: the record has no step", path, n)
		}
		for k, v := range rec {
			if f, ok := v.(float64); ok && k != "step" {
				s[k] = append(s[k], plotter.XY{X: step, Y: f})
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// panels are the charts Curves draws, each with the series it shows when the run has them.
var panels = []struct {
	title  string
	series []string
}{
	{"loss", []string{"loss", "val_loss", "val_loss_full"}},
	{"validation BLEU", []string{"val_bleu", "val_bleu_full"}},
	{"learning rate", []string{"lr"}},
}

var palette3 = []color.Color{color.RGBA{31, 119, 180, 255}, color.RGBA{214, 39, 40, 255}, color.RGBA{44, 160, 44, 255}}

// Curves draws a run's training curves against the step — the loss (training and
// validation), the validation BLEU when the run logs it, and the learning rate — one chart
// above the other, and writes them to path (.png or .svg).
func Curves(path string, s Series, title string) error {
	lo, hi := math.Inf(1), math.Inf(-1) // the steps of the run, shared by every chart
	for _, xy := range s {
		for _, pt := range xy {
			lo, hi = math.Min(lo, pt.X), math.Max(hi, pt.X)
		}
	}
	var plots [][]*gplot.Plot
	for _, pn := range panels {
		p := gplot.New()
		p.Title.Text = pn.title
		p.X.Label.Text = "step"
		n := 0
		for i, name := range pn.series {
			xy := s[name]
			if len(xy) == 0 {
				continue
			}
			if len(xy) == 1 || strings.HasSuffix(name, "_full") {
				sc, err := plotter.NewScatter(xy)
				if err != nil {
					return err
				}
				sc.Color = palette3[i%len(palette3)]
				p.Add(sc)
				p.Legend.Add(name, sc)
			} else {
				l, err := plotter.NewLine(xy)
				if err != nil {
					return err
				}
				l.Color, l.Width = palette3[i%len(palette3)], vg.Points(1.5)
				p.Add(l)
				p.Legend.Add(name, l)
			}
			n++
		}
		if n > 0 {
			p.X.Min, p.X.Max = math.Min(p.X.Min, lo), math.Max(p.X.Max, hi)
			p.Legend.Top = true
			plots = append(plots, []*gplot.Plot{p})
		}
	}
	if len(plots) == 0 {
		return fmt.Errorf("%s: the metrics hold no loss, BLEU or learning rate to draw", title)
	}
	plots[0][0].Title.Text = title + ": " + plots[0][0].Title.Text
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	w, h := 16*vg.Centimeter, vg.Length(len(plots))*7*vg.Centimeter
	var c interface {
		vg.CanvasSizer
		WriteTo(w io.Writer) (int64, error)
	}
	switch ext {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.New(w, h)}
	case "svg":
		c = vgsvg.New(w, h)
	default:
		return fmt.Errorf("%s: want a .png or .svg file", path)
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: 3 * vg.Millimeter, PadY: 3 * vg.Millimeter}
	canvases := gplot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, buf.Bytes(), 0o644)
}
