package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/data"
	"github.com/qkvdev/qkv/tokenizer"
)

// Well-known tokenizers by name: the Hub repository holding their files, and the folder names
// under $QKV_TOKENIZER_DIR that may hold them instead.
var namedTokenizers = map[string]struct {
	repo    string
	folders []string
	files   []string
}{
	"gpt2":              {"openai-community/gpt2", []string{"gpt2", "gpt2-tokenizer"}, []string{"vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json"}},
	"bert-base-uncased": {"google-bert/bert-base-uncased", []string{"bert-base-uncased", "bert-base-uncased-vocab"}, []string{"vocab.txt", "tokenizer_config.json", "tokenizer.json"}},
}

// loadTokenizer resolves --tokenizer: "gpt2" or "bert-base-uncased" (from $QKV_TOKENIZER_DIR,
// else the Hub cache, fetching the tokenizer files on first use), or a folder or file path.
func loadTokenizer(ctx context.Context, w io.Writer, name string) (tokenizer.Tokenizer, error) {
	if known, ok := namedTokenizers[name]; ok {
		if root := os.Getenv("QKV_TOKENIZER_DIR"); root != "" {
			for _, f := range known.folders {
				dir := filepath.Join(root, f)
				if st, err := os.Stat(dir); err == nil && st.IsDir() {
					return tokenizer.Load(dir)
				}
			}
			return nil, fmt.Errorf("tokenizer %s: no %s folder under QKV_TOKENIZER_DIR=%s", name, strings.Join(known.folders, " or "), root)
		}
		c := hubClient(w, "", "")
		dir, err := c.Snapshot(ctx, known.repo, "main", nil, known.files)
		if err != nil {
			return nil, fmt.Errorf("tokenizer %s: %w (or set QKV_TOKENIZER_DIR to a folder holding %s/)", name, err, known.folders[0])
		}
		return tokenizer.Load(dir)
	}
	st, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %q: not gpt2, bert-base-uncased, or an existing folder or file", name)
	}
	if !st.IsDir() {
		switch filepath.Base(name) {
		case "vocab.txt":
			return tokenizer.LoadWordPiece(name, true)
		case "tokenizer.json":
			return tokenizer.LoadTokenizerJSON(name)
		}
		name = filepath.Dir(name)
	}
	return tokenizer.Load(name)
}

func newTokenizerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokenizer",
		Short: "Encode and decode text, and train BPE and WordPiece vocabularies",
		Long: `Tokenizers turn text into token ids and back. --tokenizer takes gpt2 (GPT-2's byte-level
BPE), bert-base-uncased (BERT's WordPiece), or the path of a tokenizer folder or file
(tokenizer.json, vocab.json + merges.txt, vocab.txt, or a qkv model folder). The named ones are
read from $QKV_TOKENIZER_DIR when it is set (a folder holding gpt2/ or bert-base-uncased/),
else from the Hub cache, downloaded on first use.`,
	}
	cmd.AddCommand(newTokenizerEncodeCmd(), newTokenizerDecodeCmd(), newTokenizerTrainCmd())
	return cmd
}

func newTokenizerEncodeCmd() *cobra.Command {
	var name string
	var allowSpecial bool // --special
	cmd := &cobra.Command{
		Use:     "encode --tokenizer NAME < text",
		Short:   "Print the token ids of standard input as one JSON array",
		Example: `  echo -n "Hello world" | qkv tokenizer encode --tokenizer gpt2`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := loadTokenizer(cmd.Context(), cmd.ErrOrStderr(), name)
			if err != nil {
				return err
			}
			text, err := readInput(cmd.Context(), cmd.InOrStdin(), maxTextBytes, "the text")
			if err != nil {
				return err
			}
			var ids []int
			switch t := tok.(type) {
			case *tokenizer.GPT2:
				if allowSpecial {
					if ids, err = t.EncodeSpecial(string(text), t.SpecialTokens()); err != nil {
						return err
					}
				} else {
					ids = t.Encode(string(text))
				}
			case *tokenizer.WordPiece:
				if !allowSpecial {
					ids = t.Encode(string(text))
					break
				}
				enc, err := t.EncodeSingle(string(text), tokenizer.EncodeOptions{})
				if err != nil {
					return err
				}
				ids = enc.IDs
			default:
				ids = tok.Encode(string(text))
			}
			return writeIDs(cmd.OutOrStdout(), ids)
		},
	}
	cmd.Flags().StringVar(&name, "tokenizer", "gpt2", "gpt2, bert-base-uncased, or a tokenizer folder or file")
	cmd.Flags().BoolVar(&allowSpecial, "special", false, "GPT-2: encode special tokens written in the text (<|endoftext|>) as their ids instead of as plain text; WordPiece: add [CLS] and [SEP]")
	return cmd
}

func newTokenizerDecodeCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:     "decode --tokenizer NAME < ids.json",
		Short:   "Print the text of a JSON array of token ids read from standard input",
		Example: `  echo '[15496, 995]' | qkv tokenizer decode --tokenizer gpt2`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := loadTokenizer(cmd.Context(), cmd.ErrOrStderr(), name)
			if err != nil {
				return err
			}
			in, err := readInput(cmd.Context(), cmd.InOrStdin(), maxTextBytes, "the token ids")
			if err != nil {
				return err
			}
			var ids []int
			if err := json.NewDecoder(bytes.NewReader(in)).Decode(&ids); err != nil {
				return fmt.Errorf("standard input is not a JSON array of token ids: %w", err)
			}
			text, err := tok.Decode(ids)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), text)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "tokenizer", "gpt2", "gpt2, bert-base-uncased, or a tokenizer folder or file")
	return cmd
}

func newTokenizerTrainCmd() *cobra.Command {
	var corpusPath, out, kind string
	var vocab int
	var lowercase bool
	cmd := &cobra.Command{
		Use:   "train --data PATH --vocab-size N --out DIR [--type bpe|wordpiece]",
		Short: "Learn a byte-level BPE or a WordPiece vocabulary from a corpus",
		Long: `Learn a GPT-2-style byte-level BPE vocabulary (256 byte tokens, merges, and <|endoftext|>)
from a text file or folder, and save it as vocab.json + merges.txt and tokenizer.json.

With --type wordpiece, learn a BERT WordPiece vocabulary instead, as Hugging Face's
WordPieceTrainer does: [PAD] [UNK] [CLS] [SEP] [MASK] first, then the characters, then merged
pieces ("##" marks a piece that continues a word); words come from BERT's basic tokenizer
(lower-cased and stripped of accents unless --lowercase=false); pairs seen once are not merged.
It is saved as vocab.txt, tokenizer_config.json and tokenizer.json.`,
		Example: `  qkv tokenizer train --data ../shared/data/tinyshakespeare/input.txt --vocab-size 4096 --out tok/
  qkv train --data ../shared/data/tinyshakespeare/input.txt --tokenizer tok/
  qkv tokenizer train --type wordpiece --data ../shared/data/tinyshakespeare/input.txt --vocab-size 8000 --out wp/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if corpusPath == "" || out == "" {
				return fmt.Errorf("--data and --out are required")
			}
			switch kind {
			case "bpe":
				if vocab < 257 || vocab > 1<<20 {
					return fmt.Errorf("--vocab-size %d: want 257..1048576 (256 bytes, merges, <|endoftext|>)", vocab)
				}
			case "wordpiece":
				if vocab < 6 || vocab > 1<<20 {
					return fmt.Errorf("--vocab-size %d: want 6..1048576 (5 special tokens, characters, merged pieces)", vocab)
				}
			default:
				return fmt.Errorf("--type %q: want bpe or wordpiece", kind)
			}
			corpus, err := data.LoadCorpus(corpusPath, nil, data.MaxCorpusBytes)
			if err != nil {
				return err
			}
			start := time.Now()
			var tok interface {
				Save(dir string) error
				VocabSize() int
			}
			detail := ""
			if kind == "wordpiece" {
				opts := &tokenizer.WordPieceTrainOptions{WordPieceOptions: tokenizer.WordPieceOptions{Lowercase: lowercase}}
				tok, err = tokenizer.TrainWordPiece(cmd.Context(), strings.NewReader(corpus.Text), vocab, opts)
			} else {
				var g *tokenizer.GPT2
				g, err = tokenizer.TrainBPE(cmd.Context(), strings.NewReader(corpus.Text), vocab, nil)
				if err == nil {
					tok, detail = g, fmt.Sprintf(" (%d merges)", g.NumMerges())
				}
			}
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			if err := tok.Save(out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "learned %d tokens%s from %s in %s; saved %s\n",
				tok.VocabSize(), detail, corpus.Desc, time.Since(start).Round(time.Millisecond), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&corpusPath, "data", "", "corpus: a text file or a folder of text files")
	cmd.Flags().StringVar(&kind, "type", "bpe", "bpe (GPT-2 byte-level BPE) or wordpiece (BERT)")
	cmd.Flags().IntVar(&vocab, "vocab-size", 4096, "vocabulary size, including the special tokens (and for bpe the 256 byte tokens)")
	cmd.Flags().BoolVar(&lowercase, "lowercase", true, "wordpiece: lower-case and strip accents (an uncased model)")
	cmd.Flags().StringVar(&out, "out", "", "folder to write the tokenizer files into")
	return cmd
}

// writeIDs writes ids as one JSON array and a newline, as it goes: a megabyte input has
// millions of ids, and its JSON text need not be held whole as well.
func writeIDs(w io.Writer, ids []int) error {
	bw := bufio.NewWriter(w)
	bw.WriteByte('[')
	var num [20]byte
	for i, id := range ids {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(strconv.AppendInt(num[:0], int64(id), 10))
	}
	bw.WriteString("]\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing the token ids: %w", err)
	}
	return nil
}
