// Command pretraining-helps summarises the runs of scripts/pretraining-helps.sh: a Markdown
// table of dev accuracy (mean ± standard deviation over seeds) for each task, model and
// initialisation, the sample-efficiency table, and curve.png (accuracy against the number of
// fine-tuning examples, pretrained against random initialisation).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"log"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/qkvdev/qkv/finetune"
)

// run is one fine-tuning run: its name's parts and the dev accuracy after the last epoch and at
// the best one.
type run struct {
	task, model, init string
	n                 int
	seed              int
	last, best        float64
}

var runName = regexp.MustCompile(`^(\w+)-(\w+)-(pretrained|random)-n(\d+)-s(\d+)$`)

func main() {
	dir := flag.String("dir", "", "the output folder of scripts/pretraining-helps.sh")
	sizes := flag.String("sizes", "100 300 1000", "the training-set sizes of the curve")
	all := flag.Int("all", 0, "the number of SNLI training pairs (the curve's last point)")
	flag.Parse()
	runs, err := readRuns(filepath.Join(*dir, "ft"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("## Pretraining")
	fmt.Println()
	fmt.Println("| model | steps | wall time | validation loss, whole split (BERT: MLM + NSP; GPT: next token) |")
	fmt.Println("|---|---|---|---|")
	for _, m := range []string{"bert", "gpt"} {
		if s, ok := pretraining(filepath.Join(*dir, m)); ok {
			fmt.Printf("| %s | %s |\n", m, s)
		}
	}
	fmt.Println()
	fmt.Println("## Dev accuracy after the last epoch, all training pairs (mean ± sample std over seeds, each seed, and the mean of the best epochs)")
	fmt.Println()
	fmt.Println("| task | model | init | accuracy % | per seed | best-epoch mean |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, task := range []string{"snli", "rte"} {
		for _, model := range []string{"bert", "gpt"} {
			for _, init := range []string{"pretrained", "random"} {
				sel := pick(runs, task, model, init, 0)
				if len(sel) == 0 {
					continue
				}
				m, s := stats(sel, false)
				b, _ := stats(sel, true)
				fmt.Printf("| %s | %s | %s | %.1f ± %.1f | %s | %.1f |\n", task, model, init, m, s, perSeed(sel), b)
			}
		}
	}
	var ns []int
	for _, f := range strings.Fields(*sizes) {
		n, err := strconv.Atoi(f)
		if err != nil {
			log.Fatalf("-sizes: %v", err)
		}
		ns = append(ns, n)
	}
	fmt.Println()
	fmt.Println("## Sample efficiency: SNLI dev accuracy against fine-tuning pairs (BERT, mean ± std over seeds)")
	fmt.Println()
	fmt.Println("| pairs | pretrained % | random init % |")
	fmt.Println("|---|---|---|")
	curves := map[string]plotter.XYs{}
	errs := map[string]plotter.YErrors{}
	for _, n := range append(ns, 0) {
		row := []string{}
		x := n
		if n == 0 {
			x = *all
		}
		for _, init := range []string{"pretrained", "random"} {
			sel := pick(runs, "snli", "bert", init, n)
			if len(sel) == 0 {
				row = append(row, "–")
				continue
			}
			m, s := stats(sel, false)
			row = append(row, fmt.Sprintf("%.1f ± %.1f", m, s))
			curves[init] = append(curves[init], plotter.XY{X: float64(x), Y: m})
			errs[init] = append(errs[init], struct{ Low, High float64 }{s, s})
		}
		fmt.Printf("| %d | %s |\n", x, strings.Join(row, " | "))
	}
	if err := drawCurve(filepath.Join(*dir, "curve.png"), curves, errs); err != nil {
		log.Fatal(err)
	}
}

// pretraining describes a pretraining run from its metrics.jsonl.
func pretraining(dir string) (string, bool) {
	data, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return "", false
	}
	var steps, elapsed, val float64
	for _, line := range strings.Split(string(data), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if v, ok := m["elapsed_s"].(float64); ok {
			elapsed, steps = v, m["step"].(float64)
		}
		if v, ok := m["val_loss_full"].(float64); ok {
			val = v
		}
	}
	return fmt.Sprintf("%.0f | %.1f min | %.3f", steps, elapsed/60, val), true
}

func readRuns(dir string) ([]run, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var runs []run
	for _, e := range entries {
		m := runName.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), finetune.ResultsFile))
		if err != nil {
			continue // not finished
		}
		var r finetune.Results
		if err := json.Unmarshal(data, &r); err != nil || len(r.Evals) == 0 || r.Best < 0 {
			return nil, fmt.Errorf("%s: %v", e.Name(), err)
		}
		var settings struct {
			Epochs int `json:"epochs"`
		}
		if data, err := os.ReadFile(filepath.Join(dir, e.Name(), "finetune.json")); err != nil || json.Unmarshal(data, &settings) != nil || r.Evals[len(r.Evals)-1].Epoch < settings.Epochs {
			continue // still running, or stopped early
		}
		n, _ := strconv.Atoi(m[4])
		seed, _ := strconv.Atoi(m[5])
		runs = append(runs, run{task: m[1], model: m[2], init: m[3], n: n, seed: seed,
			last: r.Evals[len(r.Evals)-1].Accuracy["dev"], best: r.Evals[r.Best].Accuracy["dev"]})
	}
	return runs, nil
}

func pick(runs []run, task, model, init string, n int) []run {
	var out []run
	for _, r := range runs {
		if r.task == task && r.model == model && r.init == init && r.n == n {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b run) int { return a.seed - b.seed })
	return out
}

// stats is the mean and sample standard deviation, in percent, of the last (or best) accuracies.
func stats(rs []run, best bool) (mean, std float64) {
	for _, r := range rs {
		mean += acc(r, best)
	}
	mean /= float64(len(rs))
	if len(rs) > 1 {
		for _, r := range rs {
			std += (acc(r, best) - mean) * (acc(r, best) - mean)
		}
		std = math.Sqrt(std / float64(len(rs)-1))
	}
	return 100 * mean, 100 * std
}

func acc(r run, best bool) float64 {
	if best {
		return r.best
	}
	return r.last
}

func perSeed(rs []run) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprintf("%.1f", 100*r.last))
	}
	return strings.Join(s, ", ")
}

func drawCurve(path string, curves map[string]plotter.XYs, errs map[string]plotter.YErrors) error {
	p := plot.New()
	p.Title.Text = "SNLI dev accuracy, tiny BERT (2 layers, 128 wide)"
	p.X.Label.Text = "fine-tuning pairs"
	p.Y.Label.Text = "accuracy (%), mean ± std over seeds"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	for i, init := range []string{"pretrained", "random"} {
		pts := curves[init]
		if len(pts) == 0 {
			continue
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, s.Color = plotColor(i), plotColor(i)
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYer
			plotter.YErrorer
		}{pts, errs[init]})
		if err != nil {
			return err
		}
		eb.Color = plotColor(i)
		p.Add(l, s, eb)
		p.Legend.Add(init+" initialisation", l, s)
	}
	p.Legend.Top = false
	p.Legend.Left = false
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}

func plotColor(i int) color.Color {
	return []color.Color{color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}}[i%2]
}
