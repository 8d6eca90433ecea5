package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The request and response types follow OpenAI's API reference field by field (the official
// openai-go SDK is the test client). Optional numbers are pointers: unset is not zero
// (temperature unset means 1, not greedy).

// samplingParams are the fields completions and chat completions share.
type samplingParams struct {
	Model            string             `json:"model"`
	N                *int               `json:"n"`
	Stop             json.RawMessage    `json:"stop"`
	MaxTokens        *int               `json:"max_tokens"`
	Temperature      *float64           `json:"temperature"`
	TopP             *float64           `json:"top_p"`
	Seed             *int64             `json:"seed"`
	PresencePenalty  *float64           `json:"presence_penalty"`
	FrequencyPenalty *float64           `json:"frequency_penalty"`
	LogitBias        map[string]float64 `json:"logit_bias"`
	Stream           bool               `json:"stream"`
	StreamOptions    *streamOptions     `json:"stream_options"`
	User             string             `json:"user"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type completionRequest struct {
	samplingParams
	Prompt   json.RawMessage `json:"prompt"`
	Logprobs *int            `json:"logprobs"` // legacy: how many alternatives (0..5)
	Echo     bool            `json:"echo"`
	BestOf   *int            `json:"best_of"`
	Suffix   *string         `json:"suffix"`
}

type chatRequest struct {
	samplingParams
	Messages            []chatMessage   `json:"messages"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Logprobs            bool            `json:"logprobs"`
	TopLogprobs         *int            `json:"top_logprobs"`
	ResponseFormat      *responseFormat `json:"response_format"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	Name    string          `json:"name,omitempty"`
}

type embeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
	User           string          `json:"user"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Completions (legacy).

// responseHead is what every completions and chat completions response (or chunk) opens with.
type responseHead struct {
	ID                string `json:"id"`
	Object            string `json:"object"` // "text_completion", "chat.completion" or "chat.completion.chunk"
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
}

// response is a completions or chat completions response, or one chunk of a stream.
type response[C any] struct {
	responseHead
	Choices []C    `json:"choices"`
	Usage   *usage `json:"usage,omitempty"`
}

type completionResponse = response[completionChoice]

type completionChoice struct {
	Text         string              `json:"text"`
	Index        int                 `json:"index"`
	Logprobs     *completionLogprobs `json:"logprobs"`
	FinishReason *string             `json:"finish_reason"`
}

// completionLogprobs is the legacy logprobs format: parallel lists.
type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float64            `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

// Chat completions.

type chatResponse = response[chatChoice]

type chatChoice struct {
	Index        int           `json:"index"`
	Message      *chatOut      `json:"message,omitempty"`
	Delta        *chatOut      `json:"delta,omitempty"`
	Logprobs     *chatLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
}

type chatOut struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
	Refusal *string `json:"refusal,omitempty"`
}

type chatLogprobs struct {
	Content []tokenLogprob `json:"content"`
	Refusal []tokenLogprob `json:"refusal"`
}

type tokenLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []topLogprob `json:"top_logprobs"`
}

type topLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// Embeddings.

type embeddingResponse struct {
	Object string          `json:"object"` // "list"
	Data   []embeddingData `json:"data"`
	Model  string          `json:"model"`
	Usage  struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

type embeddingData struct {
	Object    string `json:"object"` // "embedding"
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string of little-endian float32
}

// Models.

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"` // "model"
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// textOrTokens is a prompt or an embedding input: a string, a list of strings, a list of
// token ids, or a list of lists of token ids. Exactly one of texts and tokens is set.
type textOrTokens struct {
	texts  []string
	tokens [][]int
}

func (t *textOrTokens) len() int { return max(len(t.texts), len(t.tokens)) }

func parseTextOrTokens(raw json.RawMessage, param string) (textOrTokens, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return textOrTokens{}, invalid(param, "%s is required", param)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return textOrTokens{texts: []string{s}}, nil
	}
	var ss []string
	if json.Unmarshal(raw, &ss) == nil && len(ss) > 0 {
		return textOrTokens{texts: ss}, nil
	}
	var ids []int
	if json.Unmarshal(raw, &ids) == nil && len(ids) > 0 {
		return textOrTokens{tokens: [][]int{ids}}, nil
	}
	var idss [][]int
	if json.Unmarshal(raw, &idss) == nil && len(idss) > 0 {
		for i, ids := range idss {
			if len(ids) == 0 {
				return textOrTokens{}, invalid(param, "%s[%d] is an empty list of tokens", param, i)
			}
		}
		return textOrTokens{tokens: idss}, nil
	}
	return textOrTokens{}, invalid(param, "%s must be a string, a non-empty list of strings, a list of token ids or a list of lists of token ids", param)
}

// parseStop reads stop: null, a string, or a list of up to 4 non-empty strings.
func parseStop(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, invalid("stop", "stop must not be an empty string")
		}
		return []string{s}, nil
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil {
		return nil, invalid("stop", "stop must be a string or a list of strings")
	}
	if len(ss) > 4 {
		return nil, invalid("stop", "stop has %d sequences; at most 4 are allowed", len(ss))
	}
	for i, st := range ss {
		if st == "" {
			return nil, invalid("stop", "stop[%d] is an empty string", i)
		}
	}
	return ss, nil
}

// messageText reads a message's content: a string, or a list of text parts.
func messageText(m chatMessage, i int) (string, error) {
	raw := bytes.TrimSpace(m.Content)
	param := fmt.Sprintf("messages[%d].content", i)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		if m.Role == "assistant" {
			return "", nil
		}
		return "", invalid(param, "%s is required", param)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []struct {
		Type string  `json:"type"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", invalid(param, "%s must be a string or a list of content parts", param)
	}
	var b bytes.Buffer
	for j, p := range parts {
		if p.Type != "text" || p.Text == nil {
			return "", invalid(fmt.Sprintf("%s[%d]", param, j), "content part type %q is not supported by this model (only text)", p.Type)
		}
		b.WriteString(*p.Text)
	}
	return b.String(), nil
}
