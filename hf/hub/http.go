package hub

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// origin returns scheme://host:port of u, lowercased and with the default port made explicit, so
// that two URLs compare equal exactly when a browser would treat them as the same origin.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// send issues one request and follows its redirects itself, at most s.maxRedirects of them.
//
// The token goes only to the endpoint's origin: once a redirect leaves it (another host, port or
// scheme), the Authorization header is dropped for the rest of the chain. With crossOrigin false,
// only redirects within the current origin are followed (a renamed repository answers with a
// relative one); a redirect elsewhere is returned as the response, for the caller to read its
// headers and Location. Every request asks for the identity encoding, so no body is ever
// decompressed on the way in.
//
// It returns the final response and its URL. A transport failure is returned as an ErrNetwork
// *Error (retryable), a redirect problem as ErrBadResponse.
func (s *settings) send(ctx context.Context, method string, u *url.URL, hdr http.Header, crossOrigin bool) (*http.Response, *url.URL, error) {
	auth := s.token != "" && origin(u) == origin(s.endpoint)
	for hops := 0; ; hops++ {
		req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
		if err != nil {
			return nil, u, &Error{Kind: ErrBadResponse, Message: "cannot build a request", URL: redactURL(u), Err: err}
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		req.Header.Set("User-Agent", s.userAgent)
		req.Header.Set("Accept-Encoding", "identity")
		if auth {
			req.Header.Set("Authorization", "Bearer "+s.token)
		}
		resp, err := s.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, u, ctx.Err()
			}
			return nil, u, &Error{Kind: ErrNetwork, URL: redactURL(u), Err: unwrapURLError(err), retryable: !unreachable(err),
				Hint: "check the network connection and proxy settings (HTTPS_PROXY), or the endpoint (QKV_ENDPOINT / HF_ENDPOINT); set HF_HUB_OFFLINE=1 to use only cached files"}
		}
		if !isRedirect(resp.StatusCode) {
			return resp, u, nil
		}
		loc := resp.Header.Get("Location")
		next, perr := u.Parse(loc)
		if loc == "" || perr != nil || (next.Scheme != "http" && next.Scheme != "https") || next.Host == "" {
			drain(resp)
			return nil, u, &Error{Kind: ErrBadResponse, Status: resp.StatusCode, URL: redactURL(u),
				Message: "redirect with a missing or unusable Location " + quote(loc), Hint: "retry later, or report the problem to the server's operator"}
		}
		if !crossOrigin && origin(next) != origin(u) {
			return resp, u, nil
		}
		drain(resp)
		if hops >= s.maxRedirects {
			return nil, u, &Error{Kind: ErrBadResponse, URL: redactURL(u),
				Message: "more than " + strconv.Itoa(s.maxRedirects) + " redirects (a redirect loop?)", Hint: "retry later, or check the endpoint (QKV_ENDPOINT / HF_ENDPOINT)"}
		}
		if origin(next) != origin(s.endpoint) {
			auth = false
		}
		u = next
	}
}

// unreachable reports whether a request failed before any connection was made (the name does not
// resolve, or nothing listens): retrying at once rarely helps, and answering from the cache
// quickly matters more.
func unreachable(err error) bool {
	var dns *net.DNSError
	var op *net.OpError
	return errors.As(err, &dns) || errors.As(err, &op) && op.Op == "dial"
}

