package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/tokenizer"
)

func newConvertCmd() *cobra.Command {
	var model, out, dtype string
	cmd := &cobra.Command{
		Use:   "convert --model SRC --out DIR",
		Short: "Write a model as a HuggingFace folder (export), or bring one in (import)",
		Long: `Write a model as a folder that HuggingFace transformers loads: config.json,
model.safetensors with HuggingFace parameter names, shapes and dtypes, and the tokenizer files
(vocab.json + merges.txt + tokenizer.json for GPT-2 BPE, vocab.txt + tokenizer.json for
WordPiece, plus tokenizer_config.json).

SRC is a qkv training run or checkpoint (export), a HuggingFace folder or Hub id (import: the
"transformer." prefix, attention-mask buffers and a tied lm_head are normalised away and F16/BF16
weights become F32), or any model folder. Supported families: gpt2, bert, marian.`,
		Example: `  qkv convert --model runs/shakespeare --out export/shakespeare
  qkv convert --model openai-community/gpt2 --out gpt2-f32
  qkv convert --model runs/shakespeare --out export/f16 --dtype float16`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if model == "" || out == "" {
				return fmt.Errorf("--model and --out are required")
			}
			dt, ok := map[string]safetensors.DType{"float32": safetensors.DTypeF32, "float16": safetensors.DTypeF16, "bfloat16": safetensors.DTypeBF16}[dtype]
			if !ok {
				return fmt.Errorf("--dtype %q: want float32, float16 or bfloat16", dtype)
			}
			src, err := resolveModel(cmd.Context(), cmd.ErrOrStderr(), model)
			if err != nil {
				return err
			}
			if err := checkConvertOut(out, model, src); err != nil {
				return err
			}
			m, err := auto.Load(src)
			if err != nil {
				return err
			}
			msg, err := writeConversion(out, src, m, dt)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s model, %d tensors (%s), %s\n", out, m.Type(), len(m.Parameters().List()), dtype, msg)
			return nil
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "model folder, training run, or Hub id")
	cmd.Flags().StringVar(&out, "out", "", "folder to write")
	cmd.Flags().StringVar(&dtype, "dtype", "float32", "weight dtype: float32, float16 or bfloat16")
	return cmd
}

// checkConvertOut refuses an output folder that would shadow or overwrite saved data: a training
// run folder or a folder inside one (a model at a run's root hides its checkpoints), the model
// folder being converted or a folder inside it, a file, or a folder that already holds files.
func checkConvertOut(out, model, src string) error {
	if run, ok := checkpoint.InsideRun(out); ok {
		return fmt.Errorf("--out %s is inside the training run %s: a model written there would shadow the run's checkpoints; write the conversion to a folder outside the run", out, run)
	}
	for _, in := range []string{model, src} {
		if st, err := os.Stat(in); err != nil || !st.IsDir() {
			continue
		}
		if rel, err := filepath.Rel(abs(in), abs(out)); err == nil && filepath.IsLocal(rel) || abs(in) == abs(out) {
			return fmt.Errorf("--out %s is inside the model folder %s being converted; write the conversion somewhere else", out, in)
		}
	}
	st, err := os.Stat(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("--out %s is a file; give a new or empty folder", out)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("--out %s already holds files (%s…); give a new or empty folder: convert never overwrites saved data", out, entries[0].Name())
	}
	return nil
}

// writeConversion writes m (in dtype) and the tokenizer of src, if it has one, as a model folder
// out: into a temporary folder beside it first, renamed into place once complete, so that a
// failure leaves nothing half-written. It returns a description of the tokenizer written.
func writeConversion(out, src string, m auto.Model, dtype safetensors.DType) (string, error) {
	parent := filepath.Dir(abs(out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(abs(out))+".tmp")
	if err != nil {
		return "", err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := auto.Save(m, tmp, dtype); err != nil {
		return "", err
	}
	msg := "no tokenizer"
	switch tok, err := tokenizer.Load(src); {
	case errors.Is(err, tokenizer.ErrNoTokenizer):
	case err != nil:
		return "", err
	default:
		if err := tok.Save(tmp); err != nil {
			return "", err
		}
		if err := writeTokenizerConfig(tmp, tok, m); err != nil {
			return "", err
		}
		msg = tok.Kind() + " tokenizer"
	}
	if err := os.Remove(out); err != nil && !errors.Is(err, os.ErrNotExist) { // empty, as checkConvertOut found it
		return "", fmt.Errorf("--out %s: %w", out, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", err
	}
	done = true
	return msg, atomicfile.SyncDir(parent)
}

// writeTokenizerConfig writes the tokenizer_config.json that tells transformers' AutoTokenizer
// which class reads the tokenizer files.
func writeTokenizerConfig(dir string, tok tokenizer.Tokenizer, m auto.Model) error {
	var cfg map[string]any
	switch t := tok.(type) {
	case *tokenizer.GPT2:
		cfg = map[string]any{"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": false}
		if _, ok := t.SpecialTokenID(tokenizer.EndOfText); ok {
			cfg["bos_token"], cfg["eos_token"], cfg["unk_token"] = tokenizer.EndOfText, tokenizer.EndOfText, tokenizer.EndOfText
		}
	case *tokenizer.WordPiece:
		cfg = map[string]any{"tokenizer_class": "BertTokenizer", "do_lower_case": t.Lowercase()}
	default:
		return nil // character and byte vocabularies have no transformers class
	}
	var mc struct {
		NPositions int `json:"n_positions"`
		MaxPos     int `json:"max_position_embeddings"`
	}
	if b, err := m.ConfigJSON(); err == nil && json.Unmarshal(b, &mc) == nil {
		cfg["model_max_length"] = max(mc.NPositions, mc.MaxPos)
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "tokenizer_config.json"), append(b, '\n'), 0o644)
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return strings.TrimSuffix(a, string(filepath.Separator))
}
