package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/qkvdev/qkv/internal/atomicfile"
)

// target is one repository at one revision, validated.
type target struct {
	repo     string // "ORG/NAME" or "NAME"
	revision string
	cache    repoCache
}

func (s *settings) target(repo, revision string) (*target, error) {
	org, name, err := ParseRepoID(repo)
	if err != nil {
		return nil, err
	}
	if revision == "" {
		revision = "main"
	}
	if err := checkRevision(revision); err != nil {
		return nil, describe(err, repo, "", "")
	}
	return &target{repo: repo, revision: revision, cache: newRepoCache(s.cacheDir, org, name)}, nil
}

// Download returns the local path of filename in repo at revision ("" means "main"), downloading
// it into the cache unless it is there already. The path is inside the snapshot folder of the
// revision's commit, next to the other files of that commit.
//
// Online, a HEAD request learns the revision's commit and the file's etag and size; a file
// already cached for that commit is returned at once (without writing to the cache, so a
// read-only cache works), a blob already cached under that etag is linked, and otherwise the
// blob is downloaded, resumed after dropped connections, verified, and renamed into place. When
// revision is a commit id and the file is cached, no request is made at all. When the Hub cannot
// be reached (or keeps failing), a copy cached for the revision is returned instead.
//
// Offline, no request is made: the revision is resolved through refs/, and a file that is not
// cached is an ErrLocalEntryNotFound error.
func (c *Client) Download(ctx context.Context, repo, revision, filename string) (localPath string, err error) {
	s, err := c.settings()
	if err != nil {
		return "", err
	}
	t, err := s.target(repo, revision)
	if err != nil {
		return "", err
	}
	if err := checkFilename(filename); err != nil {
		return "", describe(err, t.repo, t.revision, filename)
	}
	p, _, _, err := s.download(ctx, t, t.revision, filename)
	return p, describe(err, t.repo, t.revision, filename)
}

// download fetches filename at revision (the target's own revision, or the commit a snapshot has
// settled on) and returns its path and commit; fellBack tells that the Hub could not be reached
// and the path is a cached copy. Errors carry the commit when the server gave one.
func (s *settings) download(ctx context.Context, t *target, revision, filename string) (path, commit string, fellBack bool, err error) {
	if s.c.Offline {
		if s.force {
			return "", "", false, &Error{Kind: ErrOffline, Message: "ForceDownload needs the network",
				Hint: "unset HF_HUB_OFFLINE / QKV_OFFLINE, or do not force the download"}
		}
		path, commit, err = s.local(t, revision, filename)
		return path, commit, false, err
	}
	if isCommit(revision) && !s.force {
		if p := t.cache.pointerPath(revision, filename); targetSize(p) >= 0 {
			return p, revision, false, nil
		}
		if t.cache.knownMissing(revision, filename) {
			return "", "", false, &Error{Kind: ErrEntryNotFound, Commit: revision, Message: "the file does not exist at this commit (cached answer)",
				Hint: "check the filename against the repository's file list on " + s.endpoint.String() + "/" + t.repo}
		}
	}
	meta, err := s.head(ctx, t.repo, revision, filename)
	if err != nil {
		var he *Error
		if errors.As(err, &he) {
			if he.Kind == ErrEntryNotFound && he.Commit != "" {
				t.cache.markMissing(he.Commit, filename)
				t.cache.updateRef(revision, he.Commit) // best effort, like the marker
			}
			if he.fallsBackToCache() && !s.force {
				if p, commit, ok := t.cache.cachedFile(revision, filename); ok {
					return p, commit, true, nil
				}
			}
		}
		return "", "", false, err
	}
	path, err = s.fetch(ctx, t, revision, filename, meta)
	return path, meta.Commit, false, err
}

