package reason

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
)

// Cached answers repeated requests from files under Dir, one per request, keyed by the
// SHA-256 of the model name and the whole request (prompt, every parameter, seed). A run that
// is interrupted keeps every answer it got, and a rerun resumes from them. A damaged cache
// file is treated as a miss and rewritten.
type Cached struct {
	LLM LLM
	Dir string
}

// Name is the wrapped model's.
func (c *Cached) Name() string { return c.LLM.Name() }

// Key returns the cache key of a request.
func (c *Cached) Key(req Request) string {
	b, _ := json.Marshal(struct {
		Model string
		Req   Request
	}{c.LLM.Name(), req})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Complete serves from the cache or calls the model and stores its answer.
func (c *Cached) Complete(ctx context.Context, req Request) (*Response, error) {
	if err := req.normalise(); err != nil {
		return nil, err
	}
	key := c.Key(req)
	path := filepath.Join(c.Dir, key[:2], key+".json")
	if b, err := fileutil.ReadFile(path, fileutil.SmallFileLimit, "a cached call"); err == nil {
		var r Response
		if json.Unmarshal(b, &r) == nil && len(r.Completions) == req.N {
			r.Cached = true
			return &r, nil
		}
	}
	r, err := c.LLM.Complete(ctx, req)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("reason: cache: %w", err)
	}
	if err := atomicfile.WriteFile(path, b, 0o644); err != nil {
		return nil, fmt.Errorf("reason: cache: %w", err)
	}
	return r, nil
}

// Limited lets at most N calls run at once.
type Limited struct {
	LLM  LLM
	once sync.Once
	sem  chan struct{}
	N    int
}

// Name is the wrapped model's.
func (l *Limited) Name() string { return l.LLM.Name() }

// Complete waits for a slot, then calls.
func (l *Limited) Complete(ctx context.Context, req Request) (*Response, error) {
	l.once.Do(func() { l.sem = make(chan struct{}, max(l.N, 1)) })
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-l.sem }()
	return l.LLM.Complete(ctx, req)
}

// Meter counts calls, tokens and cost. Prices are per million tokens (0: free, as a local
// model is). Cached answers count as calls and tokens of the experiment but cost nothing now.
type Meter struct {
	LLM                 LLM
	InPrice, OutPrice   float64 // per million prompt / completion tokens
	calls, cached       atomic.Int64
	promptT, completion atomic.Int64
	samples             atomic.Int64
}

// Name is the wrapped model's.
func (m *Meter) Name() string { return m.LLM.Name() }

// Complete calls and counts.
func (m *Meter) Complete(ctx context.Context, req Request) (*Response, error) {
	r, err := m.LLM.Complete(ctx, req)
	if err != nil {
		return nil, err
	}
	m.calls.Add(1)
	if r.Cached {
		m.cached.Add(1)
	}
	m.samples.Add(int64(len(r.Completions)))
	m.promptT.Add(int64(r.Usage.PromptTokens))
	m.completion.Add(int64(r.Usage.CompletionTokens))
	return r, nil
}

// Totals is a snapshot of a Meter.
type Totals struct {
	Calls            int64   `json:"calls"`
	CachedCalls      int64   `json:"cached_calls"`
	Samples          int64   `json:"samples"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	Cost             float64 `json:"cost"`
}

// Totals returns the counts so far.
func (m *Meter) Totals() Totals {
	t := Totals{Calls: m.calls.Load(), CachedCalls: m.cached.Load(), Samples: m.samples.Load(), PromptTokens: m.promptT.Load(), CompletionTokens: m.completion.Load()}
	t.Cost = (float64(t.PromptTokens)*m.InPrice + float64(t.CompletionTokens)*m.OutPrice) / 1e6
	return t
}
