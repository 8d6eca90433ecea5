package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/hf/hub"
	"github.com/qkvdev/qkv/model/auto"
)

func newPullCmd() *cobra.Command {
	var revision, endpoint, token string
	cmd := &cobra.Command{
		Use:   "pull ORG/NAME",
		Short: "Download a model from the HuggingFace Hub into the local cache",
		Long: `Download a model's config, safetensors weights and tokenizer files from the
HuggingFace Hub (or a mirror) into the cache, and print the local folder.

Downloads resume where they stopped, and every weights file is checked against the SHA-256
the Hub publishes; a damaged file is never used. After a pull, --model ORG/NAME works in
generate (and everywhere else a model is taken).

  cache     $QKV_CACHE, else ~/.cache/qkv
  endpoint  --endpoint, else $QKV_ENDPOINT, else $HF_ENDPOINT, else https://huggingface.co
  token     --token, else $HF_TOKEN, else the token file huggingface-cli login writes
  offline   HF_HUB_OFFLINE=1 or QKV_OFFLINE=1: no network, the cache only`,
		Example: `  qkv pull openai-community/gpt2
  qkv generate --model openai-community/gpt2 "Hello, I'm a language model,"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := hubClient(cmd.ErrOrStderr(), endpoint, token)
			dir, err := c.SnapshotModel(cmd.Context(), args[0], revision)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&revision, "revision", "main", "branch, tag or commit")
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "Hub endpoint or mirror (default $QKV_ENDPOINT, $HF_ENDPOINT or https://huggingface.co)")
	cmd.Flags().StringVar(&token, "token", "", "access token for gated or private models (default $HF_TOKEN)")
	return cmd
}

// hubClient is a Hub client configured from the environment, with a progress bar per file on
// a terminal (or a line per file otherwise) written to w.
func hubClient(w io.Writer, endpoint, token string) *hub.Client {
	c := hub.New()
	if endpoint != "" {
		c.Endpoint = endpoint
	}
	if token != "" {
		c.Token = token
	}
	var mu sync.Mutex
	var cur string
	var bar *progressbar.ProgressBar
	tty := isTerminal(os.Stderr)
	c.Progress = func(file string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if file != cur {
			if bar != nil {
				bar.Finish()
			}
			cur = file
			if tty {
				bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(file),
					progressbar.OptionShowBytes(true), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(150*time.Millisecond),
					progressbar.OptionSetWidth(24), progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
			} else {
				bar = nil
				fmt.Fprintf(w, "downloading %s (%s)\n", file, humanBytes(total))
			}
		}
		if bar != nil {
			bar.Set64(done)
		}
	}
	return c
}

func humanBytes(n int64) string {
	switch {
	case n < 0:
		return "size unknown"
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// resolveModel turns --model into a local model folder (see auto.Resolve): a run folder, a
// checkpoint or a model folder, or a Hub repository id (ORG/NAME), fetched into the cache if
// needed (only metadata requests when it is cached already). Warnings go to w.
func resolveModel(ctx context.Context, w io.Writer, model string) (string, error) {
	return auto.Resolve(ctx, model, func(ctx context.Context, repo string) (string, error) {
		return hubClient(w, "", "").SnapshotModel(ctx, repo, "main")
	}, w)
}
