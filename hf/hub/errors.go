package hub

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. Every error the package returns is an *Error whose Kind is one of these, so
// callers can test it with errors.Is.
var (
	// ErrInvalidName: a repository id, revision or filename is malformed or unsafe as a path.
	ErrInvalidName = errors.New("invalid name")
	// ErrConfig: the Client's settings (endpoint, cache directory, token) are unusable.
	ErrConfig = errors.New("invalid configuration")
	// ErrRepoNotFound: the repository does not exist, or is private and the token cannot see it.
	ErrRepoNotFound = errors.New("repository not found")
	// ErrRevisionNotFound: the branch, tag or commit does not exist in the repository.
	ErrRevisionNotFound = errors.New("revision not found")
	// ErrEntryNotFound: the file does not exist at that revision.
	ErrEntryNotFound = errors.New("file not found in the repository")
	// ErrGatedRepo: the repository requires accepting its terms on the model page first.
	ErrGatedRepo = errors.New("gated repository: access not granted")
	// ErrUnauthorized: the Hub wants a (valid) access token.
	ErrUnauthorized = errors.New("authentication failed")
	// ErrForbidden: the token may not read this repository.
	ErrForbidden = errors.New("access forbidden")
	// ErrRateLimited: the Hub answered 429 (or 503 with Retry-After) for too long.
	ErrRateLimited = errors.New("rate limited")
	// ErrServer: the server failed (HTTP 408 or 5xx) on every attempt.
	ErrServer = errors.New("server error")
	// ErrHTTP: any other unexpected HTTP status.
	ErrHTTP = errors.New("unexpected HTTP status")
	// ErrNetwork: the server could not be reached, or the connection failed on every attempt.
	ErrNetwork = errors.New("network error")
	// ErrBadResponse: the server's answer is unusable (missing or malformed headers, a commit
	// id or etag that is not safe, an unrequested encoding, too many redirects).
	ErrBadResponse = errors.New("invalid response from server")
	// ErrIntegrity: the downloaded bytes do not match the announced size or SHA-256.
	ErrIntegrity = errors.New("downloaded file failed verification")
	// ErrLocalEntryNotFound: offline (or the Hub unreachable) and the file is not in the cache.
	ErrLocalEntryNotFound = errors.New("file not in the local cache")
	// ErrOffline: the request needs the network but offline mode is on.
	ErrOffline = errors.New("offline mode forbids downloads")
	// ErrCache: the cache directory could not be written (disk full, permissions).
	ErrCache = errors.New("cannot write to the cache")
	// ErrCanceled: the context was cancelled or timed out; Err is the context's error.
	ErrCanceled = errors.New("download interrupted")
)

// Error describes a failure of a Hub operation.
type Error struct {
	Kind     error  // one of the Err sentinels
	Repo     string // repository id, when the error concerns one
	Revision string // revision asked for
	File     string // filename in the repository
	Status   int    // HTTP status, 0 when no response was involved
	Code     string // the server's X-Error-Code, such as "GatedRepo"
	Message  string // what went wrong (server messages are sanitised and shortened)
	URL      string // the URL involved, without its query (which may hold signatures)
	Commit   string // the commit the server reported (X-Repo-Commit), when known
	Hint     string // what the user can do about it
	Err      error  // underlying cause, if any

	retryable  bool          // a later attempt may succeed
	retryAfter time.Duration // server-requested wait before that attempt (0: use the backoff)
	restart    bool          // retry at once, from byte 0 (no backoff)
}

