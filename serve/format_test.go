package serve

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// response_format makes every choice of a random model a document of the schema, where the
// same model unconstrained writes bytes that do not parse.
func TestResponseFormat(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	ask := func(format string) []string {
		t.Helper()
		body := `{"model":"tiny-chat","messages":[{"role":"user","content":"Give a number."}],"n":8,"temperature":1,"seed":3,"max_tokens":40` + format + `}`
		resp, b := post(t, ts.URL+"/v1/chat/completions", body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		var out struct {
			Choices []struct {
				Message struct {
					Content string `json:"content"`
				} `json:"message"`
				FinishReason string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, c := range out.Choices {
			texts = append(texts, c.Message.Content)
		}
		return texts
	}
	type answer struct {
		Answer *int  `json:"answer"`
		Sure   *bool `json:"sure"`
	}
	parses := func(s string) bool {
		var a answer
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		return dec.Decode(&a) == nil && a.Answer != nil && a.Sure != nil && !dec.More()
	}
	schema := `{"type":"object","properties":{"answer":{"type":"integer"},"sure":{"type":"boolean"}},"required":["answer","sure"],"additionalProperties":false}`
	bad := 0
	for _, s := range ask("") {
		if !parses(s) {
			bad++
		}
	}
	if bad == 0 {
		t.Fatal("the random model wrote valid documents unconstrained: the test shows nothing")
	}
	for _, s := range ask(`,"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":` + schema + `}}`) {
		if !parses(s) {
			t.Errorf("constrained choice %q does not parse as the schema", s)
		}
	}
	for _, s := range ask(`,"response_format":{"type":"json_object"}`) {
		var v map[string]any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Errorf("json_object choice %q: %v", s, err)
		}
	}
	for _, c := range []struct{ format, want string }{
		{`{"type":"xml"}`, "response_format.type"},
		{`{"type":"json_schema"}`, "json_schema.schema"},
		{`{"type":"json_schema","json_schema":{"schema":{"type":"object","patternProperties":{}}}}`, "patternProperties"},
	} {
		body := `{"model":"tiny-chat","messages":[{"role":"user","content":"x"}],"response_format":` + c.format + `}`
		resp, b := post(t, ts.URL+"/v1/chat/completions", body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), c.want) {
			t.Errorf("response_format %s: %d %s, want 400 naming %q", c.format, resp.StatusCode, b, c.want)
		}
	}
}
