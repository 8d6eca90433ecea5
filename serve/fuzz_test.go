package serve

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Any request body gets an answer below 500 from every endpoint: the request parsers (prompt
// and input unions, stop, content parts, sampling ranges) reject what they cannot read.
func FuzzRequests(f *testing.F) {
	s, err := New([]*Model{tinyGPT(f, "tiny-gpt", tinyGPTConfig(), TokenizerConfig{}), tinyBERT(f)}, Options{MaxBodyBytes: 1 << 16, MaxAttention: 16})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close(f.Context()) })
	h := s.Handler()
	for _, seed := range []string{
		`{"model":"tiny-gpt","prompt":"hi","max_tokens":3}`,
		`{"model":"tiny-gpt","prompt":[[1,2],[3]],"max_tokens":2,"n":2,"logprobs":2,"stop":["a"]}`,
		`{"model":"tiny-gpt","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"max_tokens":2,"logprobs":true,"top_logprobs":1}`,
		`{"model":"tiny-bert","input":[[2,5,3]],"encoding_format":"base64"}`,
		`{"model":"tiny-gpt","input":"abc"}`,
		`{"model":"tiny-gpt","prompt":"x","logit_bias":{"1":5},"presence_penalty":1,"max_tokens":1}`,
		`{"model":1}`, `null`, `[]`, `{"model":"tiny-gpt","prompt":[]}`,
	} {
		for _, path := range []string{"/v1/completions", "/v1/chat/completions", "/v1/embeddings", "/v1/attention", "/v1/tokenize"} {
			f.Add(path, seed)
		}
	}
	f.Fuzz(func(t *testing.T, path, body string) {
		if !strings.HasPrefix(path, "/v1/") || strings.ContainsAny(path, " ?#%\x00") {
			return
		}
		req, err := http.NewRequest("POST", path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, w.Code, w.Body)
		}
	})
}
