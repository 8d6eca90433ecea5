package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/serve"
	"github.com/qkvdev/qkv/tensor"
)

type serveOptions struct {
	models   []string
	addr     string
	apiKey   string
	cors     string
	runs     string
	maxBatch int
	queue    int
	maxBody  int64
	weights  string
	grace    time.Duration
}

func newServeCmd() *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve --model DIR|ORG/NAME [--model NAME=DIR …]",
		Short: "Serve models over an OpenAI-compatible HTTP API, with a web page to explore them",
		Long: `Serve one or more models over OpenAI's HTTP API — /v1/models, /v1/completions,
/v1/chat/completions (with streaming), /v1/embeddings — so that OpenAI's SDKs, curl and
other tools talk to them unchanged. Concurrent requests to a model are decoded together
(continuous batching). The page at / has a playground, attention views and, with --runs,
the loss curves of training runs, updating while they train.

Each --model is a model folder, a training run, a checkpoint or a Hub id; clients name it by
the folder's base name, or by NAME with --model NAME=DIR. GPT models generate and embed;
BERT models embed. Chat requests use the model's chat template (tokenizer_config.json's
chat_template), or "role: content" lines when it has none.

The server listens on loopback unless --addr says otherwise; set --api-key (or QKV_API_KEY)
before exposing it. SIGTERM or Ctrl-C stops accepting requests and lets running streams
finish for --grace, then ends them.`,
		Example: `  qkv serve --model runs/shakespeare
  qkv serve --model gpt2=openai-community/gpt2 --model bert=google-bert/bert-base-uncased --runs runs
  curl http://127.0.0.1:8080/v1/completions -H 'Content-Type: application/json' \
    -d '{"model": "shakespeare", "prompt": "ROMEO:", "max_tokens": 50}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runServe(cmd, o) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.models, "model", nil, "model to serve: DIR, ORG/NAME, or NAME=DIR (repeatable; at least one)")
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on (loopback by default)")
	f.StringVar(&o.apiKey, "api-key", "", "require this bearer token on /v1 requests (default: $QKV_API_KEY, else none)")
	f.StringVar(&o.cors, "cors", "", "let browser pages from this origin call the API (\"*\" for any; default: none)")
	f.StringVar(&o.runs, "runs", "", "folder of training runs whose curves the page shows")
	f.IntVar(&o.maxBatch, "max-batch", 16, "most sequences a model decodes together")
	f.IntVar(&o.queue, "queue", 256, "most sequences waiting per model before requests get 503")
	f.Int64Var(&o.maxBody, "max-body", 4<<20, "largest request body in bytes")
	f.StringVar(&o.weights, "weights", "fp32", "weight format of the generative models, read straight into it: fp32, bf16 or int8")
	f.DurationVar(&o.grace, "grace", 30*time.Second, "on shutdown, how long running streams may take to finish")
	cmd.MarkFlagRequired("model")
	return cmd
}

func runServe(cmd *cobra.Command, o *serveOptions) error {
	ctx := cmd.Context()
	out := cmd.ErrOrStderr()
	if o.apiKey == "" {
		o.apiKey = os.Getenv("QKV_API_KEY")
	}
	format, err := tensor.ParseWeightFormat(o.weights)
	if err != nil {
		return fmt.Errorf("--weights: %w", err)
	}
	var models []*serve.Model
	for _, spec := range o.models {
		name, ref, named := strings.Cut(spec, "=")
		if !named {
			name, ref = filepath.Base(filepath.Clean(spec)), spec
		}
		if name == "" || ref == "" {
			return fmt.Errorf("--model %q: want DIR, ORG/NAME or NAME=DIR", spec)
		}
		dir, err := resolveModel(ctx, out, ref)
		if err != nil {
			return err
		}
		m, err := serve.LoadModel(name, dir, format)
		if err != nil {
			return fmt.Errorf("--model %s: %w", spec, err)
		}
		models = append(models, m)
		fmt.Fprintf(out, "model %s: %s\n", name, dir)
	}
	s, err := serve.New(models, serve.Options{APIKey: o.apiKey, CORSOrigin: o.cors, MaxBodyBytes: o.maxBody, MaxBatch: o.maxBatch, QueueSize: o.queue, RunsDir: o.runs})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	if host, _, _ := net.SplitHostPort(o.addr); !isLoopback(host) && o.apiKey == "" {
		fmt.Fprintf(out, "warning: listening on %s without --api-key: anyone who can reach it can use the models\n", o.addr)
	}
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(out, "serving on http://%s/ (OpenAI API under /v1)\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintf(out, "shutting down: letting running requests finish for up to %s\n", o.grace)
	sctx, cancel := context.WithTimeout(context.Background(), o.grace)
	defer cancel()
	closed := make(chan struct{})
	go func() { s.Close(sctx); close(closed) }() // streams finish or are cancelled at the deadline
	err = hs.Shutdown(sctx)
	<-closed
	if errors.Is(err, context.DeadlineExceeded) {
		hs.Close()
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
