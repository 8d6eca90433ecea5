package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/data"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
	"github.com/qkvdev/qkv/train"
)

func newEvalCmd() *cobra.Command {
	var model, corpusPath, split, weights string
	var block, threads int
	var valFraction float64
	cmd := &cobra.Command{
		Use:   "eval --model M --data TEXT",
		Short: "Measure a language model's loss and perplexity on text",
		Long: `Measure a GPT's next-token loss (mean cross-entropy, nats per token) and perplexity over
non-overlapping windows of a text: its validation split (as qkv train holds it out: whole
files of a folder, the last --val-fraction of a single file) or all of it. --weights compares weight formats for inference: fp32 as trained,
bf16, and int8 with one scale per 32 weights.`,
		Example: `  qkv eval --model runs/shakespeare --data ../shared/data/tinyshakespeare/input.txt
  qkv eval --model runs/shakespeare --data input.txt --weights fp32,bf16,int8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if model == "" || corpusPath == "" {
				return fmt.Errorf("--model and --data are required")
			}
			if threads > 0 {
				kernel.SetThreads(threads)
			}
			var formats []tensor.WeightFormat
			for _, w := range strings.Split(weights, ",") {
				f, err := tensor.ParseWeightFormat(strings.TrimSpace(w))
				if err != nil {
					return fmt.Errorf("--weights: %w", err)
				}
				formats = append(formats, f)
			}
			dir, err := resolveModel(cmd.Context(), cmd.ErrOrStderr(), model)
			if err != nil {
				return err
			}
			m, tok, err := loadLM(dir)
			if err != nil {
				return err
			}
			corpus, err := data.LoadCorpus(corpusPath, nil, data.MaxCorpusBytes)
			if err != nil {
				return err
			}
			var ids []int
			switch split {
			case "val":
				if _, ids, err = splitCorpus(io.Discard, cmd.ErrOrStderr(), corpus, valFraction, true, tok); err != nil {
					return err
				}
			case "all":
				ids = tok.Encode(corpus.Text)
				warnUnknownChars(cmd.ErrOrStderr(), tok, corpus.Text, ids)
			default:
				return fmt.Errorf("--split %q: want val or all", split)
			}
			if block == 0 {
				block = m.Config.NPositions
			}
			if block < 1 || block > m.Config.NPositions {
				return fmt.Errorf("--block %d: want 1..%d (the model's context)", block, m.Config.NPositions)
			}
			if err := data.CheckBlock(split, ids, block); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: %d tokens of %s (%s split), windows of %d\n", dir, len(ids), corpus.Desc, split, block)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "weights\tloss\tperplexity\ttime")
			for _, f := range formats {
				if err := m.Pack(f); err != nil {
					return err
				}
				start := time.Now()
				loss, err := train.EvalLM(cmd.Context(), m, ids, block, 0)
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%.4f\t%.3f\t%s\n", f, loss, math.Exp(loss), time.Since(start).Round(time.Millisecond))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "model folder, training run, or Hub id")
	f.StringVar(&corpusPath, "data", "", "text file or folder")
	f.StringVar(&split, "split", "val", "val (the validation split qkv train holds out) or all")
	f.Float64Var(&valFraction, "val-fraction", 0.1, "share of the text that forms the validation split")
	f.StringVar(&weights, "weights", "fp32", "comma-separated weight formats to compare: fp32, bf16, int8")
	f.IntVar(&block, "block", 0, "window length (default: the model's context)")
	f.IntVar(&threads, "threads", 0, "CPU threads (default: all cores)")
	cmd.AddCommand(newEvalBLEUCmd())
	return cmd
}
