package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hubFile is one file of the fake repository.
type hubFile struct {
	data   []byte
	lfs    bool   // served through a redirect to the content server, etag = sha256
	sha256 string // hex
	oid    string // git blob sha1, the etag of regular files
}

func newHubFile(data []byte, lfs bool) *hubFile {
	s := sha256.Sum256(data)
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return &hubFile{data: data, lfs: lfs, sha256: hex.EncodeToString(s[:]), oid: hex.EncodeToString(h.Sum(nil))}
}

// seen is one request a fake server received.
type seen struct {
	server, method, path, rng, auth, enc string
}

// fakeHub is a Hub on loopback: the hub server answers resolve URLs like huggingface.co (HEAD and
// GET, X-Repo-Commit, ETag / X-Linked-Etag / X-Linked-Size, X-Error-Code, relative redirects for
// renamed repositories) and redirects LFS files to a second server, the content server, which
// honours Range requests. Faults are injected with the hooks.
type fakeHub struct {
	t       *testing.T
	repo    string
	commit  string
	files   map[string]*hubFile
	renames map[string]string // old repo id → new repo id
	hub     *httptest.Server
	cdn     *httptest.Server

	mu       sync.Mutex
	reqs     []seen
	hubFault func(w http.ResponseWriter, r *http.Request) bool // true: the request was answered
	cdnFault func(w http.ResponseWriter, r *http.Request) bool
	edit     func(h http.Header) // edits the metadata headers of resolve answers
}

const testCommit = "0123456789abcdef0123456789abcdef01234567"

// syntheticFiles is a small repository: a regular config, a nested regular file, an LFS weight
// file of 300 KB of seeded random bytes, and an empty LFS file.
func syntheticFiles() map[string]*hubFile { return maps.Clone(synthetic()) }

var synthetic = sync.OnceValue(func() map[string]*hubFile {
	rng := rand.New(rand.NewPCG(1, 2))
	weights := make([]byte, 300_000)
	for i := range weights {
		weights[i] = byte(rng.UintN(256))
	}
	return map[string]*hubFile{
		"config.json":              newHubFile([]byte(`{"model_type": "gpt2", "n_embd": 8}`), false),
		"tokenizer/vocab.json":     newHubFile([]byte(`{"a": 0, "b": 1}`), false),
		"model.safetensors":        newHubFile(weights, true),
		"empty.safetensors":        newHubFile(nil, true),
		"dir with space/a b.json":  newHubFile([]byte(`{}`), false),
		"generation_config.json":   newHubFile([]byte(`{"max_length": 20}`), false),
		"second/model.safetensors": newHubFile(weights[:1000], true),
	}
})

func newFakeHub(t *testing.T, files map[string]*hubFile) *fakeHub {
	t.Helper()
	h := &fakeHub{t: t, repo: "test-org/tiny-model", commit: testCommit, files: files, renames: map[string]string{}}
	h.hub = httptest.NewServer(http.HandlerFunc(h.serveHub))
	h.cdn = httptest.NewServer(http.HandlerFunc(h.serveCDN))
	t.Cleanup(func() { h.hub.Close(); h.cdn.Close() })
	return h
}

func (h *fakeHub) record(server string, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reqs = append(h.reqs, seen{server, r.Method, r.URL.EscapedPath(), r.Header.Get("Range"), r.Header.Get("Authorization"), r.Header.Get("Accept-Encoding")})
}

func (h *fakeHub) requests() []seen {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.reqs)
}

func (h *fakeHub) resetLog() {
	h.mu.Lock()
	h.reqs = nil
	h.mu.Unlock()
}

func (h *fakeHub) setHubFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	h.mu.Lock()
	h.hubFault = f
	h.mu.Unlock()
}

func (h *fakeHub) setCDNFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	h.mu.Lock()
	h.cdnFault = f
	h.mu.Unlock()
}

func (h *fakeHub) setEdit(f func(http.Header)) {
	h.mu.Lock()
	h.edit = f
	h.mu.Unlock()
}

