// Package serve is qkv's OpenAI-compatible HTTP server: /v1/models, /v1/completions,
// /v1/chat/completions (with server-sent-event streaming), /v1/embeddings, with continuous
// batching of concurrent generations, OpenAI's error envelope, limits on body size, context
// and queue, and a web page (playground, attention views, training curves) embedded in the
// binary.
package serve

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	APIKey       string // if set, every /v1 request needs "Authorization: Bearer KEY"
	CORSOrigin   string // if set, browsers on this origin may call the API ("*": any)
	MaxBodyBytes int64  // largest request body; 0 means 4 MiB
	MaxBatch     int    // most sequences decoded together per model; 0 means 16
	QueueSize    int    // most sequences waiting per model before 503; 0 means 256
	RunsDir      string // training runs shown on the page ("" hides them)
	MaxAttention int    // most tokens an attention request may hold; 0 means 256

	stepHook func(model string) // tests: called before each decoding step of a model
}

// Server answers for a set of models.
type Server struct {
	o      Options
	models map[string]*Model
	names  []string
	mux    *http.ServeMux
}

// New returns a server for models (at least one, names unique). It starts one decoding loop
// per generative model; Close stops them.
func New(models []*Model, o Options) (*Server, error) {
	if len(models) == 0 {
		return nil, fmt.Errorf("serve: no models to serve")
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 16
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.MaxAttention <= 0 {
		o.MaxAttention = 256
	}
	s := &Server{o: o, models: map[string]*Model{}}
	for _, m := range models {
		if _, dup := s.models[m.Name]; dup {
			return nil, fmt.Errorf("serve: two models are named %q; name them with --model NAME=DIR", m.Name)
		}
		s.models[m.Name] = m
		s.names = append(s.names, m.Name)
	}
	sort.Strings(s.names)
	for _, m := range models {
		if m.generates() {
			var hook func()
			if o.stepHook != nil {
				name := m.Name
				hook = func() { o.stepHook(name) }
			}
			m.sched = newScheduler(m.gpt, m.tok, o.MaxBatch, o.QueueSize, hook)
		}
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	mux := http.NewServeMux()
	api := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		mux.Handle(pattern, s.apiHandler(h))
	}
	api("GET /v1/models", s.listModels)
	api("GET /v1/models/{model...}", s.getModel)
	api("POST /v1/completions", s.completions)
	api("POST /v1/chat/completions", s.chatCompletions)
	api("POST /v1/embeddings", s.embeddings)
	api("POST /v1/attention", s.attention)
	api("POST /v1/tokenize", s.tokenize)
	api("GET /v1/runs", s.listRuns)
	api("GET /v1/runs/{run}/metrics", s.runMetrics)
	mux.HandleFunc("GET /health", s.health)
	mux.Handle("/", webHandler())
	mux.Handle("/v1/", s.apiHandler(func(w http.ResponseWriter, r *http.Request) error {
		return notFound("", "unknown_url", "%s %s is not an endpoint of this server", r.Method, r.URL.Path)
	}))
	s.mux = mux
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.cors(s.mux) }

// apiHandler adds authentication, the body limit and the error envelope to an API handler.
func (s *Server) apiHandler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.o.APIKey != "" {
			auth := r.Header.Get("Authorization")
			key, ok := strings.CutPrefix(auth, "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(key), []byte(s.o.APIKey)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="qkv"`)
				writeError(w, &apiError{Status: http.StatusUnauthorized, Message: "missing or wrong API key: send Authorization: Bearer KEY", Type: "invalid_request_error", Code: strp("invalid_api_key")})
				return
			}
		}
		if r.ContentLength > s.o.MaxBodyBytes {
			writeError(w, &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("the request body is %d bytes; at most %d are accepted", r.ContentLength, s.o.MaxBodyBytes), Type: "invalid_request_error", Code: strp("request_too_large")})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes)
		if err := h(w, r); err != nil {
			writeError(w, err)
		}
	})
}

// cors answers browsers from the configured origin only; without one, no CORS headers are
// sent and browsers on other origins cannot read the API.
func (s *Server) cors(h http.Handler) http.Handler {
	if s.o.CORSOrigin == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && (s.o.CORSOrigin == "*" || origin == s.o.CORSOrigin) {
			w.Header().Set("Access-Control-Allow-Origin", s.o.CORSOrigin)
			w.Header().Add("Vary", "Origin")
			if r.Method == http.MethodOptions {
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				w.Header().Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// Close stops every decoding loop: sequences still running get until ctx is done to finish,
// then they are cancelled (their streams end with an error event). Call it after
// http.Server.Shutdown has begun, so no new request arrives.
func (s *Server) Close(ctx context.Context) {
	var wg sync.WaitGroup
	for _, m := range s.models {
		if m.sched != nil {
			wg.Go(func() { m.sched.close(ctx) })
		}
	}
	wg.Wait()
}

func (s *Server) model(name string) (*Model, error) {
	if name == "" {
		return nil, invalid("model", "model is required (one of %s)", strings.Join(s.names, ", "))
	}
	m, ok := s.models[name]
	if !ok {
		return nil, notFound("model", "model_not_found", "the model %q does not exist (this server has %s)", name, strings.Join(s.names, ", "))
	}
	return m, nil
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	status := map[string]any{"status": "ok"}
	models := map[string]any{}
	for _, name := range s.names {
		m := s.models[name]
		info := map[string]any{"type": m.m.Type()}
		if m.sched != nil {
			info["active"] = m.sched.active.Load()
			info["queued"] = len(m.sched.queue)
		}
		models[name] = info
	}
	status["models"] = models
	writeJSON(w, http.StatusOK, status)
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	list := make([]modelObject, len(s.names))
	for i, name := range s.names {
		list[i] = s.models[name].object()
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": list})
	return nil
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) error {
	m, err := s.model(r.PathValue("model"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, m.object())
	return nil
}

func (m *Model) object() modelObject {
	return modelObject{ID: m.Name, Object: "model", Created: m.created, OwnedBy: "qkv"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// modelRequest is a request body that names the model it is for.
type modelRequest interface{ modelName() string }

func (p *samplingParams) modelName() string   { return p.Model }
func (r *embeddingRequest) modelName() string { return r.Model }
func (r *inspectRequest) modelName() string   { return r.Model }

// decodeModel reads req from r's body and finds the model it names.
func (s *Server) decodeModel(r *http.Request, req modelRequest) (*Model, error) {
	if err := decodeBody(r, req); err != nil {
		return nil, err
	}
	return s.model(req.modelName())
}

// decodeBody reads one JSON object from the request body into v.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return invalid("", "the request body has data after its JSON object")
	}
	return nil
}

func now() int64 { return time.Now().Unix() }
