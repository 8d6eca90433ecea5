package align

import (
	"context"
	"fmt"
	"io"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/chat"
	"github.com/qkvdev/qkv/data"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/tensor"
	"github.com/qkvdev/qkv/tokenizer"
)

// ChatModel prepares a pretrained language model for chat: the template's special tokens are
// added to the tokenizer, the embedding (and so the tied LM head) grows by as many rows — the
// existing rows unchanged, the new ones drawn from seed — and the model's eos_token_id becomes
// the template's end-of-turn token, so that generation stops at the end of a reply.
func ChatModel(lm *gpt.Model, tok tokenizer.Tokenizer, tpl *chat.Template, specials []string, endOfTurn string, seed uint64) (*gpt.Model, *Tokenizer, error) {
	t, err := WithSpecials(tok, specials)
	if err != nil {
		return nil, nil, err
	}
	if t.VocabSize() > lm.Config.VocabSize {
		if lm, err = lm.GrowVocab(t.VocabSize()-lm.Config.VocabSize, seed); err != nil {
			return nil, nil, err
		}
	}
	if endOfTurn != "" {
		ids := t.Encode(endOfTurn)
		if len(ids) != 1 {
			return nil, nil, fmt.Errorf("align: the end-of-turn text %q is %d tokens, want one special token", endOfTurn, len(ids))
		}
		id := ids[0]
		lm.Config.EOSTokenID = &id
	}
	return lm, t, nil
}

// SFTTask is supervised fine-tuning on conversations (instruction tuning, Ouyang et al. 2022
// §3.5; Wei et al. 2021): next-token cross-entropy on the tokens of the assistant turns only,
// the rest of each conversation being context. With Pack set, examples are concatenated into
// rows of Block tokens (as TRL's packing does); otherwise each example fills one row, padded.
//
// A model fine-tuned on one narrow task forgets what pretraining taught it (its in-context
// learning on plain-text prompts can drop to nothing). InstructGPT keeps a pretraining
// language-modelling term in the fine-tuning objective for this ("PPO-ptx", Ouyang et al. 2022
// §3.5); Text and TextRatio do the same for SFT: each training row is, with probability
// TextRatio, a window of plain pretraining text trained on every position instead of a
// conversation row. The loss is the mean over all positions trained on, so the text's share
// of the gradient is its share of those positions, larger than TextRatio when the
// conversation rows hold few assistant tokens.
type SFTTask struct {
	Model    *gpt.Model
	Tok      tokenizer.Tokenizer
	Template *chat.Template
	Train    []Example
	Val      []Example
	Batch    int // B
	Block    int // T
	Pack     bool
	EvalRows int       // rows a periodic evaluation reads (0: 64); the final one reads all
	Log      io.Writer // notes (examples left out); nil: none

	// Text is plain pretraining text, (N,) token ids of the model's tokenizer, at least Block+1
	// of them when TextRatio > 0; TextRatio in [0, 1) is the probability of each training row
	// being a random window of it (0: conversations only, the rows drawn exactly as without).
	Text      []int
	TextRatio float64

	train, val [][]int // rows of Block+1 ids
	trainY     [][]int // their targets (IgnoreIndex outside assistant turns)
	valY       [][]int
	x, y       []int
}

// Params implements train.Task.
func (t *SFTTask) Params() *nn.Params { return &t.Model.Params }

// Check implements train.Task's optional check: it builds the rows, leaving out (and
// reporting) unpacked examples longer than the context.
func (t *SFTTask) Check() error {
	switch {
	case t.Batch < 1:
		return fmt.Errorf("sft: batch size %d, want at least 1", t.Batch)
	case t.Block < 2 || t.Block > t.Model.Config.NPositions:
		return fmt.Errorf("sft: block of %d tokens, want 2..%d (the model's n_positions)", t.Block, t.Model.Config.NPositions)
	case !(t.TextRatio >= 0 && t.TextRatio < 1):
		return fmt.Errorf("sft: plain-text ratio %g, want a share in [0, 1)", t.TextRatio)
	case t.TextRatio > 0 && len(t.Text) < t.Block+1:
		return fmt.Errorf("sft: the plain text to mix in is %d tokens, but a row of %d tokens needs %d", len(t.Text), t.Block, t.Block+1)
	}
	for i, id := range t.Text {
		if id < 0 || id >= t.Model.Config.VocabSize {
			return fmt.Errorf("sft: plain text token %d is id %d, outside the model's vocabulary of %d", i, id, t.Model.Config.VocabSize)
		}
	}
	var dropped int
	var err error
	if t.train, t.trainY, dropped, err = t.rows("training", t.Train); err != nil {
		return err
	}
	if dropped > 0 && t.Log != nil {
		fmt.Fprintf(t.Log, "sft: left out %d training conversations longer than the block of %d tokens\n", dropped, t.Block)
	}
	if t.val, t.valY, dropped, err = t.rows("validation", t.Val); err != nil {
		return err
	}
	if dropped > 0 && t.Log != nil {
		fmt.Fprintf(t.Log, "sft: left out %d validation conversations longer than the block of %d tokens\n", dropped, t.Block)
	}
	return nil
}