func (h *fakeHub) serveHub(w http.ResponseWriter, r *http.Request) {
	h.record("hub", r)
	h.mu.Lock()
	fault, edit := h.hubFault, h.edit
	h.mu.Unlock()
	if fault != nil && fault(w, r) {
		return
	}
	parts := strings.SplitN(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/", 5)
	if len(parts) != 5 || parts[2] != "resolve" {
		http.NotFound(w, r)
		return
	}
	repo := parts[0] + "/" + parts[1]
	rev, err1 := url.PathUnescape(parts[3])
	name, err2 := url.PathUnescape(parts[4])
	if err1 != nil || err2 != nil {
		http.Error(w, "bad escape", http.StatusBadRequest)
		return
	}
	if to, ok := h.renames[repo]; ok {
		w.Header().Set("Location", "/"+to+"/resolve/"+parts[3]+"/"+parts[4])
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	if repo != h.repo {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.Header().Set("X-Error-Message", "Repository not found")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if rev != "main" && rev != h.commit {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		w.Header().Set("X-Error-Message", "Invalid rev id: "+rev)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", h.commit)
	f, ok := h.files[name]
	if !ok {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.Header().Set("X-Error-Message", "Entry not found")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if f.lfs {
		w.Header().Set("X-Linked-Etag", `"`+f.sha256+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.data)))
		w.Header().Set("ETag", `W/"`+f.oid+`"`)
		w.Header().Set("Location", h.cdn.URL+"/lfs/"+f.sha256+"?X-Amz-Signature=s3cr3t")
		if edit != nil {
			edit(w.Header())
		}
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+f.oid+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
	if edit != nil {
		edit(w.Header())
	}
	serveBytes(w, r, f.data)
}

func (h *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request) {
	h.record("cdn", r)
	h.mu.Lock()
	fault := h.cdnFault
	h.mu.Unlock()
	if fault != nil && fault(w, r) {
		return
	}
	f := h.lfsFile(strings.TrimPrefix(r.URL.Path, "/lfs/"))
	if f == nil {
		http.NotFound(w, r)
		return
	}
	serveBytes(w, r, f.data)
}

func (h *fakeHub) lfsFile(sha string) *hubFile {
	for _, f := range h.files {
		if f.lfs && f.sha256 == sha {
			return f
		}
	}
	return nil
}

// serveBytes answers a GET (or HEAD) for data, honouring "Range: bytes=N-".
func serveBytes(w http.ResponseWriter, r *http.Request, data []byte) {
	start := 0
	if rg := r.Header.Get("Range"); rg != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		if err != nil || n < 0 || n >= len(data) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
		w.Header().Set("Content-Length", strconv.Itoa(len(data)-n))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
	}
	if r.Method != http.MethodHead {
		w.Write(data[start:])
	}
}

// dropAfter answers with the full Content-Length, sends n bytes of data (from the requested
// offset) and closes the connection: a connection lost mid-body.
func dropAfter(w http.ResponseWriter, r *http.Request, data []byte, n int) {
	start := 0
	if rg := r.Header.Get("Range"); rg != "" {
		start, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
	}
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	status, extra := "200 OK", ""
	if start > 0 {
		status = "206 Partial Content"
		extra = fmt.Sprintf("Content-Range: bytes %d-%d/%d\r\n", start, len(data)-1, len(data))
	}
	fmt.Fprintf(buf, "HTTP/1.1 %s\r\nContent-Length: %d\r\n%s\r\n", status, len(data)-start, extra)
	buf.Write(data[start : start+n])
	buf.Flush()
}

// recorder collects what a test Client's hooks saw.
type recorder struct {
	mu     sync.Mutex
	sleeps []time.Duration
}

func (r *recorder) slept() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sleeps)
}

// client returns a Client for h with a fresh cache, a token, and instant backoff whose waits are
// recorded.
func (h *fakeHub) client(t *testing.T) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	c := &Client{
		Endpoint:      h.hub.URL,
		Token:         "hf_testtoken",
		CacheDir:      t.TempDir(),
		Backoff:       time.Millisecond,
		MaxBackoff:    8 * time.Millisecond,
		MaxRetryAfter: 10 * time.Second,
		StallTimeout:  5 * time.Second,
		Retries:       3,
	}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		rec.mu.Lock()
		rec.sleeps = append(rec.sleeps, d)
		rec.mu.Unlock()
		return ctx.Err()
	}
	return c, rec
}

// repoRoot is the cache folder of the fake repository for c.
func (h *fakeHub) repoRoot(c *Client) string {
	return filepath.Join(c.CacheDir, "hub", "models--"+strings.ReplaceAll(h.repo, "/", "--"))
}

// blobNames lists blobs/ of the fake repository in c's cache.
func (h *fakeHub) blobNames(t *testing.T, c *Client) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(h.repoRoot(c), "blobs"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// noTemporaries fails the test if blobs/ holds a partial download or a pointer being made.
func (h *fakeHub) noTemporaries(t *testing.T, c *Client) {
	t.Helper()
	for _, n := range h.blobNames(t, c) {
		if strings.HasSuffix(n, ".incomplete") || strings.HasSuffix(n, ".tmp") {
			t.Errorf("temporary file left in blobs/: %s", n)
		}
	}
}

// mustContent fails the test unless the file at path holds want.
func mustContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s: content differs (%d bytes, want %d)", path, len(got), len(want))
	}
}

// failingServer fails the test on any request: offline mode must make none.
func failingServer(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(s.Close)
	return s
}
