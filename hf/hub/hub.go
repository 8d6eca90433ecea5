// Package hub downloads files of model repositories from the Hugging Face Hub, or from any server
// with the same URL layout, into a local cache shared by every qkv command.
//
// A file is fetched in two steps. A HEAD request to
//
//	{endpoint}/{org}/{name}/resolve/{revision}/{filename}
//
// learns the commit the revision points at (header X-Repo-Commit), the file's etag (X-Linked-Etag
// for large "LFS" files, whose etag is their SHA-256, else ETag) and its size (X-Linked-Size, else
// Content-Length). Large files answer with a redirect to a content server; the HEAD does not follow
// it (only redirects on the same host, such as a renamed repository, are followed) and the GET then
// goes to the redirect target without the Authorization header. The body is written to a private
// temporary file, checked against the size and, for 64-hex etags, against the SHA-256, and only then
// renamed to its final name: a file that fails a check never enters the cache.
//
// The cache layout is the one of huggingface_hub, so a cache can be shared with it:
//
//	{CacheDir}/hub/models--{org}--{name}/
//	    blobs/{etag}                       file contents, named by etag
//	    snapshots/{commit}/{filename}      relative symlink to ../../blobs/{etag} (or a hard link or copy)
//	    refs/{revision}                    the commit a branch or tag pointed at, written atomically
//	    .no_exist/{commit}/{filename}      empty marker: the file does not exist at that commit
//
// In offline mode (Client.Offline, or HF_HUB_OFFLINE=1 / QKV_OFFLINE=1 through New) no request is
// ever sent: revisions are resolved through refs/ and only cached files are returned.
//
// Every error returned by the package is an *Error whose Kind is one of the Err sentinels, so
// callers can test it with errors.Is; its message says what to do about it.
package hub

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/qkvdev/qkv/internal/fileutil"
)

// DefaultEndpoint is the Hub used when neither the Client nor the environment names another.
const DefaultEndpoint = "https://huggingface.co"

// Defaults for the retry and timeout settings of a Client whose fields are zero.
const (
	DefaultRetries       = 5 // extra attempts after a transient failure
	DefaultBackoff       = 500 * time.Millisecond
	DefaultMaxBackoff    = 10 * time.Second // the backoff doubles up to this
	DefaultMaxRetryAfter = 60 * time.Second // longest Retry-After waited for
	DefaultStallTimeout  = 60 * time.Second // longest wait for the next byte
	DefaultMaxRedirects  = 10
)

// Client downloads files from a Hub into a local cache. The zero value works: it talks to
// DefaultEndpoint (or the endpoint named by the environment, see EnvEndpoint) without a token and
// caches under EnvCacheDir. Use New for a Client that also takes its token and offline mode from
// the environment, as the qkv command does.
//
// A Client is safe for concurrent use once its fields are set, and several Clients (and several
// processes) may share one cache directory.
type Client struct {
	// Endpoint is the Hub's base URL, such as "https://huggingface.co" or a mirror with a path
	// prefix. Empty means EnvEndpoint().
	Endpoint string
	// Token is the access token sent as "Authorization: Bearer" to the Endpoint's host (never to
	// another host, such as a content server a download is redirected to). Empty sends none.
	Token string
	// CacheDir is the cache root; repositories live under CacheDir/hub. Empty means EnvCacheDir().
	CacheDir string
	// Offline forbids every network request: only cached files are returned.
	Offline bool
	// ForceDownload fetches files again even when they are cached. It is an error in offline mode.
	ForceDownload bool
	// HTTP is the client used for requests; nil means a shared client with the proxy settings of
	// the environment. Its CheckRedirect is ignored: redirects are followed by this package.
	HTTP *http.Client
	// Progress, if set, is called from the downloading goroutine as a file's bytes arrive, with the
	// file's name in the repository, the bytes held so far (a resumed download starts above zero)
	// and its total size. done drops back to 0 when a server ignores a resume request and the
	// download starts over. It is not called for files served from the cache.
	Progress func(file string, done, total int64)
	// Retries is how many more attempts a transient failure (a dropped connection, a stalled
	// transfer, HTTP 408, 429, 5xx) gets. Zero means DefaultRetries; negative means none.
	Retries int
	// Backoff is the wait before the first retry; it doubles up to MaxBackoff. Zero means
	// DefaultBackoff, and likewise for MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// MaxRetryAfter bounds the Retry-After of an HTTP 429 or 503 that is honoured: a longer one
	// fails at once with ErrRateLimited. Zero means DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// StallTimeout is how long a request may wait for response headers or for the next bytes of
	// a body before it is abandoned and retried. Zero means DefaultStallTimeout.
	StallTimeout time.Duration
	// MaxRedirects bounds the redirects followed by one request. Zero means DefaultMaxRedirects.
	MaxRedirects int
	// UserAgent is sent with every request; empty means "qkv (go/VERSION)".
	UserAgent string

	// Hooks that tests replace; nil means the real thing.
	sleep      func(ctx context.Context, d time.Duration) error
	wrapWriter func(w io.Writer) io.Writer
	symlink    func(oldname, newname string) error
	link       func(oldname, newname string) error
}

// New returns a Client configured from the environment: Endpoint from EnvEndpoint, Token from
// EnvToken, CacheDir from EnvCacheDir and Offline from EnvOffline. Callers may change the fields
// before use.
func New() *Client {
	return &Client{
		Endpoint: EnvEndpoint(),
		Token:    EnvToken(),
		CacheDir: EnvCacheDir(),
		Offline:  EnvOffline(),
	}
}