// local answers from the cache alone.
func (s *settings) local(t *target, revision, filename string) (string, string, error) {
	commit, ok := t.cache.commitFor(revision)
	if !ok {
		return "", "", &Error{Kind: ErrLocalEntryNotFound, Message: "revision " + quote(revision) + " was never downloaded",
			Hint: "run once with network access (HF_HUB_OFFLINE and QKV_OFFLINE unset) to download it"}
	}
	if p := t.cache.pointerPath(commit, filename); targetSize(p) >= 0 {
		return p, commit, nil
	}
	if t.cache.knownMissing(commit, filename) {
		return "", "", &Error{Kind: ErrEntryNotFound, Commit: commit, Message: "the file does not exist at commit " + commit + " (cached answer)",
			Hint: "check the filename"}
	}
	return "", "", &Error{Kind: ErrLocalEntryNotFound, Commit: commit, Message: "not cached for commit " + commit,
		Hint: "run once with network access (HF_HUB_OFFLINE and QKV_OFFLINE unset) to download it"}
}

// fetch makes the file described by meta available under snapshots/ and returns its path.
func (s *settings) fetch(ctx context.Context, t *target, revision, filename string, meta *fileMeta) (string, error) {
	pointer := t.cache.pointerPath(meta.Commit, filename)
	if !s.force && targetSize(pointer) == meta.Size {
		t.cache.updateRef(revision, meta.Commit) // a read-only cache is fine: the file is here
		return pointer, nil
	}
	blob := t.cache.blobPath(meta.ETag)
	if s.force || regularSize(blob) != meta.Size {
		u := meta.Location
		if u == nil {
			// Ask for the commit rather than the branch, which may have moved since the HEAD.
			u = s.resolveURL(t.repo, meta.Commit, filename)
		}
		if err := s.fetchBlob(ctx, t.cache, s.endpoint.String()+"/"+t.repo, filename, meta, u); err != nil {
			return "", err
		}
	}
	if err := s.c.linkPointer(blob, pointer); err != nil {
		return "", cacheError(pointer, err)
	}
	if err := t.cache.updateRef(revision, meta.Commit); err != nil {
		return "", cacheError(t.cache.refPath(revision), err)
	}
	return pointer, nil
}

// partial is a download in progress: its temporary file, how much it holds, and a running
// SHA-256 of those bytes.
type partial struct {
	f      *os.File
	w      io.Writer // f, or a test's wrapper around it
	n      int64
	sum    hash.Hash
	report func(done int64)
	page   string // the repository's page, for error hints
}

func (p *partial) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.sum.Write(b[:n])
	p.n += int64(n)
	if n > 0 && p.report != nil {
		p.report(p.n)
	}
	return n, err
}

// reset empties the file, to start again from byte 0.
func (p *partial) reset() error {
	p.n = 0
	p.sum.Reset()
	if err := p.f.Truncate(0); err != nil {
		return err
	}
	_, err := p.f.Seek(0, io.SeekStart)
	return err
}

// adopt takes the bytes already in the file (a claimed partial download) into account.
func (p *partial) adopt(size int64) error {
	fi, err := p.f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() > size {
		return p.reset()
	}
	if _, err := io.Copy(p.sum, io.NewSectionReader(p.f, 0, fi.Size())); err != nil {
		return err
	}
	p.n = fi.Size()
	_, err = p.f.Seek(p.n, io.SeekStart)
	return err
}

