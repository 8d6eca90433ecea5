package hub

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/qkvdev/qkv/internal/testenv"
)

// TestReferenceModels serves every reference model folder from a fake Hub (".safetensors" files
// as LFS files through the content server) and downloads it as `qkv pull` would.
func TestReferenceModels(t *testing.T) {
	for _, ref := range testenv.References(t) {
		t.Run(filepath.Base(ref.Dir), func(t *testing.T) {
			files := map[string]*hubFile{}
			var names []string
			walkErr := filepath.WalkDir(ref.Dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(ref.Dir, p)
				rel = filepath.ToSlash(rel)
				files[rel] = newHubFile(b, strings.HasSuffix(rel, ".safetensors"))
				names = append(names, rel)
				return nil
			})
			if walkErr != nil {
				t.Fatal(walkErr)
			}
			h := newFakeHub(t, files)
			c, _ := h.client(t)
			var calls atomic.Int64
			c.Progress = func(file string, done, total int64) { calls.Add(1) }
			dir, err := c.Snapshot(context.Background(), h.repo, "", names, []string{"tokenizer.json"})
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(h.repoRoot(c), "snapshots", testCommit); dir != want {
				t.Fatalf("snapshot dir %s, want %s", dir, want)
			}
			for _, name := range names {
				mustContent(t, filepath.Join(dir, name), files[name].data)
				f := files[name]
				blob := f.oid
				if f.lfs {
					blob = f.sha256
				}
				if target, err := os.Readlink(filepath.Join(dir, name)); runtime.GOOS != "windows" && (err != nil || target != filepath.Join("..", "..", "blobs", blob)) {
					t.Errorf("%s: pointer %q (%v), want a relative symlink to its blob", name, target, err)
				}
			}
			if calls.Load() == 0 {
				t.Error("Progress was never called")
			}
			if _, err := os.Stat(filepath.Join(h.repoRoot(c), ".no_exist", testCommit, "tokenizer.json")); err != nil {
				t.Errorf("missing optional file not remembered: %v", err)
			}
			if d, ok := c.Resolve(h.repo, "main"); !ok || d != dir {
				t.Errorf("Resolve = %q, %v", d, ok)
			}
			h.noTemporaries(t, c)

			// A second pull only asks for metadata, and not for the known-missing file.
			h.resetLog()
			if _, err := c.Snapshot(context.Background(), h.repo, "", names, []string{"tokenizer.json"}); err != nil {
				t.Fatal(err)
			}
			for _, r := range h.requests() {
				if r.method != http.MethodHead || strings.Contains(r.path, "tokenizer.json") {
					t.Errorf("second snapshot made request %+v", r)
				}
			}
		})
	}
}

func TestDownloadLayoutAndAuth(t *testing.T) {
	h := newFakeHub(t, syntheticFiles())
	c, _ := h.client(t)
	ctx := context.Background()
	for _, name := range []string{"config.json", "model.safetensors", "tokenizer/vocab.json", "dir with space/a b.json", "empty.safetensors"} {
		p, err := c.Download(ctx, h.repo, "main", name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := filepath.Join(h.repoRoot(c), "snapshots", testCommit, filepath.FromSlash(name)); p != want {
			t.Errorf("path %s, want %s", p, want)
		}
		mustContent(t, p, h.files[name].data)
	}
	ref, err := os.ReadFile(filepath.Join(h.repoRoot(c), "refs", "main"))
	if err != nil || string(ref) != testCommit {
		t.Errorf("refs/main = %q, %v", ref, err)
	}
	blobs := h.blobNames(t, c)
	for _, want := range []string{h.files["config.json"].oid, h.files["model.safetensors"].sha256} {
		if !slices.Contains(blobs, want) {
			t.Errorf("blobs %v lack %s", blobs, want)
		}
	}
	h.noTemporaries(t, c)
	for _, r := range h.requests() {
		if r.server == "hub" && r.auth != "Bearer hf_testtoken" {
			t.Errorf("hub request without the token: %+v", r)
		}
		if r.server == "cdn" && r.auth != "" {
			t.Errorf("Authorization sent to the content server: %+v", r)
		}
		if r.enc != "identity" {
			t.Errorf("request without Accept-Encoding: identity: %+v", r)
		}
	}

	// The GET of a regular file asks for the commit the HEAD reported, not the moving branch.
	var sawCommitGET bool
	for _, r := range h.requests() {
		if r.method == http.MethodGet && r.server == "hub" {
			sawCommitGET = true
			if !strings.Contains(r.path, "/resolve/"+testCommit+"/") {
				t.Errorf("GET by branch: %s", r.path)
			}
		}
	}
	if !sawCommitGET {
		t.Error("no GET on the hub")
	}

	// Cached: a second call only sends a HEAD; by commit id it sends nothing.
	h.resetLog()
	if _, err := c.Download(ctx, h.repo, "main", "model.safetensors"); err != nil {
		t.Fatal(err)
	}
	if r := h.requests(); len(r) != 1 || r[0].method != http.MethodHead {
		t.Errorf("cached download made requests %+v", r)
	}
	h.resetLog()
	if _, err := c.Download(ctx, h.repo, testCommit, "model.safetensors"); err != nil {
		t.Fatal(err)
	}
	if r := h.requests(); len(r) != 0 {
		t.Errorf("download by cached commit made requests %+v", r)
	}

	// ForceDownload fetches again.
	c.ForceDownload = true
	h.resetLog()
	if _, err := c.Download(ctx, h.repo, "main", "model.safetensors"); err != nil {
		t.Fatal(err)
	}
	if r := h.requests(); len(r) != 2 {
		t.Errorf("forced download made requests %+v", r)
	}
}

// HOSTILE C20: missing or malformed metadata is an error; weak and quoted etags are normalised.
// C29: commit ids and etags from the server are checked before they become paths.
func TestMetadataFaults(t *testing.T) {
	cases := []struct {
		name, file string
		edit       func(http.Header)
	}{
		{"no commit", "config.json", func(h http.Header) { h.Del("X-Repo-Commit") }},
		{"short commit", "config.json", func(h http.Header) { h.Set("X-Repo-Commit", "abc123") }},
		{"traversal commit", "config.json", func(h http.Header) { h.Set("X-Repo-Commit", "../../../../../../tmp/evil-commit-0000000") }},
		{"no etag", "config.json", func(h http.Header) { h.Del("ETag") }},
		{"no etag lfs", "model.safetensors", func(h http.Header) { h.Del("ETag"); h.Del("X-Linked-Etag") }},
		{"digest etag", "model.safetensors", func(h http.Header) { h.Set("X-Linked-Etag", `"sha256:../../../evil"`) }},
		{"traversal etag", "config.json", func(h http.Header) { h.Set("ETag", `"../../snapshots/x"`) }},
		{"dotted etag", "config.json", func(h http.Header) { h.Set("ETag", `"abc.incomplete"`) }},
		{"no size", "model.safetensors", func(h http.Header) { h.Del("X-Linked-Size") }},
		{"negative size", "model.safetensors", func(h http.Header) { h.Set("X-Linked-Size", "-5") }},
		{"text size", "model.safetensors", func(h http.Header) { h.Set("X-Linked-Size", "lots") }},
		{"bad location", "model.safetensors", func(h http.Header) { h.Set("Location", "file:///etc/passwd") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHub(t, syntheticFiles())
			h.setEdit(tc.edit)
			c, _ := h.client(t)
			_, err := c.Download(context.Background(), h.repo, "main", tc.file)
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("err = %v, want ErrBadResponse", err)
			}
			if len(h.blobNames(t, c)) != 0 {
				t.Errorf("blobs written: %v", h.blobNames(t, c))
			}
			if _, err := os.Stat(filepath.Join(c.CacheDir, "..", "tmp")); err == nil {
				t.Error("something was written outside the cache")
			}
		})
	}

	t.Run("weak and quoted etags", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		f := h.files["model.safetensors"]
		h.setEdit(func(hd http.Header) { hd.Set("X-Linked-Etag", `W/"`+strings.ToUpper(f.sha256)+`"`) })
		c, _ := h.client(t)
		if _, err := c.Download(context.Background(), h.repo, "main", "model.safetensors"); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(h.blobNames(t, c), strings.ToUpper(f.sha256)) {
			t.Errorf("blobs %v", h.blobNames(t, c))
		}
		h.setEdit(func(hd http.Header) { hd.Set("ETag", `W/"`+h.files["config.json"].oid+`"`) })
		if _, err := c.Download(context.Background(), h.repo, "main", "config.json"); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(h.blobNames(t, c), h.files["config.json"].oid) {
			t.Errorf("blobs %v", h.blobNames(t, c))
		}
	})

	t.Run("uppercase commit is normalised", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		h.setEdit(func(hd http.Header) { hd.Set("X-Repo-Commit", strings.ToUpper(testCommit)) })
		c, _ := h.client(t)
		p, err := c.Download(context.Background(), h.repo, "main", "config.json")
		if err != nil || !strings.Contains(p, testCommit) {
			t.Fatalf("%s, %v", p, err)
		}
	})
}

