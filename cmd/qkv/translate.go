package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/tensor/kernel"
	"github.com/qkvdev/qkv/translate"
)

type translateOptions struct {
	Model         string
	Input         string
	Beam          int
	LengthPenalty float64
	MaxLen        int
	Batch         int
	Threads       int
}

// maxLineBytes bounds one source line.
const maxLineBytes = 1 << 20

func newTranslateCmd() *cobra.Command {
	o := &translateOptions{}
	cmd := &cobra.Command{
		Use:   "translate",
		Short: "Translate sentences with a trained encoder–decoder (Transformer or seq2seq)",
		Long: `Translate source sentences, one a line, with a model trained by qkv train --arch transformer
or --arch seq2seq (a model folder, a checkpoint, or a run folder: its newest checkpoint).

Sentences come from standard input (or --input) and their translations go to standard output,
one line each, in order. Lines are translated in batches by beam search (--beam 1: greedy), and
each translation is printed as soon as it and every line before it are done, so the command
also works interactively.

An empty (or blank) line translates to an empty line. A sentence longer than the model takes is
cut to its maximum length, with a warning naming the line; characters the tokenizer has no
token for are left out, with a warning naming the line. Warnings go to standard error.`,
		Example: `  qkv translate --model runs/transformer-20261202-101500 < test.en > test.de
  echo "A man rides a bike." | qkv translate --model runs/seq2seq-20261202-090000 --beam 1
  qkv translate --model RUN --input test.en --beam 5 --length-penalty 0.6 --batch 32`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTranslate(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.Model, "model", "", "model folder, checkpoint or training run (required)")
	f.StringVar(&o.Input, "input", "", "source sentences, one a line (default: standard input)")
	f.IntVar(&o.Beam, "beam", 5, "beams per sentence (1: greedy search)")
	f.Float64Var(&o.LengthPenalty, "length-penalty", 1, "α: hypotheses are ranked by log p / length^α (0: by log p alone)")
	f.IntVar(&o.MaxLen, "max-len", 0, "most tokens of a translation (default: the model's maximum)")
	f.IntVar(&o.Batch, "batch", 16, "sentences translated together")
	f.IntVar(&o.Threads, "threads", 0, "CPU threads (default: all cores)")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

func runTranslate(cmd *cobra.Command, o *translateOptions) error {
	switch {
	case o.Beam < 1 || o.Beam > 1024:
		return fmt.Errorf("--beam %d: want 1..1024", o.Beam)
	case o.Batch < 1 || o.Batch > 1<<16:
		return fmt.Errorf("--batch %d: want 1..65536", o.Batch)
	case o.MaxLen < 0:
		return fmt.Errorf("--max-len %d: want 0 (the model's maximum) or more", o.MaxLen)
	case math.IsNaN(o.LengthPenalty) || math.IsInf(o.LengthPenalty, 0):
		return fmt.Errorf("--length-penalty %g: want a finite number", o.LengthPenalty)
	case o.Threads < 0 || o.Threads > maxThreads:
		return fmt.Errorf("--threads %d: want 0..%d", o.Threads, maxThreads)
	}
	if o.Threads > 0 {
		kernel.SetThreads(o.Threads)
	}
	tr, err := translate.Load(o.Model)
	if err != nil {
		return err
	}
	if o.MaxLen > tr.MaxTarget() {
		return fmt.Errorf("--max-len %d: the model writes at most %d tokens", o.MaxLen, tr.MaxTarget())
	}
	in, name := cmd.InOrStdin(), "standard input"
	if o.Input != "" {
		f, err := fileutil.Open(o.Input)
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, o.Input
	}
	opt := translate.Options{Beams: o.Beam, LengthPenalty: o.LengthPenalty, MaxLen: o.MaxLen}
	return translateStream(cmd.Context(), tr, in, name, cmd.OutOrStdout(), cmd.ErrOrStderr(), opt, o.Batch)
}

// sourceLine is one line read, numbered from 1, or the error that ended reading.
type sourceLine struct {
	n    int
	text string
	err  error
}

// readSourceLines sends the lines of r to the returned channel, then closes it; a read error
// is sent as the last item.
func readSourceLines(ctx context.Context, r io.Reader, name string) <-chan sourceLine {
	ch := make(chan sourceLine, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), maxLineBytes)
		n := 0
		for sc.Scan() {
			n++
			select {
			case ch <- sourceLine{n: n, text: sc.Text()}:
			case <-ctx.Done():
				return
			}
		}
		if err := sc.Err(); err != nil {
			if err == bufio.ErrTooLong {
				err = fmt.Errorf("line %d is longer than %d bytes", n+1, maxLineBytes)
			}
			select {
			case ch <- sourceLine{err: fmt.Errorf("%s: %w", name, err)}:
			case <-ctx.Done():
			}
		}
	}()
	return ch
}

// translateStream translates the lines of r in batches of up to batch lines — as many as have
// arrived, so that an interactive line is not held back waiting for others — and writes each
// batch's translations in order as soon as it is done.
func translateStream(ctx context.Context, tr *translate.Translator, r io.Reader, name string, out, errOut io.Writer, opt translate.Options, batch int) error {
	lines := readSourceLines(ctx, r, name)
	w := bufio.NewWriter(out)
	for {
		var group []sourceLine
		select {
		case <-ctx.Done():
			return ctx.Err()
		case l, ok := <-lines:
			if !ok {
				return w.Flush()
			}
			group = append(group, l)
		}
	drain:
		for len(group) < batch {
			select {
			case l, ok := <-lines:
				if !ok {
					break drain
				}
				group = append(group, l)
			default:
				break drain
			}
		}
		var readErr error
		if last := group[len(group)-1]; last.err != nil {
			readErr, group = last.err, group[:len(group)-1]
		}
		if err := translateGroup(ctx, tr, group, name, w, errOut, opt); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if readErr != nil {
			return readErr
		}
	}
}

// translateGroup translates one batch of lines and writes their translations.
func translateGroup(ctx context.Context, tr *translate.Translator, group []sourceLine, name string, w io.Writer, errOut io.Writer, opt translate.Options) error {
	var src [][]int
	var at []int
	for i, l := range group {
		if !utf8.ValidString(l.text) {
			fmt.Fprintf(errOut, "warning: %s line %d is not valid UTF-8; its invalid bytes are translated as they are\n", name, l.n)
		}
		if strings.TrimSpace(l.text) == "" {
			continue // translates to an empty line
		}
		s := tr.Prepare(strings.TrimSpace(l.text))
		if s.Truncated > 0 {
			fmt.Fprintf(errOut, "warning: %s line %d has %d tokens; the model takes %d, so the last %d are left out\n", name, l.n, len(s.IDs)+s.Truncated, tr.MaxSource(), s.Truncated)
		}
		if s.Unknown > 0 {
			fmt.Fprintf(errOut, "warning: %s line %d: %d characters the tokenizer has no token for are left out\n", name, l.n, s.Unknown)
		}
		if len(s.IDs) == 0 {
			continue
		}
		src, at = append(src, s.IDs), append(at, i)
	}
	outs := make([]string, len(group))
	ys, err := tr.IDs(ctx, src, opt)
	if err != nil {
		return fmt.Errorf("%s lines %d–%d: %w", name, group[0].n, group[len(group)-1].n, err)
	}
	for j, y := range ys {
		text, err := tr.Text(y)
		if err != nil {
			return fmt.Errorf("%s line %d: %w", name, group[at[j]].n, err)
		}
		outs[at[j]] = text
	}
	for _, s := range outs {
		if _, err := fmt.Fprintln(w, s); err != nil {
			return err
		}
	}
	return nil
}
