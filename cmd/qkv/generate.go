package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/qkvdev/qkv/hf"
	"github.com/qkvdev/qkv/internal/fileutil"
	"github.com/qkvdev/qkv/internal/sysmem"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/reason"
	"github.com/qkvdev/qkv/sample"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
	"github.com/qkvdev/qkv/textstream"
	"github.com/qkvdev/qkv/tokenizer"
)

type generateOptions struct {
	model     string
	maxTokens int
	samplingFlags
	stop       []string
	threads    int
	weights    string
	regex      string   // constrain the output to this regular expression
	jsonSchema string   // constrain the output to instances of this JSON Schema file
	choices    []string // constrain the output to one of these
}

func newGenerateCmd() *cobra.Command {
	o := &generateOptions{}
	cmd := &cobra.Command{
		Use:   "generate --model DIR [PROMPT]",
		Short: "Continue a prompt with a trained language model",
		Long: `Continue a prompt with a language model, streaming tokens to stdout as they are decoded.

--model takes a model folder (config.json, model.safetensors, tokenizer files), a training run
folder (its latest checkpoint is used), or a HuggingFace Hub id such as openai-community/gpt2
(downloaded into the cache on first use; see qkv pull). The prompt is the argument, or standard input when
the argument is "-" or absent. Temperature 0 decodes greedily; otherwise tokens are sampled,
after top-k and top-p filtering, from a source seeded by --seed.`,
		Example: `  qkv generate --model runs/gpt-20261128-101500 "func main() {"
  qkv generate --model runs/shakespeare --temperature 0.8 --top-k 40 --max-tokens 500 "ROMEO:"
  echo "Once upon a time" | qkv generate --model mymodel --stop "\n\n" -`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runGenerate(cmd, o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model folder, training run, or Hub id ORG/NAME (required)")
	f.IntVar(&o.maxTokens, "max-tokens", 200, "most tokens to generate")
	o.samplingFlags.register(f, 0.8)
	f.StringArrayVar(&o.stop, "stop", nil, "stop when this text is generated (repeatable; \\n and \\t are understood)")
	f.StringVar(&o.regex, "regex", "", "constrain the output to match this regular expression (see qkv reason; top-k and repetition penalty are not applied)")
	f.StringVar(&o.jsonSchema, "json-schema", "", "constrain the output to a JSON instance of the schema in this file")
	f.StringArrayVar(&o.choices, "choice", nil, "constrain the output to one of these texts (repeatable)")
	f.IntVar(&o.threads, "threads", 0, "CPU threads (default: all cores)")
	f.StringVar(&o.weights, "weights", "fp32", "weight format for decoding: fp32, bf16 (half the bytes) or int8 (about a quarter)")
	cmd.MarkFlagRequired("model")
	return cmd
}

func runGenerate(cmd *cobra.Command, o *generateOptions, args []string) error {
	if o.threads > 0 {
		kernel.SetThreads(o.threads)
	}
	if o.maxTokens < 0 {
		return fmt.Errorf("--max-tokens %d must not be negative", o.maxTokens)
	}
	prompt := ""
	if len(args) == 1 && args[0] != "-" {
		prompt = args[0]
	} else {
		b, err := readInput(cmd.Context(), cmd.InOrStdin(), maxPromptBytes, "the prompt")
		if err != nil {
			return err
		}
		prompt = string(b)
	}
	if !cmd.Flags().Changed("seed") {
		o.seed = uint64(time.Now().UnixNano())
	}
	dir, err := resolveModel(cmd.Context(), cmd.ErrOrStderr(), o.model)
	if err != nil {
		return err
	}
	format, err := tensor.ParseWeightFormat(o.weights)
	if err != nil {
		return fmt.Errorf("--weights: %w", err)
	}
	m, tok, err := loadLMAs(dir, format)
	if err != nil {
		return err
	}
	opts := o.sampleOptions()
	s, err := sample.New(opts)
	if err != nil {
		return err
	}
	stops := make([]string, len(o.stop))
	for i, st := range o.stop {
		stops[i] = unescape(st)
		if stops[i] == "" {
			return fmt.Errorf("--stop: empty stop sequence")
		}
	}
	ids := tok.Encode(prompt)
	if n, r := unknownChars(tok, prompt, ids); n > 0 {
		return fmt.Errorf("the prompt has %d character(s) this character-level model does not know, the first %q: its vocabulary is the %d characters of its training text; leave them out", n, r, tok.VocabSize())
	}
	if len(ids) == 0 {
		return fmt.Errorf("the prompt is empty; give a prompt")
	}
	// A closed pipe (qkv generate … | head) makes writes fail with EPIPE, reported below, rather
	// than killing the process with SIGPIPE.
	signal.Ignore(syscall.SIGPIPE)
	out := cmd.OutOrStdout()
	var buffered *bufio.Writer
	if regularFile(out) { // nobody watches a file fill: one write at the end, not one a token
		buffered = bufio.NewWriterSize(out, 64<<10)
		out = buffered
	}
	st := newStreamer(out, tok, stops)
	st.writeString(prompt)
	if c, cerr := generateConstraint(o); cerr != nil {
		return cerr
	} else if c != nil {
		err = generateConstrained(cmd.Context(), st, m, tok, dir, prompt, o, stops, c)
	} else {
		_, err = m.Generate(cmd.Context(), ids, o.maxTokens, s, st.emit)
	}
	st.flush()
	st.writeString("\n")
	if buffered != nil && st.err == nil {
		if ferr := buffered.Flush(); ferr != nil {
			st.err = fmt.Errorf("writing the generated text: %w", ferr)
		}
	}
	if st.err != nil {
		return st.err
	}
	if err != nil && cmd.Context().Err() == nil {
		return err
	}
	return nil
}

// regularFile reports whether w is an open regular file (not a terminal, pipe or device).
func regularFile(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode().IsRegular()
}

// loadLM loads a GPT model folder and its tokenizer with its float32 weights, which qkv eval
// packs in each format it compares.
func loadLM(resolved string) (*gpt.Model, tokenizer.Tokenizer, error) {
	return loadLMWith(resolved, tensor.FP32, gpt.Load)
}

// loadLMAs loads a GPT model folder and its tokenizer for inference with its weight matrices
// in format: bf16 and int8 are packed tensor by tensor as they are read, so the float32
// weights are never all held (gpt.LoadForInference).
func loadLMAs(resolved string, format tensor.WeightFormat) (*gpt.Model, tokenizer.Tokenizer, error) {
	return loadLMWith(resolved, format, inferenceLoad(format))
}

// readLMAs is loadLMAs without the tokenizer, for a caller that reads its own (qkv chat).
func readLMAs(resolved string, format tensor.WeightFormat) (*gpt.Model, error) {
	return readLM(resolved, format, inferenceLoad(format))
}

// inferenceLoad reads a GPT model folder for inference with its weight matrices in format.
func inferenceLoad(format tensor.WeightFormat) func(dir string) (*gpt.Model, error) {
	return func(dir string) (*gpt.Model, error) { return gpt.LoadForInference(dir, format) }
}

// loadLMWith is loadLMAs with the model read by load, its weights taking about format's
// bytes.
func loadLMWith(resolved string, format tensor.WeightFormat, load func(dir string) (*gpt.Model, error)) (*gpt.Model, tokenizer.Tokenizer, error) {
	m, err := readLM(resolved, format, load)
	if err != nil {
		return nil, nil, err
	}
	tok, err := tokenizer.Load(resolved)
	if err != nil {
		return nil, nil, err
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, nil, fmt.Errorf("%s: the tokenizer has %d tokens but the model only %d", resolved, tok.VocabSize(), m.Config.VocabSize)
	}
	return m, tok, nil
}

// readLM reads a GPT model folder with load, its weights taking about format's bytes: it
// refuses a folder of another family, and a model whose weights and key/value cache do not
// fit in memory, before allocating either.
func readLM(resolved string, format tensor.WeightFormat, load func(dir string) (*gpt.Model, error)) (*gpt.Model, error) {
	cfg, err := hf.ReadConfig(filepath.Join(resolved, "config.json"))
	if err != nil {
		return nil, err
	}
	if mt := modelType(cfg); mt != "gpt2" {
		return nil, fmt.Errorf("%s: model_type %q cannot generate text (want gpt2)", resolved, mt)
	}
	// Decoding holds the weights and a key/value cache over the whole context.
	if c, err := gpt.ParseConfig(cfg); err == nil {
		perWeight := map[tensor.WeightFormat]float64{tensor.FP32: 4, tensor.BF16: 2, tensor.Int8: 1 + 4.0/32}[format]
		need := uint64(perWeight*float64(c.NumParams())) + uint64(c.KVCacheBytes(1))
		what := fmt.Sprintf("the model %s with its key/value cache (%d layers × %d positions × %d wide)", resolved, c.NLayer, c.NPositions, c.NEmbd)
		if err := sysmem.Check(need, what); err != nil {
			return nil, err
		}
	}
	return load(resolved)
}

// streamer prints generated text as tokens arrive (see textstream: UTF-8 holdback and stop
// sequences). Each token that completes text is one Write (no buffering, no fsync: a terminal
// or pipe sees it at once); the first write error ends generation and is kept in err.
type streamer struct {
	w   io.Writer
	ts  *textstream.Stream
	err error // the first decoding or write error
}

func newStreamer(w io.Writer, tok tokenizer.Tokenizer, stops []string) *streamer {
	return &streamer{w: w, ts: textstream.New(tok, stops)}
}

func (s *streamer) emit(id int) bool {
	delta, stopped, err := s.ts.Push(id)
	if err != nil {
		s.err = err
		return false
	}
	s.writeString(delta)
	return !stopped && s.err == nil
}

// writeString writes text unless an earlier write failed, keeping the first error.
func (s *streamer) writeString(text string) {
	if s.err != nil || text == "" {
		return
	}
	if _, err := io.WriteString(s.w, text); err != nil {
		s.err = fmt.Errorf("writing the generated text: %w", err)
	}
}

// flush writes whatever was held back once generation has ended.
func (s *streamer) flush() {
	if s.err != nil {
		return
	}
	if text, err := s.ts.Flush(); err == nil {
		s.writeString(text)
	}
}

func unescape(s string) string {
	return strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\\`, `\`).Replace(s)
}

func modelType(config []byte) string {
	var c struct {
		ModelType string `json:"model_type"`
	}
	_ = json.Unmarshal(config, &c)
	return c.ModelType
}

// unknownChars reports how many characters of text (encoded as ids) a character-level tokenizer
// dropped because they are not in its vocabulary, and the first of them. Other tokenizers
// encode any text.
func unknownChars(tok tokenizer.Tokenizer, text string, ids []int) (n int, first rune) {
	c, ok := tok.(*tokenizer.Char)
	if !ok {
		return 0, 0
	}
	if r, all := c.Covers(text); !all {
		return utf8.RuneCountInString(text) - len(ids), r
	}
	return 0, 0
}

// warnUnknownChars tells w when a character-level tokenizer dropped characters of a corpus.
func warnUnknownChars(w io.Writer, tok tokenizer.Tokenizer, text string, ids []int) {
	if n, r := unknownChars(tok, text, ids); n > 0 {
		fmt.Fprintf(w, "warning: %d characters of the corpus (the first %q) are not in the model's character vocabulary and are left out\n", n, r)
	}
}

// streamSample prints a sample continuation of prompt at temperature 0.8.
func streamSample(ctx context.Context, w io.Writer, m *gpt.Model, tok tokenizer.Tokenizer, prompt string, n int, seed uint64) error {
	ids := tok.Encode(prompt)
	if len(ids) == 0 {
		ids = []int{0}
	}
	s, err := sample.New(sample.Options{Temperature: 0.8, Seed: seed})
	if err != nil {
		return err
	}
	st := newStreamer(w, tok, nil)
	st.writeString(prompt)
	_, err = m.Generate(ctx, ids, n, s, st.emit)
	st.flush()
	if st.err != nil {
		return st.err
	}
	return err
}

// generateConstraint reads --regex, --json-schema and --choice (at most one of them).
func generateConstraint(o *generateOptions) (*reason.Constraint, error) {
	c := &reason.Constraint{Regex: o.regex, Choice: o.choices}
	set := 0
	for _, on := range []bool{o.regex != "", o.jsonSchema != "", len(o.choices) > 0} {
		if on {
			set++
		}
	}
	switch {
	case set == 0:
		return nil, nil
	case set > 1:
		return nil, fmt.Errorf("give one of --regex, --json-schema and --choice")
	}
	if o.jsonSchema != "" {
		b, err := fileutil.ReadFile(o.jsonSchema, fileutil.SmallFileLimit, "a JSON schema")
		if err != nil {
			return nil, fmt.Errorf("--json-schema: %w", err)
		}
		c.JSONSchema = string(b)
	}
	if _, err := c.Compile(); err != nil {
		return nil, err
	}
	return c, nil
}

// generateConstrained decodes under a constraint (reason.Local's token masks) and writes the
// text once it is complete.
func generateConstrained(ctx context.Context, st *streamer, m *gpt.Model, tok tokenizer.Tokenizer, dir, prompt string, o *generateOptions, stops []string, c *reason.Constraint) error {
	l, err := reason.NewLocal(dir, m, tok)
	if err != nil {
		return err
	}
	r, err := l.Complete(ctx, reason.Request{Prompt: prompt, MaxTokens: max(o.maxTokens, 1), Temperature: o.temperature, TopP: o.topP, Seed: o.seed, Stop: stops, Constraint: c})
	if err != nil {
		return err
	}
	st.writeString(r.Completions[0].Text)
	return nil
}

// samplingFlags are the flags that choose how the next token is sampled.
type samplingFlags struct {
	temperature float64
	topK        int
	topP        float64
	repPenalty  float64
	seed        uint64
}

// register adds --temperature (defaulting to temperature), --top-k, --top-p,
// --repetition-penalty and --seed to f.
func (s *samplingFlags) register(f *pflag.FlagSet, temperature float64) {
	f.Float64Var(&s.temperature, "temperature", temperature, "sampling temperature (0: greedy)")
	f.IntVar(&s.topK, "top-k", 0, "sample from the k most likely tokens only (0: all)")
	f.Float64Var(&s.topP, "top-p", 1, "sample from the smallest set of tokens whose probability reaches p (1: all)")
	f.Float64Var(&s.repPenalty, "repetition-penalty", 1, "divide the logits of tokens already in the text by this (1: off)")
	f.Uint64Var(&s.seed, "seed", 0, "random seed (default: different every run)")
}

// sampleOptions are the sampler's options the flags give.
func (s *samplingFlags) sampleOptions() sample.Options {
	return sample.Options{Temperature: s.temperature, TopK: s.topK, TopP: s.topP, RepetitionPenalty: s.repPenalty, Seed: s.seed}
}