// HOSTILE C21: a body shorter or longer than announced, or with another SHA-256, is rejected
// and never cached; the body is read only up to the announced size.
func TestBodyFaults(t *testing.T) {
	cases := []struct {
		name  string
		fault func(h *fakeHub) func(w http.ResponseWriter, r *http.Request) bool
	}{
		{"short content-length", func(h *fakeHub) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				d := h.files["model.safetensors"].data
				w.Header().Set("Content-Length", strconv.Itoa(len(d)-10))
				w.Write(d[:len(d)-10])
				return true
			}
		}},
		{"long content-length", func(h *fakeHub) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				d := h.files["model.safetensors"].data
				w.Header().Set("Content-Length", strconv.Itoa(len(d)+10))
				w.Write(append(slices.Clone(d), make([]byte, 10)...))
				return true
			}
		}},
		{"short chunked", func(h *fakeHub) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				d := h.files["model.safetensors"].data
				w.Write(d[:len(d)/2])
				w.(http.Flusher).Flush()
				return true
			}
		}},
		{"endless chunked", func(h *fakeHub) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				chunk := make([]byte, 32<<10)
				for i := 0; i < 64<<20/len(chunk); i++ { // 64 MiB for a 300 KB file
					if _, err := w.Write(chunk); err != nil {
						return true
					}
				}
				h.t.Error("the client read far past the announced size")
				return true
			}
		}},
		{"wrong sha256", func(h *fakeHub) func(w http.ResponseWriter, r *http.Request) bool {
			return func(w http.ResponseWriter, r *http.Request) bool {
				d := slices.Clone(h.files["model.safetensors"].data)
				d[1234] ^= 1
				w.Header().Set("Content-Length", strconv.Itoa(len(d)))
				w.Write(d)
				return true
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHub(t, syntheticFiles())
			h.setCDNFault(tc.fault(h))
			c, _ := h.client(t)
			_, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
			if !errors.Is(err, ErrIntegrity) {
				t.Fatalf("err = %v, want ErrIntegrity", err)
			}
			if len(h.blobNames(t, c)) != 0 {
				t.Errorf("blobs left: %v", h.blobNames(t, c))
			}
			if _, err := os.Lstat(filepath.Join(h.repoRoot(c), "snapshots", testCommit, "model.safetensors")); err == nil {
				t.Error("pointer made for a bad file")
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks the signed URL: %v", err)
			}
		})
	}
}

