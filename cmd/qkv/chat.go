package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/qkvdev/qkv/align"
	"github.com/qkvdev/qkv/chat"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/sample"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tensor/kernel"
	"github.com/qkvdev/qkv/textstream"
)

type chatOptions struct {
	model     string
	template  string
	system    string
	maxTokens int
	weights   string
	samplingFlags
	threads int
}

func newChatCmd() *cobra.Command {
	o := &chatOptions{}
	cmd := &cobra.Command{
		Use:   "chat --model DIR|ORG/NAME",
		Short: "Chat with a model in the terminal",
		Long: `Chat with a model: each line you type is a user turn; the reply streams as it is decoded.
The conversation is rendered with the model's chat template (tokenizer_config.json, or the
default ChatML of qkv finetune --method sft), and the history is kept until /reset; when it
outgrows the context, the oldest turns are dropped.

Commands: /reset forgets the conversation, /system TEXT sets the system message (and resets),
/exit ends. Ctrl-C stops a reply and returns to the prompt; Ctrl-C at the prompt (or end of
input) exits. Standard input may be a pipe: each line is a turn, and only the replies are
written.`,
		Example: `  qkv chat --model runs/sft
  qkv chat --model runs/ppo --temperature 0 --system "Answer briefly."
  qkv chat --model openai-community/gpt2 --weights int8 --compute bf16
  printf 'What is 2+3?\n/reset\nWhat is 7-4?\n' | qkv chat --model runs/sft`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runChat(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "chat model: a model or run folder, or a Hub id ORG/NAME (required)")
	f.StringVar(&o.template, "template", "", "a Jinja chat template file (default: the model's)")
	f.StringVar(&o.system, "system", "", "system message")
	f.IntVar(&o.maxTokens, "max-tokens", 256, "most tokens per reply")
	f.StringVar(&o.weights, "weights", "fp32", "weight format for decoding, read straight into it: fp32, bf16 (half the bytes) or int8 (about a quarter)")
	o.samplingFlags.register(f, 0.7)
	f.IntVar(&o.threads, "threads", 0, "CPU threads (default: all cores)")
	cmd.MarkFlagRequired("model")
	return cmd
}

// chatSession is a conversation with a model.
type chatSession struct {
	m       *gpt.Model
	enc     *align.Encoder
	sampler *sample.Sampler
	stops   []string
	system  string
	history []chat.Message
	max     int
}

func runChat(cmd *cobra.Command, o *chatOptions) error {
	if o.threads > 0 {
		kernel.SetThreads(o.threads)
	}
	if o.maxTokens < 1 {
		return fmt.Errorf("--max-tokens %d: want at least 1", o.maxTokens)
	}
	if !cmd.Flags().Changed("seed") {
		o.seed = uint64(time.Now().UnixNano())
	}
	format, err := tensor.ParseWeightFormat(o.weights)
	if err != nil {
		return fmt.Errorf("--weights: %w", err)
	}
	s, err := sample.New(o.sampleOptions())
	if err != nil {
		return err
	}
	dir, err := resolveModel(cmd.Context(), cmd.ErrOrStderr(), o.model)
	if err != nil {
		return err
	}
	lm, err := readLMAs(dir, format)
	if err != nil {
		return err
	}
	m, _, _, enc, err := chatModel(lm, dir, o.template, false, 0)
	if err != nil {
		return err
	}
	sess := &chatSession{m: m, enc: enc, sampler: s, system: o.system, max: o.maxTokens}
	if enc.EndOfTurn != "" {
		sess.stops = []string{enc.EndOfTurn}
	} else if enc.Template.Source == chat.Plain {
		sess.stops = []string{chat.PlainStop}
	}
	if o.maxTokens >= m.Config.NPositions {
		return fmt.Errorf("--max-tokens %d leaves no room for the conversation in the model's context of %d tokens", o.maxTokens, m.Config.NPositions)
	}
	// Ctrl-C is ours while chatting: it stops a reply, or ends the chat at the prompt. (The
	// root command's context would end the whole command at the first one.)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	signal.Ignore(syscall.SIGPIPE)

	in, out := cmd.InOrStdin(), cmd.OutOrStdout()
	interactive := false
	if f, ok := in.(*os.File); ok {
		interactive = isTerminal(f)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		r := bufio.NewReaderSize(in, 64<<10)
		for {
			line, err := r.ReadString('\n')
			if line != "" || err == nil {
				lines <- strings.TrimRight(line, "\r\n")
			}
			if err != nil {
				return
			}
		}
	}()
	if interactive {
		fmt.Fprintf(out, "Chatting with %s (/reset, /system TEXT, /exit; Ctrl-C stops a reply).\n", dir)
	}
	for {
		if interactive {
			fmt.Fprint(out, "> ")
		}
		var line string
		select {
		case sig := <-sigs:
			if interactive {
				fmt.Fprintln(out)
			}
			if sig == syscall.SIGTERM {
				return fmt.Errorf("terminated")
			}
			return nil
		case l, ok := <-lines:
			if !ok {
				if interactive {
					fmt.Fprintln(out)
				}
				return nil
			}
			line = l
		}
		switch {
		case strings.TrimSpace(line) == "":
			continue
		case line == "/exit" || line == "/quit":
			return nil
		case line == "/reset":
			sess.history = nil
			if interactive {
				fmt.Fprintln(out, "(conversation reset)")
			}
			continue
		case strings.HasPrefix(line, "/system"):
			sess.system = strings.TrimSpace(strings.TrimPrefix(line, "/system"))
			sess.history = nil
			if interactive {
				fmt.Fprintln(out, "(system message set; conversation reset)")
			}
			continue
		case strings.HasPrefix(line, "/"):
			fmt.Fprintf(out, "unknown command %s: use /reset, /system TEXT or /exit\n", strings.Fields(line)[0])
			continue
		}
		if err := sess.reply(line, out, sigs); err != nil {
			if err == errStopped {
				fmt.Fprintln(out, " [stopped]")
				continue
			}
			if _, ok := err.(*writeError); ok {
				return err
			}
			fmt.Fprintf(out, "error: %v\n", err)
		}
	}
}

var errStopped = fmt.Errorf("reply stopped")

type writeError struct{ err error }

func (e *writeError) Error() string { return "writing the reply: " + e.err.Error() }

// reply adds the user's turn, streams the model's reply to out and adds it to the history.
// A signal on sigs stops the reply (errStopped); the partial reply is kept.
func (s *chatSession) reply(user string, out io.Writer, sigs <-chan os.Signal) error {
	s.history = append(s.history, chat.Message{Role: "user", Content: user})
	ids, err := s.prompt()
	if err != nil {
		s.history = s.history[:len(s.history)-1]
		return err
	}
	// A signal stops the reply: seen by the goroutine (which also cuts a long prefill short)
	// or, between tokens, by emit.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stopped atomic.Bool
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-sigs:
			stopped.Store(true)
			cancel()
		case <-ctx.Done():
		}
	}()
	ts := textstream.New(s.enc.Tok, s.stops)
	var text strings.Builder
	var werr error
	write := func(delta string) {
		if delta == "" || werr != nil {
			return
		}
		text.WriteString(delta)
		if _, err := io.WriteString(out, delta); err != nil {
			werr = err
		}
	}
	_, err = s.m.Generate(ctx, ids, s.max, s.sampler, func(id int) bool {
		select {
		case <-sigs:
			stopped.Store(true)
			return false
		default:
		}
		if stopped.Load() {
			return false
		}
		if eos := s.m.Config.EOSTokenID; eos != nil && id == *eos {
			return false
		}
		delta, stop, err := ts.Push(id)
		if err != nil {
			werr = err
			return false
		}
		write(delta)
		return !stop && werr == nil
	})
	if rest, ferr := ts.Flush(); ferr == nil {
		write(rest)
	}
	cancel()
	<-watcher
	s.history = append(s.history, chat.Message{Role: "assistant", Content: text.String()})
	if werr != nil {
		return &writeError{werr}
	}
	if stopped.Load() {
		return errStopped
	}
	if err != nil {
		return err
	}
	if _, err := io.WriteString(out, "\n"); err != nil {
		return &writeError{err}
	}
	return nil
}

// prompt renders the conversation for the next reply, dropping the oldest turns until it
// leaves room for a whole reply in the context.
func (s *chatSession) prompt() ([]int, error) {
	for {
		var conv align.Conversation
		if s.system != "" {
			conv = append(conv, chat.Message{Role: "system", Content: s.system})
		}
		conv = append(conv, s.history...)
		ids, err := s.enc.Prompt(conv)
		if err != nil {
			return nil, err
		}
		if len(ids)+s.max <= s.m.Config.NPositions && len(ids) > 0 {
			return ids, nil
		}
		if len(s.history) <= 1 {
			return nil, fmt.Errorf("the message is %d tokens; with a reply of up to %d it does not fit the model's context of %d tokens: shorten it (or lower --max-tokens)", len(ids), s.max, s.m.Config.NPositions)
		}
		s.history = s.history[2:] // the oldest exchange
	}
}
