package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qkvdev/qkv/internal/atomicfile"
	"github.com/qkvdev/qkv/internal/fileutil"
)

// repoCache is the cache folder of one repository: CacheDir/hub/models--ORG--NAME.
type repoCache struct{ root string }

func newRepoCache(cacheDir, org, name string) repoCache {
	folder := "models--" + name
	if org != "" {
		folder = "models--" + org + "--" + name
	}
	return repoCache{root: filepath.Join(cacheDir, "hub", folder)}
}

func (rc repoCache) blobsDir() string            { return filepath.Join(rc.root, "blobs") }
func (rc repoCache) blobPath(etag string) string { return filepath.Join(rc.root, "blobs", etag) }
func (rc repoCache) snapshotDir(commit string) string {
	return filepath.Join(rc.root, "snapshots", commit)
}
func (rc repoCache) pointerPath(commit, filename string) string {
	return filepath.Join(rc.root, "snapshots", commit, filepath.FromSlash(filename))
}
func (rc repoCache) refPath(revision string) string {
	return filepath.Join(rc.root, "refs", filepath.FromSlash(revision))
}
func (rc repoCache) noExistPath(commit, filename string) string {
	return filepath.Join(rc.root, ".no_exist", commit, filepath.FromSlash(filename))
}

// commitFor resolves a revision without the network: a commit id is itself, a branch or tag is
// read from refs/. The stored commit is checked to be 40-hex before it is used as a path.
func (rc repoCache) commitFor(revision string) (string, bool) {
	if isCommit(revision) {
		return revision, true
	}
	f, err := fileutil.Open(rc.refPath(revision)) // a FIFO or device is refused without blocking
	if err != nil {
		return "", false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil {
		return "", false
	}
	c := strings.TrimSpace(string(b))
	return c, isCommit(c)
}

// cachedFile returns the cached copy of filename at revision, if any, and the commit it belongs to.
func (rc repoCache) cachedFile(revision, filename string) (path, commit string, ok bool) {
	commit, ok = rc.commitFor(revision)
	if !ok {
		return "", "", false
	}
	path = rc.pointerPath(commit, filename)
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return "", "", false
	}
	return path, commit, true
}

// knownMissing reports whether a .no_exist marker says filename is absent at commit.
func (rc repoCache) knownMissing(commit, filename string) bool {
	_, err := os.Lstat(rc.noExistPath(commit, filename))
	return err == nil
}

// markMissing records that filename does not exist at commit. It is best effort: the marker only
// saves requests.
func (rc repoCache) markMissing(commit, filename string) {
	p := rc.noExistPath(commit, filename)
	if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
		atomicfile.WriteFile(p, nil, 0o644)
	}
}

// updateRef records that revision points at commit, atomically, unless it already says so (so a
// read-only cache that is up to date is never written).
func (rc repoCache) updateRef(revision, commit string) error {
	if isCommit(revision) { // a commit id is resolved without refs/
		return nil
	}
	if c, ok := rc.commitFor(revision); ok && c == commit {
		return nil
	}
	p := rc.refPath(revision)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(p, []byte(commit), 0o644)
}

// regularSize returns the size of the regular file at p (not following a symlink), or -1.
func regularSize(p string) int64 {
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return -1
	}
	return fi.Size()
}

// targetSize returns the size of the regular file p is or points at, or -1.
func targetSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return -1
	}
	return fi.Size()
}