// HOSTILE C22: a dropped connection resumes with Range; 200 to a Range restarts from 0; a wrong
// Content-Range and 416 restart too.
func TestResume(t *testing.T) {
	t.Run("drop then resume", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		d := h.files["model.safetensors"].data
		var n atomic.Int32
		h.setCDNFault(func(w http.ResponseWriter, r *http.Request) bool {
			if n.Add(1) <= 2 { // two drops in a row, each after 50000 more bytes
				dropAfter(w, r, d, 50000)
				return true
			}
			return false
		})
		c, rec := h.client(t)
		var last atomic.Int64
		c.Progress = func(file string, done, total int64) {
			if done < last.Load() && done != 0 {
				t.Errorf("progress went back from %d to %d", last.Load(), done)
			}
			last.Store(done)
		}
		p, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		mustContent(t, p, d)
		var ranges []string
		for _, r := range h.requests() {
			if r.server == "cdn" {
				ranges = append(ranges, r.rng)
			}
		}
		if want := []string{"", "bytes=50000-", "bytes=100000-"}; !slices.Equal(ranges, want) {
			t.Errorf("ranges %q, want %q", ranges, want)
		}
		if last.Load() != int64(len(d)) {
			t.Errorf("final progress %d", last.Load())
		}
		if s := rec.slept(); len(s) != 2 {
			t.Errorf("backoffs %v", s)
		}
		h.noTemporaries(t, c)
	})

	restartCases := []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request, d []byte)
	}{
		{"200 to a range", func(w http.ResponseWriter, r *http.Request, d []byte) {
			w.Header().Set("Content-Length", strconv.Itoa(len(d)))
			w.Write(d)
		}},
		{"wrong content-range", func(w http.ResponseWriter, r *http.Request, d []byte) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 10-%d/%d", len(d)-1, len(d)))
			w.Header().Set("Content-Length", strconv.Itoa(len(d)-10))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(d[10:])
		}},
		{"wrong total", func(w http.ResponseWriter, r *http.Request, d []byte) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 50000-%d/%d", len(d)+99, len(d)+100))
			w.Header().Set("Content-Length", strconv.Itoa(len(d)-50000+100))
			w.WriteHeader(http.StatusPartialContent)
		}},
		{"garbage content-range", func(w http.ResponseWriter, r *http.Request, d []byte) {
			w.Header().Set("Content-Range", "bytes lots")
			w.WriteHeader(http.StatusPartialContent)
		}},
		{"416", func(w http.ResponseWriter, r *http.Request, d []byte) {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		}},
	}
	for _, tc := range restartCases {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHub(t, syntheticFiles())
			d := h.files["model.safetensors"].data
			var n atomic.Int32
			h.setCDNFault(func(w http.ResponseWriter, r *http.Request) bool {
				switch n.Add(1) {
				case 1:
					dropAfter(w, r, d, 50000)
					return true
				case 2:
					if r.Header.Get("Range") != "bytes=50000-" {
						t.Errorf("resume without the expected Range: %q", r.Header.Get("Range"))
					}
					tc.answer(w, r, d)
					return true
				}
				return false
			})
			c, _ := h.client(t)
			p, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
			if err != nil {
				t.Fatal(err)
			}
			mustContent(t, p, d)
			h.noTemporaries(t, c)
		})
	}

	t.Run("always 416", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		d := h.files["model.safetensors"].data
		h.setCDNFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Header.Get("Range") == "" {
				dropAfter(w, r, d, 1000)
			} else {
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			}
			return true
		})
		c, _ := h.client(t)
		_, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
		if err == nil {
			t.Fatal("no error from a server that never completes a download")
		}
		if got := len(h.requests()); got > 10 {
			t.Errorf("%d requests: the retries are not bounded", got)
		}
	})
}

// HOSTILE C22 and C27: partial downloads left by a crashed process are resumed only when their
// digest can be checked, a corrupt one is redone, and a live writer's file is never taken.
func TestLeftovers(t *testing.T) {
	const deadPID = 99999999 // above any pid_max
	setup := func(t *testing.T) (*fakeHub, *Client, string, []byte) {
		h := newFakeHub(t, syntheticFiles())
		c, _ := h.client(t)
		f := h.files["model.safetensors"]
		blobs := filepath.Join(h.repoRoot(c), "blobs")
		if err := os.MkdirAll(blobs, 0o755); err != nil {
			t.Fatal(err)
		}
		return h, c, filepath.Join(blobs, f.sha256), f.data
	}

	t.Run("dead process resumed", func(t *testing.T) {
		h, c, blob, d := setup(t)
		os.WriteFile(fmt.Sprintf("%s.%d-abc.incomplete", blob, deadPID), d[:120000], 0o644)
		p, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		mustContent(t, p, d)
		if r := h.requests(); r[len(r)-1].rng != "bytes=120000-" {
			t.Errorf("leftover not resumed: %+v", r)
		}
		h.noTemporaries(t, c)
	})

	t.Run("corrupt leftover redone", func(t *testing.T) {
		h, c, blob, d := setup(t)
		bad := slices.Clone(d[:120000])
		bad[7] ^= 0xff
		os.WriteFile(fmt.Sprintf("%s.%d-abc.incomplete", blob, deadPID), bad, 0o644)
		p, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		mustContent(t, p, d)
		var ranges []string
		for _, r := range h.requests() {
			if r.server == "cdn" {
				ranges = append(ranges, r.rng)
			}
		}
		if !slices.Equal(ranges, []string{"bytes=120000-", ""}) {
			t.Errorf("ranges %q", ranges)
		}
		h.noTemporaries(t, c)
	})

	t.Run("oversized leftover discarded", func(t *testing.T) {
		h, c, blob, d := setup(t)
		os.WriteFile(fmt.Sprintf("%s.%d-abc.incomplete", blob, deadPID), append(slices.Clone(d), 1, 2, 3), 0o644)
		p, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		mustContent(t, p, d)
		h.noTemporaries(t, c)
	})

	t.Run("live writer left alone", func(t *testing.T) {
		h, c, blob, d := setup(t)
		live := fmt.Sprintf("%s.%d-abc.incomplete", blob, 1) // pid 1 is alive, and the file is fresh
		os.WriteFile(live, []byte("someone else's bytes"), 0o644)
		p, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		mustContent(t, p, d)
		mustContent(t, live, []byte("someone else's bytes"))
		if r := h.requests(); r[len(r)-1].rng != "" {
			t.Errorf("live writer's partial was used: %+v", r)
		}
	})

	t.Run("regular files are not resumed from leftovers", func(t *testing.T) {
		h, c, _, _ := setup(t)
		cfg := h.files["config.json"]
		blob := filepath.Join(h.repoRoot(c), "blobs", cfg.oid)
		os.WriteFile(fmt.Sprintf("%s.%d-abc.incomplete", blob, deadPID), []byte(`{"mod`), 0o644)
		p, err := c.Download(context.Background(), h.repo, "main", "config.json")
		if err != nil {
			t.Fatal(err)
		}
		mustContent(t, p, cfg.data)
		for _, r := range h.requests() {
			if r.rng != "" {
				t.Errorf("regular file resumed from an unverifiable partial: %+v", r)
			}
		}
	})

	t.Run("cancelled download resumed by the next call", func(t *testing.T) {
		h, c, _, d := setup(t)
		release := make(chan struct{})
		var n atomic.Int32
		h.setCDNFault(func(w http.ResponseWriter, r *http.Request) bool {
			if n.Add(1) > 1 {
				return false
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(d)))
			w.Write(d[:100000])
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return true
		})
		defer close(release)
		ctx, cancel := context.WithCancel(context.Background())
		c.Progress = func(_ string, done, _ int64) {
			if done >= 100000 {
				cancel()
			}
		}
		start := time.Now()
		_, err := c.Download(ctx, h.repo, "main", "model.safetensors")
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrCanceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if time.Since(start) > 3*time.Second {
			t.Errorf("cancellation took %v", time.Since(start))
		}
		if slices.Contains(h.blobNames(t, c), h.files["model.safetensors"].sha256) {
			t.Fatal("blob under its final name after cancellation")
		}
		c.Progress = nil
		p, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		mustContent(t, p, d)
		if r := h.requests(); r[len(r)-1].rng != "bytes=100000-" {
			t.Errorf("not resumed: %+v", r[len(r)-1])
		}
		h.noTemporaries(t, c)
	})
}

