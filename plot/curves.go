package plot

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

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

// panels are the charts Curves and CompareCurves draw, each with the series it shows when a
// run has them.
var panels = []struct {
	title  string
	series []string
}{
	{"loss", []string{"loss", "val_loss", "val_loss_full"}},
	{"validation BLEU", []string{"val_bleu", "val_bleu_full"}},
	{"learning rate", []string{"lr"}},
}

// tab10 colours the runs of a comparison (the Tableau 10 colours); palette3 the series of a
// single run.
var (
	tab10 = []color.Color{
		color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255},
		color.RGBA{214, 39, 40, 255}, color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255},
		color.RGBA{227, 119, 194, 255}, color.RGBA{127, 127, 127, 255}, color.RGBA{188, 189, 34, 255},
		color.RGBA{23, 190, 207, 255},
	}
	palette3 = []color.Color{tab10[0], tab10[3], tab10[2]}
)

// Axis is what the x axis of CompareCurves measures.
type Axis string

const (
	// AxisStep puts each record at its step.
	AxisStep Axis = "step"
	// AxisTime puts each record at the minutes of training before it (see Series.ByTime).
	AxisTime Axis = "time"
)

// ParseAxis returns the Axis named s: "step" or "time".
func ParseAxis(s string) (Axis, error) {
	switch a := Axis(s); a {
	case AxisStep, AxisTime:
		return a, nil
	}
	return "", fmt.Errorf("x axis %q: want step or time", s)
}

// label is the axis label of a.
func (a Axis) label() string {
	if a == AxisTime {
		return "training time (minutes)"
	}
	return "step"
}