// fetchBlob downloads blobs/{etag} from u, following its redirects wherever they go (the token
// only goes to the endpoint's origin, see send).
//
// The bytes go to blobs/{etag}.{pid}-{random}.incomplete, private to this call, which is renamed
// to blobs/{etag} only after the size (and, for a SHA-256 etag, the digest) checks out; so
// concurrent downloads of one blob, in goroutines or processes, never mix their bytes, and a
// failed download never leaves a file under the final name. A partial download left by an
// interrupted call or a dead process is resumed, but only for SHA-256 etags, whose digest proves
// the result; if such a resumed download fails the digest check, it is done again from scratch.
// A partial download of a SHA-256 blob is kept when the network fails, for a later call to resume;
// every other failure deletes it.
func (s *settings) fetchBlob(ctx context.Context, rc repoCache, page, filename string, meta *fileMeta, u *url.URL) (err error) {
	dir := rc.blobsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return cacheError(dir, err)
	}
	final := rc.blobPath(meta.ETag)
	tmp := filepath.Join(dir, meta.ETag+"."+uniqueID()+".incomplete")
	activeTemps.Store(tmp, struct{}{})
	defer activeTemps.Delete(tmp)

	verifiable := isSHA256(meta.ETag)
	resumed := verifiable && !s.force && claimLeftover(dir, meta.ETag, meta.Size, tmp)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return cacheError(tmp, err)
	}
	keep, closed := false, false
	defer func() {
		if !closed {
			f.Close()
		}
		if err != nil && !keep {
			os.Remove(tmp)
		}
	}()
	p := &partial{f: f, w: io.Writer(f), sum: sha256.New(), page: page}
	if s.c.wrapWriter != nil {
		p.w = s.c.wrapWriter(f)
	}
	if resumed {
		if err := p.adopt(meta.Size); err != nil {
			return cacheError(tmp, err)
		}
	}
	if s.c.Progress != nil {
		progress := s.c.Progress
		p.report = func(done int64) { progress(filename, done, meta.Size) }
		p.report(p.n)
	}

	for {
		err = s.withRetries(ctx, func() error { return s.transfer(ctx, p, meta, u) })
		if err != nil {
			var he *Error
			keep = verifiable && (isCtxErr(err) || errors.As(err, &he) && he.fallsBackToCache())
			return err
		}
		if !verifiable {
			break
		}
		if got := hex.EncodeToString(p.sum.Sum(nil)); got == strings.ToLower(meta.ETag) {
			break
		} else if resumed {
			resumed = false // the bytes we took over were bad: start over once
			if err := p.reset(); err != nil {
				return cacheError(tmp, err)
			}
			continue
		} else {
			return &Error{Kind: ErrIntegrity, URL: redactURL(u), Message: "SHA-256 " + got + " does not match the etag " + meta.ETag,
				Hint: "the download was corrupted on the way; retry, and if it fails again report it to the repository's owner"}
		}
	}
	if err := f.Sync(); err != nil {
		return cacheError(tmp, err)
	}
	closed = true
	if err := f.Close(); err != nil {
		return cacheError(tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		if regularSize(final) == meta.Size { // another writer won, with the same verified bytes
			os.Remove(tmp)
			return nil
		}
		return cacheError(final, err)
	}
	atomicfile.SyncDir(dir)
	pruneLeftovers(dir, meta.ETag)
	return nil
}