// A transfer that stops sending is abandoned after StallTimeout and resumed.
func TestStall(t *testing.T) {
	h := newFakeHub(t, syntheticFiles())
	d := h.files["model.safetensors"].data
	var n atomic.Int32
	h.setCDNFault(func(w http.ResponseWriter, r *http.Request) bool {
		if n.Add(1) > 1 {
			return false
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(d)))
		w.Write(d[:70000])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return true
	})
	c, _ := h.client(t)
	c.StallTimeout = 100 * time.Millisecond
	p, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	mustContent(t, p, d)
	if r := h.requests(); r[len(r)-1].rng != "bytes=70000-" {
		t.Errorf("not resumed after the stall: %+v", r)
	}
}

// HOSTILE C23: the token never leaves the Hub's origin; relative redirects of renamed repos are
// followed; redirect loops are bounded.
func TestRedirects(t *testing.T) {
	t.Run("renamed repo", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		h.renames["old-org/old-name"] = h.repo
		c, _ := h.client(t)
		p, err := c.Download(context.Background(), "old-org/old-name", "main", "model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		mustContent(t, p, h.files["model.safetensors"].data)
		if !strings.Contains(p, "models--old-org--old-name") {
			t.Errorf("cached under %s, want the name asked for", p)
		}
		p, err = c.Download(context.Background(), "old-org/old-name", "main", "config.json")
		if err != nil {
			t.Fatal(err)
		}
		mustContent(t, p, h.files["config.json"].data)
	})

	t.Run("third host gets no token", func(t *testing.T) {
		var evilAuth atomic.Value
		evilAuth.Store("")
		h := newFakeHub(t, syntheticFiles())
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			evilAuth.Store(r.Header.Get("Authorization") + r.Header.Get("Cookie"))
			h.serveCDN(w, r)
		}))
		defer evil.Close()
		// The hub itself redirects a regular file's GET to another host.
		h.setHubFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, evil.URL+"/lfs/"+h.files["model.safetensors"].sha256, http.StatusFound)
				return true
			}
			return false
		})
		h.setEdit(func(hd http.Header) {
			f := h.files["model.safetensors"]
			hd.Set("ETag", `"`+f.sha256+`"`)
			hd.Set("X-Linked-Size", strconv.Itoa(len(f.data)))
		})
		c, _ := h.client(t)
		p, err := c.Download(context.Background(), h.repo, "main", "config.json")
		if err != nil {
			t.Fatal(err)
		}
		mustContent(t, p, h.files["model.safetensors"].data)
		if a := evilAuth.Load().(string); a != "" {
			t.Errorf("credentials sent to another host: %q", a)
		}
	})

	t.Run("hub redirect loop", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		h.setHubFault(func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Location", r.URL.Path)
			w.WriteHeader(http.StatusTemporaryRedirect)
			return true
		})
		c, _ := h.client(t)
		_, err := c.Download(context.Background(), h.repo, "main", "config.json")
		if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "redirects") {
			t.Fatalf("err = %v", err)
		}
		if n := len(h.requests()); n != DefaultMaxRedirects+1 {
			t.Errorf("%d requests", n)
		}
	})

	t.Run("cdn redirect loop", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		h.setCDNFault(func(w http.ResponseWriter, r *http.Request) bool {
			http.Redirect(w, r, h.cdn.URL+r.URL.Path+"x", http.StatusFound)
			return true
		})
		c, _ := h.client(t)
		c.MaxRedirects = 3
		_, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
		if !errors.Is(err, ErrBadResponse) {
			t.Fatalf("err = %v", err)
		}
		if len(h.blobNames(t, c)) != 0 {
			t.Errorf("blobs %v", h.blobNames(t, c))
		}
	})

	t.Run("cdn back to hub keeps the token dropped", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		var n atomic.Int32
		h.setCDNFault(func(w http.ResponseWriter, r *http.Request) bool {
			if n.Add(1) == 1 {
				http.Redirect(w, r, h.hub.URL+"/bounce"+r.URL.Path, http.StatusFound)
				return true
			}
			return false
		})
		h.setHubFault(func(w http.ResponseWriter, r *http.Request) bool {
			if p, ok := strings.CutPrefix(r.URL.Path, "/bounce"); ok {
				if r.Header.Get("Authorization") != "" {
					t.Error("token re-sent after the chain left the hub")
				}
				http.Redirect(w, r, h.cdn.URL+p, http.StatusFound)
				return true
			}
			return false
		})
		c, _ := h.client(t)
		if _, err := c.Download(context.Background(), h.repo, "main", "model.safetensors"); err != nil {
			t.Fatal(err)
		}
	})
}