// drain reads a little of a body so its connection can be reused, then closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the URL (with its query).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// withRetries runs attempt until it succeeds, fails for good, or the retries are spent. Retryable
// failures wait for the server's Retry-After or an exponential backoff; restarts retry at once.
func (s *settings) withRetries(ctx context.Context, attempt func() error) error {
	for n := 0; ; n++ {
		err := attempt()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var he *Error
		if !errors.As(err, &he) || !(he.retryable || he.restart) || n >= s.retries {
			return err
		}
		wait := s.backoffFor(n)
		if he.retryAfter > 0 {
			wait = he.retryAfter
		}
		if he.restart {
			wait = 0
		}
		if err := s.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// fileMeta is what a HEAD request tells about a file.
type fileMeta struct {
	Commit   string   // 40-hex commit the revision resolved to
	ETag     string   // normalised etag, safe as a blob file name
	Size     int64    // size in bytes
	Location *url.URL // where to GET the bytes: a content server, or nil for the resolve URL
}

// resolveURL returns {endpoint}/{repo}/resolve/{revision}/{filename}, each part escaped.
func (s *settings) resolveURL(repo, revision, filename string) *url.URL {
	raw := s.endpoint.String() + "/" + repo + "/resolve/" + url.PathEscape(revision) + "/" + escapePath(filename)
	u, err := url.Parse(raw)
	if err != nil { // cannot happen: every part is validated and escaped
		return s.endpoint.JoinPath(repo, "resolve", revision, filename)
	}
	return u
}

// head asks the Hub for a file's metadata, with retries. It follows redirects within the
// endpoint's origin only; a redirect to another host (the content server of large files) ends the
// chain and becomes fileMeta.Location. Missing or unsafe metadata is an ErrBadResponse error:
// without a commit id, an etag and a size the file cannot be cached or verified.
func (s *settings) head(ctx context.Context, repo, revision, filename string) (*fileMeta, error) {
	u := s.resolveURL(repo, revision, filename)
	page := s.endpoint.String() + "/" + repo
	var meta *fileMeta
	err := s.withRetries(ctx, func() error {
		stall, cancel := s.stallGuard(ctx)
		defer cancel()
		resp, final, err := s.send(stall.ctx, http.MethodHead, u, nil, false)
		if err != nil {
			return stall.wrap(ctx, err)
		}
		defer drain(resp)
		if resp.StatusCode != http.StatusOK && !isRedirect(resp.StatusCode) {
			return s.statusError(resp, final, page)
		}
		meta, err = parseMeta(resp, final)
		return err
	})
	return meta, err
}

// parseMeta reads X-Repo-Commit, X-Linked-Etag / ETag and X-Linked-Size / Content-Length from a
// HEAD response (a 200, or a redirect to a content server).
func parseMeta(resp *http.Response, u *url.URL) (*fileMeta, error) {
	bad := func(msg string) error {
		return &Error{Kind: ErrBadResponse, Status: resp.StatusCode, URL: redactURL(u), Message: msg,
			Hint: "the endpoint does not behave like a Hugging Face Hub: check QKV_ENDPOINT / HF_ENDPOINT and any proxy in between"}
	}
	m := &fileMeta{}
	commit := strings.TrimSpace(resp.Header.Get("X-Repo-Commit"))
	switch {
	case commit == "":
		return nil, bad("no X-Repo-Commit header")
	case !isCommit(strings.ToLower(commit)):
		return nil, bad("X-Repo-Commit " + quote(commit) + " is not a 40-hex commit id")
	}
	m.Commit = strings.ToLower(commit)

	raw := resp.Header.Get("X-Linked-Etag")
	if raw == "" {
		raw = resp.Header.Get("ETag")
	}
	if raw == "" {
		return nil, bad("no ETag or X-Linked-Etag header: the file cannot be identified")
	}
	m.ETag = normalizeETag(raw)
	if !checkETag(m.ETag) {
		return nil, bad("etag " + quote(raw) + " is not a safe blob name (expected hex digits)")
	}

	size := resp.Header.Get("X-Linked-Size")
	if size == "" && resp.StatusCode == http.StatusOK {
		size = resp.Header.Get("Content-Length") // a redirect's Content-Length is not the file's
	}
	if size == "" {
		return nil, bad("no X-Linked-Size or Content-Length header: the file's size is unknown")
	}
	n, err := strconv.ParseInt(strings.TrimSpace(size), 10, 64)
	if err != nil || n < 0 {
		return nil, bad("file size " + quote(size) + " is not a non-negative integer")
	}
	m.Size = n

	if isRedirect(resp.StatusCode) {
		loc, err := u.Parse(resp.Header.Get("Location")) // checked by send
		if err != nil {
			return nil, bad("unusable Location header")
		}
		m.Location = loc
	}
	return m, nil
}