// transfer runs one GET that brings p up to meta.Size bytes, asking only for the missing bytes
// when p holds some. Per the outcome:
//   - 206 with the expected Content-Range: the bytes are appended;
//   - 200: the server ignored the Range, so p restarts from byte 0 with this body;
//   - 206 with another range, or 416: p is emptied and the error asks for an immediate restart;
//   - a connection lost mid-body: p keeps what arrived and the error is retryable.
//
// The body is read only up to one byte past the expected size, so a lying server cannot fill the
// disk; a short or long body is an ErrIntegrity error, and so is a Content-Length that disagrees
// with the size from the HEAD request.
func (s *settings) transfer(ctx context.Context, p *partial, meta *fileMeta, u *url.URL) error {
	if p.n == meta.Size {
		return nil
	}
	hdr := http.Header{}
	if p.n > 0 {
		hdr.Set("Range", "bytes="+strconv.FormatInt(p.n, 10)+"-")
	}
	g, cancel := s.stallGuard(ctx)
	defer cancel()
	resp, final, err := s.send(g.ctx, http.MethodGet, u, hdr, true)
	if err != nil {
		return g.wrap(ctx, err)
	}
	defer drain(resp)
	restart := func(msg string) error {
		if err := p.reset(); err != nil {
			return cacheError(p.f.Name(), err)
		}
		return &Error{Kind: ErrBadResponse, Status: resp.StatusCode, URL: redactURL(final), Message: msg, restart: true,
			Hint: "the server does not resume downloads correctly; retry later"}
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if p.n > 0 {
			if err := p.reset(); err != nil {
				return cacheError(p.f.Name(), err)
			}
		}
	case http.StatusPartialContent:
		cr := resp.Header.Get("Content-Range")
		start, end, total, ok := parseContentRange(cr)
		if !ok || start != p.n || end != meta.Size-1 || total != meta.Size {
			return restart(fmt.Sprintf("asked for bytes %d- of %d, got Content-Range %s", p.n, meta.Size, quote(cr)))
		}
	case http.StatusRequestedRangeNotSatisfiable:
		return restart(fmt.Sprintf("the server refused the range bytes=%d-", p.n))
	default:
		return s.statusError(resp, final, p.page)
	}
	integrity := func(msg string) error {
		return &Error{Kind: ErrIntegrity, Status: resp.StatusCode, URL: redactURL(final), Message: msg,
			Hint: "the server sent a different file than it announced; retry later, and report it if it persists"}
	}
	if enc := strings.TrimSpace(resp.Header.Get("Content-Encoding")); enc != "" && !strings.EqualFold(enc, "identity") {
		return &Error{Kind: ErrBadResponse, Status: resp.StatusCode, URL: redactURL(final),
			Message: "the body is " + quote(enc) + "-encoded although the identity encoding was asked for",
			Hint:    "a proxy may be compressing downloads; bypass it or set QKV_ENDPOINT to a Hub that serves files as they are"}
	}
	want := meta.Size - p.n
	if resp.ContentLength >= 0 && resp.ContentLength != want {
		return integrity(fmt.Sprintf("the response is %d bytes long, expected %d", resp.ContentLength, want))
	}
	rerr, werr := copyBody(p, resp.Body, want+1, g)
	switch {
	case werr != nil:
		return cacheError(p.f.Name(), werr)
	case rerr != nil:
		if err := g.wrap(ctx, rerr); err != rerr {
			return err // cancelled, or stalled
		}
		return &Error{Kind: ErrNetwork, URL: redactURL(final), retryable: true, Err: rerr,
			Message: fmt.Sprintf("connection lost after %d of %d bytes", p.n, meta.Size),
			Hint:    "check the network connection and retry; the download resumes where it stopped"}
	case p.n > meta.Size:
		return integrity(fmt.Sprintf("the body is longer than the announced %d bytes", meta.Size))
	case p.n < meta.Size:
		return integrity(fmt.Sprintf("the body ended after %d of %d bytes", p.n, meta.Size))
	}
	return nil
}

// copyBody copies at most limit bytes of body into p, touching the stall guard as bytes arrive.
// It returns the read error (nil at a clean end of body) and the write error separately.
func copyBody(p *partial, body io.Reader, limit int64, g *stallGuard) (rerr, werr error) {
	buf := make([]byte, 256<<10)
	for limit > 0 {
		b := buf[:min(int64(len(buf)), limit)]
		n, err := body.Read(b)
		if n > 0 {
			g.touch()
			limit -= int64(n)
			if _, werr = p.Write(b[:n]); werr != nil {
				return nil, werr
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
	return nil, nil
}

// parseContentRange reads "bytes START-END/TOTAL".
func parseContentRange(v string) (start, end, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	start, err1 = strconv.ParseInt(a, 10, 64)
	end, err2 = strconv.ParseInt(b, 10, 64)
	total, err3 = strconv.ParseInt(tot, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || start < 0 || end < start || total <= end {
		return 0, 0, 0, false
	}
	return start, end, total, true
}