// HOSTILE C24: each status maps to a typed error with a hint; transient ones are retried.
func TestStatusMapping(t *testing.T) {
	type answer struct {
		status int
		hdr    map[string]string
	}
	cases := []struct {
		name     string
		answers  []answer // successive answers to the HEAD; after them the fake answers normally
		token    string
		want     error  // nil: the download succeeds
		hint     string // in the message
		requests int    // HEAD requests expected
	}{
		{"401 invalid token", []answer{{401, map[string]string{"X-Error-Message": "Invalid credentials in Authorization header"}}}, "hf_x", ErrUnauthorized, "invalid or expired", 1},
		{"401 no token", []answer{{401, nil}}, "", ErrUnauthorized, "set HF_TOKEN", 1},
		{"401 repo not found", []answer{{401, map[string]string{"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"}}}, "", ErrRepoNotFound, "HF_TOKEN", 1},
		{"401 gated no token", []answer{{401, map[string]string{"X-Error-Code": "GatedRepo"}}}, "", ErrGatedRepo, "accept the model's terms, then set HF_TOKEN", 1},
		{"403 gated", []answer{{403, map[string]string{"X-Error-Code": "GatedRepo", "X-Error-Message": "Access to model is restricted"}}}, "hf_x", ErrGatedRepo, "accept the model's terms", 1},
		{"403 plain", []answer{{403, nil}}, "hf_x", ErrForbidden, "read access", 1},
		{"404 repo", []answer{{404, map[string]string{"X-Error-Code": "RepoNotFound"}}}, "hf_x", ErrRepoNotFound, "check the repository id", 1},
		{"404 revision", []answer{{404, map[string]string{"X-Error-Code": "RevisionNotFound"}}}, "hf_x", ErrRevisionNotFound, "branch, tag or commit", 1},
		{"404 entry", []answer{{404, map[string]string{"X-Error-Code": "EntryNotFound"}}}, "hf_x", ErrEntryNotFound, "filename", 1},
		{"404 plain", []answer{{404, nil}}, "hf_x", ErrHTTP, "check", 1},
		{"400", []answer{{400, nil}}, "hf_x", ErrHTTP, "check", 1},
		{"429 then ok", []answer{{429, map[string]string{"Retry-After": "2"}}}, "hf_x", nil, "", 2},
		{"429 http date then ok", []answer{{429, map[string]string{"Retry-After": time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)}}}, "hf_x", nil, "", 2},
		{"429 too long", []answer{{429, map[string]string{"Retry-After": "3600"}}}, "hf_x", ErrRateLimited, "retry later", 1},
		{"503 retry-after too long", []answer{{503, map[string]string{"Retry-After": "86400"}}}, "hf_x", ErrServer, "wait", 1},
		{"408", []answer{{408, nil}}, "hf_x", nil, "", 2},
		{"500", []answer{{500, nil}}, "hf_x", nil, "", 2},
		{"502 503 504", []answer{{502, nil}, {503, nil}, {504, nil}}, "hf_x", nil, "", 4},
		{"500 forever", []answer{{500, nil}, {500, nil}, {500, nil}, {500, nil}, {500, nil}}, "hf_x", ErrServer, "retry later", 4},
		{"www-authenticate elsewhere", []answer{{401, map[string]string{"WWW-Authenticate": `Bearer realm="EVIL/token",service="x"`}}}, "hf_x", ErrUnauthorized, "HF_TOKEN", 1},
		{"ansi in message", []answer{{404, map[string]string{"X-Error-Code": "EntryNotFound", "BODY": `{"error": "gone\u001b[2J\u001b[31m\nred"}`}}}, "hf_x", ErrEntryNotFound, "gone [2J [31m red", 1},
		{"long text body", []answer{{400, map[string]string{"BODY": strings.Repeat("x", 100000)}}}, "hf_x", ErrHTTP, "xxx…", 1},
		{"ansi in header", []answer{{404, map[string]string{"X-Error-Code": "EntryNotFound", "X-Error-Message": "gone\x1b[2J"}}, {404, map[string]string{"X-Error-Code": "EntryNotFound"}}}, "hf_x", ErrEntryNotFound, "filename", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evil := failingServer(t)
			h := newFakeHub(t, syntheticFiles())
			var heads atomic.Int32
			_, onGET := tc.answers[0].hdr["BODY"] // a HEAD answer has no body: fail the GET instead
			h.setHubFault(func(w http.ResponseWriter, r *http.Request) bool {
				if (r.Method == http.MethodHead) == onGET {
					return false
				}
				i := int(heads.Add(1)) - 1
				if i >= len(tc.answers) {
					return false
				}
				a := tc.answers[i]
				for k, v := range a.hdr {
					if k != "BODY" {
						w.Header().Set(k, strings.ReplaceAll(v, "EVIL", evil.URL))
					}
				}
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(a.status)
				w.Write([]byte(a.hdr["BODY"]))
				return true
			})
			c, rec := h.client(t)
			c.Token = tc.token
			_, err := c.Download(context.Background(), h.repo, "main", "config.json")
			if int(heads.Load()) != tc.requests {
				t.Errorf("%d HEAD requests, want %d", heads.Load(), tc.requests)
			}
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasPrefix(tc.name, "429") {
					if s := rec.slept(); len(s) != 1 || s[0] < time.Second || s[0] > 3*time.Second {
						t.Errorf("waits %v, want the Retry-After", s)
					}
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.hint) {
				t.Errorf("message %q lacks %q", err, tc.hint)
			}
			if strings.ContainsRune(err.Error(), 0x1b) {
				t.Errorf("escape character in message %q", err)
			}
			var he *Error
			if !errors.As(err, &he) || he.Repo != h.repo || he.File != "config.json" || he.Revision != "main" {
				t.Errorf("error fields %+v", he)
			}
		})
	}

	t.Run("backoff grows", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		h.setHubFault(func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(502); return true })
		c, rec := h.client(t)
		c.Retries, c.Backoff, c.MaxBackoff = 5, 10*time.Millisecond, 40*time.Millisecond
		if _, err := c.Download(context.Background(), h.repo, "main", "config.json"); !errors.Is(err, ErrServer) {
			t.Fatal(err)
		}
		want := []time.Duration{10, 20, 40, 40, 40}
		for i := range want {
			want[i] *= time.Millisecond
		}
		if s := rec.slept(); !slices.Equal(s, want) {
			t.Errorf("waits %v, want %v", s, want)
		}
	})

	t.Run("no retries", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		h.setHubFault(func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(500); return true })
		c, _ := h.client(t)
		c.Retries = -1
		if _, err := c.Download(context.Background(), h.repo, "main", "config.json"); !errors.Is(err, ErrServer) {
			t.Fatal(err)
		}
		if n := len(h.requests()); n != 1 {
			t.Errorf("%d requests", n)
		}
	})

	t.Run("entry not found is cached", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		c, _ := h.client(t)
		_, err := c.Download(context.Background(), h.repo, "main", "missing.bin")
		var he *Error
		if !errors.As(err, &he) || he.Kind != ErrEntryNotFound || he.Commit != testCommit {
			t.Fatalf("err = %v", err)
		}
		h.resetLog()
		_, err = c.Download(context.Background(), h.repo, testCommit, "missing.bin")
		if !errors.Is(err, ErrEntryNotFound) {
			t.Fatalf("err = %v", err)
		}
		if r := h.requests(); len(r) != 0 {
			t.Errorf("requests %+v", r)
		}
		c.Offline = true
		if _, err := c.Download(context.Background(), h.repo, "main", "missing.bin"); !errors.Is(err, ErrEntryNotFound) {
			t.Errorf("offline: %v", err)
		}
	})

	t.Run("content server refusal", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		h.setCDNFault(func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(403); return true })
		c, _ := h.client(t)
		_, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
		if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "download link") {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error leaks the signed URL: %v", err)
		}
	})
}

