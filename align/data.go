package align

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/qkvdev/qkv/chat"
	"github.com/qkvdev/qkv/internal/fileutil"
)

// Conversation is one supervised example: the messages, of which the assistant turns are
// what the model learns to write.
type Conversation []chat.Message

// Pair is one preference: a prompt (the conversation so far) and two assistant replies, the
// preferred one first.
type Pair struct {
	Prompt   Conversation
	Chosen   string
	Rejected string
}

// maxDataBytes bounds a data file read into memory (after decompression).
const maxDataBytes = 1 << 30

// readRecords reads a JSON array or JSON lines file (gzip-compressed when it ends in .gz)
// and calls fn with each record and its 1-based line (or array index).
func readRecords(path string, fn func(rec json.RawMessage, where string) error) error {
	f, err := fileutil.Open(path) // a FIFO or device is refused without blocking
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer z.Close()
		r = z
	}
	data, err := io.ReadAll(io.LimitReader(r, maxDataBytes+1))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxDataBytes {
		return fmt.Errorf("%s: larger than %d bytes", path, maxDataBytes)
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '[' {
		var recs []json.RawMessage
		if err := json.Unmarshal(trimmed, &recs); err != nil {
			return fmt.Errorf("%s: not a JSON array of records: %w", path, err)
		}
		for i, rec := range recs {
			if err := fn(rec, fmt.Sprintf("%s: record %d", path, i+1)); err != nil {
				return err
			}
		}
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxDataBytes)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if err := fn(b, fmt.Sprintf("%s:%d", path, line)); err != nil {
			return err
		}
	}
	return sc.Err()
}

