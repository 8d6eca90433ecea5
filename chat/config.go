package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
)

// ConfigFile is HuggingFace's tokenizer configuration, which holds the chat template.
const ConfigFile = "tokenizer_config.json"

// ErrNoTemplate is returned by Load when a folder's tokenizer_config.json has no chat
// template (or there is no such file).
var ErrNoTemplate = errors.New("no chat template")

// Load reads the chat template of a model folder from tokenizer_config.json: its
// "chat_template" (a string, or a list of {"name", "template"} of which "default" is taken),
// with bos_token and eos_token (strings or {"content": …} objects).
func Load(dir string) (*Template, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := fileutil.ReadFile(path, fileutil.SmallFileLimit, "a tokenizer config")
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoTemplate)
	}
	if err != nil {
		return nil, err
	}
	t, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ParseConfig parses the contents of a tokenizer_config.json.
func ParseConfig(data []byte) (*Template, error) {
	var cfg struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
		BOS          json.RawMessage `json:"bos_token"`
		EOS          json.RawMessage `json:"eos_token"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("not a tokenizer configuration: %w", err)
	}
	if len(cfg.ChatTemplate) == 0 || string(cfg.ChatTemplate) == "null" {
		return nil, ErrNoTemplate
	}
	var src string
	if err := json.Unmarshal(cfg.ChatTemplate, &src); err != nil {
		var named []struct {
			Name     string `json:"name"`
			Template string `json:"template"`
		}
		if json.Unmarshal(cfg.ChatTemplate, &named) != nil {
			return nil, fmt.Errorf("chat_template is neither a string nor a list of named templates")
		}
		for _, n := range named {
			if n.Name == "default" {
				src = n.Template
			}
		}
		if src == "" {
			return nil, fmt.Errorf("chat_template lists no template named \"default\"")
		}
	}
	t, err := Parse(src)
	if err != nil {
		return nil, err
	}
	t.BOSToken, t.EOSToken = specialToken(cfg.BOS), specialToken(cfg.EOS)
	return t, nil
}

func specialToken(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		Content string `json:"content"`
	}
	_ = json.Unmarshal(raw, &obj)
	return obj.Content
}

// Save writes t's source as the chat_template of dir's tokenizer_config.json, keeping the
// file's other settings, with bos_token and eos_token when t has them.
func Save(dir string, t *Template) error {
	path := filepath.Join(dir, ConfigFile)
	cfg := map[string]any{}
	data, err := fileutil.ReadFile(path, fileutil.SmallFileLimit, "a tokenizer config")
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &cfg); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	cfg["chat_template"] = t.Source
	if t.BOSToken != "" {
		cfg["bos_token"] = t.BOSToken
	}
	if t.EOSToken != "" {
		cfg["eos_token"] = t.EOSToken
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(out, '\n'), 0o644)
}