// HOSTILE C25: offline mode makes no request, resolves branches through refs/, and reports
// missing files as ErrLocalEntryNotFound.
func TestOffline(t *testing.T) {
	h := newFakeHub(t, syntheticFiles())
	online, _ := h.client(t)
	ctx := context.Background()
	if _, err := online.Snapshot(ctx, h.repo, "main", []string{"config.json", "model.safetensors"}, []string{"tokenizer.json"}); err != nil {
		t.Fatal(err)
	}
	off := &Client{Endpoint: failingServer(t).URL, CacheDir: online.CacheDir, Offline: true}

	for _, rev := range []string{"main", "", testCommit} {
		p, err := off.Download(ctx, h.repo, rev, "model.safetensors")
		if err != nil {
			t.Fatalf("%q: %v", rev, err)
		}
		mustContent(t, p, h.files["model.safetensors"].data)
	}
	checks := []struct {
		repo, rev, file string
		want            error
	}{
		{h.repo, "main", "generation_config.json", ErrLocalEntryNotFound},
		{h.repo, "dev", "config.json", ErrLocalEntryNotFound},
		{"other/repo", "main", "config.json", ErrLocalEntryNotFound},
		{h.repo, "fedcba9876543210fedcba9876543210fedcba98", "config.json", ErrLocalEntryNotFound},
		{h.repo, "main", "tokenizer.json", ErrEntryNotFound},
	}
	for _, ck := range checks {
		_, err := off.Download(ctx, ck.repo, ck.rev, ck.file)
		if !errors.Is(err, ck.want) {
			t.Errorf("%s@%s %s: err = %v, want %v", ck.repo, ck.rev, ck.file, err, ck.want)
		} else if ck.want == ErrLocalEntryNotFound && !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
			t.Errorf("message lacks what to do: %v", err)
		}
	}
	dir, err := off.Snapshot(ctx, h.repo, "main", []string{"config.json"}, []string{"model.safetensors", "tokenizer.json", "generation_config.json"})
	if err != nil || dir != filepath.Join(h.repoRoot(online), "snapshots", testCommit) {
		t.Errorf("offline snapshot %s, %v", dir, err)
	}
	if _, err := off.Snapshot(ctx, h.repo, "main", []string{"config.json", "generation_config.json"}, nil); !errors.Is(err, ErrLocalEntryNotFound) || !strings.Contains(err.Error(), "generation_config.json") {
		t.Errorf("offline snapshot with a missing file: %v", err)
	}
	if _, err := off.Snapshot(ctx, h.repo, "v2", []string{"config.json"}, nil); !errors.Is(err, ErrLocalEntryNotFound) {
		t.Errorf("offline snapshot of an unknown revision: %v", err)
	}
	off.ForceDownload = true
	if _, err := off.Download(ctx, h.repo, "main", "config.json"); !errors.Is(err, ErrOffline) {
		t.Errorf("force + offline: %v", err)
	}

	// Through the environment, as the CLI builds its client.
	t.Setenv("HF_HUB_OFFLINE", "1")
	t.Setenv("QKV_ENDPOINT", failingServer(t).URL)
	t.Setenv("QKV_CACHE", online.CacheDir)
	env := New()
	if !env.Offline {
		t.Fatal("HF_HUB_OFFLINE=1 not honoured")
	}
	if _, err := env.Download(ctx, h.repo, "main", "config.json"); err != nil {
		t.Error(err)
	}
}

// When the Hub cannot be reached, a cached copy is returned (online mode).
func TestNetworkFallback(t *testing.T) {
	h := newFakeHub(t, syntheticFiles())
	c, rec := h.client(t)
	ctx := context.Background()
	want, err := c.Download(ctx, h.repo, "main", "config.json")
	if err != nil {
		t.Fatal(err)
	}
	h.hub.Close()
	p, err := c.Download(ctx, h.repo, "main", "config.json")
	if err != nil || p != want {
		t.Fatalf("fallback = %s, %v", p, err)
	}
	_, err = c.Download(ctx, h.repo, "main", "generation_config.json")
	if !errors.Is(err, ErrNetwork) || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Fatalf("err = %v", err)
	}
	if s := rec.slept(); len(s) != 0 {
		t.Errorf("waited %v before falling back: nothing listens, so retrying cannot help", s)
	}

	// A Hub that answers 5xx is retried, then the cache is used.
	h2 := newFakeHub(t, syntheticFiles())
	c2, rec2 := h2.client(t)
	if _, err := c2.Download(ctx, h2.repo, "main", "config.json"); err != nil {
		t.Fatal(err)
	}
	h2.setHubFault(func(w http.ResponseWriter, r *http.Request) bool { w.WriteHeader(503); return true })
	if _, err := c2.Download(ctx, h2.repo, "main", "config.json"); err != nil {
		t.Fatal(err)
	}
	if s := rec2.slept(); len(s) != c2.Retries {
		t.Errorf("waits %v", s)
	}
}

// HOSTILE C26: malicious names are rejected before any request or file is made.
func TestMaliciousNames(t *testing.T) {
	srv := failingServer(t)
	c := &Client{Endpoint: srv.URL, CacheDir: t.TempDir()}
	ctx := context.Background()
	files := []string{"", "../x", "a/../../x", "/etc/passwd", `C:\x`, "D:foo", `\\host\share\x`, "a\x00b", "a//b", "a/", "./a", "a/./b", "..", "x\n", "a\\b", "file:stream", "\xff\xfe", strings.Repeat("a", 300)}
	for _, f := range files {
		if _, err := c.Download(ctx, "org/name", "main", f); !errors.Is(err, ErrInvalidName) {
			t.Errorf("filename %q: err = %v", f, err)
		}
		if _, err := c.Snapshot(ctx, "org/name", "main", []string{"config.json"}, []string{f}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("snapshot optional %q: err = %v", f, err)
		}
	}
	revs := []string{"../x", "/etc/passwd", `C:\x`, "D:foo", `\\host\share\x`, "a\x00b", "a//b", "refs/../../x", "main\r\nX-Evil: 1"}
	for _, r := range revs {
		if _, err := c.Download(ctx, "org/name", r, "config.json"); !errors.Is(err, ErrInvalidName) {
			t.Errorf("revision %q: err = %v", r, err)
		}
		if _, ok := c.Resolve("org/name", r); ok {
			t.Errorf("Resolve accepted revision %q", r)
		}
	}
	repos := []string{"", "/", "org/", "/name", "a/b/c", "../x", "org/..", "org/.hidden", "org/a--b", "org/-a", "org/a.", "org/a b", `org\name`, "C:/x", strings.Repeat("a", 97)}
	for _, r := range repos {
		if _, err := c.Download(ctx, r, "main", "config.json"); !errors.Is(err, ErrInvalidName) {
			t.Errorf("repo %q: err = %v", r, err)
		}
	}
	entries, _ := os.ReadDir(c.CacheDir)
	if len(entries) != 0 {
		t.Errorf("cache written: %v", entries)
	}
	if _, err := c.Snapshot(ctx, "org/name", "main", nil, nil); !errors.Is(err, ErrInvalidName) {
		t.Errorf("empty snapshot: %v", err)
	}
	if _, err := (&Client{Endpoint: "ftp://x", CacheDir: t.TempDir()}).Download(ctx, "a/b", "main", "c"); !errors.Is(err, ErrConfig) {
		t.Errorf("bad endpoint: %v", err)
	}
	if _, err := (&Client{Endpoint: srv.URL, CacheDir: t.TempDir(), Token: "hf_a\r\nX: y"}).Download(ctx, "a/b", "main", "c"); !errors.Is(err, ErrConfig) {
		t.Errorf("bad token: %v", err)
	}
}