// LoadConversations reads supervised examples from a JSON or JSONL file in any of these
// formats, record by record:
//
//   - OpenAI chat: {"messages": [{"role": "user", "content": …}, …]}
//   - Alpaca: {"instruction", "input", "output"} — one user turn (the instruction, then the
//     input after a blank line when there is one) and the output as the reply
//   - Self-Instruct seed tasks: {"instruction", "instances": [{"input", "output"}, …]} — one
//     example per instance
//
// A record without an assistant turn, or whose assistant turn is empty, is an error naming
// its line.
func LoadConversations(path string) ([]Conversation, error) {
	var out []Conversation
	err := readRecords(path, func(rec json.RawMessage, where string) error {
		var r struct {
			Messages    []chat.Message `json:"messages"`
			Instruction *string        `json:"instruction"`
			Input       string         `json:"input"`
			Output      *string        `json:"output"`
			Instances   []struct {
				Input  string `json:"input"`
				Output string `json:"output"`
			} `json:"instances"`
		}
		if err := json.Unmarshal(rec, &r); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		var convs []Conversation
		switch {
		case r.Messages != nil:
			convs = append(convs, r.Messages)
		case r.Instruction != nil && r.Output != nil:
			convs = append(convs, alpaca(*r.Instruction, r.Input, *r.Output))
		case r.Instruction != nil && len(r.Instances) > 0:
			for _, in := range r.Instances {
				convs = append(convs, alpaca(*r.Instruction, in.Input, in.Output))
			}
		default:
			return fmt.Errorf("%s: want {\"messages\": […]}, {\"instruction\", \"input\", \"output\"} or {\"instruction\", \"instances\"}", where)
		}
		for _, c := range convs {
			if err := c.check(); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		out = append(out, convs...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no examples", path)
	}
	return out, nil
}

func alpaca(instruction, input, output string) Conversation {
	user := strings.TrimSpace(instruction)
	if in := strings.TrimSpace(input); in != "" {
		user += "\n\n" + in
	}
	return Conversation{{Role: "user", Content: user}, {Role: "assistant", Content: output}}
}

// check reports a conversation that cannot be trained on: unknown roles, no assistant turn, or
// an empty assistant turn.
func (c Conversation) check() error {
	assistant := false
	for i, m := range c {
		switch m.Role {
		case "system", "user":
		case "assistant":
			if strings.TrimSpace(m.Content) == "" {
				return fmt.Errorf("message %d: empty assistant reply", i+1)
			}
			assistant = true
		default:
			return fmt.Errorf("message %d: role %q, want system, user or assistant", i+1, m.Role)
		}
	}
	if !assistant {
		return fmt.Errorf("no assistant message to learn from")
	}
	return nil
}

// PairStats counts the pairs LoadPairs left out.
type PairStats struct {
	Identical int // chosen and rejected are the same text: no preference to learn
	Empty     int // an empty chosen or rejected reply
}

// LoadPairs reads preference pairs from a JSON or JSONL file (gzip-compressed when it ends in
// .gz), record by record, in either format:
//
//   - {"prompt", "chosen", "rejected"}: the prompt is one user turn (or a list of messages),
//     chosen and rejected the replies
//   - Anthropic HH-RLHF: {"chosen", "rejected"}, two whole dialogues "\n\nHuman: …\n\nAssistant: …"
//     that share everything up to the final assistant turn
//
// Pairs whose replies are identical or empty are left out and counted in the stats: they carry
// no preference. A file left with no pairs is an error.
func LoadPairs(path string) ([]Pair, PairStats, error) {
	var out []Pair
	var st PairStats
	err := readRecords(path, func(rec json.RawMessage, where string) error {
		var r struct {
			Prompt   json.RawMessage `json:"prompt"`
			Chosen   *string         `json:"chosen"`
			Rejected *string         `json:"rejected"`
		}
		if err := json.Unmarshal(rec, &r); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if r.Chosen == nil || r.Rejected == nil {
			return fmt.Errorf("%s: want {\"prompt\", \"chosen\", \"rejected\"} or HH-RLHF {\"chosen\", \"rejected\"}", where)
		}
		var p Pair
		if len(r.Prompt) > 0 {
			var s string
			if json.Unmarshal(r.Prompt, &s) == nil {
				p.Prompt = Conversation{{Role: "user", Content: s}}
			} else if err := json.Unmarshal(r.Prompt, &p.Prompt); err != nil {
				return fmt.Errorf("%s: prompt is neither a string nor a list of messages", where)
			}
			p.Chosen, p.Rejected = *r.Chosen, *r.Rejected
		} else {
			var err error
			if p, err = splitHH(*r.Chosen, *r.Rejected); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		switch {
		case strings.TrimSpace(p.Chosen) == "" || strings.TrimSpace(p.Rejected) == "":
			st.Empty++
			return nil
		case p.Chosen == p.Rejected:
			st.Identical++
			return nil
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, st, err
	}
	if len(out) == 0 {
		return nil, st, fmt.Errorf("%s: no usable preference pairs (%d identical, %d with an empty reply)", path, st.Identical, st.Empty)
	}
	return out, st, nil
}

// splitHH turns two HH-RLHF dialogues into the shared prompt and the two final replies.
func splitHH(chosen, rejected string) (Pair, error) {
	const asst = "\n\nAssistant:"
	ci, ri := strings.LastIndex(chosen, asst), strings.LastIndex(rejected, asst)
	if ci < 0 || ri < 0 {
		return Pair{}, fmt.Errorf("an HH-RLHF dialogue without a final \"Assistant:\" turn")
	}
	prompt, err := parseHH(chosen[:ci])
	if err != nil {
		return Pair{}, err
	}
	if chosen[:ci] != rejected[:ri] {
		// The dialogues differ before the last turn: the prompt is the chosen one's.
		if _, err := parseHH(rejected[:ri]); err != nil {
			return Pair{}, err
		}
	}
	return Pair{
		Prompt:   prompt,
		Chosen:   strings.TrimSpace(chosen[ci+len(asst):]),
		Rejected: strings.TrimSpace(rejected[ri+len(asst):]),
	}, nil
}

// parseHH splits "\n\nHuman: …\n\nAssistant: …" into messages.
func parseHH(s string) (Conversation, error) {
	var c Conversation
	for s != "" {
		var role string
		switch {
		case strings.HasPrefix(s, "\n\nHuman:"):
			role, s = "user", s[len("\n\nHuman:"):]
		case strings.HasPrefix(s, "\n\nAssistant:"):
			role, s = "assistant", s[len("\n\nAssistant:"):]
		default:
			return nil, fmt.Errorf("an HH-RLHF dialogue whose turns do not start with \"\\n\\nHuman:\" or \"\\n\\nAssistant:\"")
		}
		end := len(s)
		for _, m := range []string{"\n\nHuman:", "\n\nAssistant:"} {
			if i := strings.Index(s, m); i >= 0 && i < end {
				end = i
			}
		}
		c = append(c, chat.Message{Role: role, Content: strings.TrimSpace(s[:end])})
		s = s[end:]
	}
	if len(c) == 0 {
		return nil, fmt.Errorf("an HH-RLHF dialogue with no turn before the reply")
	}
	return c, nil
}

// LoadPrompts reads prompts for reinforcement learning from a JSON or JSONL file: records
// {"prompt": "…"} (one user turn), {"messages": […]} (a conversation; a final assistant turn,
// if any, is dropped), or Alpaca-style {"instruction", "input"}.
func LoadPrompts(path string) ([]Conversation, error) {
	var out []Conversation
	err := readRecords(path, func(rec json.RawMessage, where string) error {
		var r struct {
			Prompt      *string        `json:"prompt"`
			Messages    []chat.Message `json:"messages"`
			Instruction *string        `json:"instruction"`
			Input       string         `json:"input"`
		}
		if err := json.Unmarshal(rec, &r); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		var c Conversation
		switch {
		case r.Prompt != nil:
			c = Conversation{{Role: "user", Content: *r.Prompt}}
		case len(r.Messages) > 0:
			c = r.Messages
			if c[len(c)-1].Role == "assistant" {
				c = c[:len(c)-1]
			}
		case r.Instruction != nil:
			c = alpaca(*r.Instruction, r.Input, "")[:1]
		default:
			return fmt.Errorf("%s: want {\"prompt\"}, {\"messages\"} or {\"instruction\", \"input\"}", where)
		}
		if len(c) == 0 || strings.TrimSpace(c[len(c)-1].Content) == "" {
			return fmt.Errorf("%s: an empty prompt", where)
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no prompts", path)
	}
	return out, nil
}
