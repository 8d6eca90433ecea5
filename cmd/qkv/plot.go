package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/plot"
)

func newPlotCmd() *cobra.Command {
	var out, x string
	var labels []string
	cmd := &cobra.Command{
		Use:   "plot RUN [RUN...] --out FILE.png|.svg [--x step|time] [--label NAME]...",
		Short: "Draw the loss, validation BLEU and learning-rate curves of a training run, or compare several",
		Long: `Draw the curves of training runs from their metrics.jsonl: the training and validation loss,
the validation BLEU of translation runs, and the learning rate. Each RUN is a run folder (qkv
train --out) or a metrics.jsonl file; the picture is PNG or SVG by the extension of --out.

Several runs are drawn over each other, one colour a run: training series as solid lines,
validation series dashed with a marker at each evaluation, the final evaluation (val_loss_full,
val_bleu_full) as a triangle, and a legend naming each curve "RUN val_bleu". A run is named by
its folder; runs whose folders share a name get " #2", " #3" … in the order given. --label,
once per RUN in the same order, names them instead; those names must differ.

--x step (the default) draws against the step, --x time against the minutes of training, from
the elapsed_s of the training records (a validation record gets the time interpolated between
the training records around its step); a run without elapsed_s cannot be drawn against time.`,
		Example: `  qkv plot runs/transformer-20261202-101500 --out loss.png
  qkv plot runs/gpt-20261128-101500/metrics.jsonl --out curves.svg
  qkv plot runs/gru-* runs/attention-* runs/transformer-* --x time --label gru --label attention --label transformer --out compare.png`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			axis, err := plot.ParseAxis(x)
			if err != nil {
				return fmt.Errorf("--x: %w", err)
			}
			if len(labels) > 0 && len(labels) != len(args) {
				return fmt.Errorf("--label given %d times for %d runs; give one per run, or none", len(labels), len(args))
			}
			runs := make([]plot.Run, len(args))
			seen := map[string]int{}
			for i, arg := range args {
				path := arg
				if fi, err := os.Stat(path); err != nil {
					return err
				} else if fi.IsDir() {
					path = filepath.Join(path, checkpoint.MetricsFile)
				}
				s, err := plot.ReadMetrics(path)
				if err != nil {
					return err
				}
				name := filepath.Base(filepath.Dir(path))
				if seen[name]++; seen[name] > 1 {
					name = fmt.Sprintf("%s #%d", name, seen[name])
				}
				if len(labels) > 0 {
					name = labels[i]
				}
				runs[i] = plot.Run{Name: name, Series: s}
			}
			names := make([]string, len(runs))
			for i, r := range runs {
				names[i] = r.Name
			}
			if err := plot.CompareCurves(out, runs, axis, strings.Join(names, " vs ")); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the picture to write, .png or .svg (required)")
	cmd.Flags().StringVar(&x, "x", string(plot.AxisStep), "the x axis: step, or time (minutes of training)")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "the name of a RUN in the legend, once per RUN in order (default: its folder's name)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