// ByTime returns the series with each point's X, a step, replaced by the minutes of training
// at that step, from the series "elapsed_s" (the seconds every training record carries): a
// step with a training record gets its time, a step between two (a validation record) the
// time interpolated linearly between theirs, and a step before the first or after the last
// the time of that nearest one. Series without elapsed_s are an error.
func (s Series) ByTime() (Series, error) {
	el := slices.Clone(s["elapsed_s"])
	if len(el) == 0 {
		return nil, errors.New("the metrics have no elapsed_s to draw against the training time")
	}
	slices.SortStableFunc(el, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
	t := make(Series, len(s))
	for name, xy := range s {
		pts := make(plotter.XYs, len(xy))
		for i, pt := range xy {
			pts[i] = plotter.XY{X: minutesAt(el, pt.X), Y: pt.Y}
		}
		t[name] = pts
	}
	return t, nil
}

// minutesAt returns the minutes of training at step, from el: (step, elapsed seconds) points
// sorted by step, at least one.
func minutesAt(el plotter.XYs, step float64) float64 {
	i, found := slices.BinarySearchFunc(el, step, func(pt plotter.XY, step float64) int { return cmp.Compare(pt.X, step) })
	switch {
	case found || i == 0:
		return el[i].Y / 60
	case i == len(el):
		return el[i-1].Y / 60
	}
	a, b := el[i-1], el[i]
	return (a.Y + (b.Y-a.Y)*(step-a.X)/(b.X-a.X)) / 60
}

// Run is one training run of a comparison: the name its curves carry in the legend, and its
// metrics.
type Run struct {
	Name   string
	Series Series
}

// Curves draws a run's training curves against the step — the loss (training and
// validation), the validation BLEU when the run logs it, and the learning rate — one chart
// above the other, and writes them to path (.png or .svg).
func Curves(path string, s Series, title string) error {
	return drawCurves(path, []Run{{Name: title, Series: s}}, AxisStep, title)
}

// CompareCurves draws the curves of runs over each other, in the charts of Curves, against
// the step or the minutes of training (AxisTime, see Series.ByTime), and writes them to path
// (.png or .svg). Each run has a colour of its own (they repeat after ten runs): its
// training series are solid lines, its validation series dashed lines with a marker at each
// evaluation, and its final evaluation ("val_loss_full", "val_bleu_full") one triangle; the
// legend, right of each chart, names each curve "RUN SERIES", e.g. "transformer val_bleu". A
// single run is drawn as Curves draws it, against x. Two runs of one name are an error, as is
// a run with nothing to draw.
func CompareCurves(path string, runs []Run, x Axis, title string) error {
	if _, err := ParseAxis(string(x)); err != nil {
		return err
	}
	if len(runs) == 0 {
		return errors.New("no runs to draw")
	}
	runs = slices.Clone(runs)
	seen := map[string]bool{}
	for i, r := range runs {
		if seen[r.Name] {
			return fmt.Errorf("two runs are named %q; give each its own name", r.Name)
		}
		seen[r.Name] = true
		if x == AxisTime {
			t, err := r.Series.ByTime()
			if err != nil {
				return fmt.Errorf("%s: %w", r.Name, err)
			}
			runs[i].Series = t
		}
	}
	return drawCurves(path, runs, x, title)
}

// drawCurves draws the charts of panels for runs, whose series are already in the units of
// x, and writes them to path. One run has its series told apart by colour and its legend in
// each chart; several have a colour a run and the legends right of the charts.
func drawCurves(path string, runs []Run, x Axis, title string) error {
	format, ok := imageFormat(path)
	if !ok {
		return fmt.Errorf("%s: want a .png or .svg file", path)
	}
	many := len(runs) > 1
	lo, hi := math.Inf(1), math.Inf(-1) // the x range of the runs, shared by every chart
	for _, r := range runs {
		for _, xy := range r.Series {
			for _, pt := range xy {
				lo, hi = math.Min(lo, pt.X), math.Max(hi, pt.X)
			}
		}
	}
	drawn := make([]bool, len(runs))
	var plots [][]*gplot.Plot
	var legends []gplot.Legend // the legends right of the charts when many
	for _, pn := range panels {
		p := gplot.New()
		p.Title.Text = pn.title
		p.X.Label.Text = x.label()
		leg := gplot.NewLegend()
		leg.Top, leg.Left = true, true
		leg.TextStyle.Font.Size = vg.Points(10)
		n := 0
		for r, run := range runs {
			for i, name := range pn.series {
				xy := run.Series[name]
				if len(xy) == 0 {
					continue
				}
				col, lg, label := palette3[i%len(palette3)], &p.Legend, name
				if many {
					col, lg, label = tab10[r%len(tab10)], &leg, run.Name+" "+name
				}
				thumbs, err := addCurve(p, xy, name, col, many)
				if err != nil {
					return err
				}
				lg.Add(label, thumbs...)
				drawn[r] = true
				n++
			}
		}
		if n > 0 {
			p.X.Min, p.X.Max = math.Min(p.X.Min, lo), math.Max(p.X.Max, hi)
			p.Legend.Top = true
			plots = append(plots, []*gplot.Plot{p})
			legends = append(legends, leg)
		}
	}
	for r, ok := range drawn {
		if !ok {
			return fmt.Errorf("%s: the metrics hold no loss, BLEU or learning rate to draw", runs[r].Name)
		}
	}
	plots[0][0].Title.Text = title + ": " + plots[0][0].Title.Text

	w, rowH, legW := 16*vg.Centimeter, 7*vg.Centimeter, vg.Length(0)
	if many {
		for _, leg := range legends {
			size := leg.Rectangle(draw.Canvas{}).Size()
			legW, rowH = max(legW, size.X+5*vg.Millimeter), max(rowH, size.Y+3*vg.Centimeter)
		}
	}
	c, err := draw.NewFormattedCanvas(w+legW, vg.Length(len(plots))*rowH, format)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: 3 * vg.Millimeter, PadY: 3 * vg.Millimeter}
	canvases := gplot.Align(plots, tiles, draw.Crop(dc, 0, -legW, 0, 0))
	for i := range plots {
		pc := canvases[i][0]
		plots[i][0].Draw(pc)
		if many {
			top := pc.Max.Y - vg.Centimeter // below the chart's title
			legends[i].Draw(draw.Canvas{Canvas: dc, Rectangle: vg.Rectangle{Min: vg.Point{X: pc.Max.X + 2*vg.Millimeter, Y: pc.Min.Y}, Max: vg.Point{X: dc.Max.X, Y: top}}})
		}
	}
	return writeImage(path, c)
}

// addCurve adds the points of the series name to p in colour c and returns what the legend
// shows for it: a line, or a marker when there is one point or the series is a final
// evaluation. In a comparison (compare) a validation series is dashed with a marker at each
// point, and a final evaluation a larger triangle.
func addCurve(p *gplot.Plot, xy plotter.XYs, name string, c color.Color, compare bool) ([]gplot.Thumbnailer, error) {
	final := strings.HasSuffix(name, "_full")
	if len(xy) == 1 || final {
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, err
		}
		sc.Color = c
		if compare && final {
			sc.Shape, sc.Radius = draw.PyramidGlyph{}, vg.Points(5)
		}
		p.Add(sc)
		return []gplot.Thumbnailer{sc}, nil
	}
	if compare && strings.HasPrefix(name, "val_") {
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width, l.Dashes = c, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(2)}
		pts.Color, pts.Shape, pts.Radius = c, draw.CircleGlyph{}, vg.Points(2)
		p.Add(l, pts)
		return []gplot.Thumbnailer{l, pts}, nil
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		return nil, err
	}
	l.Color, l.Width = c, vg.Points(1.5)
	p.Add(l)
	return []gplot.Thumbnailer{l}, nil
}

// imageFormat returns the picture format path's extension names, "png" or "svg"; ok is false
// for any other.
func imageFormat(path string) (format string, ok bool) {
	format = strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	return format, format == "png" || format == "svg"
}

// writeImage renders wt and writes it to path atomically.
func writeImage(path string, wt io.WriterTo) error {
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteFile(path, buf.Bytes(), 0o644)
}
