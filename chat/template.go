// Package chat renders a conversation into the text a chat model was trained on, with the
// Jinja chat templates that HuggingFace tokenizers carry in tokenizer_config.json
// ("chat_template"). The template language is the safe subset described in engine.go: a model
// whose template uses anything else is refused when the template is parsed, so a template never
// runs code, and rendering is bounded in steps and output, so none can hang its caller.
package chat

// Message is one turn of a conversation.
type Message struct {
	Role    string `json:"role"` // "system", "user" or "assistant"
	Content string `json:"content"`
	Name    string `json:"name,omitempty"`
}

// Default is the template used when a model folder carries none: ChatML, as Qwen and many
// others use it. Each turn is <|im_start|>ROLE\nCONTENT<|im_end|>\n, and the generation prompt
// opens an assistant turn. <|im_start|> and <|im_end|> are special tokens; generation stops at
// <|im_end|>.
const Default = `{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`

// DefaultSpecialTokens are the special tokens of Default; the last one ends a turn.
var DefaultSpecialTokens = []string{"<|im_start|>", "<|im_end|>"}

// DefaultEndOfTurn is the token that ends a turn in Default.
const DefaultEndOfTurn = "<|im_end|>"

// Plain is the template of a model whose folder has none and whose tokenizer lacks Default's
// special tokens (GPT-2 and other base models): "role: content" lines, the generation prompt
// "assistant:". Generation stops at PlainStop, where the model starts the user's next turn.
const Plain = `{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}`

// PlainStop is the stop sequence of Plain.
const PlainStop = "\nuser:"
