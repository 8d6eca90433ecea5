package chat

import (
	"errors"
	"strings"
	"testing"
)

const chatMLHub = `{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`

// Llama 2's template, as published in its tokenizer_config.json.
const llama2Hub = `{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}`

// Zephyr's template: whitespace control, loop.last, ~.
const zephyrHub = "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"

func TestRenderHubTemplates(t *testing.T) {
	conv := []Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: " Hi "}, {Role: "assistant", Content: "Hello."}, {Role: "user", Content: "Bye"}}
	cases := []struct {
		name, src string
		msgs      []Message
		gen       bool
		want      string
	}{
		{"chatml", chatMLHub, conv[1:2], true, "<|im_start|>user\n Hi <|im_end|>\n<|im_start|>assistant\n"},
		{"llama2", llama2Hub, conv, false, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n Hi [/INST] Hello. </s><s>[INST] Bye [/INST]"},
		{"zephyr", zephyrHub, conv[:2], true, "<|system|>\nBe brief.</s>\n<|user|>\n Hi </s>\n<|assistant|>\n"},
		{"plain", Plain, conv[:2], true, "system: Be brief.\nuser:  Hi \nassistant:"},
		{"tilde and filters", `{{ messages|length ~ ':' ~ messages[0].content|trim|upper }}{{- '  x' -}}  {{ 'y' if not add_generation_prompt else 'z' }}`, conv[1:2], false, "1:HI  xy"},
		{"in and is", `{% if 'user' in messages|map %}{% endif %}`, nil, false, ""},
		{"for else and loop", `{% for m in messages %}{{ loop.index }}/{{ loop.length }}{% if not loop.last %},{% endif %}{% else %}none{% endfor %}`, conv[:3], false, "1/3,2/3,3/3"},
		{"undefined is empty", `[{{ nothing }}{{ messages[9].role }}{% if nothing is not defined %}u{% endif %}]`, conv[:1], false, "[u]"},
	}
	for _, c := range cases {
		tpl, err := Parse(c.src)
		if c.name == "in and is" {
			if err == nil {
				t.Errorf("%s: the unsupported filter map was accepted", c.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		tpl.BOSToken, tpl.EOSToken = "<s>", "</s>"
		got, err := tpl.Render(c.msgs, c.gen)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

// raise_exception rejects a conversation with the template's own message.
func TestRaiseExceptionHub(t *testing.T) {
	tpl, err := Parse(llama2Hub)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpl.Render([]Message{{Role: "assistant", Content: "x"}}, false)
	var re *RaisedError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "alternate") {
		t.Fatalf("got %v, want the template's exception", err)
	}
}

// What the subset does not support is an error at parse time that names it.
func TestTemplateUnsupported(t *testing.T) {
	for src, want := range map[string]string{
		`{% macro f() %}{% endmacro %}`:             "macro",
		`{% include 'x' %}`:                         "include",
		`{{ range(10) }}`:                           "range",
		`{{ x.__class__ }}`:                         "", // attribute access reads only mapping keys: allowed, renders empty
		`{{ messages | join(',') }}`:                "join",
		`{% for m in messages %}`:                   "endfor",
		`{% endif %}`:                               "endif",
		`{{ 'a' `:                                   "closing",
		`{{ 'abc }}`:                                "",
		`{% if x %}{% else %}{% else %}{% endif %}`: "else",
		`{{ 1 + }}`:                                 "early",
	} {
		_, err := Parse(src)
		if want == "" {
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error naming %q", src, err, want)
		}
	}
}

// Loops and output are bounded, whatever the template.
func TestTemplateBounds(t *testing.T) {
	src := `{% set s = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' %}` + strings.Repeat(`{% set s = s ~ s %}`, 40) + `{{ s }}`
	tpl, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpl.Render(nil, false); err == nil {
		t.Error("an exploding template rendered")
	}
	nested := strings.Repeat(`{% for m in messages %}`, 8) + `{{ m.content }}` + strings.Repeat(`{% endfor %}`, 8)
	tpl, err = Parse(nested)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]Message, 20)
	if _, err := tpl.Render(msgs, false); err == nil || !strings.Contains(err.Error(), "steps") {
		t.Errorf("20^8 iterations: got %v, want a step limit", err)
	}
	if _, err := Parse("{{" + strings.Repeat("(", 1000) + "}}"); err == nil {
		t.Error("deep nesting parsed")
	}
	if _, err := Parse(strings.Repeat(`{% if x %}`, 100)); err == nil {
		t.Error("deep blocks parsed")
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{chatMLHub, llama2Hub, zephyrHub, Plain, `{{ a[1:-1] ~ b.c }}`, `{%- if x -%} y {%- endif -%}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := Parse(src)
		if err != nil {
			return
		}
		tpl.BOSToken, tpl.EOSToken = "<s>", "</s>"
		_, _ = tpl.Render([]Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "yo"}}, true)
	})
}