// Error returns "hf/hub: REPO@REV FILE: KIND (HTTP STATUS CODE): MESSAGE: CAUSE (URL); HINT",
// leaving out the parts that do not apply.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("hf/hub: ")
	if e.Repo != "" {
		b.WriteString(e.Repo)
		if e.Revision != "" {
			b.WriteString("@" + e.Revision)
		}
		if e.File != "" {
			b.WriteString(" " + e.File)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Kind.Error())
	if e.Status != 0 {
		b.WriteString(" (HTTP " + strconv.Itoa(e.Status))
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.URL != "" {
		b.WriteString(" [" + e.URL + "]")
	}
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

// Unwrap returns the error's kind and its cause, for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// fallsBackToCache reports whether a failed lookup may be answered from the cache: the Hub could
// not be reached or was failing, but did not say the file is missing or forbidden.
func (e *Error) fallsBackToCache() bool {
	return e.Kind == ErrNetwork || e.Kind == ErrServer || e.Kind == ErrRateLimited
}

// describe fills the repository fields of err when it is an *Error without them, and makes any
// other error (a context's) an *Error.
func describe(err error, repo, revision, file string) error {
	if err == nil {
		return nil
	}
	var he *Error
	if !errors.As(err, &he) {
		kind := ErrNetwork
		if isCtxErr(err) {
			kind = ErrCanceled
		}
		return &Error{Kind: kind, Repo: repo, Revision: revision, File: file, Err: err}
	}
	if he.Repo == "" {
		he.Repo, he.Revision, he.File = repo, revision, file
	}
	return err
}

// redactURL returns u without its query, fragment and user info, for messages.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := *u
	v.RawQuery, v.Fragment, v.User = "", "", nil
	return v.String()
}

// statusError turns an HTTP error response into an *Error, reading at most a few KiB of its body
// for a message. The Hub names the failure in X-Error-Code and explains it in X-Error-Message
// (or a JSON body {"error": ...}); a 401 for a repository that does not exist, or is private and
// the request anonymous, carries X-Error-Code RepoNotFound. WWW-Authenticate is never acted on.
func (s *settings) statusError(resp *http.Response, u *url.URL, repoPage string) *Error {
	e := &Error{Status: resp.StatusCode, Code: sanitize(resp.Header.Get("X-Error-Code")), URL: redactURL(u)}
	e.Message = sanitize(resp.Header.Get("X-Error-Message"))
	if e.Message == "" {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		var j struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &j) == nil && j.Error != "" {
			e.Message = sanitize(j.Error)
		} else if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/plain") {
			e.Message = sanitize(string(body))
		}
	}
	if c := resp.Header.Get("X-Repo-Commit"); isCommit(strings.ToLower(c)) {
		e.Commit = strings.ToLower(c)
	}
	token := s.token != ""
	foreign := u != nil && origin(u) != origin(s.endpoint)
	switch {
	case foreign && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden):
		// A content server the Hub redirected to; it never sees the token, so the signed link
		// itself was refused (most often because it expired).
		e.Kind = ErrForbidden
		e.Hint = "the content server refused the download link (it may have expired); retry"
	case e.Code == "GatedRepo":
		e.Kind = ErrGatedRepo
		if token {
			e.Hint = "open " + repoPage + " while logged in as the token's owner, accept the model's terms (approval may take a while), then retry"
		} else {
			e.Hint = "open " + repoPage + ", log in and accept the model's terms, then set HF_TOKEN to an access token of that account (https://huggingface.co/settings/tokens)"
		}
	case e.Code == "RepoNotFound":
		e.Kind = ErrRepoNotFound
		if token {
			e.Hint = "check the repository id; if it is private, make sure the token in HF_TOKEN can read it"
		} else {
			e.Hint = "check the repository id; if it is private or gated, set HF_TOKEN to an access token (https://huggingface.co/settings/tokens)"
		}
	case e.Code == "RevisionNotFound":
		e.Kind = ErrRevisionNotFound
		e.Hint = "check the branch, tag or commit id (the default branch is usually \"main\")"
	case e.Code == "EntryNotFound":
		e.Kind = ErrEntryNotFound
		e.Hint = "check the filename against the repository's file list on " + repoPage
	case resp.StatusCode == http.StatusUnauthorized:
		e.Kind = ErrUnauthorized
		switch {
		case token && strings.Contains(strings.ToLower(e.Message), "invalid"):
			e.Hint = "the token in HF_TOKEN (or the token file) is invalid or expired: create a new one at https://huggingface.co/settings/tokens"
		case token:
			e.Hint = "the token was rejected: check HF_TOKEN, or create a new token at https://huggingface.co/settings/tokens"
		default:
			e.Hint = "this repository needs an access token: set HF_TOKEN (https://huggingface.co/settings/tokens)"
		}
	case resp.StatusCode == http.StatusForbidden:
		e.Kind = ErrForbidden
		e.Hint = "the token may not read this repository: give it read access (fine-grained tokens need the repository or \"public gated repositories\" permission) or use another token in HF_TOKEN"
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "":
		e.Kind = ErrRateLimited
		if resp.StatusCode != http.StatusTooManyRequests {
			e.Kind = ErrServer
		}
		wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		switch {
		case !ok:
			e.retryable = true
		case wait <= s.maxRetryAfter:
			e.retryable, e.retryAfter = true, max(wait, time.Millisecond)
		default:
			e.Message = strings.TrimPrefix(e.Message+"; ", "; ") + "the server asks to wait " + wait.Round(time.Second).String()
		}
		e.Hint = "wait and retry later; requests with a token (HF_TOKEN) get higher rate limits"
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		e.Kind = ErrServer
		e.retryable = true
		e.Hint = "the server is having trouble; retry later"
	default:
		e.Kind = ErrHTTP
		e.Hint = "check the repository id, revision and filename"
	}
	return e
}

// maxRetryAfterHeader caps the wait parseRetryAfter returns.
const maxRetryAfterHeader = 24 * time.Hour

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date. The wait is capped
// at 24 hours in both forms.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(maxRetryAfterHeader/time.Second) {
			n = int64(maxRetryAfterHeader / time.Second)
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfterHeader), true
	}
	return 0, false
}
