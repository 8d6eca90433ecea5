package align

import (
	"fmt"
	"slices"
	"strings"

	"github.com/qkvdev/qkv/chat"
	"github.com/qkvdev/qkv/tokenizer"
)

// Encoder turns conversations into token ids with a chat template.
type Encoder struct {
	Tok      tokenizer.Tokenizer
	Template *chat.Template
	// EndOfTurn is the text that ends an assistant turn (the template's end-of-turn token);
	// generation stops at it.
	EndOfTurn string
}

// Example is one encoded conversation: ids and, for each, whether it is part of an assistant
// turn (which the loss is computed on).
type Example struct {
	IDs    []int
	Labels []bool
}

// Encode renders conv and tokenizes it, marking the tokens of assistant turns (their content
// and the end-of-turn text the template writes after it). The template must render a
// conversation's prefix as a prefix of the whole (as chat templates do); otherwise it is an
// error.
func (e *Encoder) Encode(conv Conversation) (Example, error) {
	full, err := e.Template.Render(conv, false)
	if err != nil {
		return Example{}, err
	}
	var ex Example
	at := 0 // bytes of full encoded so far
	add := func(text string, label bool) {
		ids := e.Tok.Encode(text)
		ex.IDs = append(ex.IDs, ids...)
		for range ids {
			ex.Labels = append(ex.Labels, label)
		}
	}
	for i, m := range conv {
		if m.Role != "assistant" {
			continue
		}
		before, err := e.Template.Render(conv[:i], true)
		if err != nil {
			return Example{}, err
		}
		through, err := e.Template.Render(conv[:i+1], false)
		if err != nil {
			return Example{}, err
		}
		if !strings.HasPrefix(through, before) || !strings.HasPrefix(full, through) || len(before) < at {
			return Example{}, fmt.Errorf("the chat template does not render a conversation's beginning as the beginning of the whole, so the assistant turns cannot be found")
		}
		add(full[at:len(before)], false)
		add(full[len(before):len(through)], true)
		at = len(through)
	}
	add(full[at:], false)
	return ex, nil
}

// Prompt returns the ids of conv followed by the opening of an assistant turn: what a model
// continues to reply.
func (e *Encoder) Prompt(conv Conversation) ([]int, error) {
	text, err := e.Template.Render(conv, true)
	if err != nil {
		return nil, err
	}
	return e.Tok.Encode(text), nil
}

// Reply returns the ids of reply as the assistant turn after conv (the reply and the
// end-of-turn text the template adds): what follows Prompt(conv).
func (e *Encoder) Reply(conv Conversation, reply string) ([]int, error) {
	before, err := e.Template.Render(conv, true)
	if err != nil {
		return nil, err
	}
	whole := append(append(Conversation{}, conv...), chat.Message{Role: "assistant", Content: reply})
	through, err := e.Template.Render(whole, false)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(through, before) {
		return nil, fmt.Errorf("the chat template does not render a conversation's beginning as the beginning of the whole, so the reply cannot be found")
	}
	return e.Tok.Encode(through[len(before):]), nil
}

// EncodedPair is a preference pair as ids: the prompt, and the two replies that follow it.
type EncodedPair struct {
	Prompt, Chosen, Rejected []int
}

// EncodePairs encodes pairs, leaving out those whose prompt and longer reply exceed context
// tokens (counted in tooLong). A pair whose replies encode to the same ids is an error: the
// tokenizer cannot tell them apart (characters outside a character vocabulary are dropped).
func (e *Encoder) EncodePairs(pairs []Pair, context int) (out []EncodedPair, tooLong int, err error) {
	for i, p := range pairs {
		var ep EncodedPair
		if ep.Prompt, err = e.Prompt(p.Prompt); err != nil {
			return nil, 0, fmt.Errorf("pair %d: %w", i+1, err)
		}
		if ep.Chosen, err = e.Reply(p.Prompt, p.Chosen); err != nil {
			return nil, 0, fmt.Errorf("pair %d: %w", i+1, err)
		}
		if ep.Rejected, err = e.Reply(p.Prompt, p.Rejected); err != nil {
			return nil, 0, fmt.Errorf("pair %d: %w", i+1, err)
		}
		if len(ep.Prompt)+max(len(ep.Chosen), len(ep.Rejected)) > context {
			tooLong++
			continue
		}
		if slices.Equal(ep.Chosen, ep.Rejected) {
			return nil, 0, fmt.Errorf("pair %d: the chosen and rejected replies encode to the same tokens (does the tokenizer drop their differences?)", i+1)
		}
		out = append(out, ep)
	}
	if len(out) == 0 {
		return nil, tooLong, fmt.Errorf("every one of %d pairs is longer than the model's context of %d tokens", len(pairs), context)
	}
	return out, tooLong, nil
}
