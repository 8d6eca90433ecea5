package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

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
weights become F32), or any model folder. Supported families: gpt2, bert.`,
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
			if abs(src) == abs(out) {
				return fmt.Errorf("--out is the source folder; write the conversion somewhere else")
			}
			m, err := auto.Load(src)
			if err != nil {
				return err
			}
			if err := auto.Save(m, out, dt); err != nil {
				return err
			}
			msg := "no tokenizer"
			switch tok, err := tokenizer.Load(src); {
			case errors.Is(err, tokenizer.ErrNoTokenizer):
			case err != nil:
				return err
			default:
				if err := tok.Save(out); err != nil {
					return err
				}
				if err := writeTokenizerConfig(out, tok, m); err != nil {
					return err
				}
				msg = tok.Kind() + " tokenizer"
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