// uniqueID returns "PID-RANDOM": unique among the goroutines and processes sharing a cache, and
// naming the process that owns a temporary file.
func uniqueID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// linkPointer makes pointer (a file under snapshots/) refer to blob: a relative symlink where the
// filesystem allows one, else a hard link, else a copy. The link is made beside the blob under a
// unique name and renamed over pointer, so concurrent callers never see a half-made pointer.
func (c *Client) linkPointer(blob, pointer string) error {
	dir := filepath.Dir(pointer)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(blob), ".pointer-"+uniqueID()+".tmp")
	symlink, link := os.Symlink, os.Link
	if c.symlink != nil {
		symlink = c.symlink
	}
	if c.link != nil {
		link = c.link
	}
	rel, err := filepath.Rel(dir, blob)
	if err == nil {
		if err = symlink(rel, tmp); err == nil {
			if err = os.Rename(tmp, pointer); err == nil {
				return nil
			}
			os.Remove(tmp)
		}
	}
	if err = link(blob, tmp); err == nil {
		if err = os.Rename(tmp, pointer); err == nil {
			return nil
		}
		os.Remove(tmp)
	}
	return atomicfile.Write(pointer, 0o644, func(w io.Writer) error {
		f, err := fileutil.Open(blob)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
}

// activeTemps holds the temporary files this process is writing, so that no goroutine takes over
// another's partial download.
var activeTemps sync.Map

// staleAfter is how long a partial download of a live process must sit untouched before another
// process may take it over. A writer touches its file with every chunk, and gives up after its
// stall timeout and retries; past this it is surely gone (or its pid was reused).
const staleAfter = 5 * time.Minute

// leftover is a partial download found in blobs/ that this process may take over.
type leftover struct {
	path string
	size int64
}

// leftovers lists the partial downloads of etag that no live writer owns: not written by this
// process right now, and either from this process, from a dead process, or untouched for
// staleAfter. Names are "{etag}.{pid}-{random}.incomplete".
func leftovers(blobsDir, etag string) []leftover {
	entries, err := os.ReadDir(blobsDir)
	if err != nil {
		return nil
	}
	var out []leftover
	for _, e := range entries {
		name := e.Name()
		mid, ok := strings.CutPrefix(name, etag+".")
		if !ok {
			continue
		}
		if mid, ok = strings.CutSuffix(mid, ".incomplete"); !ok {
			continue
		}
		p := filepath.Join(blobsDir, name)
		if _, busy := activeTemps.Load(p); busy {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		pidStr, _, _ := strings.Cut(mid, "-")
		pid, err := strconv.Atoi(pidStr)
		var free bool
		switch {
		case err != nil || pid <= 0: // not a name this package writes: only its age tells
			free = time.Since(fi.ModTime()) >= staleAfter
		case pid == os.Getpid(): // an earlier, finished call of this process
			free = true
		case !processAlive(pid): // a crashed or interrupted process
			free = true
		default:
			free = time.Since(fi.ModTime()) >= staleAfter
		}
		if !free {
			continue
		}
		out = append(out, leftover{path: p, size: fi.Size()})
	}
	return out
}

// claimLeftover takes over the longest usable partial download of etag by renaming it to dst;
// the rename is atomic, so of several claimants only one wins. Partials longer than the file are
// deleted. It returns whether dst now holds a partial download.
func claimLeftover(blobsDir, etag string, size int64, dst string) bool {
	list := leftovers(blobsDir, etag)
	for len(list) > 0 {
		best := 0
		for i, l := range list {
			if l.size > list[best].size {
				best = i
			}
		}
		l := list[best]
		list = append(list[:best], list[best+1:]...)
		if l.size > size {
			os.Remove(l.path)
			continue
		}
		if os.Rename(l.path, dst) == nil {
			return true
		}
	}
	return false
}

// pruneLeftovers deletes the partial downloads of etag that no live writer owns.
func pruneLeftovers(blobsDir, etag string) {
	for _, l := range leftovers(blobsDir, etag) {
		os.Remove(l.path)
	}
}

// Resolve returns the local snapshot folder of repo at revision ("" means "main") if the cache
// holds one, without any network request: a commit id is looked up directly, a branch or tag
// through refs/. The folder holds the files downloaded so far at that commit, which may be fewer
// than a model needs; Snapshot (or Download in offline mode) checks for specific files.
func (c *Client) Resolve(repo, revision string) (dir string, ok bool) {
	org, name, err := ParseRepoID(repo)
	if err != nil {
		return "", false
	}
	if revision == "" {
		revision = "main"
	}
	if checkRevision(revision) != nil {
		return "", false
	}
	cacheDir := c.CacheDir
	if cacheDir == "" {
		cacheDir = EnvCacheDir()
	}
	if cacheDir == "" {
		return "", false
	}
	rc := newRepoCache(cacheDir, org, name)
	commit, ok := rc.commitFor(revision)
	if !ok {
		return "", false
	}
	dir = rc.snapshotDir(commit)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", false
	}
	return dir, true
}

// stallGuard cancels a request when no progress is made for s.stall: no response headers, or no
// body bytes, within that time.
type stallGuard struct {
	ctx   context.Context
	d     time.Duration
	timer *time.Timer
	fired atomic.Bool
}

func (s *settings) stallGuard(parent context.Context) (*stallGuard, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	g := &stallGuard{ctx: ctx, d: s.stall}
	g.timer = time.AfterFunc(s.stall, func() { g.fired.Store(true); cancel() })
	return g, func() { g.timer.Stop(); cancel() }
}

// touch records progress, restarting the stall timer.
func (g *stallGuard) touch() { g.timer.Reset(g.d) }

// wrap turns the error of a request that the guard cancelled into a retryable ErrNetwork; the
// parent context's own cancellation is returned as is.
func (g *stallGuard) wrap(parent context.Context, err error) error {
	if err == nil {
		return nil
	}
	if parent.Err() != nil {
		return parent.Err()
	}
	if g.fired.Load() {
		return &Error{Kind: ErrNetwork, Message: "no data from the server for " + g.d.String(), retryable: true,
			Hint: "the connection stalled; check the network, or retry later"}
	}
	if isCtxErr(err) {
		return &Error{Kind: ErrNetwork, Err: err, retryable: true}
	}
	return err
}

// cacheError wraps a failure to write the cache.
func cacheError(path string, err error) error {
	var he *Error
	if errors.As(err, &he) {
		return err
	}
	return &Error{Kind: ErrCache, Message: path, Err: err,
		Hint: "free some disk space, or point QKV_CACHE at a writable directory with room for the model"}
}
