package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/plot"
)

func newPlotCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "plot RUN --out FILE.png|.svg",
		Short: "Draw a training run's loss, validation BLEU and learning-rate curves",
		Long: `Draw the curves of a training run from its metrics.jsonl: the training and validation loss,
the validation BLEU of translation runs, and the learning rate, against the step. RUN is a
run folder (qkv train --out) or a metrics.jsonl file; the picture is PNG or SVG by the
extension of --out.`,
		Example: `  qkv plot runs/transformer-20261202-101500 --out loss.png
  qkv plot runs/gpt-20261128-101500/metrics.jsonl --out curves.svg`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			if fi, err := os.Stat(path); err != nil {
				return err
			} else if fi.IsDir() {
				path = filepath.Join(path, checkpoint.MetricsFile)
			}
			s, err := plot.ReadMetrics(path)
			if err != nil {
				return err
			}
			if err := plot.Curves(out, s, filepath.Base(filepath.Dir(path))); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the picture to write, .png or .svg (required)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