func TestParseRepoID(t *testing.T) {
	good := map[string][2]string{
		"openai-community/gpt2": {"openai-community", "gpt2"},
		"Qwen/Qwen2.5-0.5B":     {"Qwen", "Qwen2.5-0.5B"},
		"gpt2":                  {"", "gpt2"},
		"a_b/c_d":               {"a_b", "c_d"},
	}
	for s, want := range good {
		org, name, err := ParseRepoID(s)
		if err != nil || org != want[0] || name != want[1] {
			t.Errorf("ParseRepoID(%q) = %q, %q, %v", s, org, name, err)
		}
	}
}

// HOSTILE C26: a cache directory without symlinks falls back to hard links, then copies.
func TestPointerFallbacks(t *testing.T) {
	for _, mode := range []string{"hard link", "copy"} {
		t.Run(mode, func(t *testing.T) {
			h := newFakeHub(t, syntheticFiles())
			c, _ := h.client(t)
			c.symlink = func(string, string) error { return &os.LinkError{Op: "symlink", Err: syscall.EPERM} }
			if mode == "copy" {
				c.link = func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EPERM} }
			}
			for _, name := range []string{"model.safetensors", "tokenizer/vocab.json"} {
				p, err := c.Download(context.Background(), h.repo, "main", name)
				if err != nil {
					t.Fatal(err)
				}
				fi, err := os.Lstat(p)
				if err != nil || !fi.Mode().IsRegular() {
					t.Fatalf("pointer %s is not a regular file: %v", p, err)
				}
				mustContent(t, p, h.files[name].data)
			}
			h.noTemporaries(t, c)
		})
	}
}