func (t *SFTTask) rows(split string, exs []Example) (xs, ys [][]int, dropped int, err error) {
	V, T := t.Model.Config.VocabSize, t.Block
	var ids, tgt []int // one stream: all examples when packing, else one example
	chunk := func() {  // cut the stream into rows of T inputs and their T next-token targets
		for len(ids) >= 2 {
			n := min(T, len(ids)-1)
			x, y := make([]int, T), make([]int, T)
			copy(x, ids[:n])
			for i := range T {
				y[i] = tensor.IgnoreIndex
				if i < n {
					y[i] = tgt[i+1]
				}
			}
			xs, ys = append(xs, x), append(ys, y)
			ids, tgt = ids[n:], tgt[n:]
		}
		ids, tgt = ids[:0], tgt[:0]
	}
	for i, ex := range exs {
		for j, id := range ex.IDs {
			if id < 0 || id >= V {
				return nil, nil, 0, fmt.Errorf("sft: %s example %d: token %d is id %d, outside the model's vocabulary of %d", split, i+1, j, id, V)
			}
		}
		if !t.Pack && len(ex.IDs) > T+1 {
			dropped++
			continue
		}
		for j, id := range ex.IDs {
			ids = append(ids, id)
			if ex.Labels[j] {
				tgt = append(tgt, id)
			} else {
				tgt = append(tgt, tensor.IgnoreIndex)
			}
		}
		if !t.Pack {
			chunk()
		}
	}
	chunk()
	if len(xs) == 0 {
		return nil, nil, dropped, fmt.Errorf("sft: no %s examples fit the block of %d tokens (%d were longer)", split, T, dropped)
	}
	return xs, ys, dropped, nil
}

// Loss implements train.Task: B random rows (B, T), each a conversation row or, with
// probability TextRatio, a window of Text with the next-token target at every position; all
// draws come from rng, so that a seeded run and its resumption draw the same rows. tokens
// counts the positions trained on.
func (t *SFTTask) Loss(g *autograd.Graph, rng, dropout *tensor.RNG) (*autograd.Var, int) {
	B, T := t.Batch, t.Block
	if len(t.x) != B*T {
		t.x, t.y = make([]int, B*T), make([]int, B*T)
	}
	tokens := 0
	for b := range B {
		if t.TextRatio > 0 && rng.Float64() < t.TextRatio { // no draw without text: rows as before
			data.RandomBatch(t.Text, 1, T, rng, t.x[b*T:(b+1)*T], t.y[b*T:(b+1)*T])
			tokens += T
			continue
		}
		r := rng.IntN(len(t.train))
		copy(t.x[b*T:], t.train[r])
		copy(t.y[b*T:], t.trainY[r])
		for _, y := range t.trainY[r] {
			if y >= 0 {
				tokens++
			}
		}
	}
	logits := t.Model.Forward(g, t.x, B, T, &gpt.State{Dropout: dropoutIf(t.Model, dropout)})
	return t.Model.Loss(g, logits, t.y), tokens
}

func dropoutIf(m *gpt.Model, rng *tensor.RNG) *tensor.RNG {
	c := m.Config
	if c.EmbdPdrop > 0 || c.ResidPdrop > 0 || c.AttnPdrop > 0 {
		return rng
	}
	return nil
}

// Evaluate implements train.Task: the masked loss over the validation rows, token-weighted.
// It reads the conversations only, never Text, so that the number stays comparable between
// runs with and without plain text mixed in.
func (t *SFTTask) Evaluate(ctx context.Context, full bool) (float64, error) {
	n := len(t.val)
	if !full {
		rows := t.EvalRows
		if rows <= 0 {
			rows = 64
		}
		n = min(n, rows)
	}
	g := autograd.NewGraph()
	g.SetGrad(false)
	var sum float64
	var count int
	for i := range n {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		g.Reset()
		logits := t.Model.Forward(g, t.val[i], 1, t.Block, nil)
		k := 0
		for _, y := range t.valY[i] {
			if y >= 0 {
				k++
			}
		}
		if k == 0 {
			continue
		}
		sum += float64(t.Model.Loss(g, logits, t.valY[i]).Value.Item()) * float64(k)
		count += k
	}
	if count == 0 {
		return 0, fmt.Errorf("sft: the validation rows hold no assistant tokens")
	}
	return sum / float64(count), nil
}

// SaveModel implements train.Task: the model, the tokenizer with its special tokens, and the
// chat template in tokenizer_config.json.
func (t *SFTTask) SaveModel(dir string) error {
	return SaveChatModel(dir, t.Model, t.Tok, t.Template)
}

// SaveChatModel writes a chat model folder: config.json, model.safetensors, the tokenizer's
// files and the chat template.
func SaveChatModel(dir string, m *gpt.Model, tok tokenizer.Tokenizer, tpl *chat.Template) error {
	if err := m.Save(dir); err != nil {
		return err
	}
	if err := tok.Save(dir); err != nil {
		return err
	}
	return chat.Save(dir, tpl)
}