// EnvEndpoint returns $QKV_ENDPOINT, else $HF_ENDPOINT, else DefaultEndpoint.
func EnvEndpoint() string {
	for _, k := range []string{"QKV_ENDPOINT", "HF_ENDPOINT"} {
		if v := strings.TrimSpace(os.Getenv(k)); v != "" {
			return v
		}
	}
	return DefaultEndpoint
}

// EnvCacheDir returns $QKV_CACHE, else $XDG_CACHE_HOME/qkv, else ~/.cache/qkv; "" when no home
// directory is known.
func EnvCacheDir() string {
	if v := os.Getenv("QKV_CACHE"); v != "" {
		return v
	}
	if v := os.Getenv("XDG_CACHE_HOME"); v != "" {
		return filepath.Join(v, "qkv")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".cache", "qkv")
}

// EnvToken returns the access token named by the environment: $HF_TOKEN, else the legacy
// $HUGGING_FACE_HUB_TOKEN, else the first line of the token file that `huggingface-cli login`
// writes ($HF_TOKEN_PATH, else $HF_HOME/token, else ~/.cache/huggingface/token). It returns ""
// when there is none.
func EnvToken() string {
	for _, k := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if v := strings.TrimSpace(os.Getenv(k)); v != "" {
			return v
		}
	}
	path := os.Getenv("HF_TOKEN_PATH")
	if path == "" {
		home := os.Getenv("HF_HOME")
		if home == "" {
			base := os.Getenv("XDG_CACHE_HOME")
			if base == "" {
				h, err := os.UserHomeDir()
				if err != nil || h == "" {
					return ""
				}
				base = filepath.Join(h, ".cache")
			}
			home = filepath.Join(base, "huggingface")
		}
		path = filepath.Join(home, "token")
	}
	f, err := fileutil.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096)) // a token is ~40 bytes; never read a big file
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

// EnvOffline reports whether $HF_HUB_OFFLINE or $QKV_OFFLINE is set to 1, true, yes or on.
func EnvOffline() bool {
	for _, k := range []string{"HF_HUB_OFFLINE", "QKV_OFFLINE"} {
		switch strings.ToLower(strings.TrimSpace(os.Getenv(k))) {
		case "1", "true", "yes", "on":
			return true
		}
	}
	return false
}

// settings is a Client's configuration with the defaults applied, computed once per call.
type settings struct {
	c             *Client
	endpoint      *url.URL
	cacheDir      string
	token         string
	http          *http.Client
	retries       int
	backoff       time.Duration
	maxBackoff    time.Duration
	maxRetryAfter time.Duration
	stall         time.Duration
	maxRedirects  int
	userAgent     string
	force         bool
}

// defaultHTTP is shared by Clients without their own, so connections are reused. It never
// decompresses bodies on its own: every request asks for the identity encoding.
var defaultHTTP = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	return &http.Client{Transport: t}
}()

func (c *Client) settings() (*settings, error) {
	s := &settings{c: c, force: c.ForceDownload}
	ep := c.Endpoint
	if ep == "" {
		ep = EnvEndpoint()
	}
	u, err := url.Parse(strings.TrimRight(ep, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, &Error{Kind: ErrConfig, Message: "endpoint " + quote(ep) + " is not an http(s) URL without query",
			Hint: "set QKV_ENDPOINT or HF_ENDPOINT to a URL such as " + DefaultEndpoint}
	}
	s.endpoint = u
	s.cacheDir = c.CacheDir
	if s.cacheDir == "" {
		s.cacheDir = EnvCacheDir()
	}
	if s.cacheDir == "" {
		return nil, &Error{Kind: ErrConfig, Message: "no cache directory: the home directory is unknown",
			Hint: "set QKV_CACHE to a writable directory"}
	}
	s.token = c.Token
	for i := 0; i < len(s.token); i++ {
		if s.token[i] <= ' ' || s.token[i] >= 0x7f {
			return nil, &Error{Kind: ErrConfig, Message: "the access token contains spaces or control characters",
				Hint: "copy the token again from https://huggingface.co/settings/tokens into HF_TOKEN"}
		}
	}
	hc := defaultHTTP
	if c.HTTP != nil {
		hc = c.HTTP
	}
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	s.http = &cp
	s.retries = pick(c.Retries, DefaultRetries)
	if s.retries < 0 {
		s.retries = 0
	}
	s.backoff = pick(c.Backoff, DefaultBackoff)
	s.maxBackoff = pick(c.MaxBackoff, DefaultMaxBackoff)
	s.maxRetryAfter = pick(c.MaxRetryAfter, DefaultMaxRetryAfter)
	s.stall = pick(c.StallTimeout, DefaultStallTimeout)
	s.maxRedirects = pick(c.MaxRedirects, DefaultMaxRedirects)
	s.userAgent = c.UserAgent
	if s.userAgent == "" {
		s.userAgent = "qkv (go/" + strings.TrimPrefix(runtime.Version(), "go") + ")"
	}
	return s, nil
}

func pick[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// sleep waits d or until ctx is done.
func (s *settings) sleep(ctx context.Context, d time.Duration) error {
	if s.c.sleep != nil {
		return s.c.sleep(ctx, d)
	}
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoffFor returns the wait before retry number attempt+1.
func (s *settings) backoffFor(attempt int) time.Duration {
	d := s.backoff
	for i := 0; i < attempt && d < s.maxBackoff; i++ {
		d *= 2
	}
	return min(d, s.maxBackoff)
}

// isCtxErr reports whether err comes from a cancelled or expired context.
func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