// HOSTILE C26: a read-only cache that holds the file is used without writing anything.
func TestReadOnlyCache(t *testing.T) {
	h := newFakeHub(t, syntheticFiles())
	c, _ := h.client(t)
	ctx := context.Background()
	want, err := c.Download(ctx, h.repo, "main", "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	type state struct {
		mode os.FileMode
		mod  time.Time
	}
	snap := func() map[string]state {
		m := map[string]state{}
		filepath.WalkDir(c.CacheDir, func(p string, d os.DirEntry, err error) error {
			if fi, err := os.Lstat(p); err == nil {
				m[p] = state{fi.Mode(), fi.ModTime()}
			}
			return nil
		})
		return m
	}
	filepath.WalkDir(c.CacheDir, func(p string, d os.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			os.Chmod(p, 0o555)
		}
		return nil
	})
	t.Cleanup(func() {
		filepath.WalkDir(c.CacheDir, func(p string, d os.DirEntry, err error) error {
			if d != nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	before := snap()
	time.Sleep(10 * time.Millisecond)
	got, err := c.Download(ctx, h.repo, "main", "model.safetensors")
	if err != nil || got != want {
		t.Fatalf("read-only cache: %s, %v", got, err)
	}
	if _, err := c.Snapshot(ctx, h.repo, "main", []string{"model.safetensors"}, nil); err != nil {
		t.Fatalf("read-only snapshot: %v", err)
	}
	after := snap()
	if len(before) != len(after) {
		t.Errorf("cache changed: %d entries before, %d after", len(before), len(after))
	}
	for p, s := range before {
		if after[p] != s {
			t.Errorf("%s changed", p)
		}
	}
}

// HOSTILE C27: concurrent downloads of one blob, by goroutines of one Client and by two Clients,
// all end with the right bytes and no temporary files.
func TestConcurrentDownloads(t *testing.T) {
	h := newFakeHub(t, syntheticFiles())
	d := h.files["model.safetensors"].data
	h.setCDNFault(func(w http.ResponseWriter, r *http.Request) bool {
		// Slow, chunked: the downloads overlap.
		start := 0
		if rg := r.Header.Get("Range"); rg != "" {
			return false
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(d)))
		for start < len(d) {
			end := min(start+30000, len(d))
			if _, err := w.Write(d[start:end]); err != nil {
				return true
			}
			w.(http.Flusher).Flush()
			time.Sleep(2 * time.Millisecond)
			start = end
		}
		return true
	})
	c1, _ := h.client(t)
	c2, _ := h.client(t)
	c2.CacheDir = c1.CacheDir
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		c := c1
		if i%2 == 1 {
			c = c2
		}
		wg.Go(func() {
			p, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
			if err == nil {
				var b []byte
				if b, err = os.ReadFile(p); err == nil && !bytes.Equal(b, d) {
					err = errors.New("wrong content")
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	mustContent(t, filepath.Join(h.repoRoot(c1), "blobs", h.files["model.safetensors"].sha256), d)
	h.noTemporaries(t, c1)
}

// failAfter is a writer that fails with ENOSPC once n bytes are written: a full disk.
type failAfter struct {
	w io.Writer
	n int
}

func (f *failAfter) Write(b []byte) (int, error) {
	if len(b) > f.n {
		n, _ := f.w.Write(b[:f.n])
		f.n = 0
		return n, syscall.ENOSPC
	}
	f.n -= len(b)
	return f.w.Write(b)
}

// HOSTILE C28: a full disk is a clean error and leaves no blob, partial or pointer.
func TestDiskFull(t *testing.T) {
	h := newFakeHub(t, syntheticFiles())
	c, _ := h.client(t)
	c.wrapWriter = func(w io.Writer) io.Writer { return &failAfter{w: w, n: 100000} }
	_, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
	if !errors.Is(err, ErrCache) || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "disk space") {
		t.Fatalf("err = %v", err)
	}
	if b := h.blobNames(t, c); len(b) != 0 {
		t.Errorf("blobs left: %v", b)
	}
	if _, err := os.Lstat(filepath.Join(h.repoRoot(c), "snapshots", testCommit, "model.safetensors")); err == nil {
		t.Error("pointer made")
	}
	if n := len(h.requests()); n != 2 {
		t.Errorf("%d requests: a local write error must not be retried", n)
	}
}

// HOSTILE C29: compressed bodies are refused, never inflated.
func TestGzipBomb(t *testing.T) {
	// 800 gzip members of 64 KiB of zeros each: 50 MiB inflated from ~100 KiB.
	var member, buf bytes.Buffer
	zw := gzip.NewWriter(&member)
	zw.Write(make([]byte, 64<<10))
	zw.Close()
	for range 800 {
		buf.Write(member.Bytes())
	}
	for _, server := range []string{"hub", "cdn"} {
		t.Run(server, func(t *testing.T) {
			h := newFakeHub(t, syntheticFiles())
			bomb := func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet {
					return false
				}
				w.Header().Set("Content-Encoding", "gzip")
				w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
				w.Write(buf.Bytes())
				return true
			}
			file := "model.safetensors"
			if server == "hub" {
				h.setHubFault(bomb)
				file = "config.json"
			} else {
				h.setCDNFault(bomb)
			}
			c, _ := h.client(t)
			_, err := c.Download(context.Background(), h.repo, "main", file)
			if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "gzip") {
				t.Fatalf("err = %v", err)
			}
			if b := h.blobNames(t, c); len(b) != 0 {
				t.Errorf("blobs left: %v", b)
			}
			for _, r := range h.requests() {
				if r.enc != "identity" {
					t.Errorf("request %+v does not ask for the identity encoding", r)
				}
			}
		})
	}
}

func TestSnapshotPinsCommit(t *testing.T) {
	h := newFakeHub(t, syntheticFiles())
	c, _ := h.client(t)
	dir, err := c.Snapshot(context.Background(), h.repo, "", []string{"config.json", "model.safetensors", "tokenizer/vocab.json"}, []string{"missing.json", "generation_config.json"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"config.json", "model.safetensors", "tokenizer/vocab.json", "generation_config.json"} {
		mustContent(t, filepath.Join(dir, filepath.FromSlash(name)), h.files[name].data)
	}
	reqs := h.requests()
	for _, r := range reqs[1:] {
		if r.server == "hub" && strings.Contains(r.path, "/resolve/main/") {
			t.Errorf("request after the first by branch: %+v", r)
		}
	}
	_, err = c.Snapshot(context.Background(), h.repo, "", []string{"config.json", "missing.json"}, nil)
	if !errors.Is(err, ErrEntryNotFound) || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing required file: %v", err)
	}
	_, err = c.Snapshot(context.Background(), "test-org/other", "", []string{"config.json"}, nil)
	if !errors.Is(err, ErrRepoNotFound) {
		t.Errorf("missing repo: %v", err)
	}
}

func TestEnvDefaults(t *testing.T) {
	home := t.TempDir()
	for _, k := range []string{"QKV_ENDPOINT", "HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HOME", "QKV_CACHE", "XDG_CACHE_HOME", "HF_HUB_OFFLINE", "QKV_OFFLINE"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", home)
	c := New()
	if c.Endpoint != DefaultEndpoint || c.Token != "" || c.Offline || c.CacheDir != filepath.Join(home, ".cache", "qkv") {
		t.Errorf("defaults: %+v", c)
	}
	os.MkdirAll(filepath.Join(home, ".cache", "huggingface"), 0o755)
	os.WriteFile(filepath.Join(home, ".cache", "huggingface", "token"), []byte("hf_fromfile\n"), 0o600)
	if tok := EnvToken(); tok != "hf_fromfile" {
		t.Errorf("token file: %q", tok)
	}
	t.Setenv("HF_HOME", filepath.Join(home, "hfhome"))
	os.MkdirAll(filepath.Join(home, "hfhome"), 0o755)
	os.WriteFile(filepath.Join(home, "hfhome", "token"), []byte("  hf_home  "), 0o600)
	if tok := EnvToken(); tok != "hf_home" {
		t.Errorf("HF_HOME token: %q", tok)
	}
	t.Setenv("HF_TOKEN", "hf_env")
	t.Setenv("HF_ENDPOINT", "https://mirror.example")
	t.Setenv("QKV_CACHE", "/c")
	t.Setenv("QKV_OFFLINE", "true")
	c = New()
	if c.Endpoint != "https://mirror.example" || c.Token != "hf_env" || !c.Offline || c.CacheDir != "/c" {
		t.Errorf("from env: %+v", c)
	}
	t.Setenv("QKV_ENDPOINT", "http://local:8080/")
	if e := EnvEndpoint(); e != "http://local:8080/" {
		t.Errorf("QKV_ENDPOINT: %q", e)
	}
}

func TestParsers(t *testing.T) {
	for in, want := range map[string]string{`W/"abc"`: "abc", `"abc"`: "abc", "abc": "abc", ` W/"a-b" `: "a-b", `"`: `"`} {
		if got := normalizeETag(in); got != want {
			t.Errorf("normalizeETag(%q) = %q, want %q", in, got, want)
		}
	}
	for in, ok := range map[string]bool{"bytes 5-9/10": true, "bytes 0-0/1": true, "bytes 5-4/10": false, "bytes 5-10/10": false, "bytes */10": false, "bytes -1-3/10": false, "5-9/10": false, "bytes 5-9/x": false} {
		if _, _, _, got := parseContentRange(in); got != ok {
			t.Errorf("parseContentRange(%q) ok = %v", in, got)
		}
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{"5": 5 * time.Second, "0": 0, now.Add(time.Minute).Format(http.TimeFormat): time.Minute, "99999999999": 24 * time.Hour} {
		if got, ok := parseRetryAfter(in, now); !ok || got != want {
			t.Errorf("parseRetryAfter(%q) = %v, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "-1", "soon"} {
		if _, ok := parseRetryAfter(in, now); ok {
			t.Errorf("parseRetryAfter(%q) accepted", in)
		}
	}
}
