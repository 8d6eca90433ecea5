package chat

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// Templates as HuggingFace model repositories ship them (Zephyr, Llama 2, ChatML with a
// default system prompt).
const (
	zephyr = `{% for message in messages %}
{% if message['role'] == 'user' %}
{{ '<|user|>
' + message['content'] + eos_token }}
{% elif message['role'] == 'system' %}
{{ '<|system|>
' + message['content'] + eos_token }}
{% elif message['role'] == 'assistant' %}
{{ '<|assistant|>
'  + message['content'] + eos_token }}
{% endif %}
{% if loop.last and add_generation_prompt %}
{{ '<|assistant|>' }}
{% endif %}
{% endfor %}`
	llama2       = `{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% endif %}`
	llama2Alt    = `{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] | trim + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + message['content'] | trim + ' ' + eos_token }}{% endif %}{% endfor %}`
	chatmlSystem = `{%- for message in messages -%}
  {%- if loop.first and message.role != 'system' -%}
    {{- '<|im_start|>system\nYou are helpful.<|im_end|>\n' -}}
  {%- endif -%}
  {{- '<|im_start|>' ~ message.role ~ '\n' ~ message.content ~ '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}`
)

func TestRender(t *testing.T) {
	conv := []Message{{Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello!"}, {Role: "user", Content: "2+2?"}}
	for _, tc := range []struct {
		name, src string
		msgs      []Message
		gen       bool
		want      string
	}{
		{"default", Default, conv, true, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"},
		{"default no prompt", Default, conv[:2], false, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"},
		{"zephyr", zephyr, conv[:1], true, "<|user|>\nHi</s>\n<|assistant|>\n"},
		{"llama2", llama2Alt, []Message{{Role: "user", Content: " Hi "}, {Role: "assistant", Content: "Yo"}}, false, "<s>[INST] Hi [/INST] Yo </s>"},
		{"chatml system", chatmlSystem, conv[:1], true, "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
		{"loop vars", `{% for m in messages %}{{ loop.index }}/{{ loop.length }}{% if not loop.last %},{% endif %}{% endfor %}`, conv, false, "1/3,2/3,3/3"},
		{"filters and tests", `{{ messages | length }}{% if foo is defined %}x{% else %}{{ messages[0].content | upper }}{% endif %}{{ messages[-1]['content'] | lower }}{% if messages[0].name is none %}N{% endif %}{% if messages[0].name is not defined %}U{% endif %}`, conv, false, "3HI2+2?U"},
		{"set inside a loop stays in the loop, as in Jinja", `{% set s = 'a' %}{% for m in messages %}{% set s = s ~ m.role[0] %}{% endfor %}{{ s }}`, conv, false, "a"},
		{"comment", `{# a comment #}x`, nil, false, "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			tpl.BOSToken, tpl.EOSToken = "<s>", "</s>"
			got, err := tpl.Render(tc.msgs, tc.gen)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`{% macro f() %}{% endmacro %}`, "{% macro %} is not supported"},
		{`{% include 'x' %}`, "{% include %} is not supported"},
		{`{{ messages.pop() }}`, "method pop with 0 arguments is not supported"},
		{`{{ range(3) }}`, "calling range is not supported"},
		{`{{ x | safe }}`, `filter "safe" is not supported`},
		{`{{ x is odd }}`, `test "odd" is not supported`},
		{`{% for m in messages %}`, "missing {% endfor %}"},
		{`{% if x %}a{% endfor %}`, "{% endfor %} without its opening tag"},
		{`{% endif %}`, "without its opening tag"},
		{`{{ 'abc }}`, "without a closing }}"},
		{`{{ x`, "without a closing }}"},
		{`{{ a b }}`, `unexpected "b"`},
		{`{{ a $ b }}`, "unexpected '$'"},
		{`{% else x %}`, "without its opening tag"},
		{strings.Repeat("{% if x %}", 100), "nested more than 64 deep"},
		{"{{ " + strings.Repeat("(", 100) + "x" + strings.Repeat(")", 100) + " }}", "nested more than 64 deep"},
	} {
		if _, err := Parse(tc.src); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%.40q) = %v, want an error containing %q", tc.src, err, tc.want)
		}
	}
}

func TestConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); !errors.Is(err, ErrNoTemplate) {
		t.Fatalf("empty folder: %v", err)
	}
	os.WriteFile(dir+"/"+ConfigFile, []byte(`{"model_max_length": 1024, "eos_token": {"content": "</s>"}}`), 0o644)
	if _, err := Load(dir); !errors.Is(err, ErrNoTemplate) {
		t.Fatalf("no template: %v", err)
	}
	tpl, _ := Parse(llama2Alt)
	tpl.BOSToken = "<s>"
	if err := Save(dir, tpl); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if back.Source != llama2Alt || back.BOSToken != "<s>" || back.EOSToken != "</s>" {
		t.Fatalf("round trip: %+v", back)
	}
	data, _ := os.ReadFile(dir + "/" + ConfigFile)
	if !strings.Contains(string(data), "model_max_length") {
		t.Fatal("Save dropped the file's other settings")
	}
	if _, err := ParseConfig([]byte(`{"chat_template": [{"name": "tool_use", "template": "x"}]}`)); err == nil {
		t.Fatal("named templates without a default parsed")
	}
	if tpl, err := ParseConfig([]byte(`{"chat_template": [{"name": "default", "template": "y"}]}`)); err != nil || tpl.Source != "y" {
		t.Fatal("named default template", err)
	}
}
