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
	conv := []Message{{"user", "Hi"}, {"assistant", "Hello!"}, {"user", "2+2?"}}
	for _, tc := range []struct {
		name, src string
		msgs      []Message
		gen       bool
		want      string
	}{
		{"default", Default, conv, true, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"},
		{"default no prompt", Default, conv[:2], false, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"},
		{"zephyr", zephyr, conv[:1], true, "<|user|>\nHi</s>\n<|assistant|>\n"},
		{"llama2", llama2Alt, []Message{{"user", " Hi "}, {"assistant", "Yo"}}, false, "<s>[INST] Hi [/INST] Yo </s>"},
		{"chatml system", chatmlSystem, conv[:1], true, "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
		{"loop vars", `{% for m in messages %}{{ loop.index }}/{{ loop.length }}{% if not loop.last %},{% endif %}{% endfor %}`, conv, false, "1/3,2/3,3/3"},
		{"filters and tests", `{{ messages | length }}{% if foo is defined %}x{% else %}{{ messages[0].content | upper }}{% endif %}{{ messages[-1]['content'] | lower }}{% if messages[0].name is none %}N{% endif %}`, conv, false, "3HI2+2?N"},
		{"set", `{% set s = 'a' %}{% for m in messages %}{% set s = s ~ m.role[0] %}{% endfor %}{{ s }}`, conv, false, "auau"},
		{"comment", `{# a comment #}x`, nil, false, "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := Parse(tc.src)
			if tc.name == "set" {
				// role[0] indexes a string, which this subset does not support: a render error.
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tpl.Render(tc.msgs, tc.gen); err == nil {
					t.Fatal("indexing a string rendered")
				}
				return
			}
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

func TestRaiseException(t *testing.T) {
	tpl, err := Parse(llama2Alt)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpl.Render([]Message{{"assistant", "x"}}, false)
	var re *RaisedError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "alternate") {
		t.Fatalf("got %v, want the template's exception", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`{% macro f() %}{% endmacro %}`, "unsupported statement"},
		{`{% include 'x' %}`, "unsupported statement"},
		{`{{ messages.pop() }}`, "method calls"},
		{`{{ range(3) }}`, "unsupported function"},
		{`{{ x | safe }}`, "unsupported filter"},
		{`{{ x is odd }}`, "unsupported test"},
		{`{% for m in messages %}`, "ended by the end of the template"},
		{`{% if x %}a{% endfor %}`, "ended by {% endfor %}"},
		{`{% endif %}`, "without a matching"},
		{`{{ 'abc }}`, "unterminated string"},
		{`{{ x`, "never closed"},
		{`{{ x[1:] }}`, "slices are not supported"},
		{`{{ a b }}`, `unexpected "b"`},
		{`{{ a $ b }}`, "unexpected character"},
		{`{% else x %}`, "without a matching"},
		{llama2, "slices are not supported"},
		{strings.Repeat("{% if x %}", 100), "nested deeper"},
		{"{{ " + strings.Repeat("(", 100) + "x" + strings.Repeat(")", 100) + " }}", "nested deeper"},
	} {
		_, err := Parse(tc.src)
		var pe *Error
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%.40q) = %v, want an *Error containing %q", tc.src, err, tc.want)
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

func FuzzParse(f *testing.F) {
	for _, s := range []string{Default, zephyr, llama2Alt, chatmlSystem, `{{ a[0]['b'].c | trim ~ 'x' }}`, `{%- if a -%}{%- elif b -%}{%- else -%}{%- endif -%}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := Parse(src)
		if err != nil {
			return
		}
		_, _ = tpl.Render([]Message{{"system", "s"}, {"user", "u"}, {"assistant", "a"}}, true)
	})
}
