package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/embed"
	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

// maxEmbedInputBytes bounds the text qkv embed reads.
const maxEmbedInputBytes = 256 << 20

type embedOptions struct {
	model, pooling, format string
	normalize              bool
	batch                  int
}

func newEmbedCmd() *cobra.Command {
	o := &embedOptions{}
	cmd := &cobra.Command{
		Use:   "embed --model DIR [FILE]",
		Short: "Print sentence embeddings of each input line (BERT or GPT)",
		Long: `Embed each line of FILE (or of standard input) with a BERT or GPT model: the last layer's
hidden states pooled over the line's tokens — their mean (padding excluded), the [CLS] token's
(BERT) or the last token's (GPT) — optionally scaled to unit length (--normalize), so that the
dot product of two embeddings is their cosine similarity.

Output, one JSON object per line (--format jsonl):
  {"index":0,"embedding":[0.0123,-0.456,…]}
or one OpenAI-style list (--format openai):
  {"object":"list","data":[{"object":"embedding","index":0,"embedding":[…]}],"model":"DIR","usage":{…}}

Lines are embedded in batches, each padded to its longest line; a line longer than the model's
context is cut to it.`,
		Example: `  echo "the cat sat on the mat" | qkv embed --model export/bert --normalize
  qkv embed --model export/bert --pooling cls --format openai sentences.txt`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runEmbed(cmd, o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model folder, training run, or Hub id (BERT or GPT-2)")
	f.StringVar(&o.pooling, "pooling", "mean", "mean, cls (BERT) or last (GPT)")
	f.BoolVar(&o.normalize, "normalize", false, "scale each embedding to unit L2 norm")
	f.StringVar(&o.format, "format", "jsonl", "jsonl (one object per line) or openai (one list)")
	f.IntVar(&o.batch, "batch-size", 32, "lines per forward pass")
	return cmd
}

func runEmbed(cmd *cobra.Command, o *embedOptions, args []string) error {
	ctx := cmd.Context()
	if o.model == "" {
		return fmt.Errorf("--model is required")
	}
	if o.format != "jsonl" && o.format != "openai" {
		return fmt.Errorf("--format %q: want jsonl or openai", o.format)
	}
	pooling := embed.Pooling(o.pooling)
	if pooling != embed.Mean && pooling != embed.CLS && pooling != embed.Last {
		return fmt.Errorf("--pooling %q: want mean, cls or last", o.pooling)
	}
	if o.batch < 1 {
		return fmt.Errorf("--batch-size %d: want at least 1", o.batch)
	}
	lines, err := readEmbedLines(cmd, args)
	if err != nil {
		return err
	}
	src, err := resolveModel(ctx, cmd.ErrOrStderr(), o.model)
	if err != nil {
		return err
	}
	m, err := auto.LoadForInference(src, tensor.FP32) // a GPT on the GEMM kernel's panels where the CPU has them
	if err != nil {
		return err
	}
	tok, err := tokenizer.Load(src)
	if errors.Is(err, tokenizer.ErrNoTokenizer) {
		return fmt.Errorf("%s has no tokenizer files (vocab.txt, vocab.json + merges.txt or tokenizer.json): qkv embed needs the model's tokenizer", src)
	} else if err != nil {
		return err
	}
	e, err := embed.New(m, tok, embed.Options{Pooling: pooling, Normalize: o.normalize, BatchSize: o.batch})
	if err != nil {
		return err
	}
	seqs := make([][]int, len(lines))
	tokens := 0
	for i, l := range lines {
		if seqs[i], err = e.Tokenize(l); err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		if len(seqs[i]) == 0 {
			return fmt.Errorf("line %d has no tokens (a GPT needs at least one): remove empty lines", i+1)
		}
		tokens += len(seqs[i])
	}
	w := bufio.NewWriter(cmd.OutOrStdout())
	type item struct {
		Object    string    `json:"object,omitempty"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	var data []item
	enc := json.NewEncoder(w)
	for lo := 0; lo < len(seqs); lo += o.batch {
		vs, err := e.EmbedIDs(ctx, seqs[lo:min(lo+o.batch, len(seqs))])
		if err != nil {
			return err
		}
		for j, v := range vs {
			if o.format == "openai" {
				data = append(data, item{Object: "embedding", Index: lo + j, Embedding: v})
			} else if err := enc.Encode(item{Index: lo + j, Embedding: v}); err != nil {
				return err
			}
		}
	}
	if o.format == "openai" {
		if data == nil {
			data = []item{}
		}
		usage := map[string]int{"prompt_tokens": tokens, "total_tokens": tokens}
		if err := enc.Encode(map[string]any{"object": "list", "data": data, "model": o.model, "usage": usage}); err != nil {
			return err
		}
	}
	return w.Flush()
}

// readEmbedLines reads the lines of the file named in args, or of standard input: one text per
// line, "\r\n" line ends accepted, no empty last line for a final newline.
func readEmbedLines(cmd *cobra.Command, args []string) ([]string, error) {
	var data []byte
	var err error
	what := "standard input"
	if len(args) == 1 && args[0] != "-" {
		what = args[0]
		data, err = fileutil.ReadFile(args[0], maxEmbedInputBytes, "a text file of one sentence per line")
	} else {
		data, err = readInput(cmd.Context(), cmd.InOrStdin(), maxEmbedInputBytes, "the lines to embed")
	}
	if err != nil {
		return nil, err
	}
	text := strings.TrimSuffix(string(data), "\n")
	if text == "" {
		return nil, fmt.Errorf("%s holds no lines to embed", what)
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
		if !utf8.ValidString(lines[i]) {
			return nil, fmt.Errorf("%s: line %d is not valid UTF-8", what, i+1)
		}
	}
	return lines, nil
}
